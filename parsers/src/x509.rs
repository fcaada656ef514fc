//! X.509 certificate summaries (in progress).
