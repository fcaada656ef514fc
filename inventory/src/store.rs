//! The inventory database: opening (and migrating) it, and writing a batch
//! with its stream positions in one transaction.
//!
//! WAL mode lets `sqlite3` and exports read while a consumer writes; with
//! `synchronous = NORMAL` a power cut can lose the last commits but never
//! splits one, and since positions commit with their rows a restarted
//! consumer simply resumes from the last commit that survived.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::batch::{Batch, Seen};
use crate::error::{Error, SqliteContext};
use crate::schema::{self, SCHEMA_VERSION, Source, table, upsert_sql};
use crate::time::Timestamp;

/// How long a writer waits for another one before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open inventory database.
#[derive(Debug)]
pub struct Inventory {
    pub(crate) connection: Connection,
    pub(crate) path: PathBuf,
}

/// What [`Inventory::commit`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    /// Session records counted.
    pub records: u64,
    /// Records skipped because their position was already applied.
    pub already_applied: u64,
    /// Rows inserted or updated.
    pub rows: u64,
}

impl Inventory {
    /// Opens an inventory, creating it if the file does not exist and
    /// migrating it if an older cipherlens wrote it. A database from a newer
    /// cipherlens, or a SQLite file that is not an inventory, is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Inventory, Error> {
        Inventory::open_at(path.as_ref(), SCHEMA_VERSION)
    }

    /// Opens an inventory migrated to `version` only (tests of migrations).
    pub(crate) fn open_at(path: &Path, version: i64) -> Result<Inventory, Error> {
        let mut connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .context(path, "open")?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .context(path, "set the busy timeout")?;
        let found = schema::version(&connection, path)?;
        if found > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                path: path.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        connection
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .context(path, "switch to WAL mode")?;
        // A 64 MiB page cache: upserts touch index pages all over a large
        // inventory, and re-reading them through read(2) with the default
        // 2 MiB cache was most of the time of a batch of new assets.
        connection
            .execute_batch(
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
            )
            .context(path, "set pragmas")?;
        schema::migrate(&mut connection, path, version, &now())?;
        Ok(Inventory {
            connection,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, Error> {
        schema::version(&self.connection, &self.path)
    }

    /// The last position of `source` this inventory applied, if any: where a
    /// consumer resumes (the next record is at `position + 1`).
    pub fn position(&self, source: &str) -> Result<Option<u64>, Error> {
        let sequence: Option<i64> = self
            .connection
            .query_row(
                "SELECT sequence FROM ingest_positions WHERE source = ?1",
                [source],
                |row| row.get(0),
            )
            .optional()
            .context(&self.path, "read a position")?;
        Ok(sequence.map(|sequence| sequence as u64))
    }

    /// An empty batch that knows every stored position, so records already
    /// applied are skipped. Records without `host` count under `node`.
    pub fn batch(&self, node: impl Into<String>) -> Result<Batch, Error> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT source, sequence FROM ingest_positions")
            .context(&self.path, "read positions")?;
        let positions = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
            })
            .context(&self.path, "read positions")?
            .collect::<Result<HashMap<_, _>, _>>()
            .context(&self.path, "read positions")?;
        Ok(Batch::with_positions(node, positions))
    }

    /// Writes a batch and the positions it reached in one transaction.
    ///
    /// Fails without writing anything when another writer moved one of the
    /// batch's sources since the batch read its position.
    pub fn commit(&mut self, batch: Batch) -> Result<Committed, Error> {
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context(&path, "begin a write")?;
        check_positions(&transaction, &path, &batch)?;
        let rows = write_rows(&transaction, &batch).context(&path, "write rows")?;
        let now = now();
        for (source, _, latest) in batch.position_updates() {
            transaction
                .prepare_cached(
                    "INSERT INTO ingest_positions (source, sequence, updated_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (source) DO UPDATE SET sequence = excluded.sequence, updated_at = excluded.updated_at",
                )
                .and_then(|mut statement| statement.execute(params![source, latest as i64, now]))
                .context(&path, "store a position")?;
        }
        transaction.commit().context(&path, "commit")?;
        Ok(Committed {
            records: batch.applied(),
            already_applied: batch.already_applied(),
            rows,
        })
    }
}

