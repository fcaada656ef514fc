//! An error with its causes on one line, for log lines and replies: the
//! sensor's library errors keep their causes as `source`s (not in their
//! own text), so a reader needs the chain to see why.

use std::fmt;

/// Displays an error and each of its causes, `: `-separated.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(current) = cause {
            write!(f, ": {current}")?;
            cause = current.source();
        }
        Ok(())
    }
}
