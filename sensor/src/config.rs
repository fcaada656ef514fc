//! The configuration file (TOML), for what a DaemonSet sets once per node.
//!
//! Precedence: command line, then environment variables (`CIPHERLENS_*`),
//! then this file, then built-in defaults. Unknown keys are errors (a typo
//! must not silently leave a setting at its default), and so are values of
//! the wrong type; every error names the file, and the line and column.
//! Secrets are read from files (`password_file`, `token_file`), so the
//! configuration itself can live in a ConfigMap.
//!
//! ```toml
//! [capture]
//! interfaces = ["eth*", "lxc*"]
//! exclude_interfaces = ["docker0"]
//! flow_byte_budget = 131072
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

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Largest configuration file read.
const MAX_CONFIG: u64 = 1 << 20;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub capture: CaptureConfig,
    #[serde(default)]
    pub pipeline: PipelineFileConfig,
    #[serde(default)]
    pub nats: NatsFileConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureConfig {
    pub interfaces: Option<Vec<String>>,
    pub exclude_interfaces: Option<Vec<String>>,
    pub flow_byte_budget: Option<u32>,
    pub stats_interval_seconds: Option<u64>,
    pub attach_mode: Option<String>,
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub pods_log_dir: Option<PathBuf>,
    pub containers_log_dir: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub output_max_bytes: Option<u64>,
    pub output_keep: Option<u32>,
    pub cnflow: Option<bool>,
    pub cnflow_report_interval_seconds: Option<u64>,
    pub cnflow_idle_timeout_seconds: Option<u64>,
    pub cnflow_scan_interval_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFileConfig {
    pub max_handshake_message: Option<usize>,
    pub max_reassembly_bytes: Option<usize>,
    pub ja4_original_order: Option<bool>,
    pub community_id_seed: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsFileConfig {
    pub url: Option<String>,
    pub prefix: Option<String>,
    pub node: Option<String>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    pub nkey_seed_file: Option<PathBuf>,
    pub creds: Option<PathBuf>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub tls: Option<bool>,
    pub jetstream: Option<bool>,
    pub buffer: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is larger than {MAX_CONFIG} bytes")]
    TooLarge { path: PathBuf },
    #[error("configuration file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let read = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    if std::fs::metadata(path).map_err(read)?.len() > MAX_CONFIG {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    parse(&text).map_err(|message| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    })
}

/// Parses configuration text (errors carry line and column).
pub fn parse(text: &str) -> Result<FileConfig, String> {
    let config: FileConfig = toml::from_str(text).map_err(|error| error.to_string())?;
    if let Some(mode) = &config.capture.attach_mode
        && !matches!(mode.as_str(), "auto" | "tcx" | "netlink")
    {
        return Err(format!(
            "capture.attach_mode = {mode:?}: expected \"auto\", \"tcx\" or \"netlink\""
        ));
    }
    if let Some(budget) = config.capture.flow_byte_budget
        && !(1024..=16 * 1024 * 1024).contains(&budget)
    {
        return Err(format!(
            "capture.flow_byte_budget = {budget}: expected 1024 to 16777216"
        ));
    }
    if let Some(scan) = config.capture.cnflow_scan_interval_seconds
        && !(1..=3600).contains(&scan)
    {
        return Err(format!(
            "capture.cnflow_scan_interval_seconds = {scan}: expected 1 to 3600"
        ));
    }
    if config.capture.cnflow_idle_timeout_seconds == Some(0) {
        return Err("capture.cnflow_idle_timeout_seconds = 0: expected at least 1".to_string());
    }
    Ok(config)
}

/// A secret from a file, without surrounding white space.
pub fn read_secret(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_string())
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("config.rs");
        let example: String = doc
            .lines()
            .skip_while(|line| !line.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|line| !line.starts_with("//! ```"))
            .map(|line| line.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let config = parse(&example).expect("the module's example is valid");
        assert_eq!(
            config.capture.interfaces,
            Some(vec!["eth*".into(), "lxc*".into()])
        );
        assert_eq!(config.nats.jetstream, Some(true));
        assert_eq!(config.pipeline.community_id_seed, Some(0));
    }

    #[test]
    fn mistakes_are_errors_that_say_where() {
        for (text, needle) in [
            (
                "[capture]\ninterfaces = [\"eth0\"]\nflow_byte_budjet = 5\n",
                "unknown field `flow_byte_budjet`",
            ),
            ("[capture]\nflow_byte_budget = \"big\"\n", "invalid type"),
            (
                "[capture]\nflow_byte_budget = 10\n",
                "expected 1024 to 16777216",
            ),
            ("[capture]\nattach_mode = \"fast\"\n", "expected \"auto\""),
            (
                "[capture]\ncnflow_scan_interval_seconds = 0\n",
                "expected 1 to 3600",
            ),
            ("[natz]\nurl = \"x\"\n", "unknown field `natz`"),
            ("[capture\n", "line 1"),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.contains(needle), "{text:?}: {error}");
        }
        assert_eq!(parse("").expect("empty is fine"), FileConfig::default());
    }
}
