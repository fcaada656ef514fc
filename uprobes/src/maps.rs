//! `/proc/PID/maps`: which files a process has mapped, and where.
//!
//! Format (proc(5)): `start-end perms offset major:minor inode path`, the
//! path optional and possibly followed by ` (deleted)`; paths are as the
//! process sees them (inside its mount namespace).

use crate::error::MapsError;

/// A process has this many mappings at most before the file is refused
/// (the kernel's default `vm.max_map_count` is 65530).
pub const MAX_MAPPINGS: usize = 1 << 18;

/// One mapping of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub executable: bool,
    /// Offset in the file of `start`.
    pub offset: u64,
    pub device: (u32, u32),
    pub inode: u64,
    /// As the process sees it; `None` for anonymous mappings and
    /// pseudo-paths (`[heap]`, `[vdso]`).
    pub path: Option<String>,
    /// The file was deleted (or replaced) after it was mapped.
    pub deleted: bool,
}

impl Mapping {
    /// Whether this maps a file (not anonymous memory or a pseudo-path).
    pub fn is_file(&self) -> bool {
        self.inode != 0 && self.path.is_some()
    }
}

/// Reads a whole maps file.
pub fn parse_maps(text: &str) -> Result<Vec<Mapping>, MapsError> {
    let mut mappings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        if mappings.len() == MAX_MAPPINGS {
            return Err(MapsError::TooMany {
                limit: MAX_MAPPINGS,
            });
        }
        mappings.push(parse_line(line).map_err(|what| MapsError::BadLine {
            line: index + 1,
            what,
        })?);
    }
    Ok(mappings)
}

fn parse_line(line: &str) -> Result<Mapping, &'static str> {
    let mut fields = line.splitn(6, ' ');
    let mut next = |what| fields.next().filter(|f| !f.is_empty()).ok_or(what);
    let range = next("no address range")?;
    let perms = next("no permissions")?;
    let offset = next("no offset")?;
    let device = next("no device")?;
    let inode = next("no inode")?;
    let rest = fields.next().unwrap_or("").trim_start();
    let (start, end) = range.split_once('-').ok_or("address range without '-'")?;
    let start = u64::from_str_radix(start, 16).map_err(|_| "bad start address")?;
    let end = u64::from_str_radix(end, 16).map_err(|_| "bad end address")?;
    if end < start {
        return Err("range ends before it starts");
    }
    if perms.len() != 4 {
        return Err("bad permissions");
    }
    let offset = u64::from_str_radix(offset, 16).map_err(|_| "bad offset")?;
    let (major, minor) = device.split_once(':').ok_or("device without ':'")?;
    let device = (
        u32::from_str_radix(major, 16).map_err(|_| "bad device major")?,
        u32::from_str_radix(minor, 16).map_err(|_| "bad device minor")?,
    );
    let inode = inode.parse().map_err(|_| "bad inode")?;
    let (path, deleted) = match rest.strip_suffix(" (deleted)") {
        Some(path) => (path, true),
        None => (rest, false),
    };
    let path = (path.starts_with('/')).then(|| path.to_string());
    Ok(Mapping {
        start,
        end,
        executable: perms.as_bytes()[2] == b'x',
        offset,
        device,
        inode,
        path,
        deleted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kinds_of_line_proc5_shows() {
        let text = "\
55d4c5a00000-55d4c5a28000 r--p 00000000 fd:01 1835082                    /usr/bin/python3.11
7f0e2a5f1000-7f0e2a650000 r-xp 0001d000 fd:01 1845307                    /usr/lib/x86_64-linux-gnu/libssl.so.3
7f0e2a700000-7f0e2a701000 rw-p 00000000 00:00 0 
7ffd8a9f6000-7ffd8aa17000 rw-p 00000000 00:00 0                          [stack]
7f0e2a800000-7f0e2a900000 r-xp 00002000 00:2a 99                         /tmp/lib with space.so (deleted)
";
        let maps = parse_maps(text).unwrap();
        assert_eq!(maps.len(), 5);
        assert_eq!(maps[1].start, 0x7f0e2a5f1000);
        assert_eq!(maps[1].offset, 0x1d000);
        assert_eq!(maps[1].device, (0xfd, 1));
        assert_eq!(maps[1].inode, 1845307);
        assert!(maps[1].executable);
        assert_eq!(
            maps[1].path.as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libssl.so.3")
        );
        assert!(!maps[2].is_file());
        assert_eq!(maps[3].path, None);
        assert_eq!(maps[4].path.as_deref(), Some("/tmp/lib with space.so"));
        assert!(maps[4].deleted);
    }

    #[test]
    fn bad_lines_are_errors_with_their_number() {
        for bad in [
            "zz-10 r-xp 0 fd:01 1 /x",
            "10-0 r-xp 0 fd:01 1 /x",
            "0-10 r-x 0 fd:01 1 /x",
            "0-10 r-xp 0 fd01 1 /x",
            "0-10 r-xp 0 fd:01 x /x",
            "0-10",
        ] {
            let text = format!("0-10 r--p 0 00:00 0\n{bad}\n");
            assert!(
                matches!(parse_maps(&text), Err(MapsError::BadLine { line: 2, .. })),
                "{bad}"
            );
        }
    }
}
