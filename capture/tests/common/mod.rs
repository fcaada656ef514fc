//! Helpers shared by the capture-file tests: external tools, the corpus, scratch
//! directories, and capture files written byte by byte from the format specifications
//! (pcap: draft-ietf-opsawg-pcap; pcapng: draft-ietf-opsawg-pcapng).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const CORPUS_DIR: &str = "/work/shared/corpus";

/// The path of an external tool, or a panic that says what is missing: these tests must
/// not pass silently without their oracle.
pub fn tool(name: &str) -> PathBuf {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed (looked on PATH and in /usr/bin); these tests use \
                 Wireshark's command-line tools as their oracle: install the `tshark` package"
            )
        })
}

/// Runs a tool and returns (stdout, stderr); panics if it cannot be started.
pub fn run(tool_name: &str, args: &[&str]) -> (String, String) {
    let output = Command::new(tool(tool_name))
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {tool_name} {args:?}: {error}"));
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `capinfos -c -M <file>`: the number of packets.
pub fn capinfos_packet_count(path: &Path) -> u64 {
    let (stdout, stderr) = run("capinfos", &["-c", "-M", &path.to_string_lossy()]);
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("Number of packets:"))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no packet count from capinfos for {path:?}: {stdout} {stderr}"))
}

/// Whether tshark says the file was cut short in the middle of a packet.
pub fn tshark_reports_cut_short(stderr: &str) -> bool {
    stderr.contains("cut short")
}

/// Every capture file under the corpus, found by extension or by magic number.
pub fn corpus_capture_files() -> Vec<PathBuf> {
    let root = Path::new(CORPUS_DIR);
    assert!(
        root.is_dir(),
        "the capture corpus {CORPUS_DIR} is missing: it comes with the project's shared data"
    );
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if looks_like_capture(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn looks_like_capture(path: &Path) -> bool {
    let by_name = path
        .extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| matches!(ext, "pcap" | "pcapng" | "cap" | "ntar"));
    let mut magic = [0u8; 4];
    let by_magic = std::fs::File::open(path)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut magic))
        .is_ok()
        && matches!(
            u32::from_le_bytes(magic),
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0x0a0d_0d0a
        );
    by_name || by_magic
}

