//! Fuzz body `config_file`: bytes as a configuration file (UTF-8, then
//! TOML into the option sections with their range checks).
//!
//! Why: the file comes from a ConfigMap someone edited by hand; a mistake in
//! it must be an error naming the line, never a panic. What parses must keep
//! the ranges the command line enforces.

use cipherlens_control::config::{FLOW_BYTE_BUDGET, parse};

/// Parses `data` as configuration text.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Ok(config) => {
            let capture = &config.capture;
            assert!(FLOW_BYTE_BUDGET.contains(&u64::from(capture.flow_byte_budget)));
            assert!((1..=3600).contains(&capture.cnflow_scan_interval_seconds));
            assert!(capture.cnflow_idle_timeout_seconds >= 1);
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}
