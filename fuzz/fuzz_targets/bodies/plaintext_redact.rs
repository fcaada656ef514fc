//! Fuzz body `plaintext_redact`: bytes as the plaintext of one TLS library
//! call, redacted before a record carries them.
//!
//! Why: any local process's traffic reaches this code when plaintext is on.
//! It must never panic, and no configured header's value may survive it.

use cipherlens_parsers::redact::{DEFAULT_HEADERS, REDACTED, redact};

/// Redacts `data` and checks that no header line keeps its value.
pub fn run(data: &[u8]) {
    let headers: Vec<String> = DEFAULT_HEADERS.iter().map(|h| (*h).to_owned()).collect();
    let mut redacted = data.to_vec();
    let found = redact(&mut redacted, &headers);
    let total: u32 = found.iter().map(|r| r.count).sum();
    // Redacting again finds the same lines, each already reduced to the
    // marker: the output is a fixed point.
    let mut again = redacted.clone();
    let second = redact(&mut again, &headers);
    assert_eq!(again, redacted);
    assert_eq!(second.iter().map(|r| r.count).sum::<u32>(), total);
    for line in redacted.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        for header in &headers {
            let name = header.as_bytes();
            if line.len() > name.len()
                && line[..name.len()].eq_ignore_ascii_case(name)
                && let Some(colon) = line[name.len()..].iter().position(|b| *b == b':')
                && line[name.len()..name.len() + colon]
                    .iter()
                    .all(|b| *b == b' ' || *b == b'\t')
            {
                let value = &line[name.len() + colon + 1..];
                let value = value.trim_ascii_start();
                assert!(value == REDACTED, "{header} kept a value");
            }
        }
    }
}
