//! Deduplication within a short window, a SIGHUP reload that takes effect,
//! a bad policy file refused on SIGHUP (the policy in use stays) and at
//! start (a clear error, exit status 1).
//!
//! The sessions come from one long-lived Python client, so the live
//! sensor names the same client workload (its executable) in each; a
//! client process per handshake may exit before the sensor reads its
//! `/proc` entry, and its sessions then fall back to the client address.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use cipherlens_integration::x509::unix_seconds;
use cipherlens_integration::{
    Authority, KeyType, Leaf, Link, Scratch, Sensor, TestBed, require_root, sensor_binary,
    wait_exit,
};
use serde_json::Value;

use super::wire;
use super::{alerts_in_order, replay, write_policy};

/// Handshakes without SNI, TLS 1.2 at most (the certificate in clear), one
/// per line `ADDRESS PORT` read from stdin, each answered `done`, after a
/// `ready` once it runs.
const CLIENT: &str = "import socket, ssl, sys\n\
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n\
ctx.check_hostname = False\n\
ctx.verify_mode = ssl.CERT_NONE\n\
ctx.maximum_version = ssl.TLSVersion.TLSv1_2\n\
print('ready', flush=True)\n\
for line in sys.stdin:\n\
\x20   address, port = line.split()\n\
\x20   s = socket.create_connection((address, int(port)))\n\
\x20   ctx.wrap_socket(s).close()\n\
\x20   print('done', flush=True)\n";

/// One Python process in the link's namespace making handshakes on demand.
struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    address: String,
}

