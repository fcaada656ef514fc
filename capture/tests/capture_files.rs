//! Capture file reader tests on files written byte by byte from the pcap/pcapng
//! specifications (see `common`), on truncated copies of real captures, and on garbage.
//! Oracles: the values written into the files, tshark reading the same files, and the
//! record sizes tshark reports for the real captures.

mod common;

use std::io::{self, Cursor, Read};
use std::path::Path;

use cipherlens_capture::{
    CaptureError, CaptureFormat, CaptureReader, Frame, LinkType, MAX_RECORD_BYTES,
};
use common::{PcapNgWriter, PcapRecord, Xorshift, pcap_file, run, scratch_dir, tool};

/// A real capture with 110 frames (Ethernet, IPv4/IPv6, TCP and UDP).
const REAL_PCAP: &str = "/work/shared/corpus/suricata-verify/tests/tls/tls-cert-issuer/tls.pcap";
/// The smallest real capture in the corpus (9 frames, 800 bytes).
const SMALL_PCAP: &str =
    "/work/shared/corpus/suricata-verify/tests/bug-5713-01/TLSv1-Extracted-MaliciousC2.pcap";

/// Reads everything: the frames, then the error if reading stopped early.
fn read_all_from(reader: CaptureReader<impl Read>) -> (Vec<Frame>, Option<CaptureError>) {
    let mut frames = Vec::new();
    for item in reader {
        match item {
            Ok(frame) => frames.push(frame),
            Err(error) => return (frames, Some(error)),
        }
    }
    (frames, None)
}

fn read_bytes(bytes: &[u8]) -> Result<(Vec<Frame>, Option<CaptureError>), CaptureError> {
    Ok(read_all_from(CaptureReader::new(Cursor::new(
        bytes.to_vec(),
    ))?))
}

fn read_path(path: &Path) -> (Vec<Frame>, Option<CaptureError>) {
    read_all_from(CaptureReader::open(path).expect("opens"))
}

#[test]
fn classic_pcap_in_both_byte_orders_and_resolutions() {
    let first = [0xde, 0xad, 0xbe, 0xef, 0x01];
    let second = [0x42; 60];
    for big_endian in [false, true] {
        for nanosecond in [false, true] {
            let fraction = if nanosecond { 123_456_789 } else { 123_456 };
            let file = pcap_file(
                big_endian,
                nanosecond,
                101,
                &[
                    PcapRecord {
                        seconds: 1_700_000_000,
                        fraction,
                        original_len: 5,
                        data: &first,
                    },
                    PcapRecord {
                        seconds: 4_000_000_000, // after 2038: the field is unsigned
                        fraction: 0,
                        original_len: 1514, // captured with a snap length
                        data: &second,
                    },
                ],
            );
            let reader = CaptureReader::new(Cursor::new(file.clone())).expect("recognised");
            assert_eq!(
                reader.format(),
                CaptureFormat::Pcap {
                    big_endian,
                    nanosecond_timestamps: nanosecond,
                    link_type: LinkType::RAW
                }
            );
            let (frames, error) = read_all_from(reader);
            assert!(error.is_none(), "{error:?}");
            let expected_first_ns = if nanosecond {
                1_700_000_000_123_456_789
            } else {
                1_700_000_000_123_456_000
            };
            assert_eq!(
                frames,
                vec![
                    Frame {
                        index: 0,
                        timestamp_ns: expected_first_ns,
                        link_type: LinkType::RAW,
                        captured_len: 5,
                        original_len: 5,
                        data: first.to_vec(),
                    },
                    Frame {
                        index: 1,
                        timestamp_ns: 4_000_000_000_000_000_000,
                        link_type: LinkType::RAW,
                        captured_len: 60,
                        original_len: 1514,
                        data: second.to_vec(),
                    },
                ],
                "big_endian={big_endian} nanosecond={nanosecond}"
            );
        }
    }
}

