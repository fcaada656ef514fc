//! Loading the uprobe programs and attaching them to library files.
//!
//! A uprobe belongs to a file (its inode), not to a process: one
//! attachment covers every process that maps the file, now and later. So
//! the sensor attaches once per library file, at the function offsets
//! discovery found, through the path the file has in the sensor's own
//! namespace (`/proc/PID/root/...`, which works for a container's files).
//! Files whose last process is gone are detached.
//! Links are dropped by `detach`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use aya::Ebpf;
use aya::programs::uprobe::{
    UProbeAttachLocation, UProbeAttachPoint, UProbeLink, UProbeLinkId, UProbeScope,
};
use aya::programs::{BtfTracePoint, UProbe};
use aya::{Btf, programs::ProgramError};
use cipherlens_common::tls::programs;
use cipherlens_uprobes::{FileId, TlsFunction, TlsLibrary};
use std::sync::Arc;

use super::detach::{Reaper, drop_in_parallel, take_all};
use crate::live::LiveError;

/// Every uprobe program of the object.
const UPROBE_PROGRAMS: [&str; 10] = [
    programs::HANDSHAKE_ENTER,
    programs::HANDSHAKE_EXIT,
    programs::D2I_X509,
    programs::CRYPTO_BUFFER,
    programs::READ_ENTER,
    programs::WRITE_ENTER,
    programs::READ_EX_ENTER,
    programs::WRITE_EX_ENTER,
    programs::READ_WRITE_EXIT,
    programs::LOADER,
];

/// The programs a function gets in metadata mode.
fn metadata_programs(function: TlsFunction) -> &'static [&'static str] {
    match function {
        TlsFunction::SslDoHandshake | TlsFunction::SslConnect | TlsFunction::SslAccept => {
            &[programs::HANDSHAKE_ENTER, programs::HANDSHAKE_EXIT]
        }
        TlsFunction::D2iX509 => &[programs::D2I_X509],
        TlsFunction::CryptoBufferNewFromCbs => &[programs::CRYPTO_BUFFER],
        _ => &[],
    }
}

/// The programs a function gets when plaintext is on.
fn plaintext_programs(function: TlsFunction) -> &'static [&'static str] {
    match function {
        TlsFunction::SslRead => &[programs::READ_ENTER, programs::READ_WRITE_EXIT],
        TlsFunction::SslWrite => &[programs::WRITE_ENTER, programs::READ_WRITE_EXIT],
        TlsFunction::SslReadEx => &[programs::READ_EX_ENTER, programs::READ_WRITE_EXIT],
        TlsFunction::SslWriteEx => &[programs::WRITE_EX_ENTER, programs::READ_WRITE_EXIT],
        _ => &[],
    }
}

/// Loads the uprobe programs (attached later, per file) and attaches the
/// exec tracepoint.
pub fn load(ebpf: &mut Ebpf) -> Result<(), LiveError> {
    for name in UPROBE_PROGRAMS {
        uprobe(ebpf, name)?
            .load()
            .map_err(|source| LiveError::Program { name, source })?;
    }
    let btf = Btf::from_sys_fs().map_err(LiveError::Btf)?;
    let name = programs::EXEC;
    let exec: &mut BtfTracePoint = ebpf
        .program_mut(name)
        .ok_or(LiveError::Missing(name))?
        .try_into()
        .map_err(|source| LiveError::Program { name, source })?;
    exec.load(programs::EXEC_TRACEPOINT, &btf)
        .map_err(|source| LiveError::Program { name, source })?;
    exec.attach()
        .map_err(|source| LiveError::Program { name, source })?;
    Ok(())
}

pub(super) fn uprobe<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut UProbe, LiveError> {
    ebpf.program_mut(name)
        .ok_or(LiveError::Missing(name))?
        .try_into()
        .map_err(|source| LiveError::Program { name, source })
}

/// Probes of one file.
#[derive(Debug, Default)]
struct Attached {
    /// The attach cookie of the file's probes (see [`ProbedFile`]).
    number: u64,
    path: PathBuf,
    links: Vec<(&'static str, UProbeLinkId)>,
    plaintext_links: Vec<(&'static str, UProbeLinkId)>,
    plaintext_offsets: Vec<(TlsFunction, u64)>,
    /// The file, open while probed: the attach path is its descriptor.
    _held: Option<std::fs::File>,
}

/// Why a file's probes could not be attached (a counter label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttachFailure {
    /// The kernel refused (e.g. the file went away, or the offset is bad).
    Refused,
    /// The program is not in the object.
    NoProgram,
}

impl AttachFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachFailure::Refused => "refused",
            AttachFailure::NoProgram => "no_program",
        }
    }
}

