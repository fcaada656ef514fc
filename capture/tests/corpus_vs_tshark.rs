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

/// The endpoints tshark prints as "Node 0: 10.0.0.1:443" or "Node 1: [2001:db8::1]:443".
fn parse_node(text: &str) -> (IpAddr, u16) {
    let (address, port) = text.trim().rsplit_once(':').unwrap();
    let address = address.trim_start_matches('[').trim_end_matches(']');
    (address.parse().unwrap(), port.parse().unwrap())
}

type Endpoint = (IpAddr, u16);

/// One TCP connection as tshark's "Follow TCP stream" shows it.
struct FollowedStream {
    node0: Endpoint,
    node1: Endpoint,
    sent_by_node0: Vec<u8>,
    sent_by_node1: Vec<u8>,
}

/// `tshark -q -z follow,tcp,raw,N` for every TCP stream: the bytes each node sent.
fn tshark_follow(path: &str) -> Vec<FollowedStream> {
    let (stdout, _) = run("tshark", &["-r", path, "-T", "fields", "-e", "tcp.stream"]);
    let mut stream_ids: Vec<u32> = stdout
        .lines()
        .filter_map(|line| line.parse().ok())
        .collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    if stream_ids.is_empty() {
        return Vec::new();
    }
    let mut args = vec!["-r".to_string(), path.to_string(), "-q".to_string()];
    for id in &stream_ids {
        args.push("-z".into());
        args.push(format!("follow,tcp,raw,{id}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (stdout, stderr) = run("tshark", &args);
    let mut streams = Vec::new();
    let mut current: Option<(Option<Endpoint>, Option<Endpoint>, String, String)> = None;
    for line in stdout.lines() {
        if line.starts_with("Follow: tcp,raw") {
            current = Some((None, None, String::new(), String::new()));
        } else if let Some(state) = current.as_mut() {
            if let Some(node) = line.strip_prefix("Node 0: ") {
                state.0 = Some(parse_node(node));
            } else if let Some(node) = line.strip_prefix("Node 1: ") {
                state.1 = Some(parse_node(node));
            } else if line.starts_with("=====") {
                let (node0, node1, hex0, hex1) = current.take().unwrap();
                streams.push(FollowedStream {
                    node0: node0.unwrap(),
                    node1: node1.unwrap(),
                    sent_by_node0: decode_hex(&hex0),
                    sent_by_node1: decode_hex(&hex1),
                });
            } else if let Some(hex) = line.strip_prefix('\t') {
                state.3.push_str(hex.trim());
            } else if !line.starts_with("Filter:") {
                state.2.push_str(line.trim());
            }
        }
    }
    assert_eq!(
        streams.len(),
        stream_ids.len(),
        "tshark follow output: {stderr}"
    );
    streams
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect()
}

/// Each direction of each TCP connection, reassembled here, equals what tshark's "Follow
/// TCP stream" shows, for every connection whose streams have no holes.
#[test]
fn reassembled_streams_match_tshark_follow() {
    use cipherlens_capture::StreamReassembler;
    use std::collections::HashMap;

    tool("tshark");
    let files = corpus_capture_files();
    let queue = Mutex::new(files);
    let problems = Mutex::new(Vec::<String>::new());
    // (directions compared, bytes compared, directions with holes, connections reusing ports)
    let compared = Mutex::new((0usize, 0usize, 0usize, 0usize));
    // (out-of-order, retransmitted, overlapping segments) in the directions compared
    let seen = Mutex::new((0u64, 0u64, 0u64));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let Some(path) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let name = path.to_string_lossy().into_owned();
                    let mut directions: HashMap<(Endpoint, Endpoint), StreamReassembler> =
                        HashMap::new();
                    for frame in CaptureReader::open(&path).unwrap() {
                        let Ok(frame) = frame else { break };
                        let Ok(packet) = decode_frame(frame.link_type, &frame.data) else {
                            continue;
                        };
                        let Transport::Tcp(segment) = packet.transport else {
                            continue;
                        };
                        let key = (
                            (packet.src, segment.src_port),
                            (packet.dst, segment.dst_port),
                        );
                        let stream = directions
                            .entry(key)
                            .or_insert_with(|| StreamReassembler::new(16 << 20));
                        stream
                            .push(
                                segment.seq,
                                segment.flags.syn(),
                                segment.flags.fin(),
                                segment.payload,
                            )
                            .unwrap();
                    }
                    let followed = tshark_follow(&name);
                    let mut per_pair: HashMap<(Endpoint, Endpoint), usize> = HashMap::new();
                    for stream in &followed {
                        *per_pair.entry((stream.node0, stream.node1)).or_default() += 1;
                    }
                    for FollowedStream {
                        node0,
                        node1,
                        sent_by_node0: sent_by_0,
                        sent_by_node1: sent_by_1,
                    } in &followed
                    {
                        if per_pair[&(*node0, *node1)] > 1 {
                            // The same ports reused for several connections.
                            compared.lock().unwrap().3 += 1;
                            continue;
                        }
                        for (from, to, expected) in
                            [(node0, node1, sent_by_0), (node1, node0, sent_by_1)]
                        {
                            let Some(stream) = directions.get_mut(&(*from, *to)) else {
                                if !expected.is_empty() {
                                    problems.lock().unwrap().push(format!(
                                        "{name}: no segments here from {from:?} to {to:?}"
                                    ));
                                }
                                continue;
                            };
                            if stream.skip_gap().is_some() {
                                // A hole: tshark renders missing bytes its own way.
                                compared.lock().unwrap().2 += 1;
                                continue;
                            }
                            let stats = stream.stats();
                            let mut totals = seen.lock().unwrap();
                            totals.0 += stats.out_of_order_segments;
                            totals.1 += stats.retransmitted_segments;
                            totals.2 += stats.overlapping_segments;
                            drop(totals);
                            let ours = stream.take_ready();
                            compared.lock().unwrap().0 += 1;
                            compared.lock().unwrap().1 += ours.len();
                            if &ours != expected {
                                let first_difference =
                                    ours.iter().zip(expected.iter()).position(|(a, b)| a != b);
                                problems.lock().unwrap().push(format!(
                                    "{name}: {from:?} -> {to:?}: {} bytes here, {} from tshark, \
                                     first difference at {first_difference:?}",
                                    ours.len(),
                                    expected.len()
                                ));
                            }
                        }
                    }
                }
            });
        }
    });
    let (directions, bytes, with_holes, reused) = compared.into_inner().unwrap();
    eprintln!(
        "{directions} stream directions ({bytes} bytes) compared with tshark follow; \
         {with_holes} directions with holes and {reused} connections on reused ports skipped"
    );
    let (out_of_order, retransmitted, overlapping) = seen.into_inner().unwrap();
    eprintln!(
        "their segments: {out_of_order} out of order, {retransmitted} retransmitted, \
         {overlapping} overlapping"
    );
    assert!(directions > 50, "too few streams compared: {directions}");
    let problems = problems.into_inner().unwrap();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
