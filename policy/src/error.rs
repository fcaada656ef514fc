//! Why a policy file is refused, with where: the caller keeps its old
//! policy and reports `file:line:column: problem`.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::rules::RuleId;

/// A policy that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{}: cannot read the policy file: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{location}: {problem}")]
    Invalid {
        location: Location,
        problem: Problem,
    },
}

impl PolicyError {
    /// Counter label for the failure (never the message text).
    pub fn reason(&self) -> &'static str {
        match self {
            PolicyError::Read { .. } => "read",
            PolicyError::Invalid { problem, .. } => problem.reason(),
        }
    }

    /// Where in the file, for [`PolicyError::Invalid`].
    pub fn location(&self) -> Option<&Location> {
        match self {
            PolicyError::Read { .. } => None,
            PolicyError::Invalid { location, .. } => Some(location),
        }
    }
}

/// A place in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file's path, or what the caller named the text.
    pub file: String,
    /// 1-based line and column (in characters); `None` when the TOML
    /// library could not say where.
    pub position: Option<(usize, usize)>,
}

impl Location {
    /// The location of byte `offset` of `text`.
    pub(crate) fn at(file: &str, text: &str, offset: Option<usize>) -> Self {
        let position = offset.map(|offset| {
            let before = &text[..floor_char_boundary(text, offset.min(text.len()))];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
            let column = before[line_start..].chars().count() + 1;
            (line, column)
        });
        Location {
            file: file.to_owned(),
            position,
        }
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{line}:{column}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// What is wrong with a policy file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Not TOML, an unknown key, a wrong type or a value out of range, as
    /// the TOML reader words it.
    #[error("{0}")]
    Syntax(String),
    #[error("rule {rule} has no severity level {level:?} (its levels: {known})")]
    UnknownLevel {
        rule: RuleId,
        level: String,
        known: String,
    },
    #[error("rule {rule} has a single level: set `severity`, not `severities`")]
    NoLevels { rule: RuleId },
    #[error(
        "an exception needs at least one of `sni`, `servers`, `namespaces` (to turn a rule off everywhere, set its `enabled = false`)"
    )]
    ExceptionWithoutMatch,
    #[error("two validity limits start on the same date")]
    DuplicateValidityLimit,
}

impl Problem {
    pub fn reason(&self) -> &'static str {
        match self {
            Problem::Syntax(_) => "syntax",
            Problem::UnknownLevel { .. } => "unknown_level",
            Problem::NoLevels { .. } => "no_levels",
            Problem::ExceptionWithoutMatch => "exception_without_match",
            Problem::DuplicateValidityLimit => "duplicate_validity_limit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let text = "a = 1\nb = \"\u{e9}t\u{e9}\" x\n";
        assert_eq!(Location::at("f", text, Some(0)).position, Some((1, 1)));
        assert_eq!(Location::at("f", text, Some(6)).position, Some((2, 1)));
        // "é" is two bytes: byte 18 is the 'x' at character column 11.
        let x = text.find('x').unwrap();
        assert_eq!(Location::at("f", text, Some(x)).position, Some((2, 11)));
        assert_eq!(Location::at("f", text, None).to_string(), "f");
        assert_eq!(
            Location::at("p.toml", text, Some(6)).to_string(),
            "p.toml:2:1"
        );
    }
}
