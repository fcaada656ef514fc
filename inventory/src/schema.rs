//! The inventory's tables, their versions, and how rows combine.
//!
//! The DDL lives in `schema/v<N>.sql`, one file per version; opening a
//! database applies the versions it lacks, each in its own transaction, and
//! records it in `schema_migrations`. A database from a newer cipherlens is
//! refused rather than guessed at.
//!
//! [`TABLES`] says, per column, how two rows for the same asset combine.
//! Ingest adds a batch's counts to a row; a merge takes the larger count,
//! because a node's rows only grow and the same node database may be merged
//! any number of times. Both upserts are generated from the same table.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Error, SqliteContext};

/// One schema version.
pub(crate) struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "session aggregates by server endpoint and client workload",
        sql: include_str!("../schema/v1.sql"),
    },
    Migration {
        version: 2,
        description: "policy findings",
        sql: include_str!("../schema/v2.sql"),
    },
];

/// The schema version this crate writes.
pub const SCHEMA_VERSION: i64 = 2;

/// The version of an open database: 0 for an empty one.
pub(crate) fn version(connection: &Connection, path: &Path) -> Result<i64, Error> {
    let has_migrations: bool = connection
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |row| row.get(0),
        )
        .context(path, "read the schema")?;
    if !has_migrations {
        let tables: i64 = connection
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                [],
                |row| row.get(0),
            )
            .context(path, "read the schema")?;
        if tables > 0 {
            return Err(Error::NotAnInventory {
                path: path.to_path_buf(),
            });
        }
        return Ok(0);
    }
    let version: Option<i64> = connection
        .query_row("SELECT max(version) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .optional()
        .context(path, "read the schema version")?
        .flatten();
    Ok(version.unwrap_or(0))
}

/// Brings a database to `target` (at most [`SCHEMA_VERSION`]).
pub(crate) fn migrate(
    connection: &mut Connection,
    path: &Path,
    target: i64,
    now: &str,
) -> Result<(), Error> {
    for migration in MIGRATIONS.iter().filter(|m| m.version <= target) {
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context(path, "begin a migration")?;
        // Read inside the write transaction: another process may have
        // migrated the file since it was opened.
        let current = version(&transaction, path)?;
        if current > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                path: path.to_path_buf(),
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        if current >= migration.version {
            continue;
        }
        transaction
            .execute_batch(migration.sql)
            .context(path, "apply a schema migration")?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![migration.version, migration.description, now],
            )
            .context(path, "record a schema migration")?;
        transaction.commit().context(path, "commit a migration")?;
    }
    Ok(())
}

/// How a column of two rows for the same asset combines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Combine {
    /// Part of the primary key.
    Key,
    /// Determined by the key (the id is a hash of it): kept.
    Fixed,
    /// The earlier time.
    First,
    /// The later time.
    Last,
    /// The smaller value.
    Min,
    /// A count of sessions: added by ingest, the larger one kept by a merge.
    Count,
    /// The value of the row seen last.
    Latest,
    /// The value of the row seen last, unless that one has none.
    LatestPresent,
}

pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Combine)],
}

use Combine::{Count, First, Fixed, Key, Last, Latest, LatestPresent, Min};

const SEEN: [(&str, Combine); 3] = [
    ("first_seen", First),
    ("last_seen", Last),
    ("sessions", Count),
];

