//! Fuzz body `directive`: bytes as a directive payload from NATS.
//!
//! Why: anyone who may publish on the directive subjects reaches this
//! parser. Bad input must be refused with a reason, never panic; what is
//! accepted must be within the documented ranges.

use cipherlens_control::directive::{
    Directive, MAX_DIRECTIVE, MAX_GLOB_LEN, MAX_GLOBS, parse_directive,
};

/// Parses `data` as a directive and checks what was accepted.
pub fn run(data: &[u8]) {
    match parse_directive(data) {
        Ok(directive) => {
            assert!(data.len() <= MAX_DIRECTIVE);
            match directive {
                Directive::Sampling { rate } => assert!((0.0..=1.0).contains(&rate)),
                Directive::Interfaces { include, exclude } => {
                    assert!(include.len() + exclude.len() <= MAX_GLOBS);
                    for glob in include.iter().chain(&exclude) {
                        assert!(!glob.is_empty() && glob.len() <= MAX_GLOB_LEN);
                    }
                }
                Directive::Status {} | Directive::Policy {} | Directive::Plaintext { .. } => {}
            }
        }
        Err(error) => {
            let _ = error.reason();
            let _ = error.to_string();
        }
    }
}
