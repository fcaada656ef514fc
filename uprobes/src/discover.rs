//! Discovery across processes: each process's executable mappings, each
//! mapped file read once, and the probes that cover them.
//!
//! Files are opened through `/proc/PID/root`, so a container's libraries
//! are read from its own filesystem, and the same path is what the kernel
//! resolves when a uprobe is attached. A uprobe belongs to a file (its
//! inode), not to a process: one attachment covers every process that maps
//! the file, so the plan is per file, and a library mapped by 500
//! processes is read and attached once. Results are cached by
//! (device, inode), and by build-id so the same library in two container
//! images is read once too.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::elf::{ElfImage, Limits};
use crate::error::{ElfError, MapsError};
use crate::library::{Flavour, Verdict};
use crate::maps::{Mapping, parse_maps};
use crate::source::FileSource;
use crate::symbols::TlsFunction;

/// A file as the kernel knows it: device and inode from the maps line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub device: (u32, u32),
    pub inode: u64,
}

/// What discovery knows about one file, shared by every process mapping it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileVerdict {
    Read {
        verdict: Verdict,
        build_id: Option<Vec<u8>>,
        /// The file is a glibc dynamic loader: `_dl_debug_state`'s offset.
        loader_hook: Option<u64>,
    },
    /// The file could not be read; the reason is a counter label.
    Unreadable { reason: &'static str },
}

impl FileVerdict {
    /// Whether a probe attaches to the file (a hookable TLS library or a
    /// dynamic loader).
    pub fn is_probe_target(&self) -> bool {
        matches!(
            self,
            FileVerdict::Read {
                verdict: Verdict::Hookable(_),
                ..
            } | FileVerdict::Read {
                loader_hook: Some(_),
                ..
            }
        )
    }
}

/// A mapped file of one process and what it is.
#[derive(Debug, Clone)]
pub struct MappedFile {
    pub id: FileId,
    /// The path inside the process's mount namespace.
    pub path: String,
    /// The same file from this (the sensor's) namespace: where a uprobe
    /// attaches.
    pub host_path: PathBuf,
    pub verdict: Arc<FileVerdict>,
}

/// One process's TLS coverage.
#[derive(Debug, Clone)]
pub struct ProcessScan {
    pub pid: u32,
    pub files: Vec<MappedFile>,
    /// Executable mappings of files, by start address: where code at an
    /// address comes from.
    pub code: Vec<CodeMapping>,
}

/// An executable mapping of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeMapping {
    pub start: u64,
    pub end: u64,
    /// File offset of `start`.
    pub offset: u64,
    pub file: FileId,
}

/// A uprobe to attach: a function at a file offset.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Probe {
    pub file: FileId,
    pub host_path: PathBuf,
    pub function: TlsFunction,
    pub offset: u64,
}

impl ProcessScan {
    /// The files with TLS in them (hookable or not).
    pub fn tls_files(&self) -> impl Iterator<Item = &MappedFile> {
        self.files.iter().filter(|file| {
            matches!(
                &*file.verdict,
                FileVerdict::Read { verdict, .. } if *verdict != Verdict::NotTls
            )
        })
    }

    /// The files that could not be read (what they are is unknown).
    pub fn unreadable_files(&self) -> impl Iterator<Item = &MappedFile> {
        self.files
            .iter()
            .filter(|file| matches!(*file.verdict, FileVerdict::Unreadable { .. }))
    }

    /// The process's TLS library family: BoringSSL if any of its files
    /// says so (its libssl alone can look like OpenSSL 1.1), else the
    /// first hookable file's.
    pub fn flavour(&self) -> Option<Flavour> {
        let flavours: Vec<Flavour> = self
            .files
            .iter()
            .filter_map(|file| match &*file.verdict {
                FileVerdict::Read {
                    verdict: Verdict::Hookable(library),
                    ..
                } => Some(library.flavour),
                _ => None,
            })
            .collect();
        if flavours.contains(&Flavour::BoringSsl) {
            return Some(Flavour::BoringSsl);
        }
        flavours.first().copied()
    }

    /// The file and file offset of code at `address`.
    pub fn code_at(&self, address: u64) -> Option<(&MappedFile, u64)> {
        let index = self
            .code
            .partition_point(|mapping| mapping.start <= address);
        let mapping = self.code.get(index.checked_sub(1)?)?;
        if address >= mapping.end {
            return None;
        }
        let file = self.files.iter().find(|file| file.id == mapping.file)?;
        Some((file, mapping.offset + (address - mapping.start)))
    }

    /// The dynamic loader's hook, when the process has a glibc loader.
    pub fn loader_hook(&self) -> Option<(&MappedFile, u64)> {
        self.files.iter().find_map(|file| match &*file.verdict {
            FileVerdict::Read {
                loader_hook: Some(offset),
                ..
            } => Some((file, *offset)),
            _ => None,
        })
    }

    /// The probes that cover this process.
    pub fn probes(&self) -> Vec<Probe> {
        let mut probes = Vec::new();
        for file in &self.files {
            if let FileVerdict::Read {
                verdict: Verdict::Hookable(library),
                ..
            } = &*file.verdict
            {
                for (function, offset) in &library.functions {
                    probes.push(Probe {
                        file: file.id,
                        host_path: file.host_path.clone(),
                        function: *function,
                        offset: *offset,
                    });
                }
            }
        }
        probes
    }
}

/// Why a process could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("reading {path}: {source}")]
    Maps {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    BadMaps {
        path: PathBuf,
        #[source]
        source: MapsError,
    },
}

impl ScanError {
    pub fn reason(&self) -> &'static str {
        match self {
            // Usually the process exited between listing and reading.
            ScanError::Maps { .. } => "maps_unreadable",
            ScanError::BadMaps { source, .. } => source.reason(),
        }
    }
}