/// A fresh scratch directory for one test.
pub fn scratch_dir(test_name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("capture-tests")
        .join(test_name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small deterministic pseudo-random generator (xorshift64).
pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn u16_bytes(value: u16, big_endian: bool) -> [u8; 2] {
    if big_endian {
        value.to_be_bytes()
    } else {
        value.to_le_bytes()
    }
}

fn u32_bytes(value: u32, big_endian: bool) -> [u8; 4] {
    if big_endian {
        value.to_be_bytes()
    } else {
        value.to_le_bytes()
    }
}

/// One record of a classic pcap file.
pub struct PcapRecord<'a> {
    pub seconds: u32,
    /// Microseconds or nanoseconds, as the file's magic says.
    pub fraction: u32,
    pub original_len: u32,
    pub data: &'a [u8],
}

/// A classic pcap file: 24-byte header, then 16-byte record headers with data.
pub fn pcap_file(
    big_endian: bool,
    nanosecond: bool,
    link_type: u32,
    records: &[PcapRecord<'_>],
) -> Vec<u8> {
    let magic: u32 = if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut out = Vec::new();
    out.extend(u32_bytes(magic, big_endian));
    out.extend(u16_bytes(2, big_endian)); // version 2.4
    out.extend(u16_bytes(4, big_endian));
    out.extend(u32_bytes(0, big_endian)); // reserved (thiszone)
    out.extend(u32_bytes(0, big_endian)); // reserved (sigfigs)
    out.extend(u32_bytes(65535, big_endian)); // snap length
    out.extend(u32_bytes(link_type, big_endian));
    for record in records {
        out.extend(u32_bytes(record.seconds, big_endian));
        out.extend(u32_bytes(record.fraction, big_endian));
        out.extend(u32_bytes(record.data.len() as u32, big_endian));
        out.extend(u32_bytes(record.original_len, big_endian));
        out.extend(record.data);
    }
    out
}

/// Writes pcapng blocks in one byte order.
pub struct PcapNgWriter {
    pub big_endian: bool,
    pub bytes: Vec<u8>,
}

impl PcapNgWriter {
    pub fn new() -> Self {
        PcapNgWriter {
            big_endian: false,
            bytes: Vec::new(),
        }
    }

    /// Generic block: type, total length, body padded to 32 bits, total length again.
    pub fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        let big_endian = self.big_endian;
        self.bytes.extend(u32_bytes(block_type, big_endian));
        self.bytes.extend(u32_bytes(total, big_endian));
        self.bytes.extend(body);
        self.bytes
            .extend(std::iter::repeat_n(0u8, padded - body.len()));
        self.bytes.extend(u32_bytes(total, big_endian));
        self
    }

    /// An option: code, length, value padded to 32 bits.
    pub fn option(&self, code: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(u16_bytes(code, self.big_endian));
        out.extend(u16_bytes(value.len() as u16, self.big_endian));
        out.extend(value);
        out.extend(std::iter::repeat_n(
            0u8,
            value.len().div_ceil(4) * 4 - value.len(),
        ));
        out
    }

    /// Section Header Block; switches the writer to the section's byte order.
    pub fn section_header(&mut self, big_endian: bool) -> &mut Self {
        self.big_endian = big_endian;
        let mut body = Vec::new();
        body.extend(u32_bytes(0x1a2b_3c4d, big_endian)); // byte-order magic
        body.extend(u16_bytes(1, big_endian)); // version 1.0
        body.extend(u16_bytes(0, big_endian));
        body.extend([0xff; 8]); // section length unknown (-1)
        let user_application = self.option(4, b"cipherlens tests");
        body.extend(user_application);
        body.extend(self.option(0, &[])); // opt_endofopt
        self.block(0x0a0d_0d0a, &body)
    }

    /// Interface Description Block with optional if_tsresol and if_tsoffset.
    pub fn interface(
        &mut self,
        link_type: u16,
        snap_len: u32,
        tsresol: Option<u8>,
        tsoffset_seconds: Option<i64>,
    ) -> &mut Self {
        let big_endian = self.big_endian;
        let mut body = Vec::new();
        body.extend(u16_bytes(link_type, big_endian));
        body.extend(u16_bytes(0, big_endian)); // reserved
        body.extend(u32_bytes(snap_len, big_endian));
        body.extend(self.option(2, b"eth0")); // if_name
        if let Some(tsresol) = tsresol {
            body.extend(self.option(9, &[tsresol]));
        }
        if let Some(offset) = tsoffset_seconds {
            let value = if big_endian {
                offset.to_be_bytes()
            } else {
                offset.to_le_bytes()
            };
            body.extend(self.option(14, &value));
        }
        body.extend(self.option(0, &[]));
        self.block(1, &body)
    }

    /// Enhanced Packet Block.
    pub fn enhanced_packet(
        &mut self,
        interface_id: u32,
        timestamp_ticks: u64,
        original_len: u32,
        data: &[u8],
    ) -> &mut Self {
        let big_endian = self.big_endian;
        let mut body = Vec::new();
        body.extend(u32_bytes(interface_id, big_endian));
        body.extend(u32_bytes((timestamp_ticks >> 32) as u32, big_endian));
        body.extend(u32_bytes(timestamp_ticks as u32, big_endian));
        body.extend(u32_bytes(data.len() as u32, big_endian));
        body.extend(u32_bytes(original_len, big_endian));
        body.extend(data);
        body.extend(std::iter::repeat_n(
            0u8,
            data.len().div_ceil(4) * 4 - data.len(),
        ));
        body.extend(self.option(1, b"a comment")); // opt_comment
        body.extend(self.option(0, &[]));
        self.block(6, &body)
    }

    /// Simple Packet Block.
    pub fn simple_packet(&mut self, original_len: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend(u32_bytes(original_len, self.big_endian));
        body.extend(data);
        self.block(3, &body)
    }
}

impl Default for PcapNgWriter {
    fn default() -> Self {
        Self::new()
    }
}
