//! Batched reads and deletes of BPF hash maps.
//!
//! Reading a hash map entry by entry costs two system calls per entry
//! (`BPF_MAP_GET_NEXT_KEY`, then `BPF_MAP_LOOKUP_ELEM`), and one more per
//! deleted entry; for a sensor that reads every flow every few seconds that
//! is most of its system calls. `BPF_MAP_LOOKUP_BATCH` (Linux 5.6) copies
//! up to a buffer's worth of entries per call and `BPF_MAP_DELETE_BATCH`
//! deletes a list of keys in one. aya has neither, so this crate is the
//! one place their `unsafe` lives; the sensor itself forbids `unsafe`. So
//! does [`ProgramRun`], which runs a loaded program on a frame of requests
//! (`BPF_PROG_TEST_RUN`) to do a batch of map updates in one call.
//!
//! A batched read walks the map bucket by bucket; like any walk of a map
//! the kernel keeps changing, it may miss entries added meanwhile, but
//! unlike `GET_NEXT_KEY` it never restarts from the first bucket when the
//! entry it stood on is deleted.

use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use aya::Pod;
use aya::maps::{MapData, MapType};

/// `enum bpf_cmd` values (include/uapi/linux/bpf.h).
const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
const BPF_MAP_DELETE_BATCH: libc::c_long = 27;

/// Entries per read call unless told otherwise: 256 flows of about 200
/// bytes are 52 KiB of buffers.
pub const DEFAULT_BATCH: u32 = 256;

/// The largest batch a read grows to when a bucket holds more entries than
/// the buffers (the kernel's `ENOSPC`).
const LARGEST_BATCH: u32 = 65_536;

/// The `batch` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

const _: () = assert!(size_of::<BatchAttr>() == 56);

/// The `test` member of `union bpf_attr` (`BPF_PROG_TEST_RUN`).
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

const _: () = assert!(size_of::<TestRunAttr>() == 80);

/// Which batch command failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Lookup,
    Delete,
    TestRun,
}

impl Command {
    const fn name(self) -> &'static str {
        match self {
            Command::Lookup => "BPF_MAP_LOOKUP_BATCH",
            Command::Delete => "BPF_MAP_DELETE_BATCH",
            Command::TestRun => "BPF_PROG_TEST_RUN",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("map is a {found:?}, not a hash map")]
    NotAHashMap { found: Option<MapType> },
    #[error("map has {found}-byte {what}s, the caller's type is {expected} bytes")]
    SizeMismatch {
        what: &'static str,
        found: u32,
        expected: usize,
    },
    #[error("map information unreadable: {0}")]
    Info(#[source] aya::maps::MapError),
    #[error("{} failed: {source}", command.name())]
    Syscall {
        command: Command,
        #[source]
        source: std::io::Error,
    },
}

/// A hash map (plain or LRU) read and pruned in batches, with buffers kept
/// between calls.
pub struct HashBatch<K: Pod, V: Pod> {
    map: MapData,
    batch: u32,
    keys: Vec<K>,
    values: Vec<V>,
}

/// What a read found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub entries: u64,
    pub calls: u64,
}

/// What a delete did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub deleted: u64,
    /// Keys that were not in the map (already deleted, or evicted).
    pub missing: u64,
    pub calls: u64,
}

