//! What can go wrong with an inventory, with the context a person needs to
//! fix it. Counters and metric labels use [`Error::reason`], never the text.

use std::path::PathBuf;

/// An inventory error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused an operation.
    #[error("inventory {path}: {operation}: {source}")]
    Sqlite {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The file is a SQLite database but not a cipherlens inventory.
    #[error(
        "{path} is not a cipherlens inventory (it has tables but no schema_migrations table); refusing to modify it"
    )]
    NotAnInventory { path: PathBuf },
    /// The inventory was written by a newer cipherlens.
    #[error(
        "{path} has inventory schema version {found}, newer than the {supported} this cipherlens knows; use a newer cipherlens to read it"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// Another writer moved a source's position since this batch read it:
    /// committing would count records twice or lose them.
    #[error(
        "inventory {path}: position of source {source_name} is {stored:?} in the database but the batch started from {expected:?}; another writer is ingesting the same source"
    )]
    PositionConflict {
        path: PathBuf,
        source_name: String,
        expected: Option<u64>,
        stored: Option<u64>,
    },
    /// Two batches to combine started from different stored positions.
    #[error(
        "batches started from different positions of source {source_name}: make them from the same inventory state"
    )]
    BatchesDisagree { source_name: String },
    /// A position sequence does not fit SQLite's signed 64-bit integer.
    #[error("position {sequence} of source {source_name} is larger than 2^63 - 1")]
    PositionTooLarge { source_name: String, sequence: u64 },
    /// A database to merge does not exist.
    #[error("{path}: no such inventory to merge")]
    MissingSource { path: PathBuf },
    /// `merge_from` was given the inventory itself.
    #[error("cannot merge {path} into itself")]
    MergeIntoSelf { path: PathBuf },
    /// A line or message is not a readable session record.
    #[error("not a cipherlens.session/v1 record: {source}")]
    BadRecord {
        #[source]
        source: serde_json::Error,
    },
    /// A session record carried a time that is not RFC 3339.
    #[error("session record has an unreadable time {value:?} in {field}")]
    BadTime { field: &'static str, value: String },
    /// A stored row holds a name this cipherlens does not know.
    #[error("inventory table {table} holds an unknown value {value:?}")]
    UnknownValue { table: &'static str, value: String },
    /// A value could not be encoded as JSON.
    #[error("cannot encode {what} as JSON: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// Writing an export failed.
    #[error("cannot write the {format} export: {source}")]
    Write {
        format: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

impl Error {
    /// A stable label for counters and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Sqlite { .. } => "sqlite",
            Error::NotAnInventory { .. } => "not_an_inventory",
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::PositionConflict { .. } => "position_conflict",
            Error::BatchesDisagree { .. } => "batches_disagree",
            Error::PositionTooLarge { .. } => "position_too_large",
            Error::MissingSource { .. } => "missing_source",
            Error::MergeIntoSelf { .. } => "merge_into_self",
            Error::BadRecord { .. } => "bad_record",
            Error::BadTime { .. } => "bad_time",
            Error::UnknownValue { .. } => "unknown_value",
            Error::Json { .. } => "json",
            Error::Write { .. } => "write",
            Error::Random => "random",
        }
    }
}

/// Adds the database path and the operation to a rusqlite error.
pub(crate) trait SqliteContext<T> {
    fn context(self, path: &std::path::Path, operation: &'static str) -> Result<T, Error>;
}

impl<T> SqliteContext<T> for Result<T, rusqlite::Error> {
    fn context(self, path: &std::path::Path, operation: &'static str) -> Result<T, Error> {
        self.map_err(|source| Error::Sqlite {
            path: path.to_path_buf(),
            operation,
            source,
        })
    }
}
