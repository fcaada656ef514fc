//! The options of the sensor and its configuration file (TOML), for what a
//! DaemonSet sets once per node.
//!
//! Each section of the file is one struct ([`CaptureSection`],
//! [`PipelineSection`], [`NatsSection`]) that is at once clap arguments and a
//! serde table: a field's name is both its clap id and its key in the file,
//! and its `#[arg]` names the flag and the `CIPHERLENS_*` variable. So an
//! option is written once, and [`overlay`] can apply the precedence to every
//! option alike: command line, then environment, then this file, then the
//! built-in defaults.
//!
//! Unknown keys are errors (a typo must not silently leave a setting at its
//! default), and so are values of the wrong type or out of range; every
//! error names the file, and the line and column. Secrets are read from
//! files (`password_file`, `token_file`), so the configuration itself can
//! live in a ConfigMap.
//!
//! ```toml
//! [capture]
//! interfaces = ["eth*", "lxc*"]
//! exclude_interfaces = ["docker0"]
//! flow_byte_budget = 131072
//! starttls_watch_bytes = 262144   # 0: look at every packet of a flow without TLS
//! ring_buffer_mib = 8              # a power of two
//! tls_ring_buffer_mib = 2          # the TLS probes' ring
//! stats_interval_seconds = 60
//! attach_mode = "auto"            # auto | tcx | netlink
//! metrics_listen = "127.0.0.1:9464"
//! pods_log_dir = "/var/log/pods"
//! containers_log_dir = "/var/log/containers"
//! output = "/var/log/cipherlens/records.jsonl"
//! output_max_bytes = 104857600    # rotate at 100 MiB
//! output_keep = 5
//! cnflow = true
//! cnflow_report_interval_seconds = 60
//! cnflow_idle_timeout_seconds = 120
//! cnflow_scan_interval_seconds = 5
//!
//! [pipeline]
//! max_handshake_message = 262144
//! max_reassembly_bytes = 1048576
//! ja4_original_order = false
//! community_id_seed = 0
//!
//! [nats]
//! url = "tls://nats.example:4222"
//! prefix = "cipherlens"
//! node = "node-1"
//! user = "sensor"
//! password_file = "/run/secrets/nats-password"
//! ca = "/etc/cipherlens/nats-ca.pem"
//! jetstream = true
//! buffer = 100000
//! ```

mod secret;
mod sections;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Command, FromArgMatches};
use serde::Deserialize;

pub use secret::Secret;
pub use sections::{
    AttachMode, CaptureSection, FLOW_BYTE_BUDGET, InventorySection, NatsSection, PipelineSection,
    PlaintextDirectiveScope, PolicySection,
};

/// Largest configuration file read.
pub const MAX_CONFIG: u64 = 1 << 20;

/// A configuration file: every key it leaves out has its built-in default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub capture: CaptureSection,
    pub pipeline: PipelineSection,
    pub nats: NatsSection,
    pub policy: PolicySection,
    pub inventory: InventorySection,
}