/// A probed library file, as the kernel's events name it: each of its
/// probes carries the file's number as attach cookie, so an event says
/// which file (and so which library build) fired without a look at the
/// process's mappings, which may be gone by then.
#[derive(Debug, Clone)]
pub struct ProbedFile {
    /// The path inside the namespace of the process it was found in.
    pub path: String,
    pub library: Arc<TlsLibrary>,
}

/// Which files carry probes.
#[derive(Debug, Default)]
pub struct FileProbes {
    reaper: Option<Reaper>,
    files: HashMap<FileId, Attached>,
    by_number: HashMap<u64, ProbedFile>,
    next_number: u64,
    pub failures: BTreeMap<AttachFailure, u64>,
    plaintext: bool,
}

impl FileProbes {
    pub fn is_attached(&self, file: FileId) -> bool {
        self.files.contains_key(&file)
    }

    pub fn files(&self) -> u64 {
        self.files.len() as u64
    }

    pub fn probes(&self) -> u64 {
        self.files
            .values()
            .map(|file| (file.links.len() + file.plaintext_links.len()) as u64)
            .sum()
    }

    pub fn plaintext(&self) -> bool {
        self.plaintext
    }

    /// The file and function an event's attach cookie names.
    pub fn probed(&self, cookie: u64) -> Option<(&ProbedFile, Option<TlsFunction>)> {
        let (number, function) = from_cookie(cookie);
        Some((self.by_number.get(&number)?, function))
    }

    /// Attaches a library file's probes (and its plaintext probes when
    /// plaintext is on). A failure leaves nothing of the file attached.
    /// `path` is where to attach; `shown` the path the process sees.
    pub fn attach_library(
        &mut self,
        ebpf: &mut Ebpf,
        file: FileId,
        held: Option<std::fs::File>,
        fallback: &Path,
        shown: &str,
        library: &TlsLibrary,
    ) -> Result<(), AttachFailure> {
        self.next_number += 1;
        let number = self.next_number;
        let path = attach_path(held.as_ref(), fallback);
        let path = path.as_path();
        let mut attached = Attached {
            number,
            path: path.to_path_buf(),
            _held: held,
            ..Attached::default()
        };
        // One uprobe_multi link per program and file, all its offsets in
        // it: the kernel detaches such a link with one grace period.
        for (name, points) in by_program(&library.functions, metadata_programs) {
            match attach_one(ebpf, name, &points, path, number) {
                Ok(link) => attached.links.push((name, link)),
                Err(failure) => {
                    let mut links = Vec::new();
                    take_all(ebpf, &mut attached.links, &mut links);
                    self.retire(links);
                    return Err(self.failed(failure, path));
                }
            }
        }
        attached.plaintext_offsets = library
            .functions
            .iter()
            .filter(|(function, _)| !plaintext_programs(*function).is_empty())
            .copied()
            .collect();
        if self.plaintext {
            attach_plaintext(ebpf, &mut attached);
        }
        self.files.insert(file, attached);
        self.by_number.insert(
            number,
            ProbedFile {
                path: shown.to_owned(),
                library: Arc::new(library.clone()),
            },
        );
        Ok(())
    }

    /// Attaches the dynamic loader's hook of a file.
    pub fn attach_loader(
        &mut self,
        ebpf: &mut Ebpf,
        file: FileId,
        held: Option<std::fs::File>,
        fallback: &Path,
        offset: u64,
    ) -> Result<(), AttachFailure> {
        let path = attach_path(held.as_ref(), fallback);
        let link = attach_one(ebpf, programs::LOADER, &[(None, offset)], &path, 0)
            .map_err(|failure| self.failed(failure, &path))?;
        self.files.insert(
            file,
            Attached {
                path,
                links: vec![(programs::LOADER, link)],
                _held: held,
                ..Attached::default()
            },
        );
        Ok(())
    }

    /// Detaches the probes of files no process maps any more; returns them.
    pub fn retain(&mut self, ebpf: &mut Ebpf, mut keep: impl FnMut(FileId) -> bool) -> Vec<FileId> {
        let gone: Vec<FileId> = self.files.keys().copied().filter(|f| !keep(*f)).collect();
        for file in &gone {
            if let Some(mut attached) = self.files.remove(file) {
                self.by_number.remove(&attached.number);
                let mut links = Vec::new();
                take_all(ebpf, &mut attached.links, &mut links);
                take_all(ebpf, &mut attached.plaintext_links, &mut links);
                self.retire(links);
                tracing::debug!(path = %attached.path.display(), "library probes detached");
            }
        }
        gone
    }

