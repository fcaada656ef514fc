//! Fuzz body `proc_maps`: the input as a `/proc/PID/maps` file.
//!
//! Why: discovery reads the maps of every process on the node; the parser
//! must turn any text into mappings or an error, never a panic.

/// Parses `data` as a maps file.
pub fn run(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cipherlens_uprobes::parse_maps(text);
    }
}