impl Client {
    fn start(link: &Link) -> Self {
        let mut child = link
            .command("python3")
            .args(["-c", CLIENT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python client");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut client = Client {
            child,
            stdin,
            stdout,
            address: link.host_v4.clone(),
        };
        client.expect("ready");
        client
    }

    /// One handshake to `port`, finished when this returns.
    fn handshake(&mut self, port: u16) {
        writeln!(self.stdin, "{} {port}", self.address).expect("to the client");
        self.expect("done");
    }

    fn expect(&mut self, word: &str) {
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("from the client");
        assert_eq!(answer.trim(), word, "the client failed");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGHUP and waits until a stats record shows `counter` of its
/// `policy` object at `value`.
fn reload_and_wait(sensor: &Sensor, counter: &str, value: u64) {
    cipherlens_integration::run("kill", &["-HUP", &sensor.pid().to_string()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if sensor
            .stats_records()
            .last()
            .is_some_and(|stats| stats["policy"][counter] == value)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("policy.{counter} never reached {value}: {}", sensor.log());
}

/// Waits until the records file in `dir` holds `count` session records.
fn wait_sessions(dir: &std::path::Path, count: usize) {
    // Whole lines only: the writer may be midway through one.
    let sessions = || {
        let text = std::fs::read_to_string(dir.join("records.jsonl")).unwrap_or_default();
        text.split_inclusive('\n')
            .filter(|line| line.ends_with('\n'))
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|record| record["schema"] == "cipherlens.session/v1")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while sessions() < count {
        assert!(
            Instant::now() < deadline,
            "{count} session records not written within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The alerts of `rule` about the server on `port`, in order.
fn of(alerts: &[Value], rule: &str, port: u16) -> Vec<Value> {
    alerts
        .iter()
        .filter(|alert| alert["rule"] == rule && alert["server"]["port"] == port)
        .cloned()
        .collect()
}

fn counts(alerts: &[Value]) -> Vec<u64> {
    alerts
        .iter()
        .map(|alert| alert["event"]["count"].as_u64().expect("count"))
        .collect()
}

const WINDOW: Duration = Duration::from_secs(3);

#[test]
fn repeats_within_the_window_are_counted_and_sighup_reloads_or_keeps_the_policy() {
    let bed = TestBed::new("alerts-dedup");
    let dir = bed.dir();
    let ca = Authority::new(dir, "cipherlens dedup CA");
    let leaf = |name: &'static str| {
        ca.issue(&Leaf {
            key: KeyType::Rsa2048,
            ..Leaf::new(name, &[])
        })
    };
    let (a, b) = (
        bed.s_server(&leaf("a.test"), &[]),
        bed.s_server(&leaf("b.test"), &[]),
    );
    let first = format!("[alerts]\ndedup_window_seconds = {}\n", WINDOW.as_secs());
    let policy = write_policy(dir, "policy.toml", &first);
    let dump = bed.tcpdump("dedup.pcap");
    let sensor = bed.sensor(&[
        "--policy",
        policy.to_str().expect("UTF-8 path"),
        "--stats-interval",
        "1",
    ]);
    let mut client = Client::start(&bed.link);

    // Three sessions within the window, one after it (the window opens at
    // the first session's start, before its handshake ended).
    let opened = Instant::now();
    client.handshake(a.port);
    let first_ended = Instant::now();
    client.handshake(a.port);
    client.handshake(a.port);
    assert!(
        opened.elapsed() < WINDOW / 2,
        "the first three took {:?}",
        opened.elapsed()
    );
    std::thread::sleep((WINDOW + Duration::from_millis(300)).saturating_sub(first_ended.elapsed()));
    client.handshake(a.port);
    // A reload applies to records the writer has not evaluated yet, and a
    // session's record may trail its handshake: the four are out first.
    wait_sessions(dir, 4);

    // Reload: no SNI alerts any more, 3072-bit RSA keys at least, and a
    // JA3 allow list the client is not on.
    let second = format!(
        "{first}\n[rules.\"tls.sni.missing\"]\nenabled = false\n\n[thresholds]\nrsa_min_bits = 3072\n\n\
         [fingerprints]\nallow_ja3 = [\"00000000000000000000000000000000\"]\n"
    );
    std::fs::write(&policy, &second).expect("policy file");
    reload_and_wait(&sensor, "reloads", 1);
    client.handshake(a.port);

    // A bad file is refused; the second policy stays.
    std::fs::write(&policy, "[thresholds]\nrsa_min_bits = \"many\"\n").expect("policy file");
    reload_and_wait(&sensor, "reload_failures", 1);
    client.handshake(b.port);
    drop(client);

    std::thread::sleep(Duration::from_millis(300));
    let (sessions, stats, _) = sensor.stop();
    let pcap = dump.finish();
    assert_eq!(sessions.len(), 6, "six handshakes");
    let records = cipherlens_integration::read_json_lines(&dir.join("records.jsonl"));
    let live = alerts_in_order(&records, |alert| alert["event"]["count"] == 1);
    let starts: Vec<&str> = sessions
        .iter()
        .map(|session| session["event"]["start"].as_str().expect("start"))
        .collect();
    let since_first = |index: usize| unix_seconds(starts[index]) - unix_seconds(starts[0]);
    let window = WINDOW.as_secs_f64();
    assert!(
        since_first(2) < window && since_first(3) >= window,
        "session starts: {starts:?}"
    );

    // Before the reload: one alert for the first three, a summary of the
    // two held back when the window ran out, and one for the fourth.
    let missing = of(&live, "tls.sni.missing", a.port);
    assert_eq!(counts(&missing), [1, 2, 1], "{missing:#?}");
    assert_eq!(missing[0]["session"]["start"], starts[0]);
    assert_eq!(missing[1]["event"]["first_seen"], starts[1]);
    assert_eq!(missing[1]["event"]["last_seen"], starts[2]);
    assert_eq!(missing[1]["client"]["port"], sessions[2]["client"]["port"]);
    assert_eq!(missing[2]["session"]["start"], starts[3]);
    // After it: the new threshold and allow list, no SNI alert; after the
    // refused file, still so.
    let ja3 = &wire::sessions(&pcap)
        .into_values()
        .next()
        .expect("a session on the wire")
        .ja3;
    for (port, start) in [(a.port, starts[4]), (b.port, starts[5])] {
        let weak = of(&live, "x509.key.weak", port);
        assert_eq!(weak.len(), 1, "{live:#?}");
        assert_eq!(weak[0]["session"]["start"], start);
        let bits = "cipherlens.tls.server_certificates[0].public_key.bits";
        assert_eq!(weak[0]["evidence"][bits], 2048, "{weak:#?}");
        let unlisted = of(&live, "tls.fingerprint.unlisted", port);
        assert_eq!(unlisted.len(), 1, "{live:#?}");
        assert_eq!(
            unlisted[0]["evidence"]["cipherlens.tls.fingerprints.ja3"],
            ja3.as_str()
        );
    }
    assert_eq!(of(&live, "tls.sni.missing", b.port), Vec::<Value>::new());
    assert_eq!(live.len(), 7, "{live:#?}");

    let policy_stats = &stats["policy"];
    assert_eq!(policy_stats["reloads"], 1, "{stats}");
    assert_eq!(policy_stats["reload_failures"], 1, "{stats}");
    assert_eq!(policy_stats["alerts_suppressed"], 2, "{stats}");
    assert_eq!(policy_stats["alerts_published"], live.len(), "{stats}");

    // Replay with the first policy deduplicates the first four sessions as
    // the live sensor did. (The fifth, a repeat under that policy, ends in
    // a summary of one at exit: no alert is checked for its place.)
    let first_policy = write_policy(dir, "first.toml", &first);
    let replayed = alerts_in_order(&replay(&pcap, &first_policy), |_| false);
    let replay_missing = of(&replayed, "tls.sni.missing", a.port);
    assert!(replay_missing.len() >= 3, "{replay_missing:#?}");
    assert_eq!(
        counts(&replay_missing[..3]),
        [1, 2, 1],
        "{replay_missing:#?}"
    );
    for (one, other) in missing.iter().zip(&replay_missing) {
        assert_eq!(
            one["session"]["community_id"],
            other["session"]["community_id"]
        );
    }
}

#[test]
fn a_bad_policy_file_stops_the_start_with_its_place_and_status_1() {
    require_root();
    let scratch = Scratch::new("alerts-bad-policy");
    let dir = scratch.path();
    let cases = [
        // (file, its text, where the error is)
        (
            "type.toml",
            "version = 1\n[thresholds]\nrsa_min_bits = \"many\"\n",
            "type.toml:3:16",
        ),
        (
            "unknown.toml",
            "[alerts]\ndedup_window = 10\n",
            "unknown.toml:2:1",
        ),
    ];
    for (name, text, place) in cases {
        let policy = write_policy(dir, name, text);
        for subcommand in ["live", "replay"] {
            let stderr_path = dir.join(format!("{name}.{subcommand}.err"));
            let mut command = Command::new(sensor_binary());
            command.arg(subcommand).arg("--policy").arg(&policy);
            match subcommand {
                // An interface that never appears: a sensor that got past
                // the policy would wait for it, and be killed below.
                "live" => command
                    .args(["-i", "cl-none0", "-o"])
                    .arg(dir.join("out.jsonl")),
                _ => command.arg(dir.join("none.pcap")),
            };
            let mut child = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
                .spawn()
                .expect("cipherlens");
            let status = wait_exit(&mut child, Duration::from_secs(10));
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            assert_eq!(
                status.and_then(|status| status.code()),
                Some(1),
                "{subcommand} {name}: {stderr}"
            );
            assert!(
                stderr.contains("loading the policy") && stderr.contains(place),
                "{subcommand} {name}: {stderr}"
            );
        }
    }
}