/// Why the options could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading the configuration file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is larger than {MAX_CONFIG} bytes")]
    TooLarge { path: PathBuf },
    #[error("configuration file {path}")]
    Invalid {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("reading the secret file {path}")]
    ReadSecret {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The parsed arguments do not fit the option structs (a programming
    /// error: the command was not built from them).
    #[error("applying the command-line options")]
    Arguments(#[from] clap::Error),
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let read = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    // One byte more than allowed tells a file at the limit from a larger one.
    file.take(MAX_CONFIG + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_CONFIG {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = String::from_utf8(bytes)
        .map_err(|error| read(std::io::Error::new(std::io::ErrorKind::InvalidData, error)))?;
    parse(&text).map_err(|source| ConfigError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses configuration text; an error's Display shows the line and column.
pub fn parse(text: &str) -> Result<FileConfig, toml::de::Error> {
    toml::from_str(text)
}

/// `section` (from a file, or the defaults) with every option that `matches`
/// got from the command line or the environment put over it.
///
/// `matches` are those of the (sub)command whose arguments include the
/// section's. Clap fills in defaults too; those are left out, so a value
/// from the file beats a default but nothing else.
pub fn overlay<S: FromArgMatches>(mut section: S, matches: &ArgMatches) -> Result<S, ConfigError> {
    let mut given = matches.clone();
    let defaulted: Vec<String> = matches
        .ids()
        .filter(|id| {
            !matches!(
                matches.value_source(id.as_str()),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        })
        .map(|id| id.as_str().to_owned())
        .collect();
    for id in defaulted {
        // The id came from these matches, so it is valid for them.
        let _ = given.try_clear_id(&id);
    }
    // Derived `update_from_arg_matches` sets exactly the fields whose id is
    // present, which are now the given ones.
    section.update_from_arg_matches(&given)?;
    Ok(section)
}

/// The built-in defaults of a section's options: what clap gives when
/// nothing is set, the environment ignored.
pub fn defaults<S: Args + FromArgMatches>() -> S {
    let command = S::augment_args(Command::new("defaults")).mut_args(|arg| arg.env(None));
    let matches = command
        .try_get_matches_from(["defaults"])
        .expect("a section's options have defaults, none is required");
    S::from_arg_matches(&matches).expect("the matches come from the section's own arguments")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("mod.rs");
        let example: String = doc
            .lines()
            .skip_while(|line| !line.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|line| !line.starts_with("//! ```"))
            .map(|line| line.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let config = parse(&example).expect("the module's example is valid");
        assert_eq!(config.capture.interfaces, ["eth*", "lxc*"]);
        assert_eq!(config.capture.attach_mode, AttachMode::Auto);
        assert_eq!(
            config.capture.output.as_deref(),
            Some(Path::new("/var/log/cipherlens/records.jsonl"))
        );
        assert_eq!(config.capture.output_max_bytes, 104_857_600);
        assert_eq!(config.nats.url.as_deref(), Some("tls://nats.example:4222"));
        assert_eq!(
            config.nats.password_file,
            Some(Secret::File("/run/secrets/nats-password".into()))
        );
        assert!(config.nats.jetstream);
        assert_eq!(config.pipeline.max_reassembly_bytes, 1 << 20);
    }

    #[test]
    fn mistakes_are_errors_that_say_where() {
        for (text, needles) in [
            (
                "[capture]\ninterfaces = [\"eth0\"]\nflow_byte_budjet = 5\n",
                &["unknown field `flow_byte_budjet`", "line 3, column 1"][..],
            ),
            (
                "[capture]\nflow_byte_budget = \"big\"\n",
                &["invalid type", "line 2, column 20"],
            ),
            (
                "[capture]\nflow_byte_budget = 10\n",
                &["expected 1024 to 16777216", "line 2, column 20"],
            ),
            (
                "[capture]\nring_buffer_mib = 3\n",
                &["expected a power of two from 1 to 1024, found 3", "line 2"],
            ),
            (
                "[capture]\nattach_mode = \"fast\"\n",
                &["unknown variant `fast`", "`auto`", "line 2"],
            ),
            (
                "[capture]\ncnflow_scan_interval_seconds = 0\n",
                &["expected 1 to 3600", "line 2"],
            ),
            (
                "[capture]\ncnflow_scan_interval_seconds = 3601\n",
                &["expected 1 to 3600", "line 2"],
            ),
            (
                "[capture]\ncnflow_idle_timeout_seconds = 0\n",
                &["expected at least 1", "line 2"],
            ),
            ("[pipeline]\ncommunity_id_seed = 65536\n", &["line 2"]),
            ("[natz]\nurl = \"x\"\n", &["unknown field `natz`", "line 1"]),
            ("[nats]\npassword = \"x\"\n", &["unknown field `password`"]),
            ("[capture\n", &["line 1"]),
        ] {
            let error = parse(text).expect_err(text).to_string();
            for needle in needles {
                assert!(error.contains(needle), "{text:?}: {error} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn the_command_line_and_the_file_accept_the_same_ranges() {
        let command = CaptureSection::augment_args(Command::new("t")).mut_args(|a| a.env(None));
        for (flag, key, accepted, refused) in [
            (
                "--flow-byte-budget",
                "flow_byte_budget",
                &[1024u64, 16 << 20][..],
                &[1023, (16 << 20) + 1, 1 << 32][..],
            ),
            (
                "--ring-buffer-mib",
                "ring_buffer_mib",
                &[1, 2, 8, 1024],
                &[0, 3, 12, 2048, 1 << 32],
            ),
            (
                "--cnflow-scan-interval",
                "cnflow_scan_interval_seconds",
                &[1, 3600],
                &[0, 3601],
            ),
            (
                "--cnflow-idle-timeout",
                "cnflow_idle_timeout_seconds",
                &[1, 1 << 40],
                &[0],
            ),
        ] {
            for (values, ok) in [(accepted, true), (refused, false)] {
                for value in values {
                    let argument =
                        command
                            .clone()
                            .try_get_matches_from(["t", flag, &value.to_string()]);
                    assert_eq!(argument.is_ok(), ok, "{flag} {value}");
                    let file = parse(&format!("[capture]\n{key} = {value}\n"));
                    assert_eq!(file.is_ok(), ok, "{key} = {value}");
                }
            }
        }
    }

    #[test]
    fn an_empty_file_is_the_defaults_and_so_is_the_command_line_without_options() {
        let empty = parse("").expect("empty is fine");
        assert_eq!(empty, FileConfig::default());
        // Independent of the code: the values the options document.
        assert_eq!(empty.capture.flow_byte_budget, 128 * 1024);
        assert_eq!(empty.capture.ring_buffer_mib, 8);
        assert_eq!(empty.capture.stats_interval_seconds, 60);
        assert!(empty.capture.cnflow);
        assert_eq!(empty.capture.cnflow_idle_timeout_seconds, 120);
        assert_eq!(empty.capture.pods_log_dir, Path::new("/var/log/pods"));
        assert_eq!(empty.nats.prefix, "cipherlens");
        assert_eq!(empty.nats.buffer, 100_000);
        assert_eq!(empty.nats.url, None);
        assert_eq!(empty.pipeline.max_handshake_message, 256 * 1024);
        assert!(!empty.pipeline.ja4_original_order);
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_parsing() {
        let directory =
            std::env::temp_dir().join(format!("cipherlens-control-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("dir");
        let path = directory.join("big.toml");
        // Valid TOML (comments) one byte over the limit.
        let mut text = "#".repeat(MAX_CONFIG as usize);
        text.push('\n');
        std::fs::write(&path, &text).expect("write");
        assert!(matches!(load(&path), Err(ConfigError::TooLarge { .. })));
        text.truncate(MAX_CONFIG as usize - 1);
        text.push('\n');
        std::fs::write(&path, &text).expect("write");
        assert_eq!(load(&path).expect("at the limit"), FileConfig::default());
        let missing = directory.join("missing.toml");
        assert!(matches!(load(&missing), Err(ConfigError::Read { .. })));
        std::fs::remove_dir_all(&directory).ok();
    }
}
