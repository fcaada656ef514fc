//! What each process's TLS is and whether the probes cover it: the
//! `status` directive lists processes, the stats record and `/metrics`
//! count them by library, version and reason.

use std::collections::BTreeMap;

use cipherlens_record::stats::TlsCoverage;
use cipherlens_uprobes::{FileVerdict, ProcessScan, Verdict};
use serde::Serialize;

/// One process's coverage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessCoverage {
    pub pid: u32,
    pub comm: String,
    /// Library family, or what the TLS is when it cannot be hooked.
    pub library: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The file that carries it, inside the process's mount namespace.
    pub path: String,
    pub hooked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// Why a process with a hookable library is not covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotCovered {
    /// The process filter leaves it out.
    ExcludedProcess,
    /// The library filter leaves its file out.
    ExcludedLibrary,
    /// The kernel refused the probes.
    AttachFailed,
}

impl NotCovered {
    pub fn as_str(self) -> &'static str {
        match self {
            NotCovered::ExcludedProcess => "excluded_process",
            NotCovered::ExcludedLibrary => "excluded_library",
            NotCovered::AttachFailed => "attach_failed",
        }
    }
}

/// A process's coverage from its scan; `None` when it has no TLS.
/// `why_not(path)` says why a hookable file is not covered, if it is not.
pub fn of_process(
    scan: &ProcessScan,
    comm: &str,
    excluded: bool,
    why_not: impl Fn(&cipherlens_uprobes::MappedFile) -> Option<NotCovered>,
) -> Option<ProcessCoverage> {
    let mut best: Option<ProcessCoverage> = None;
    for file in scan.tls_files() {
        let FileVerdict::Read { verdict, .. } = &*file.verdict else {
            continue;
        };
        let entry = match verdict {
            Verdict::Hookable(library) => {
                let reason = if excluded {
                    Some(NotCovered::ExcludedProcess)
                } else {
                    why_not(file)
                };
                ProcessCoverage {
                    pid: scan.pid,
                    comm: comm.to_owned(),
                    library: library.flavour.as_str().to_owned(),
                    version: library.version_text.as_deref().and_then(version_number),
                    path: file.path.clone(),
                    hooked: reason.is_none(),
                    reason: reason.map(NotCovered::as_str),
                }
            }
            Verdict::Unhookable {
                reason,
                version_text,
            } => ProcessCoverage {
                pid: scan.pid,
                comm: comm.to_owned(),
                library: reason.as_str().to_owned(),
                version: version_text.as_deref().and_then(version_number),
                path: file.path.clone(),
                hooked: false,
                reason: Some(reason.as_str()),
            },
            Verdict::NotTls => continue,
        };
        // A hooked file wins; among the rest the first (libssl before
        // libcrypto, in path order) speaks for the process.
        let better = match &best {
            None => true,
            Some(known) => entry.hooked && !known.hooked,
        };
        if better {
            best = Some(entry);
        }
    }
    best
}

/// The version number in a library's version text ("OpenSSL 3.0.17 1 Jul
/// 2025" -> "3.0.17"); BoringSSL has none.
pub fn version_number(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    match words.next()? {
        "OpenSSL" | "LibreSSL" => words.next().map(str::to_owned),
        _ => None,
    }
}

/// What processes are grouped by: library, version, hooked, reason.
type Group = (String, Option<String>, bool, Option<&'static str>);

/// Processes counted by library, version, hooked and reason.
pub fn summarize<'a>(processes: impl Iterator<Item = &'a ProcessCoverage>) -> Vec<TlsCoverage> {
    let mut counts: BTreeMap<Group, u64> = BTreeMap::new();
    for process in processes {
        *counts
            .entry((
                process.library.clone(),
                process.version.clone(),
                process.hooked,
                process.reason,
            ))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(
            |((library, version, hooked, reason), processes)| TlsCoverage {
                library,
                version,
                hooked,
                reason: reason.map(str::to_owned),
                processes,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_numbers_come_from_the_version_text() {
        assert_eq!(
            version_number("OpenSSL 3.0.17 1 Jul 2025").as_deref(),
            Some("3.0.17")
        );
        assert_eq!(
            version_number("OpenSSL 1.1.1w  11 Sep 2023").as_deref(),
            Some("1.1.1w")
        );
        assert_eq!(version_number("BoringSSL"), None);
    }
}
