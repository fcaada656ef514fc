//! Every capture file of the shared corpus read with this crate and with Wireshark's
//! tools, at test time: capinfos for the frame count, tshark for truncation, for the
//! number of TCP and UDP packets (`tshark -r f -Y tcp | wc -l`, `-Y udp`), and frame by
//! frame for timestamps, lengths, addresses, ports and TCP sequence numbers.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cipherlens_capture::{CaptureError, CaptureReader, DecodeError, Transport, decode_frame};
use common::{capinfos_packet_count, corpus_capture_files, run, tool, tshark_reports_cut_short};

/// Files where tshark's TCP/UDP counts legitimately differ from ours, with the reason.
/// Each entry must still differ (a stale entry fails the test).
const KNOWN_COUNT_DIFFERENCES: &[(&str, &str)] = &[];

const FIELDS: &[&str] = &[
    "frame.time_epoch",
    "frame.cap_len",
    "frame.len",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "vlan.id",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.flags",
    "tcp.len",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "ip.flags.mf",
    "ip.frag_offset",
    "ipv6.fraghdr.offset",
];

/// One tshark row: the first value of each field (the outermost layer's).
struct TsharkFrame {
    values: Vec<String>,
}

impl TsharkFrame {
    fn get(&self, field: &str) -> &str {
        let index = FIELDS.iter().position(|name| *name == field).unwrap();
        self.values[index].split(',').next().unwrap_or("")
    }
    fn protocols(&self) -> Vec<&str> {
        self.get("frame.protocols").split(':').collect()
    }
    fn has(&self, protocol: &str) -> bool {
        self.protocols().contains(&protocol)
    }
    fn is_fragment(&self) -> bool {
        self.get("ip.flags.mf") == "1"
            || matches!(self.get("ip.frag_offset"), value if !value.is_empty() && value != "0")
            || !self.get("ipv6.fraghdr.offset").is_empty()
    }
}

fn tshark_count(path: &str, filter: &str) -> usize {
    let (stdout, stderr) = run("tshark", &["-r", path, "-Y", filter]);
    assert!(
        !stderr.contains("isn't a valid display filter"),
        "tshark filter {filter}: {stderr}"
    );
    stdout.lines().count()
}

fn parse_epoch_ns(text: &str) -> u64 {
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let fraction = format!("{fraction:0<9}");
    seconds.parse::<u64>().unwrap() * 1_000_000_000 + fraction[..9].parse::<u64>().unwrap()
}

#[derive(Default)]
struct FileReport {
    problems: Vec<String>,
    count_difference: Option<String>,
    frames: u64,
    tcp: usize,
    udp: usize,
}