/// Counters of the work discovery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscoveryStats {
    /// Files read and parsed.
    pub files_read: u64,
    /// Files found in the cache by device and inode.
    pub cache_hits: u64,
    /// Files found in the cache by build-id (another inode, same build).
    pub build_id_hits: u64,
    /// Files that could not be read.
    pub unreadable: u64,
}

/// Discovery with its caches.
pub struct Discovery {
    proc_root: PathBuf,
    limits: Limits,
    by_file: HashMap<FileId, Arc<FileVerdict>>,
    by_build_id: HashMap<Vec<u8>, Arc<FileVerdict>>,
    /// Files a probe may attach to, kept open: a uprobe is attached by
    /// path, and `/proc/PID/root/...` goes away with a short-lived
    /// process, while `/proc/self/fd/N` of an open file does not.
    open: HashMap<FileId, std::fs::File>,
    stats: DiscoveryStats,
}

impl Discovery {
    /// Discovery reading processes under `proc_root` (`/proc`).
    pub fn new(proc_root: impl Into<PathBuf>, limits: Limits) -> Self {
        Discovery {
            proc_root: proc_root.into(),
            limits,
            by_file: HashMap::new(),
            by_build_id: HashMap::new(),
            open: HashMap::new(),
            stats: DiscoveryStats::default(),
        }
    }

    pub fn stats(&self) -> DiscoveryStats {
        self.stats
    }

    /// Forgets a file (its inode may be reused by another).
    pub fn forget(&mut self, file: FileId) {
        self.by_file.remove(&file);
        self.open.remove(&file);
    }

    /// Scans one process: every file it maps executable, once per file.
    pub fn scan(&mut self, pid: u32) -> Result<ProcessScan, ScanError> {
        let process = self.proc_root.join(pid.to_string());
        let maps_path = process.join("maps");
        let text = std::fs::read_to_string(&maps_path).map_err(|source| ScanError::Maps {
            path: maps_path.clone(),
            source,
        })?;
        let mappings = parse_maps(&text).map_err(|source| ScanError::BadMaps {
            path: maps_path,
            source,
        })?;
        let mut files: BTreeMap<FileId, &Mapping> = BTreeMap::new();
        let mut code = Vec::new();
        for mapping in mappings
            .iter()
            .filter(|m| m.executable && m.is_file() && !m.deleted)
        {
            let id = FileId {
                device: mapping.device,
                inode: mapping.inode,
            };
            files.entry(id).or_insert(mapping);
            code.push(CodeMapping {
                start: mapping.start,
                end: mapping.end,
                offset: mapping.offset,
                file: id,
            });
        }
        code.sort_by_key(|mapping| mapping.start);
        let root = process.join("root");
        let mut scanned = Vec::with_capacity(files.len());
        for (id, mapping) in files {
            let path = mapping.path.clone().unwrap_or_default();
            let host_path = root.join(path.trim_start_matches('/'));
            let verdict = self.verdict(id, &host_path);
            scanned.push(MappedFile {
                id,
                path,
                host_path,
                verdict,
            });
        }
        Ok(ProcessScan {
            pid,
            files: scanned,
            code,
        })
    }

    /// The open file of a probe target seen by [`Discovery::scan`].
    pub fn open_file(&self, id: FileId) -> Option<&std::fs::File> {
        self.open.get(&id)
    }

    fn verdict(&mut self, id: FileId, host_path: &Path) -> Arc<FileVerdict> {
        if let Some(verdict) = self.by_file.get(&id) {
            self.stats.cache_hits += 1;
            return Arc::clone(verdict);
        }
        // Opened first and read through this descriptor: a short-lived
        // process may be gone by the time a large file is parsed, and
        // its `/proc/PID/root` path with it.
        let opened = std::fs::File::open(host_path);
        let verdict = self.read_verdict(opened.as_ref().map_err(|e| e.kind()));
        if verdict.is_probe_target()
            && let Ok(file) = opened
        {
            self.open.insert(id, file);
        }
        self.by_file.insert(id, Arc::clone(&verdict));
        verdict
    }

    fn read_verdict(
        &mut self,
        opened: Result<&std::fs::File, std::io::ErrorKind>,
    ) -> Arc<FileVerdict> {
        match self.read_file(opened) {
            Ok(verdict) => verdict,
            Err(error) => {
                self.stats.unreadable += 1;
                Arc::new(FileVerdict::Unreadable {
                    reason: error.reason(),
                })
            }
        }
    }

    fn read_file(
        &mut self,
        opened: Result<&std::fs::File, std::io::ErrorKind>,
    ) -> Result<Arc<FileVerdict>, ElfError> {
        let open = |what| {
            move |source| ElfError::Io {
                what,
                offset: 0,
                source,
            }
        };
        let file = opened
            .map_err(std::io::Error::from)
            .and_then(std::fs::File::try_clone)
            .map_err(open("opening the file"))?;
        let source = FileSource::new(file).map_err(open("the file's size"))?;
        if let Some(build_id) = crate::elf::build_id(&source, &self.limits)?
            && let Some(known) = self.by_build_id.get(&build_id)
        {
            self.stats.build_id_hits += 1;
            return Ok(Arc::clone(known));
        }
        let image = ElfImage::read(&source, &self.limits)?;
        self.stats.files_read += 1;
        let verdict = Arc::new(FileVerdict::Read {
            verdict: image.verdict(),
            build_id: image.build_id.clone(),
            loader_hook: image.loader_hook,
        });
        if let Some(build_id) = image.build_id {
            self.by_build_id.insert(build_id, Arc::clone(&verdict));
        }
        Ok(verdict)
    }
}