    fn retire(&mut self, links: Vec<UProbeLink>) {
        if links.is_empty() {
            return;
        }
        if self.reaper.is_none() {
            self.reaper = Reaper::spawn();
        }
        match &self.reaper {
            Some(reaper) => {
                if let Err(returned) = reaper.links.send(links) {
                    drop_in_parallel(returned.0);
                }
            }
            None => drop_in_parallel(links),
        }
    }

    /// Turns the plaintext probes on or off on every file.
    pub fn set_plaintext(&mut self, ebpf: &mut Ebpf, on: bool) {
        if self.plaintext == on {
            return;
        }
        self.plaintext = on;
        let mut retired = Vec::new();
        for attached in self.files.values_mut() {
            if on {
                attach_plaintext(ebpf, attached);
            } else {
                let mut links = Vec::new();
                take_all(ebpf, &mut attached.plaintext_links, &mut links);
                retired.extend(links);
            }
        }
        self.retire(retired);
    }

    /// Detaches everything, and waits until it is done.
    pub fn clear(&mut self, ebpf: &mut Ebpf) {
        let mut links = Vec::new();
        for attached in self.files.values_mut() {
            take_all(ebpf, &mut attached.links, &mut links);
            take_all(ebpf, &mut attached.plaintext_links, &mut links);
        }
        self.files.clear();
        self.by_number.clear();
        drop_in_parallel(links);
    }

    fn failed(&mut self, failure: AttachFailure, path: &Path) -> AttachFailure {
        *self.failures.entry(failure).or_default() += 1;
        tracing::warn!(path = %path.display(), reason = failure.as_str(), "TLS library probes not attached");
        failure
    }
}

/// Where a probe attaches: the open file's descriptor (valid after the
/// process that mapped it is gone), else the path through that process.
fn attach_path(held: Option<&std::fs::File>, fallback: &Path) -> PathBuf {
    use std::os::fd::AsRawFd as _;
    match held {
        Some(file) => format!("/proc/self/fd/{}", file.as_raw_fd()).into(),
        None => fallback.to_path_buf(),
    }
}

fn attach_plaintext(ebpf: &mut Ebpf, attached: &mut Attached) {
    for (name, points) in by_program(&attached.plaintext_offsets, plaintext_programs) {
        match attach_one(ebpf, name, &points, &attached.path, attached.number) {
            Ok(link) => attached.plaintext_links.push((name, link)),
            Err(failure) => tracing::warn!(
                path = %attached.path.display(),
                program = name,
                reason = failure.as_str(),
                "plaintext probes not attached"
            ),
        }
    }
}

/// A function and the offset a probe attaches at.
type Point = (Option<TlsFunction>, u64);

/// The points each program attaches to, from the functions found.
fn by_program(
    functions: &[(TlsFunction, u64)],
    programs: fn(TlsFunction) -> &'static [&'static str],
) -> BTreeMap<&'static str, Vec<Point>> {
    let mut by_program: BTreeMap<&'static str, Vec<Point>> = BTreeMap::new();
    for (function, offset) in functions {
        for name in programs(*function) {
            let points = by_program.entry(name).or_default();
            if !points.iter().any(|(_, known)| known == offset) {
                points.push((Some(*function), *offset));
            }
        }
    }
    by_program
}

/// The attach cookie of a probe: the file's number and the function, so
/// an event says which function of which file fired.
pub fn cookie(file: u64, function: Option<TlsFunction>) -> u64 {
    let index = function
        .and_then(|function| TlsFunction::ALL.iter().position(|f| *f == function))
        .map_or(0xFF, |index| index as u64);
    (file << 8) | index
}

/// The file number and function an attach cookie names.
pub fn from_cookie(cookie: u64) -> (u64, Option<TlsFunction>) {
    let function = TlsFunction::ALL.get((cookie & 0xFF) as usize).copied();
    (cookie >> 8, function)
}

fn attach_one(
    ebpf: &mut Ebpf,
    name: &'static str,
    points: &[Point],
    path: &Path,
    file: u64,
) -> Result<UProbeLinkId, AttachFailure> {
    let program = uprobe(ebpf, name).map_err(|_| AttachFailure::NoProgram)?;
    let points = points.iter().map(|(function, offset)| UProbeAttachPoint {
        location: UProbeAttachLocation::AbsoluteOffset(*offset),
        cookie: Some(cookie(file, *function)),
    });
    program
        .attach(points, path, UProbeScope::AllProcesses)
        .map_err(|error: ProgramError| {
            tracing::debug!(program = name, path = %path.display(), %error, "uprobe attach failed");
            AttachFailure::Refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_name_file_and_function() {
        for function in TlsFunction::ALL {
            assert_eq!(
                from_cookie(cookie(77, Some(function))),
                (77, Some(function))
            );
        }
        assert_eq!(from_cookie(cookie(3, None)), (3, None));
    }
}
