//! Fuzz body `policy_file`: the input as a policy file, compiled; an error
//! is rendered with its file, line and column.
//!
//! Why: the sensor reads the policy file at start, on SIGHUP and on a
//! `policy` directive, and the text is whatever someone wrote or sent; a
//! bad file must come back as an error (the old policy stays), never as a
//! panic or a hang. Rendering the error walks the text to a byte offset
//! the TOML reader gave, which must land on a character boundary.

use cipherlens_policy::{Policy, RuleId};

/// Compiles `data` (lossily decoded as UTF-8) as a policy file.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Policy::from_toml(&text, "fuzz.toml") {
        Ok(policy) => {
            for rule in RuleId::ALL {
                let _ = policy.is_active(rule);
                for level in 0..rule.levels().len() {
                    let _ = policy.severity(rule, level);
                }
            }
            let _ = policy.dedup_window();
        }
        Err(error) => {
            let _ = error.to_string();
            let _ = error.reason();
        }
    }
}