/// Every table that holds rows of assets, parents before children (the
/// order rows must be written in for the foreign keys).
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "workloads",
        columns: &[
            ("workload_id", Key),
            ("node", Fixed),
            ("executable", Fixed),
            ("container_id", Fixed),
            ("k8s_namespace", Fixed),
            ("k8s_pod", Fixed),
            ("k8s_container", Fixed),
            ("tls_fingerprint", Fixed),
            ("executable_path", LatestPresent),
            ("container_runtime", LatestPresent),
            ("first_seen", First),
            ("last_seen", Last),
            ("client_sessions", Count),
            ("server_sessions", Count),
            ("pq_offered_sessions", Count),
            ("pq_sessions", Count),
        ],
    },
    Table {
        name: "endpoints",
        columns: &[
            ("endpoint_id", Key),
            ("node", Fixed),
            ("transport", Fixed),
            ("protocol", Fixed),
            ("address", Fixed),
            ("port", Fixed),
            ("sni", Fixed),
            ("server_workload_id", LatestPresent),
            SEEN[0],
            SEEN[1],
            SEEN[2],
            ("established_sessions", Count),
            ("resumed_sessions", Count),
            ("pq_offered_sessions", Count),
            ("pq_sessions", Count),
        ],
    },
    Table {
        name: "connections",
        columns: &[
            ("connection_id", Key),
            ("endpoint_id", Fixed),
            ("workload_id", Fixed),
            SEEN[0],
            SEEN[1],
            SEEN[2],
            ("established_sessions", Count),
            ("resumed_sessions", Count),
            ("pq_offered_sessions", Count),
            ("pq_sessions", Count),
        ],
    },
    Table {
        name: "connection_usage",
        columns: &[
            ("connection_id", Key),
            ("kind", Key),
            ("value", Key),
            ("protocol_version", Key),
            ("code", LatestPresent),
            SEEN[0],
            SEEN[1],
            SEEN[2],
        ],
    },
    Table {
        name: "workload_offers",
        columns: &[
            ("workload_id", Key),
            ("kind", Key),
            ("value", Key),
            ("code", LatestPresent),
            SEEN[0],
            SEEN[1],
            SEEN[2],
        ],
    },
    Table {
        name: "certificates",
        columns: &[
            ("fingerprint_sha256", Key),
            ("fingerprint_sha1", Fixed),
            ("serial_number", Fixed),
            ("subject", Fixed),
            ("subject_common_name", Fixed),
            ("issuer", Fixed),
            ("not_before", Fixed),
            ("not_after", Fixed),
            ("key_algorithm", Fixed),
            ("key_bits", Fixed),
            ("key_curve", Fixed),
            ("subject_key_identifier", Fixed),
            ("signature_algorithm", Fixed),
            ("signature_algorithm_oid", Fixed),
            ("self_signed", Fixed),
            ("ca", Fixed),
            ("subject_alt_names", Fixed),
        ],
    },
    Table {
        name: "connection_certificates",
        columns: &[
            ("connection_id", Key),
            ("side", Key),
            ("fingerprint_sha256", Key),
            ("chain_position", Min),
            SEEN[0],
            SEEN[1],
            SEEN[2],
        ],
    },
    Table {
        name: "findings",
        columns: &[
            ("connection_id", Key),
            ("rule", Key),
            ("severity", Key),
            SEEN[0],
            SEEN[1],
            SEEN[2],
            ("message", Latest),
            ("evidence", Latest),
        ],
    },
];

/// The table named `name` in [`TABLES`].
pub(crate) fn table(name: &str) -> &'static Table {
    TABLES
        .iter()
        .find(|table| table.name == name)
        .unwrap_or_else(|| unreachable!("no table {name} in TABLES"))
}

/// Where an upsert's new rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Bound parameters `?1..?n`, in column order: a batch.
    Values,
    /// The same table in an attached database: a merge.
    Attached(&'static str),
}

/// `INSERT ... ON CONFLICT DO UPDATE` combining rows as [`Combine`] says.
pub(crate) fn upsert_sql(table: &Table, source: Source) -> String {
    let name = table.name;
    let columns: Vec<&str> = table.columns.iter().map(|(column, _)| *column).collect();
    let keys: Vec<&str> = table
        .columns
        .iter()
        .filter(|(_, combine)| *combine == Key)
        .map(|(column, _)| *column)
        .collect();
    let newer = match source {
        Source::Values => ">=",
        Source::Attached(_) => ">",
    };
    let updates: Vec<String> = table
        .columns
        .iter()
        .filter_map(|(column, combine)| {
            let old = format!("{name}.{column}");
            let new = format!("excluded.{column}");
            let value = match combine {
                Key | Fixed => return None,
                First | Min => format!("min({old}, {new})"),
                Last => format!("max({old}, {new})"),
                Count => match source {
                    Source::Values => format!("{old} + {new}"),
                    Source::Attached(_) => format!("max({old}, {new})"),
                },
                Latest => format!(
                    "CASE WHEN excluded.last_seen {newer} {name}.last_seen THEN {new} ELSE {old} END"
                ),
                LatestPresent => format!(
                    "CASE WHEN {new} IS NOT NULL AND ({old} IS NULL OR excluded.last_seen {newer} {name}.last_seen) THEN {new} ELSE {old} END"
                ),
            };
            Some(format!("{column} = {value}"))
        })
        .collect();
    let rows = match source {
        Source::Values => {
            let parameters: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            format!("VALUES ({})", parameters.join(", "))
        }
        // `WHERE true` keeps SQLite from reading ON CONFLICT as a join's ON.
        Source::Attached(schema) => format!(
            "SELECT {} FROM {schema}.{name} WHERE true",
            columns.join(", ")
        ),
    };
    let action = if updates.is_empty() {
        "NOTHING".to_owned()
    } else {
        format!("UPDATE SET {}", updates.join(", "))
    };
    format!(
        "INSERT INTO {name} ({}) {rows} ON CONFLICT ({}) DO {action}",
        columns.join(", "),
        keys.join(", ")
    )
}

#[cfg(test)]
mod tests;
