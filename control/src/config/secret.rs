//! A secret given directly (command line, environment) or as a file that
//! holds it (configuration file), so the file can live in a ConfigMap.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "PathBuf")]
pub enum Secret {
    /// The secret itself.
    Given(String),
    /// A file holding the secret (surrounding white space is not part of it).
    File(PathBuf),
}

impl Secret {
    /// clap's value parser: a value on the command line or in the
    /// environment is the secret itself.
    pub fn given(value: &str) -> Result<Self, std::convert::Infallible> {
        Ok(Self::Given(value.to_owned()))
    }

    /// The secret, read from its file if it is in one.
    pub fn read(&self) -> Result<String, ConfigError> {
        match self {
            Self::Given(secret) => Ok(secret.clone()),
            Self::File(path) => std::fs::read_to_string(path)
                .map(|text| text.trim().to_owned())
                .map_err(|source| ConfigError::ReadSecret {
                    path: path.clone(),
                    source,
                }),
        }
    }
}

/// In the configuration file a secret is the path of a file holding it.
impl From<PathBuf> for Secret {
    fn from(path: PathBuf) -> Self {
        Self::File(path)
    }
}

/// Never shows a given secret (options are logged with `{:?}`).
impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Given(_) => formatter.write_str("Given(<redacted>)"),
            Self::File(path) => formatter.debug_tuple("File").field(path).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_secret_is_read_trimmed_and_a_given_one_never_printed() {
        let path = std::env::temp_dir().join(format!("cipherlens-secret-{}", std::process::id()));
        std::fs::write(&path, "  s3cret\n").expect("write");
        assert_eq!(Secret::File(path.clone()).read().expect("read"), "s3cret");
        std::fs::remove_file(&path).ok();
        assert!(matches!(
            Secret::File(path).read(),
            Err(ConfigError::ReadSecret { .. })
        ));
        let given = Secret::given("hunter2").expect("infallible");
        assert_eq!(given.read().expect("given"), "hunter2");
        assert!(!format!("{given:?}").contains("hunter2"));
    }
}