/// Two sections (little-endian, then big-endian), several interfaces with different link
/// types and timestamp resolutions, EPBs, SPBs, and blocks to skip. Wireshark shows custom
/// blocks as records of their own, so the copy given to tshark leaves it out.
fn multi_section_pcapng(with_custom_block: bool) -> (Vec<u8>, Vec<Frame>) {
    let mut writer = PcapNgWriter::new();
    writer.section_header(false);
    writer.interface(1, 0, None, None); // 0: Ethernet, microseconds (default)
    writer.interface(101, 0, Some(9), None); // 1: raw IP, nanoseconds
    writer.interface(113, 0, Some(0x80 | 20), Some(1_000)); // 2: SLL, 2^-20 s, +1000 s
    writer.enhanced_packet(0, 1_600_000_000_250_000, 3, b"abc");
    writer.block(0x0000_0004, &[0, 0, 0, 0]); // Name Resolution Block (only end of records)
    writer.enhanced_packet(1, 1_600_000_000_000_000_007, 9, b"nanos");
    if with_custom_block {
        writer.block(0x4000_0bad, &[1, 2, 3, 4, 5, 6, 7, 8]); // custom block: skipped
    }
    writer.block(0x0000_0099, &[9; 5]); // unknown block type: skipped
    writer.enhanced_packet(2, (1_600_000_000 << 20) | (1 << 19), 4, b"half");
    writer.simple_packet(18, b"simple packet data"); // interface 0, snap length 0
    writer.block(0x0000_0005, &[0; 12]); // Interface Statistics Block (interface 0)
    writer.section_header(true);
    writer.interface(276, 4, Some(3), None); // 0: SLL2, milliseconds, snap length 4
    writer.enhanced_packet(0, 1_700_000_000_001, 4, b"be!!");
    writer.simple_packet(10, b"0123"); // min(original length, snap length 4) bytes
    let bytes = writer.bytes.clone();
    let frame = |index, timestamp_ns, link_type, captured_len, original_len, data: &[u8]| Frame {
        index,
        timestamp_ns,
        link_type: LinkType(link_type),
        captured_len,
        original_len,
        data: data.to_vec(),
    };
    let expected = vec![
        frame(0, 1_600_000_000_250_000_000, 1, 3, 3, b"abc"),
        frame(1, 1_600_000_000_000_000_007, 101, 5, 9, b"nanos"),
        frame(2, 1_600_001_000_500_000_000, 113, 4, 4, b"half"),
        frame(3, 0, 1, 18, 18, b"simple packet data"),
        frame(4, 1_700_000_000_001_000_000, 276, 4, 4, b"be!!"),
        frame(5, 0, 276, 4, 10, b"0123"),
    ];
    (bytes, expected)
}

#[test]
fn pcapng_sections_interfaces_and_block_types() {
    let (bytes, expected) = multi_section_pcapng(true);
    let reader = CaptureReader::new(Cursor::new(bytes.clone())).expect("recognised");
    assert_eq!(reader.format(), CaptureFormat::PcapNg);
    let (frames, error) = read_all_from(reader);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(frames, expected);
}

/// tshark reads the hand-written pcapng the same way: an independent check of both the
/// test writer and the reader's timestamps, lengths and link types.
#[test]
fn tshark_agrees_on_the_hand_written_pcapng() {
    let (bytes, expected) = multi_section_pcapng(false);
    let dir = scratch_dir("tshark_agrees_on_the_hand_written_pcapng");
    let path = dir.join("sections.pcapng");
    std::fs::write(&path, &bytes).unwrap();
    let (stdout, stderr) = run(
        "tshark",
        &[
            "-r",
            &path.to_string_lossy(),
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.cap_len",
            "-e",
            "frame.len",
        ],
    );
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows.len(), expected.len(), "tshark: {stdout} {stderr}");
    for (row, frame) in rows.iter().zip(&expected) {
        let fields: Vec<&str> = row.split('\t').collect();
        // Simple packet blocks have no timestamp; tshark shows its own placeholder.
        if frame.timestamp_ns != 0 {
            assert_eq!(parse_epoch_ns(fields[0]), frame.timestamp_ns, "row {row}");
        }
        assert_eq!(fields[1], frame.captured_len.to_string(), "row {row}");
        assert_eq!(fields[2], frame.original_len.to_string(), "row {row}");
    }
}

