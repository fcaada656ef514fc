//! What operators tell the cipherlens sensor, and how it is checked.
//!
//! - [`config`]: every option once, as a command-line flag, an environment
//!   variable and a key of the TOML configuration file, with one precedence
//!   rule for all of them.
//! - [`directive`]: requests to a running sensor (status, interfaces,
//!   sampling, plaintext capture), parsed strictly and bounded.
//!
//! Both take text that someone else wrote, so both are fuzzed (see
//! `fuzz/README.md`). Nothing here does I/O except reading the files an
//! operator names (the configuration file and secret files).
#![forbid(unsafe_code)]

pub mod config;
pub mod directive;
