//! A socket in a network namespace the host has no id for (made by `ip
//! netns add`, no device ever moved in or out, so the kernel never named
//! it): the sensor's namespace ids give it one (`RTM_NEWNSID`), and the
//! kernel's TCP metrics lookup reads the socket there as `ss -tin` inside
//! the namespace sees it. On a node, a pod namespace behind a veth already
//! has an id, which the CNFlow test covers end to end; this is the other
//! path, driven through the sensor's own pieces.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aya::programs::SchedClassifier;
use cipherlens_capture::tcp_metrics_frame::FrameError;
use cipherlens_common::tcp_metrics::{CURRENT_NETNS, TCP_METRICS_PROGRAM};
use cipherlens_integration::{require_root, run};
use cipherlens_sensor::cnflow::namespace_ids::NamespaceIds;
use cipherlens_sensor::cnflow::tcp_metrics::LookupError;
use cipherlens_sensor::live::ebpf::{load_tcp_metrics, run_tcp_metrics};

/// A bare namespace with its loopback up, deleted on drop.
struct Namespace(String);

impl Namespace {
    fn new() -> Self {
        let name = format!("clnsid{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run("ip", &["netns", "add", &name]);
        run(
            "ip",
            &["netns", "exec", &name, "ip", "link", "set", "lo", "up"],
        );
        Namespace(name)
    }

    fn has_id(&self) -> bool {
        run("ip", &["netns", "list-id"])
            .lines()
            .any(|line| line.contains(&format!("name: {})", self.0)))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// One Python process in the namespace holding both ends of a loopback
/// connection that carried a few KiB each way; prints `client server`.
fn connected_pair(namespace: &Namespace) -> (Child, SocketAddr, SocketAddr) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", &namespace.0, "python3", "-c"])
        .arg(
            "import socket, sys\n\
             listener = socket.create_server(('127.0.0.1', 0))\n\
             client = socket.create_connection(listener.getsockname())\n\
             server, _ = listener.accept()\n\
             for _ in range(4):\n\
             \x20   client.sendall(b'c' * 3000); server.recv(65536)\n\
             \x20   server.sendall(b's' * 2000); client.recv(65536)\n\
             print('%s:%d %s:%d' % (client.getsockname() + listener.getsockname()), flush=True)\n\
             sys.stdin.read()\n",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python in the namespace");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the pair's addresses");
    let mut addresses = line.split_whitespace().map(|a| a.parse().expect("address"));
    let (client, server) = (
        addresses.next().expect("client"),
        addresses.next().expect("server"),
    );
    (child, client, server)
}

#[test]
fn a_namespace_without_an_id_gets_one_and_its_sockets_are_read_like_ss_reads_them() {
    require_root();
    let namespace = Namespace::new();
    let (mut python, client, server) = connected_pair(&namespace);
    // Delayed ACKs settle before both readings.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!namespace.has_id(), "a fresh namespace has no id yet");

    let mut ids = NamespaceIds::new().expect("rtnetlink socket");
    let (id, _) = ids
        .of_process(python.id())
        .expect("an id for the namespace");
    assert!(id >= 0, "{id}");
    assert!(namespace.has_id(), "the kernel lists the id now");

    let object = load_tcp_metrics().expect("program loads");
    let program: &SchedClassifier = object
        .program(TCP_METRICS_PROGRAM)
        .expect("program")
        .try_into()
        .expect("a classifier");
    assert!(
        matches!(
            run_tcp_metrics(program, CURRENT_NETNS, client, server),
            Err(LookupError::Frame(FrameError::NotFound))
        ),
        "the socket is not in the sensor's namespace"
    );
    let reply = run_tcp_metrics(program, id, client, server).expect("the client socket");
    let ss = run(
        "ip",
        &[
            "netns",
            "exec",
            &namespace.0,
            "ss",
            "-tinH",
            "src",
            &client.to_string(),
        ],
    );
    let _ = python.kill();
    let _ = python.wait();
    let field = |name: &str| -> f64 {
        ss.split_whitespace()
            .find_map(|field| field.strip_prefix(&format!("{name}:")))
            .and_then(|value| value.split('/').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("ss shows no {name}: {ss}"))
    };
    assert_eq!(reply.state, 1, "established: {reply:?}");
    assert_eq!(
        f64::from(reply.segs_out),
        field("segs_out"),
        "{reply:?} vs {ss}"
    );
    assert_eq!(
        f64::from(reply.segs_in),
        field("segs_in"),
        "{reply:?} vs {ss}"
    );
    assert_eq!(
        f64::from(reply.snd_cwnd),
        field("cwnd"),
        "{reply:?} vs {ss}"
    );
    let rtt_ms = f64::from(reply.srtt_us >> 3) / 1000.0;
    assert!((rtt_ms - field("rtt")).abs() < 0.001, "{reply:?} vs {ss}");
}
