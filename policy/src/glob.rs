//! Server-name globs for policy exceptions (`sni = ["*.corp.example"]`).
//!
//! `*` matches any run of characters, dots included (so `*.corp.example`
//! also covers `a.b.corp.example`), `?` exactly one character; everything
//! else matches itself, ASCII case-insensitively. Server names are ASCII
//! (IDNs travel as A-labels), so a pattern with other characters is refused
//! when the file is loaded rather than silently never matching. Patterns are
//! compiled once; matching does not allocate and runs in
//! O(pattern x name) at worst.

/// A compiled server-name glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// Lowercased pattern bytes.
    pattern: Box<[u8]>,
}

/// Why a glob is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("a server-name glob may not be empty")]
    Empty,
    #[error(
        "a server-name glob may contain only ASCII letters, digits, '.', '-', '_', '*' and '?'"
    )]
    Character,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        if !pattern
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b".-_*?".contains(&byte))
        {
            return Err(GlobError::Character);
        }
        Ok(Glob {
            pattern: pattern.to_ascii_lowercase().into_bytes().into_boxed_slice(),
        })
    }

    /// True when `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let pattern = &self.pattern[..];
        let name = name.as_bytes();
        let (mut p, mut n) = (0, 0);
        // Position after the last `*` and the name position it resumes at.
        let mut resume: Option<(usize, usize)> = None;
        while n < name.len() {
            match pattern.get(p) {
                Some(b'*') => {
                    p += 1;
                    resume = Some((p, n));
                }
                Some(&byte) if byte == b'?' || byte == name[n].to_ascii_lowercase() => {
                    p += 1;
                    n += 1;
                }
                _ => match resume {
                    Some((star_p, star_n)) => {
                        p = star_p;
                        n = star_n + 1;
                        resume = Some((star_p, star_n + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|&byte| byte == b'*')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, name: &str) -> bool {
        Glob::new(pattern).unwrap().matches(name)
    }

    #[test]
    fn stars_questions_and_case() {
        assert!(matches("*.corp.example", "a.corp.example"));
        assert!(matches("*.corp.example", "a.b.corp.example"));
        assert!(!matches("*.corp.example", "corp.example"));
        assert!(matches("*corp.example", "corp.example"));
        assert!(matches("API.Corp.example", "api.CORP.example"));
        assert!(matches("db-?.internal", "db-1.internal"));
        assert!(!matches("db-?.internal", "db-12.internal"));
        assert!(matches("*", "anything.at.all"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("**.x", "y.x"));
        assert!(!matches("exact.example", "exact.example.evil"));
    }

    #[test]
    fn refused_patterns() {
        assert_eq!(Glob::new(""), Err(GlobError::Empty));
        assert_eq!(Glob::new("bad name"), Err(GlobError::Character));
        assert_eq!(Glob::new("caf\u{e9}.example"), Err(GlobError::Character));
        assert_eq!(Glob::new("[a-z].example"), Err(GlobError::Character));
    }

    #[test]
    fn many_stars_stay_fast() {
        let pattern = "*a".repeat(30);
        let name = "a".repeat(29) + "b";
        assert!(!matches(&pattern, &name));
    }
}