fn check_positions(transaction: &Transaction<'_>, path: &Path, batch: &Batch) -> Result<(), Error> {
    for (source, base, _) in batch.position_updates() {
        let stored: Option<i64> = transaction
            .query_row(
                "SELECT sequence FROM ingest_positions WHERE source = ?1",
                [source],
                |row| row.get(0),
            )
            .optional()
            .context(path, "read a position")?;
        let stored = stored.map(|sequence| sequence as u64);
        if stored != base {
            return Err(Error::PositionConflict {
                path: path.to_path_buf(),
                source_name: source.to_owned(),
                expected: base,
                stored,
            });
        }
    }
    Ok(())
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn optional(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

fn write_rows(transaction: &Transaction<'_>, batch: &Batch) -> Result<u64, rusqlite::Error> {
    let mut rows = 0u64;
    let upsert = |name: &str| transaction.prepare_cached(&upsert_sql(table(name), Source::Values));

    let mut statement = upsert("workloads")?;
    for (id, row) in &batch.workloads {
        let key = &row.key;
        statement.execute(params![
            id,
            key.node,
            key.executable,
            key.container_id,
            key.k8s_namespace,
            key.k8s_pod,
            key.k8s_container,
            key.tls_fingerprint,
            optional(&row.executable_path),
            optional(&row.container_runtime),
            row.first,
            row.last,
            count(row.client_sessions),
            count(row.server_sessions),
            count(row.pq_offered),
            count(row.pq),
        ])?;
        rows += 1;
    }

    let mut statement = upsert("endpoints")?;
    for (id, row) in &batch.endpoints {
        let key = &row.key;
        statement.execute(params![
            id,
            key.node,
            key.transport,
            row.protocol,
            key.address,
            key.port,
            key.sni,
            row.server_workload.as_ref().map(|(id, _)| *id),
            row.seen.first,
            row.seen.last,
            count(row.seen.sessions),
            count(row.counts.established),
            count(row.counts.resumed),
            count(row.counts.pq_offered),
            count(row.counts.pq),
        ])?;
        rows += 1;
    }

    let mut statement = upsert("connections")?;
    for (id, row) in &batch.connections {
        statement.execute(params![
            id,
            row.endpoint_id,
            row.workload_id,
            row.seen.first,
            row.seen.last,
            count(row.seen.sessions),
            count(row.counts.established),
            count(row.counts.resumed),
            count(row.counts.pq_offered),
            count(row.counts.pq),
        ])?;
        rows += 1;
    }

    let mut statement = upsert("connection_usage")?;
    for ((connection, kind), versions) in &batch.usage {
        for (version, values) in versions {
            for (value, row) in values {
                statement.execute(params![
                    connection,
                    kind.as_str(),
                    value,
                    version,
                    row.code,
                    row.seen.first,
                    row.seen.last,
                    count(row.seen.sessions),
                ])?;
                rows += 1;
            }
        }
    }

    let mut statement = upsert("workload_offers")?;
    for ((workload, kind), values) in &batch.offers {
        for (value, row) in values {
            rows += write_value(
                &mut statement,
                *workload,
                kind.as_str(),
                value,
                row.code,
                &row.seen,
            )?;
        }
    }

    let mut statement = upsert("certificates")?;
    for (fingerprint, certificate) in &batch.certificates {
        statement.execute(params![
            fingerprint,
            certificate.fingerprint_sha1,
            certificate.serial_number,
            certificate.subject,
            certificate.subject_common_name,
            certificate.issuer,
            certificate.not_before,
            certificate.not_after,
            certificate.key_algorithm,
            certificate.key_bits,
            certificate.key_curve,
            certificate.subject_key_identifier,
            certificate.signature_algorithm,
            certificate.signature_algorithm_oid,
            certificate.self_signed,
            certificate.ca,
            certificate.subject_alt_names,
        ])?;
        rows += 1;
    }

    let mut statement = upsert("connection_certificates")?;
    for ((connection, side), chain) in &batch.chains {
        for (fingerprint, row) in chain {
            statement.execute(params![
                connection,
                side.as_str(),
                fingerprint,
                row.position,
                row.seen.first,
                row.seen.last,
                count(row.seen.sessions),
            ])?;
            rows += 1;
        }
    }

    let mut statement = upsert("findings")?;
    for (connection, findings) in &batch.findings {
        for finding in findings {
            statement.execute(params![
                connection,
                finding.rule,
                finding.severity.as_str(),
                finding.seen.first,
                finding.seen.last,
                count(finding.seen.sessions),
                finding.message,
                finding.evidence,
            ])?;
            rows += 1;
        }
    }
    Ok(rows)
}

fn write_value(
    statement: &mut rusqlite::CachedStatement<'_>,
    owner: i64,
    kind: &str,
    value: &str,
    code: Option<u16>,
    seen: &Seen,
) -> Result<u64, rusqlite::Error> {
    statement.execute(params![
        owner,
        kind,
        value,
        code,
        seen.first,
        seen.last,
        count(seen.sessions),
    ])?;
    Ok(1)
}

/// The wall clock in the stored time shape.
pub(crate) fn now() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)).to_rfc3339_micros()
}
