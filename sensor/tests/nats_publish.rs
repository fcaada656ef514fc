//! Publishing to a real nats-server (started here on a free loopback port):
//! subjects, schema, order, credentials, JetStream acks, outages and the
//! buffer bound. Records come from `cipherlens replay` of the project's
//! fixture captures, whose stdout output is the reference.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cipherlens_integration::schema::{assert_valid_cnflow_record, assert_valid_session_record};
use cipherlens_integration::{Certificate, KeyType, NatsServer, free_port};
use common::repo_root;
use futures_util::StreamExt;
use serde_json::Value;

const NODE: &str = "test-node.example";
const NODE_TOKEN: &str = "test-node_example";

fn fixture_pcaps() -> Vec<PathBuf> {
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(repo_root().join("fixtures/pcaps"))
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "pcap"))
        .collect();
    pcaps.sort();
    pcaps
}

fn replay_command(pcaps: &[PathBuf], extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cipherlens"));
    command
        .arg("replay")
        .args(pcaps)
        .args(["--node", NODE])
        .args(extra);
    command
}

/// The reference: the same replay to stdout.
fn stdout_records(pcaps: &[PathBuf]) -> Vec<Value> {
    let output = replay_command(pcaps, &[]).output().expect("replay");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Subscribes to everything with `subscriber` options, runs `command` (a
/// replay publishing to `url`), requires it to succeed, and returns the
/// first message's subject and record.
fn first_published(
    runtime: &tokio::runtime::Runtime,
    subscriber: async_nats::ConnectOptions,
    url: &str,
    command: &mut Command,
) -> (String, Value) {
    runtime.block_on(async {
        let client = subscriber.connect(url).await.expect("subscriber");
        let mut messages = client.subscribe(">").await.expect("subscribe");
        client.flush().await.expect("flush");
        let output = command.output().expect("replay");
        assert!(output.status.success(), "{}", text(&output));
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("a record within 10 s")
            .expect("subscription open");
        (
            message.subject.to_string(),
            serde_json::from_slice(&message.payload).expect("JSON payload"),
        )
    })
}

fn expected_subject(record: &Value) -> String {
    let kind = record["event"]["kind"].as_str().expect("kind");
    format!("cipherlens.{kind}.{NODE_TOKEN}")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn records_arrive_on_their_subjects_in_order_and_validate() {
    let server = NatsServer::start(free_port(), &[]);
    let pcaps = fixture_pcaps();
    let reference = stdout_records(&pcaps);
    assert!(
        reference.len() >= 10,
        "fixtures give {} records",
        reference.len()
    );
    let runtime = runtime();
    let received = runtime.block_on(async {
        let client = async_nats::connect(server.url()).await.expect("subscriber");
        let mut subscriber = client.subscribe("cipherlens.>").await.expect("subscribe");
        client.flush().await.expect("flush");
        let output = replay_command(&pcaps, &["--nats-url", &server.url()])
            .output()
            .expect("replay");
        assert!(output.status.success(), "{}", text(&output));
        assert!(
            output.stdout.is_empty(),
            "with NATS and no --output, stdout stays empty"
        );
        let mut received = Vec::new();
        while received.len() < reference.len() {
            let message = tokio::time::timeout(Duration::from_secs(10), subscriber.next())
                .await
                .expect("records within 10 s")
                .expect("subscription open");
            received.push(message);
        }
        received
    });
    for (message, expected) in received.iter().zip(&reference) {
        let record: Value = serde_json::from_slice(&message.payload).expect("JSON payload");
        if record["schema"] == "cipherlens.cnflow/v1" {
            assert_valid_cnflow_record(&record);
        } else {
            assert_valid_session_record(&record);
        }
        assert_eq!(message.subject.as_str(), expected_subject(expected));
        assert_eq!(&record, expected, "same records, same order as stdout");
    }
    let subjects: std::collections::BTreeSet<&str> =
        received.iter().map(|m| m.subject.as_str()).collect();
    assert!(subjects.contains(format!("cipherlens.quic.session.{NODE_TOKEN}").as_str()));
    assert!(subjects.contains(format!("cipherlens.tls.session.{NODE_TOKEN}").as_str()));
    assert!(subjects.contains(format!("cipherlens.cnflow.{NODE_TOKEN}").as_str()));
}

#[test]
fn a_wrong_credential_is_a_clear_error() {
    let server = NatsServer::start(free_port(), &["--user", "sensor", "--pass", "right"]);
    let started = Instant::now();
    let output = replay_command(
        &fixture_pcaps()[..1],
        &[
            "--nats-url",
            &server.url(),
            "--nats-user",
            "sensor",
            "--nats-password",
            "wrong",
        ],
    )
    .output()
    .expect("replay");
    assert!(!output.status.success());
    let said = text(&output);
    assert!(
        said.contains("refused") && said.contains("authorization violation"),
        "{said}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fails fast, no retry loop"
    );
    // The right one works.
    let output = replay_command(
        &fixture_pcaps()[..1],
        &[
            "--nats-url",
            &server.url(),
            "--nats-user",
            "sensor",
            "--nats-password",
            "right",
        ],
    )
    .output()
    .expect("replay");
    assert!(output.status.success(), "{}", text(&output));
}

/// Starts replay with NATS down; brings a JetStream server up on that port
/// after `outage`; returns the replay's output and the stream's records.
fn replay_through_an_outage(
    pcaps: &[PathBuf],
    outage: Duration,
    extra: &[&str],
) -> (Output, Vec<(String, Value)>) {
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    // A first run of the server creates the stream in a store that the
    // restarted server keeps.
    let store = std::env::temp_dir().join(format!("cipherlens-js-{}-{port}", std::process::id()));
    {
        NatsServer::start_in(port, &store, &["-js"]).create_stream();
    }
    let mut args = vec!["--nats-url", url.as_str(), "--nats-jetstream", "--stats"];
    args.extend_from_slice(extra);
    let replay = replay_command(pcaps, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("replay");
    std::thread::sleep(outage);
    let server = NatsServer::start_in(port, &store, &["-js"]);
    let output = replay.wait_with_output().expect("replay ends");
    let records = server.stream_messages();
    let _ = std::fs::remove_dir_all(&store);
    (output, records)
}

#[test]
fn with_jetstream_a_ten_second_outage_loses_nothing_within_the_buffer() {
    let pcaps = fixture_pcaps();
    let reference = stdout_records(&pcaps);
    let (output, stored) = replay_through_an_outage(&pcaps, Duration::from_secs(10), &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(stored.len(), reference.len(), "every record, once");
    for ((subject, record), expected) in stored.iter().zip(&reference) {
        assert_eq!(subject, &expected_subject(expected));
        assert_eq!(record, expected, "in order");
    }
}

#[test]
fn beyond_the_buffer_bound_drops_are_counted_and_reported() {
    let pcaps = fixture_pcaps();
    let reference = stdout_records(&pcaps);
    let bound = 4;
    let (output, stored) = replay_through_an_outage(
        &pcaps,
        Duration::from_secs(3),
        &["--nats-buffer", &bound.to_string()],
    );
    assert!(!output.status.success(), "lost records fail the replay");
    let said = text(&output);
    let dropped = reference.len() - bound;
    assert!(
        said.contains(&format!("{dropped} records were not published")),
        "{said}"
    );
    let publish: Value = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|value| value.get("publish").cloned())
        .expect("publish stats on stderr");
    assert_eq!(publish["dropped_buffer_full"], dropped as u64, "{publish}");
    assert_eq!(publish["published"], bound as u64, "{publish}");
    // What was kept is the first records, in order.
    let kept: Vec<&Value> = stored.iter().map(|(_, record)| record).collect();
    assert_eq!(kept, reference.iter().take(bound).collect::<Vec<_>>());
}

/// The configuration file sets what the command line and environment do not
/// set; the environment beats the file, the command line beats both; a
/// mistake in the file is an error naming the file and the line.
#[test]
fn configuration_file_with_environment_and_command_line_overrides() {
    let server = NatsServer::start(free_port(), &["--user", "sensor", "--pass", "s3cret"]);
    let directory = std::env::temp_dir().join(format!("cipherlens-config-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("dir");
    let password = directory.join("password");
    std::fs::write(&password, "s3cret\n").expect("secret");
    let config = directory.join("cipherlens.toml");
    std::fs::write(
        &config,
        format!(
            "[nats]\nurl = \"{}\"\nprefix = \"fromfile\"\nuser = \"sensor\"\npassword_file = \"{}\"\n\n\
             [pipeline]\ncommunity_id_seed = 7\n",
            server.url(),
            password.display()
        ),
    )
    .expect("config");
    let pcap = repo_root().join("fixtures/pcaps/tls13-openssl.pcap");
    let runtime = runtime();
    // Publishes one replay and returns the subject and record it arrived with.
    let published = |env: Option<(&str, &str)>, extra: &[&str]| -> (String, Value) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cipherlens"));
        command
            .arg("replay")
            .arg(&pcap)
            .arg("--config")
            .arg(&config)
            .args(extra);
        if let Some((key, value)) = env {
            command.env(key, value);
        }
        let subscriber =
            async_nats::ConnectOptions::with_user_and_password("sensor".into(), "s3cret".into());
        first_published(&runtime, subscriber, &server.url(), &mut command)
    };
    let stdout = stdout_records(std::slice::from_ref(&pcap));
    let (subject, record) = published(None, &[]);
    assert!(subject.starts_with("fromfile.tls.session."), "{subject}");
    // The file's seed, not the default: a different Community ID.
    assert_ne!(
        record["network"]["community_id"],
        stdout[0]["network"]["community_id"]
    );
    let (subject, _) = published(Some(("CIPHERLENS_NATS_PREFIX", "fromenv")), &[]);
    assert!(subject.starts_with("fromenv.tls.session."), "{subject}");
    let (subject, record) = published(
        Some(("CIPHERLENS_NATS_PREFIX", "fromenv")),
        &["--nats-prefix", "fromcli", "--community-id-seed", "0"],
    );
    assert!(subject.starts_with("fromcli.tls.session."), "{subject}");
    assert_eq!(
        record["network"]["community_id"],
        stdout[0]["network"]["community_id"]
    );

    std::fs::write(&config, "[nats]\nurl = \"nats://127.0.0.1:1\"\nbufer = 5\n").expect("typo");
    let output = replay_command(&[pcap], &["--config", config.to_str().expect("path")])
        .output()
        .expect("replay");
    assert!(!output.status.success());
    let said = text(&output);
    assert!(
        said.contains("cipherlens.toml")
            && said.contains("unknown field `bufer`")
            && said.contains("line 3"),
        "{said}"
    );
    std::fs::remove_dir_all(&directory).ok();
}

/// TLS (the sensor trusting the server's certificate through `--nats-ca`)
/// with a token from the environment; without the CA the connection is
/// refused with a clear error.
#[test]
fn tls_and_token_authentication() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let directory =
        std::env::temp_dir().join(format!("cipherlens-nats-tls-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("dir");
    // A CA and a server certificate it signed, for 127.0.0.1.
    let authority = Certificate::self_signed(&directory, "cipherlens test CA");
    let server_certificate = authority.issue(
        &directory,
        "nats.test",
        KeyType::EcP256,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE",
    );
    let (ca, cert, key) = (
        PathBuf::from(&authority.cert),
        PathBuf::from(&server_certificate.cert),
        PathBuf::from(&server_certificate.key),
    );
    let port = free_port();
    let server = NatsServer::start(
        port,
        &[
            "--tls",
            "--tlscert",
            cert.to_str().expect("path"),
            "--tlskey",
            key.to_str().expect("path"),
            "--auth",
            "t0ken",
        ],
    );
    let url = format!("tls://127.0.0.1:{}", server.port);
    let pcap = repo_root().join("fixtures/pcaps/tls13-openssl.pcap");
    let runtime = runtime();
    let subscriber = async_nats::ConnectOptions::with_token("t0ken".into())
        .add_root_certificates(ca.clone())
        .require_tls(true);
    let (subject, record) = first_published(
        &runtime,
        subscriber,
        &url,
        replay_command(std::slice::from_ref(&pcap), &["--nats-url", &url])
            .args(["--nats-ca", ca.to_str().expect("path"), "--nats-tls"])
            .env("CIPHERLENS_NATS_TOKEN", "t0ken"),
    );
    assert_eq!(subject, format!("cipherlens.tls.session.{NODE_TOKEN}"));
    assert_valid_session_record(&record);

    // Not trusting the server's certificate: refused, and said so.
    let output = replay_command(
        std::slice::from_ref(&pcap),
        &["--nats-url", &url, "--nats-tls"],
    )
    .env("CIPHERLENS_NATS_TOKEN", "t0ken")
    .output()
    .expect("replay");
    assert!(!output.status.success());
    let said = text(&output);
    assert!(said.contains("refused") && said.contains("TLS"), "{said}");
    // A wrong token: refused too.
    let output = replay_command(
        std::slice::from_ref(&pcap),
        &["--nats-url", &url, "--nats-tls"],
    )
    .args(["--nats-ca", ca.to_str().expect("path")])
    .env("CIPHERLENS_NATS_TOKEN", "wrong")
    .output()
    .expect("replay");
    assert!(!output.status.success());
    assert!(
        text(&output).contains("authorization violation"),
        "{}",
        text(&output)
    );
    std::fs::remove_dir_all(&directory).ok();
}

/// nkey authentication: the server knows the user's public key, the sensor
/// signs its nonce with the seed from `--nats-nkey-seed-file`.
#[test]
fn nkey_authentication() {
    let user = nkeys::KeyPair::new_user();
    let directory = std::env::temp_dir().join(format!("cipherlens-nkey-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("dir");
    let config = directory.join("server.conf");
    std::fs::write(
        &config,
        format!(
            "authorization {{ users = [ {{ nkey: \"{}\" }} ] }}\n",
            user.public_key()
        ),
    )
    .expect("server config");
    let seed_file = directory.join("user.nk");
    std::fs::write(&seed_file, user.seed().expect("seed")).expect("seed file");
    let server = NatsServer::start(free_port(), &["-c", config.to_str().expect("path")]);
    let pcap = repo_root().join("fixtures/pcaps/tls13-openssl.pcap");
    let seed_arg = seed_file.to_str().expect("path").to_string();
    let runtime = runtime();
    let (subject, _) = first_published(
        &runtime,
        async_nats::ConnectOptions::with_nkey(user.seed().expect("seed")),
        &server.url(),
        replay_command(std::slice::from_ref(&pcap), &["--nats-url", &server.url()])
            .args(["--nats-nkey-seed-file", &seed_arg]),
    );
    assert_eq!(subject, format!("cipherlens.tls.session.{NODE_TOKEN}"));
    // Another user's seed is refused.
    let stranger = directory.join("stranger.nk");
    std::fs::write(&stranger, nkeys::KeyPair::new_user().seed().expect("seed")).expect("seed");
    let output = replay_command(std::slice::from_ref(&pcap), &["--nats-url", &server.url()])
        .args(["--nats-nkey-seed-file", stranger.to_str().expect("path")])
        .output()
        .expect("replay");
    assert!(!output.status.success());
    assert!(text(&output).contains("refused"), "{}", text(&output));
    std::fs::remove_dir_all(&directory).ok();
}

/// Alert records go to `<prefix>.tls.alert.<severity>.<node>` (the layout
/// the issue gives), the same ones and in the same order as on stdout.
#[test]
fn alerts_arrive_on_their_severity_subjects() {
    let server = NatsServer::start(free_port(), &[]);
    let pcaps = fixture_pcaps();
    let output = replay_command(&pcaps, &["--alerts"])
        .output()
        .expect("replay");
    assert!(output.status.success(), "{}", text(&output));
    let alerts: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON"))
        .filter(|record| record["schema"] == "cipherlens.alert/v1")
        .collect();
    // The fixtures hold a TLS 1.0 session: at least that alert.
    assert!(
        alerts
            .iter()
            .any(|alert| alert["rule"] == "tls.version.obsolete"),
        "{alerts:?}"
    );
    let runtime = runtime();
    let received = runtime.block_on(async {
        let client = async_nats::connect(server.url()).await.expect("subscriber");
        let mut subscriber = client
            .subscribe("cipherlens.tls.alert.>")
            .await
            .expect("subscribe");
        client.flush().await.expect("flush");
        let output = replay_command(&pcaps, &["--alerts", "--nats-url", &server.url()])
            .output()
            .expect("replay");
        assert!(output.status.success(), "{}", text(&output));
        let mut received = Vec::new();
        while received.len() < alerts.len() {
            let message = tokio::time::timeout(Duration::from_secs(10), subscriber.next())
                .await
                .expect("alerts within 10 s")
                .expect("subscription open");
            received.push(message);
        }
        received
    });
    for (message, expected) in received.iter().zip(&alerts) {
        let record: Value = serde_json::from_slice(&message.payload).expect("JSON payload");
        let severity = expected["severity"].as_str().expect("severity");
        assert_eq!(
            message.subject.as_str(),
            format!("cipherlens.tls.alert.{severity}.{NODE_TOKEN}")
        );
        assert_eq!(&record, expected, "same alerts, same order as stdout");
    }
}