fn check_file(path: &Path) -> FileReport {
    let mut report = FileReport::default();
    let name = path.to_string_lossy().into_owned();
    let mut problem = |text: String| report.problems.push(format!("{name}: {text}"));

    // Oracles.
    let expected_frames = capinfos_packet_count(path);
    let mut args = vec!["-r", name.as_str(), "-T", "fields", "-E", "occurrence=a"];
    for field in FIELDS {
        args.extend(["-e", field]);
    }
    let (stdout, stderr) = run("tshark", &args);
    let tshark_frames: Vec<TsharkFrame> = stdout
        .lines()
        .map(|line| TsharkFrame {
            values: line.split('\t').map(str::to_string).collect(),
        })
        .collect();
    let tshark_cut_short = tshark_reports_cut_short(&stderr);
    let tshark_tcp = tshark_count(&name, "tcp");
    let tshark_udp = tshark_count(&name, "udp");

    // This crate.
    let mut reader = CaptureReader::open(path).expect("opens");
    let mut frames = Vec::new();
    loop {
        match reader.next_frame() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => {
                if tshark_cut_short {
                    problem("tshark says the file is cut short, this crate read to the end".into());
                }
                break;
            }
            Err(CaptureError::Truncated { .. }) if tshark_cut_short => break,
            Err(error) => {
                problem(format!("read error: {error}"));
                break;
            }
        }
    }
    report.frames = frames.len() as u64;
    if report.frames != expected_frames {
        problem(format!(
            "{} frames read, capinfos counts {expected_frames}",
            frames.len()
        ));
    }
    if tshark_frames.len() != frames.len() {
        problem(format!(
            "tshark printed {} rows for {} frames",
            tshark_frames.len(),
            frames.len()
        ));
    }

    let mut fragments = 0;
    for (frame, expected) in frames.iter().zip(&tshark_frames) {
        let number = frame.index + 1;
        let mut differs = |what: &str, ours: String, theirs: &str| {
            if ours != theirs {
                problem(format!(
                    "frame {number}: {what} is {ours}, tshark says {theirs}"
                ));
            }
        };
        differs(
            "timestamp",
            frame.timestamp_ns.to_string(),
            &parse_epoch_ns(expected.get("frame.time_epoch")).to_string(),
        );
        differs(
            "captured length",
            frame.captured_len.to_string(),
            expected.get("frame.cap_len"),
        );
        differs(
            "original length",
            frame.original_len.to_string(),
            expected.get("frame.len"),
        );
        if expected.is_fragment() {
            fragments += 1;
        }
        match decode_frame(frame.link_type, &frame.data) {
            Ok(packet) => {
                let (src, dst) = match packet.src {
                    IpAddr::V4(_) => ("ip.src", "ip.dst"),
                    IpAddr::V6(_) => ("ipv6.src", "ipv6.dst"),
                };
                differs("source address", packet.src.to_string(), expected.get(src));
                differs(
                    "destination address",
                    packet.dst.to_string(),
                    expected.get(dst),
                );
                differs(
                    "VLAN",
                    packet.vlan.map(|id| id.to_string()).unwrap_or_default(),
                    expected.get("vlan.id"),
                );
                match packet.transport {
                    Transport::Tcp(segment) => {
                        report.tcp += 1;
                        differs(
                            "TCP source port",
                            segment.src_port.to_string(),
                            expected.get("tcp.srcport"),
                        );
                        differs(
                            "TCP destination port",
                            segment.dst_port.to_string(),
                            expected.get("tcp.dstport"),
                        );
                        differs(
                            "TCP seq",
                            segment.seq.to_string(),
                            expected.get("tcp.seq_raw"),
                        );
                        differs(
                            "TCP ack",
                            segment.ack.to_string(),
                            expected.get("tcp.ack_raw"),
                        );
                        let tshark_flags = u16::from_str_radix(
                            expected.get("tcp.flags").trim_start_matches("0x"),
                            16,
                        )
                        .unwrap_or(u16::MAX);
                        differs(
                            "TCP flags",
                            segment.flags.0.to_string(),
                            &(tshark_flags & 0xff).to_string(),
                        );
                        differs(
                            "TCP payload length",
                            segment.payload.len().to_string(),
                            expected.get("tcp.len"),
                        );
                    }
                    Transport::Udp(datagram) => {
                        report.udp += 1;
                        differs(
                            "UDP source port",
                            datagram.src_port.to_string(),
                            expected.get("udp.srcport"),
                        );
                        differs(
                            "UDP destination port",
                            datagram.dst_port.to_string(),
                            expected.get("udp.dstport"),
                        );
                        differs(
                            "UDP length",
                            (datagram.payload.len() + 8).to_string(),
                            expected.get("udp.length"),
                        );
                    }
                    Transport::Other(protocol) => {
                        if expected.has("tcp") || expected.has("udp") {
                            report.count_difference.get_or_insert(format!(
                                "frame {number}: IP protocol {protocol} here, tshark sees {}",
                                expected.get("frame.protocols")
                            ));
                        }
                    }
                }
            }
            Err(DecodeError::Fragment) => {
                if !expected.is_fragment() {
                    problem(format!("frame {number}: a fragment here, not for tshark"));
                }
            }
            Err(error) => {
                if expected.has("tcp") || expected.has("udp") {
                    report.count_difference.get_or_insert(format!(
                        "frame {number}: {error}, tshark sees {}",
                        expected.get("frame.protocols")
                    ));
                }
            }
        }
    }

    if fragments == 0 && (report.tcp != tshark_tcp || report.udp != tshark_udp) {
        let detail = format!(
            "TCP {} here / {tshark_tcp} tshark, UDP {} here / {tshark_udp} tshark ({})",
            report.tcp,
            report.udp,
            report
                .count_difference
                .as_deref()
                .unwrap_or("no frame-level hint")
        );
        report.count_difference = Some(detail);
    } else {
        report.count_difference = None;
    }
    report
}

#[test]
fn corpus_reads_like_tshark() {
    tool("tshark");
    tool("capinfos");
    let files = corpus_capture_files();
    assert!(
        files.len() >= 40,
        "expected the corpus captures, found {}",
        files.len()
    );
    let queue = Mutex::new(files.clone());
    let results = Mutex::new(Vec::<(PathBuf, FileReport)>::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let Some(path) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let report = check_file(&path);
                    results.lock().unwrap().push((path, report));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));

    let mut problems = Vec::new();
    let (mut frames, mut tcp, mut udp) = (0, 0, 0);
    for (path, report) in &results {
        frames += report.frames;
        tcp += report.tcp;
        udp += report.udp;
        problems.extend(report.problems.iter().cloned());
        let known = KNOWN_COUNT_DIFFERENCES
            .iter()
            .find(|(suffix, _)| path.to_string_lossy().ends_with(suffix));
        match (&report.count_difference, known) {
            (Some(difference), None) => problems.push(format!(
                "{}: packet counts differ from tshark: {difference}",
                path.display()
            )),
            (None, Some((suffix, _))) => problems.push(format!(
                "{suffix} is listed in KNOWN_COUNT_DIFFERENCES but now agrees with tshark"
            )),
            _ => {}
        }
    }
    eprintln!(
        "{} files, {frames} frames, {tcp} TCP and {udp} UDP packets compared with tshark",
        results.len()
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
