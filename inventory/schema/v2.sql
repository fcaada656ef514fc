-- Inventory schema version 2: policy findings per client workload and
-- server endpoint, and severities in their order.

CREATE TABLE severities (
    severity TEXT PRIMARY KEY,
    rank INTEGER NOT NULL UNIQUE
) STRICT;
INSERT INTO severities (severity, rank) VALUES
    ('info', 1), ('low', 2), ('medium', 3), ('high', 4), ('critical', 5);

CREATE TABLE findings (
    connection_id INTEGER NOT NULL REFERENCES connections (connection_id),
    rule TEXT NOT NULL,
    severity TEXT NOT NULL REFERENCES severities (severity),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    sessions INTEGER NOT NULL,
    message TEXT NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (connection_id, rule, severity)
) STRICT, WITHOUT ROWID;
CREATE INDEX findings_by_rule ON findings (rule);

CREATE VIEW endpoint_findings AS
SELECT c.endpoint_id, f.rule, f.severity, s.rank AS severity_rank,
       min(f.first_seen) AS first_seen, max(f.last_seen) AS last_seen,
       sum(f.sessions) AS sessions
FROM findings AS f
JOIN connections AS c USING (connection_id)
JOIN severities AS s USING (severity)
GROUP BY c.endpoint_id, f.rule, f.severity;