/// "1674679835.848363000" -> nanoseconds.
fn parse_epoch_ns(text: &str) -> u64 {
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let fraction = format!("{fraction:0<9}");
    seconds.parse::<u64>().unwrap() * 1_000_000_000 + fraction[..9].parse::<u64>().unwrap()
}

#[test]
fn not_a_capture_file() {
    for (bytes, expected_words) in [
        (&b""[..], "empty"),
        (&b"\xd4\xc3"[..], "only 2 bytes"),
        (&b"\x7fELF\x02\x01\x01\x00"[..], "7f 45 4c 46"),
        (&b"\x34\xcd\xb2\xa1xxxxxxxxxxxxxxxxxxxxxxxx"[..], "modified"),
    ] {
        match CaptureReader::new(Cursor::new(bytes.to_vec())) {
            Err(CaptureError::NotACaptureFile { reason }) => {
                assert!(reason.contains(expected_words), "{reason}");
            }
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("{bytes:02x?} accepted as a capture"),
        }
    }
    let missing = CaptureReader::open("/nonexistent/file.pcap").err().unwrap();
    assert!(matches!(missing, CaptureError::Open { .. }));
    assert!(missing.to_string().contains("/nonexistent/file.pcap"));
}

#[test]
fn cut_inside_the_file_header() {
    let file = pcap_file(false, false, 1, &[]);
    match CaptureReader::new(Cursor::new(file[..10].to_vec())) {
        Err(CaptureError::Truncated {
            frames_read: 0,
            byte_offset: 0,
        }) => {}
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("accepted a 10-byte pcap header"),
    }
    let (pcapng, _) = multi_section_pcapng(true);
    assert!(matches!(
        CaptureReader::new(Cursor::new(pcapng[..20].to_vec())),
        Err(CaptureError::Truncated {
            frames_read: 0,
            byte_offset: 0
        })
    ));
}

