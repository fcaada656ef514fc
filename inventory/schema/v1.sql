-- Inventory schema version 1: session aggregates.
-- Every asset row is keyed by a deterministic id (a hash of the node and the
-- asset), so databases from different nodes merge by upsert. Times are RFC
-- 3339 UTC text with six fraction digits, so min()/max() order them.
-- docs/inventory.md describes every table and column.

CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT;

CREATE TABLE workloads (
    workload_id INTEGER PRIMARY KEY,
    node TEXT NOT NULL,
    executable TEXT NOT NULL,
    container_id TEXT NOT NULL,
    k8s_namespace TEXT NOT NULL,
    k8s_pod TEXT NOT NULL,
    k8s_container TEXT NOT NULL,
    tls_fingerprint TEXT NOT NULL,
    executable_path TEXT,
    container_runtime TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    client_sessions INTEGER NOT NULL,
    server_sessions INTEGER NOT NULL,
    pq_offered_sessions INTEGER NOT NULL,
    pq_sessions INTEGER NOT NULL
) STRICT;

CREATE TABLE endpoints (
    endpoint_id INTEGER PRIMARY KEY,
    node TEXT NOT NULL,
    transport TEXT NOT NULL,
    protocol TEXT NOT NULL,
    address TEXT NOT NULL,
    port INTEGER NOT NULL,
    sni TEXT NOT NULL,
    server_workload_id INTEGER REFERENCES workloads (workload_id),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    sessions INTEGER NOT NULL,
    established_sessions INTEGER NOT NULL,
    resumed_sessions INTEGER NOT NULL,
    pq_offered_sessions INTEGER NOT NULL,
    pq_sessions INTEGER NOT NULL
) STRICT;

CREATE TABLE connections (
    connection_id INTEGER PRIMARY KEY,
    endpoint_id INTEGER NOT NULL REFERENCES endpoints (endpoint_id),
    workload_id INTEGER NOT NULL REFERENCES workloads (workload_id),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    sessions INTEGER NOT NULL,
    established_sessions INTEGER NOT NULL,
    resumed_sessions INTEGER NOT NULL,
    pq_offered_sessions INTEGER NOT NULL,
    pq_sessions INTEGER NOT NULL
) STRICT;
CREATE INDEX connections_by_endpoint ON connections (endpoint_id);
CREATE INDEX connections_by_workload ON connections (workload_id);

CREATE TABLE connection_usage (
    connection_id INTEGER NOT NULL REFERENCES connections (connection_id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    protocol_version TEXT NOT NULL,
    code INTEGER,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    sessions INTEGER NOT NULL,
    PRIMARY KEY (connection_id, kind, value, protocol_version)
) STRICT, WITHOUT ROWID;
CREATE INDEX connection_usage_by_value ON connection_usage (kind, value);

CREATE TABLE workload_offers (
    workload_id INTEGER NOT NULL REFERENCES workloads (workload_id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    code INTEGER,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    sessions INTEGER NOT NULL,
    PRIMARY KEY (workload_id, kind, value)
) STRICT, WITHOUT ROWID;
CREATE INDEX workload_offers_by_value ON workload_offers (kind, value);

CREATE TABLE certificates (
    fingerprint_sha256 TEXT PRIMARY KEY,
    fingerprint_sha1 TEXT NOT NULL,
    serial_number TEXT NOT NULL,
    subject TEXT NOT NULL,
    subject_common_name TEXT,
    issuer TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    key_algorithm TEXT NOT NULL,
    key_bits INTEGER,
    key_curve TEXT,
    subject_key_identifier TEXT,
    signature_algorithm TEXT NOT NULL,
    signature_algorithm_oid TEXT NOT NULL,
    self_signed INTEGER NOT NULL,
    ca INTEGER NOT NULL,
    subject_alt_names TEXT NOT NULL
) STRICT;
CREATE INDEX certificates_by_expiry ON certificates (not_after);

CREATE TABLE connection_certificates (
    connection_id INTEGER NOT NULL REFERENCES connections (connection_id),
    side TEXT NOT NULL,
    fingerprint_sha256 TEXT NOT NULL REFERENCES certificates (fingerprint_sha256),
    chain_position INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    sessions INTEGER NOT NULL,
    PRIMARY KEY (connection_id, side, fingerprint_sha256)
) STRICT, WITHOUT ROWID;
CREATE INDEX connection_certificates_by_certificate
    ON connection_certificates (fingerprint_sha256);

CREATE TABLE ingest_positions (
    source TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE VIEW endpoint_usage AS
SELECT c.endpoint_id, u.kind, u.value, max(u.code) AS code,
       min(u.first_seen) AS first_seen, max(u.last_seen) AS last_seen,
       sum(u.sessions) AS sessions
FROM connection_usage AS u JOIN connections AS c USING (connection_id)
GROUP BY c.endpoint_id, u.kind, u.value;

CREATE VIEW workload_usage AS
SELECT c.workload_id, u.kind, u.value, max(u.code) AS code,
       min(u.first_seen) AS first_seen, max(u.last_seen) AS last_seen,
       sum(u.sessions) AS sessions
FROM connection_usage AS u JOIN connections AS c USING (connection_id)
GROUP BY c.workload_id, u.kind, u.value;

CREATE VIEW endpoint_certificates AS
SELECT c.endpoint_id, cc.side, cc.fingerprint_sha256,
       min(cc.chain_position) AS chain_position,
       min(cc.first_seen) AS first_seen, max(cc.last_seen) AS last_seen,
       sum(cc.sessions) AS sessions
FROM connection_certificates AS cc JOIN connections AS c USING (connection_id)
GROUP BY c.endpoint_id, cc.side, cc.fingerprint_sha256;