impl<K: Pod, V: Pod> HashBatch<K, V> {
    /// Checks that `map` is a hash map whose keys and values are `K` and
    /// `V`; `batch` entries are read per call.
    pub fn new(map: MapData, batch: u32) -> Result<Self, BatchError> {
        let info = map.info().map_err(BatchError::Info)?;
        let kind = info.map_type().ok();
        if !matches!(kind, Some(MapType::Hash | MapType::LruHash)) {
            return Err(BatchError::NotAHashMap { found: kind });
        }
        for (what, found, expected) in [
            ("key", info.key_size(), size_of::<K>()),
            ("value", info.value_size(), size_of::<V>()),
        ] {
            if found as usize != expected {
                return Err(BatchError::SizeMismatch {
                    what,
                    found,
                    expected,
                });
            }
        }
        Ok(Self {
            map,
            batch: batch.clamp(1, LARGEST_BATCH),
            keys: Vec::new(),
            values: Vec::new(),
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.map.fd().as_fd()
    }

    /// Calls `each` on every entry of the map, a batch per system call.
    pub fn for_each(&mut self, mut each: impl FnMut(&K, &V)) -> Result<Read, BatchError> {
        self.for_each_batch(|keys, values| {
            for (key, value) in keys.iter().zip(values) {
                each(key, value);
            }
        })
    }

    /// Calls `each` on every batch of entries the kernel returns (keys and
    /// values at the same index belong together), right after the system
    /// call that read it and before the next: a caller can take other
    /// readings between batches.
    pub fn for_each_batch(&mut self, mut each: impl FnMut(&[K], &[V])) -> Result<Read, BatchError> {
        let mut read = Read::default();
        // The kernel's position between calls: a bucket index for hash maps
        // (u32); 8 bytes leave room.
        let mut position = [0u64; 1];
        let mut next = [0u64; 1];
        let mut first = true;
        loop {
            self.fill_buffers();
            let mut attr = BatchAttr {
                in_batch: if first { 0 } else { position.as_ptr() as u64 },
                out_batch: next.as_mut_ptr() as u64,
                keys: self.keys.as_mut_ptr() as u64,
                values: self.values.as_mut_ptr() as u64,
                count: self.batch,
                map_fd: self.fd().as_raw_fd() as u32,
                ..BatchAttr::default()
            };
            let result = bpf(BPF_MAP_LOOKUP_BATCH, &mut attr);
            read.calls += 1;
            let done = match result {
                Ok(()) => false,
                Err(error) if error.raw_os_error() == Some(libc::ENOENT) => true,
                Err(error)
                    if error.raw_os_error() == Some(libc::ENOSPC) && self.batch < LARGEST_BATCH =>
                {
                    // A bucket holds more entries than the buffers: larger
                    // buffers, same position.
                    self.batch = self.batch.saturating_mul(2).min(LARGEST_BATCH);
                    continue;
                }
                Err(source) => {
                    return Err(BatchError::Syscall {
                        command: Command::Lookup,
                        source,
                    });
                }
            };
            // The kernel wrote `count` entries (at most the buffers' length).
            let count = (attr.count as usize).min(self.keys.len());
            if count > 0 {
                each(&self.keys[..count], &self.values[..count]);
            }
            read.entries += count as u64;
            if done {
                return Ok(read);
            }
            position = next;
            first = false;
        }
    }

    /// Deletes `keys`, a batch per system call; keys no longer in the map
    /// are counted, not errors.
    pub fn delete(&mut self, keys: &[K]) -> Result<Deleted, BatchError> {
        let mut outcome = Deleted::default();
        let mut rest = keys;
        while !rest.is_empty() {
            let chunk = rest.len().min(self.batch as usize);
            let mut attr = BatchAttr {
                keys: rest.as_ptr() as u64,
                count: chunk as u32,
                map_fd: self.fd().as_raw_fd() as u32,
                ..BatchAttr::default()
            };
            let result = bpf(BPF_MAP_DELETE_BATCH, &mut attr);
            outcome.calls += 1;
            // On failure the kernel says how many it deleted before the key
            // it stopped at.
            let done = (attr.count as usize).min(chunk);
            outcome.deleted += done as u64;
            match result {
                Ok(()) => rest = &rest[chunk..],
                Err(error) if error.raw_os_error() == Some(libc::ENOENT) && done < chunk => {
                    outcome.missing += 1;
                    rest = &rest[done + 1..];
                }
                Err(source) => {
                    return Err(BatchError::Syscall {
                        command: Command::Delete,
                        source,
                    });
                }
            }
        }
        Ok(outcome)
    }

    /// Buffers of `batch` entries, zeroed once (any bytes are a valid `K`
    /// and `V`: they are `Pod`).
    fn fill_buffers(&mut self) {
        let len = self.batch as usize;
        if self.keys.len() < len {
            // SAFETY: `K` and `V` are `Pod` (plain data for which every bit
            // pattern, all zeroes included, is a valid value).
            let (key, value) = unsafe { (std::mem::zeroed::<K>(), std::mem::zeroed::<V>()) };
            self.keys.resize(len, key);
            self.values.resize(len, value);
        }
    }
}

/// A loaded program run on request (`BPF_PROG_TEST_RUN`) on a frame of
/// requests, for work that takes one system call per batch this way: a
/// classifier that reads the frame and writes its answers into it. aya
/// runs programs only through the object that loaded them; this holds a
/// descriptor of its own, so it can live apart from the object.
pub struct ProgramRun {
    program: std::os::fd::OwnedFd,
}

impl ProgramRun {
    /// `program`: a loaded program's descriptor (a duplicate is fine).
    pub fn new(program: std::os::fd::OwnedFd) -> Self {
        Self { program }
    }

    /// Runs the program once on `frame` and writes the frame it returns
    /// to `out`; returns the program's return value and the bytes written.
    pub fn run(&self, frame: &[u8], out: &mut [u8]) -> Result<(u32, usize), BatchError> {
        let failed = |source| BatchError::Syscall {
            command: Command::TestRun,
            source,
        };
        let too_long = || failed(std::io::Error::from_raw_os_error(libc::E2BIG));
        let mut attr = TestRunAttr {
            prog_fd: self.program.as_raw_fd() as u32,
            data_size_in: u32::try_from(frame.len()).map_err(|_| too_long())?,
            data_size_out: u32::try_from(out.len()).map_err(|_| too_long())?,
            data_in: frame.as_ptr() as u64,
            data_out: out.as_mut_ptr() as u64,
            repeat: 1,
            ..TestRunAttr::default()
        };
        bpf(BPF_PROG_TEST_RUN, &mut attr).map_err(failed)?;
        Ok((attr.retval, (attr.data_size_out as usize).min(out.len())))
    }
}

/// The `union bpf_attr` members this crate fills in.
trait Attr {}
impl Attr for BatchAttr {}
impl Attr for TestRunAttr {}

/// One `bpf(2)` call.
fn bpf<A: Attr>(command: libc::c_long, attr: &mut A) -> std::io::Result<()> {
    // SAFETY: `attr` is a valid, initialised `bpf_attr` member (`Attr` is
    // implemented only for this crate's `repr(C)` copies of them) that
    // outlives the call, and its size is passed. The pointers in it were
    // set by this crate from buffers the caller borrows for the call, each
    // at least as long as the sizes and counts beside it say.
    let result = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            std::ptr::from_mut(attr),
            size_of::<A>() as libc::c_uint,
        )
    };
    if result < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}