#[test]
fn oversized_records_are_refused_before_allocating() {
    // A good frame, then a record header claiming 300 000 bytes (followed by only 8).
    let mut file = pcap_file(
        false,
        false,
        1,
        &[PcapRecord {
            seconds: 1,
            fraction: 0,
            original_len: 4,
            data: b"good",
        }],
    );
    let oversized_at = file.len() as u64;
    file.extend(1u32.to_le_bytes());
    file.extend(0u32.to_le_bytes());
    file.extend(300_000u32.to_le_bytes());
    file.extend(300_000u32.to_le_bytes());
    file.extend([0u8; 8]);
    let (frames, error) = read_bytes(&file).unwrap();
    assert_eq!(frames.len(), 1);
    match error {
        Some(CaptureError::RecordTooLarge {
            frames_read: 1,
            byte_offset,
            claimed_len: 300_016,
            limit,
        }) => {
            assert_eq!(byte_offset, oversized_at);
            assert_eq!(limit, MAX_RECORD_BYTES);
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }

    // The same for a pcapng block claiming 1 GiB.
    let mut writer = PcapNgWriter::new();
    writer.section_header(false).interface(1, 0, None, None);
    let block_at = writer.bytes.len() as u64;
    writer.bytes.extend(6u32.to_le_bytes());
    writer.bytes.extend((1u32 << 30).to_le_bytes());
    let (frames, error) = read_bytes(&writer.bytes).unwrap();
    assert!(frames.is_empty());
    assert!(
        matches!(
            error,
            Some(CaptureError::RecordTooLarge { frames_read: 0, byte_offset, claimed_len, .. })
                if byte_offset == block_at && claimed_len == 1 << 30
        ),
        "{error:?}"
    );
    // A record of exactly the limit is accepted.
    let data = vec![7u8; MAX_RECORD_BYTES as usize - 16];
    let file = pcap_file(
        false,
        false,
        1,
        &[PcapRecord {
            seconds: 0,
            fraction: 0,
            original_len: data.len() as u32,
            data: &data,
        }],
    );
    let (frames, error) = read_bytes(&file).unwrap();
    assert!(error.is_none(), "{error:?}");
    assert_eq!(frames[0].data.len(), data.len());
}

#[test]
fn malformed_pcapng_blocks_say_where() {
    let mut writer = PcapNgWriter::new();
    writer.section_header(false).interface(1, 0, None, None);
    writer.enhanced_packet(0, 0, 2, b"ok");
    let good_len = writer.bytes.len() as u64;

    // Packet on an interface the section never described.
    let mut unknown_interface = PcapNgWriter {
        big_endian: false,
        bytes: writer.bytes.clone(),
    };
    unknown_interface.enhanced_packet(3, 0, 2, b"no");
    let (frames, error) = read_bytes(&unknown_interface.bytes).unwrap();
    assert_eq!(frames.len(), 1);
    match error {
        Some(CaptureError::Malformed {
            frames_read: 1,
            byte_offset,
            reason,
        }) => {
            assert_eq!(byte_offset, good_len);
            assert!(reason.contains("interface 3"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    // Leading and trailing block lengths differ.
    let mut mismatched = writer.bytes.clone();
    mismatched.extend(0x99u32.to_le_bytes());
    mismatched.extend(16u32.to_le_bytes());
    mismatched.extend([0; 4]);
    mismatched.extend(20u32.to_le_bytes());
    let (_, error) = read_bytes(&mismatched).unwrap();
    assert!(
        matches!(&error, Some(CaptureError::Malformed { byte_offset, reason, .. })
            if *byte_offset == good_len && reason.contains("trailing length 20")),
        "{error:?}"
    );

    // A block length that is not a multiple of 4.
    let mut odd = writer.bytes.clone();
    odd.extend(0x99u32.to_le_bytes());
    odd.extend(13u32.to_le_bytes());
    odd.extend([0; 5]);
    let (_, error) = read_bytes(&odd).unwrap();
    assert!(
        matches!(&error, Some(CaptureError::Malformed { reason, .. }) if reason.contains("13")),
        "{error:?}"
    );

    // An EPB whose captured length runs past the end of its block.
    let mut overrun = writer.bytes.clone();
    let mut body = Vec::new();
    for field in [0u32, 0, 0, 100, 100] {
        body.extend(field.to_le_bytes());
    }
    body.extend([0; 8]);
    let total = 12 + body.len() as u32;
    overrun.extend(6u32.to_le_bytes());
    overrun.extend(total.to_le_bytes());
    overrun.extend(&body);
    overrun.extend(total.to_le_bytes());
    let (frames, error) = read_bytes(&overrun).unwrap();
    assert_eq!(frames.len(), 1);
    assert!(
        matches!(&error, Some(CaptureError::Malformed { byte_offset, .. }) if *byte_offset == good_len),
        "{error:?}"
    );
}

/// Frame sizes of a real capture as tshark reports them.
fn tshark_captured_lengths(path: &str) -> Vec<u64> {
    let (stdout, stderr) = run(
        "tshark",
        &["-r", path, "-T", "fields", "-e", "frame.cap_len"],
    );
    let lengths: Vec<u64> = stdout.lines().map(|line| line.parse().unwrap()).collect();
    assert!(
        !lengths.is_empty(),
        "tshark read nothing from {path}: {stderr}"
    );
    lengths
}

#[test]
fn truncated_copy_of_a_real_pcap() {
    let original = std::fs::read(REAL_PCAP).expect("corpus capture present");
    let lengths = tshark_captured_lengths(REAL_PCAP);
    // Record k starts after the 24-byte file header and k records of 16 + caplen bytes.
    let record_starts: Vec<u64> = lengths
        .iter()
        .scan(24u64, |offset, len| {
            let start = *offset;
            *offset += 16 + len;
            Some(start)
        })
        .collect();
    assert_eq!(
        record_starts.last().unwrap() + 16 + lengths.last().unwrap(),
        original.len() as u64
    );
    let (full_frames, full_error) = read_path(Path::new(REAL_PCAP));
    assert!(full_error.is_none());
    assert_eq!(full_frames.len(), lengths.len());

    let dir = scratch_dir("truncated_copy_of_a_real_pcap");
    let cut_record = lengths.len() / 2;
    let start = record_starts[cut_record];
    for (label, cut_at) in [
        ("in the data", start + 16 + lengths[cut_record] / 2),
        ("in the record header", start + 7),
    ] {
        let path = dir.join(format!("cut-{cut_at}.pcap"));
        std::fs::write(&path, &original[..cut_at as usize]).unwrap();
        // tshark agrees that this copy is cut short.
        let (_, stderr) = run("tshark", &["-r", &path.to_string_lossy()]);
        assert!(
            common::tshark_reports_cut_short(&stderr),
            "tshark: {stderr}"
        );

        let mut reader = CaptureReader::open(&path).unwrap();
        assert_eq!(reader.total_bytes(), Some(cut_at));
        let mut frames = Vec::new();
        let error = loop {
            match reader.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => panic!("{label}: a cut file ended without an error"),
                Err(error) => break error,
            }
        };
        assert_eq!(
            frames,
            full_frames[..cut_record],
            "{label}: complete frames first"
        );
        match error {
            CaptureError::Truncated {
                frames_read,
                byte_offset,
            } => {
                assert_eq!(frames_read, cut_record as u64, "{label}");
                assert_eq!(byte_offset, start, "{label}");
            }
            other => panic!("{label}: expected Truncated, got {other}"),
        }
        assert_eq!(reader.bytes_read(), start);
        assert!(
            reader.next_frame().unwrap().is_none(),
            "nothing after the error"
        );
    }
}

#[test]
fn progress_counters_reach_the_file_size() {
    let mut reader = CaptureReader::open(REAL_PCAP).unwrap();
    let total = std::fs::metadata(REAL_PCAP).unwrap().len();
    assert_eq!(reader.total_bytes(), Some(total));
    assert_eq!(reader.bytes_read(), 24);
    let mut last = reader.bytes_read();
    while let Some(frame) = reader.next_frame().unwrap() {
        assert_eq!(reader.bytes_read(), last + 16 + frame.data.len() as u64);
        last = reader.bytes_read();
    }
    assert_eq!(reader.bytes_read(), total);
    assert_eq!(reader.frames_read(), 110);
}

/// A source that hands out at most `step` bytes per read and fails after `fail_after`.
struct Trickle {
    bytes: Vec<u8>,
    position: usize,
    step: usize,
    fail_after: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position >= self.fail_after {
            return Err(io::Error::other("disk on fire"));
        }
        let end = (self.position + self.step)
            .min(self.bytes.len())
            .min(self.position + buf.len())
            .min(self.fail_after);
        let len = end - self.position;
        buf[..len].copy_from_slice(&self.bytes[self.position..end]);
        self.position = end;
        Ok(len)
    }
}

#[test]
fn short_reads_and_read_errors() {
    let bytes = std::fs::read(REAL_PCAP).unwrap();
    let (expected, _) = read_path(Path::new(REAL_PCAP));
    let small = std::fs::read(SMALL_PCAP).unwrap();
    let (small_expected, _) = read_path(Path::new(SMALL_PCAP));
    for (step, bytes, expected) in [
        (1, &small, &small_expected),
        (3, &bytes, &expected),
        (1000, &bytes, &expected),
    ] {
        let source = Trickle {
            bytes: bytes.clone(),
            position: 0,
            step,
            fail_after: usize::MAX,
        };
        let (frames, error) = read_all_from(CaptureReader::new(source).unwrap());
        assert!(error.is_none());
        assert_eq!(&frames, expected, "step {step}");
    }
    let fail_after = bytes.len() / 2;
    let source = Trickle {
        bytes: bytes.clone(),
        position: 0,
        step: 4096,
        fail_after,
    };
    let (frames, error) = read_all_from(CaptureReader::new(source).unwrap());
    assert_eq!(frames, expected[..frames.len()]);
    match error {
        Some(CaptureError::Io {
            frames_read,
            byte_offset,
            source,
        }) => {
            assert_eq!(frames_read, frames.len() as u64);
            assert_eq!(
                byte_offset, fail_after as u64,
                "the offset where reading failed"
            );
            assert!(source.to_string().contains("disk on fire"));
        }
        other => panic!("expected Io, got {other:?}"),
    }
}

/// Every prefix of a small pcap and of a pcapng ends in a clean end (only at a record
/// boundary) or a Truncated error, after a prefix of the full frame list; never a panic.
#[test]
fn every_truncation_of_small_captures() {
    let pcap = std::fs::read(SMALL_PCAP).expect("corpus capture present");
    let (pcapng, _) = multi_section_pcapng(true);
    for bytes in [pcap, pcapng] {
        let (full, error) = read_bytes(&bytes).unwrap();
        assert!(error.is_none());
        let mut clean_ends = 0;
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            match read_bytes(prefix) {
                Err(CaptureError::NotACaptureFile { .. }) => assert!(cut < 4),
                Err(CaptureError::Truncated { frames_read: 0, .. }) => {}
                Err(other) => panic!("cut {cut}: {other}"),
                Ok((frames, error)) => {
                    assert_eq!(frames, full[..frames.len()], "cut {cut}");
                    match error {
                        None => clean_ends += 1,
                        Some(CaptureError::Truncated { frames_read, .. }) => {
                            assert_eq!(frames_read, frames.len() as u64)
                        }
                        Some(other) => panic!("cut {cut}: {other}"),
                    }
                }
            }
        }
        assert!(clean_ends > 0 && clean_ends <= full.len() + 20);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut random = Xorshift(0x1234_5678_9abc_def1);
    let magics: [&[u8]; 5] = [
        &[0xd4, 0xc3, 0xb2, 0xa1],
        &[0xa1, 0xb2, 0xc3, 0xd4],
        &[0x4d, 0x3c, 0xb2, 0xa1],
        &[0x0a, 0x0d, 0x0d, 0x0a],
        &[],
    ];
    let (pcapng, _) = multi_section_pcapng(true);
    for round in 0..3000 {
        let len = random.below(600) as usize;
        let mut bytes = random.bytes(len);
        let magic = magics[round % magics.len()];
        if bytes.len() >= magic.len() {
            bytes[..magic.len()].copy_from_slice(magic);
        }
        if round % 3 == 0 && !bytes.is_empty() {
            // Mutate a valid file instead: flip some bytes.
            bytes = pcapng.clone();
            for _ in 0..1 + random.below(4) {
                let at = random.below(bytes.len() as u64) as usize;
                bytes[at] = random.next() as u8;
            }
        }
        if let Ok(reader) = CaptureReader::new(Cursor::new(bytes)) {
            let _ = read_all_from(reader);
        }
    }
}

/// editcap's conversions of a real capture (pcapng, nanosecond pcap) read to the same
/// frames as the original.
#[test]
fn editcap_conversions_read_the_same() {
    tool("editcap");
    let dir = scratch_dir("editcap_conversions_read_the_same");
    let (original, _) = read_path(Path::new(REAL_PCAP));
    for (format, name) in [
        ("pcapng", "converted.pcapng"),
        ("nsecpcap", "converted.pcap"),
    ] {
        let path = dir.join(name);
        let (_, stderr) = run(
            "editcap",
            &["-F", format, REAL_PCAP, &path.to_string_lossy()],
        );
        assert!(path.is_file(), "editcap -F {format} failed: {stderr}");
        let (frames, error) = read_path(&path);
        assert!(error.is_none(), "{format}: {error:?}");
        assert_eq!(frames, original, "{format}");
    }
}
