//! uprobes on the TLS libraries of local processes, live: TLS 1.3 hides the
//! server's chain from the wire, and the sensor recovers it from the
//! client's library (curl and Python on libssl.so.3, `openssl s_client`,
//! node's static OpenSSL, a BoringSSL client compiled here, a process that
//! loads libssl late, one whose libssl is at a path only its own mount
//! namespace has). Plaintext only when asked, equal to what the client sent
//! and received, redacted, tied to the session's flow. With
//! `--no-tls-probes` nothing is attached.
//!
//! Expected chains come from the server's certificate files (SHA-256 by
//! openssl), expected bytes from the clients themselves.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use cipherlens_integration::kernel::held_links;
use cipherlens_integration::schema::{assert_valid_plaintext_record, assert_valid_session_record};
use cipherlens_integration::{
    Certificate, KeyType, Link, Sensor, Server, TestBed, read_json_lines, run,
};
use serde_json::Value;

const LIBSSL: &str = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
const LIBCRYPTO: &str = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3";

/// A TLS 1.3 server sending a leaf and the CA that issued it; the chain's
/// SHA-256 fingerprints in order.
fn chain_server(bed: &TestBed, extra: &[&str]) -> (Server, Vec<String>) {
    let ca = Certificate::self_signed(bed.dir(), "cipherlens probes CA");
    let leaf = ca.issue(
        bed.dir(),
        "probes.test",
        KeyType::Rsa2048,
        "subjectAltName=DNS:probes.test",
    );
    let mut args = vec!["-tls1_3", "-cert_chain", ca.cert.as_str()];
    args.extend_from_slice(extra);
    let server = bed.s_server(&leaf, &args);
    (server, vec![leaf.sha256(), ca.sha256()])
}

/// Waits until the sensor has `at_least` library files probed.
fn wait_probed_files(sensor: &Sensor, at_least: f64, limit: Duration) -> f64 {
    let start = Instant::now();
    loop {
        let files = sensor.metric("cipherlens_tls_probe_files").unwrap_or(0.0);
        if files >= at_least {
            return files;
        }
        assert!(
            start.elapsed() < limit,
            "{files} library files probed after {limit:?}, wanted {at_least}: {}",
            sensor.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the sensor's log has `text` (it logs each library it probes).
fn wait_logged(sensor: &Sensor, text: &str, limit: Duration) {
    let start = Instant::now();
    while !sensor.log().contains(text) {
        assert!(
            start.elapsed() < limit,
            "{text} not logged within {limit:?}: {}",
            sensor.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The session record whose ClientHello named `server_name`.
fn session<'a>(records: &'a [Value], server_name: &str) -> &'a Value {
    records
        .iter()
        .find(|record| {
            record["schema"] == "cipherlens.session/v1"
                && record["tls"]["client"]["server_name"] == server_name
        })
        .unwrap_or_else(|| panic!("no session record for {server_name}"))
}

/// The chain a record carries, as SHA-256 fingerprints.
fn chain(record: &Value) -> Vec<String> {
    record["cipherlens"]["tls"]["server_certificates"]
        .as_array()
        .expect("server_certificates")
        .iter()
        .map(|certificate| {
            certificate["fingerprint_sha256"]
                .as_str()
                .expect("fingerprint")
                .to_owned()
        })
        .collect()
}

/// A Python client (in the link's namespace) that waits, loads `ssl` (and
/// with it libssl) only then, waits a second, and makes one handshake.
fn late_python(server: &Server, link: &Link, server_name: &str) -> String {
    format!(
        "import socket, time\n\
         time.sleep(0.5)\n\
         import ssl\n\
         time.sleep(1.0)\n\
         ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         s = ctx.wrap_socket(socket.create_connection(('{}', {})), server_hostname='{server_name}')\n\
         s.close()",
        link.host_v4, server.port
    )
}

/// The BoringSSL client of `fixtures/clients`, compiled against Debian's
/// android-libboringssl.
fn boringssl_client(dir: &Path) -> PathBuf {
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/clients/boringssl_client.c");
    let binary = dir.join("boringssl_client");
    run(
        "gcc",
        &[
            "-O1",
            "-I/usr/include/android",
            "-o",
            binary.to_str().expect("UTF-8 path"),
            source.to_str().expect("UTF-8 path"),
            "-L/usr/lib/x86_64-linux-gnu/android",
            "-lssl",
            "-lcrypto",
            "-Wl,-rpath,/usr/lib/x86_64-linux-gnu/android",
        ],
    );
    binary
}

#[test]
fn tls13_chains_from_every_client_library_equal_the_servers() {
    let bed = TestBed::new("probes-chains");
    let link = &bed.link;
    let (server, expected) = chain_server(&bed, &[]);
    let sensor = bed.sensor(&[]);
    // s_server maps libssl and libcrypto, and the dynamic loader.
    let files = wait_probed_files(&sensor, 3.0, Duration::from_secs(60));
    let address = format!("{}:{}", link.host_v4, server.port);

    // Clients started after the sensor, on libssl.so.3.
    link.client(
        "curl",
        &[
            "-sk",
            "--tlsv1.3",
            "--resolve",
            &format!("curl.test:{}:{}", server.port, link.host_v4),
            &format!("https://curl.test:{}/", server.port),
            "-o",
            "/dev/null",
        ],
    );
    link.python_handshake(server.port, "python.test");
    link.s_client(&address, "sclient.test", &[]);

    // node carries OpenSSL itself: its binary is a new file to probe, and
    // reading its symbols takes a while the first time.
    let warm = link
        .command("node")
        .args(["-e", "setTimeout(() => {}, 60000)"])
        .stdin(Stdio::null())
        .spawn()
        .expect("node");
    let warm = cipherlens_integration::Background(warm);
    wait_logged(&sensor, "path=/usr/bin/node", Duration::from_secs(60));
    drop(warm);
    link.client(
        "node",
        &[
            "-e",
            &format!(
                "const tls = require('tls');\n\
                 const s = tls.connect({{ host: '{}', port: {}, servername: 'node.test', rejectUnauthorized: false }}, () => s.end());\n\
                 s.on('error', (e) => {{ console.error(e); process.exit(1); }});",
                link.host_v4, server.port
            ),
        ],
    );

    // BoringSSL: new files (libssl.so.0, libcrypto.so.0) found when the
    // client starts; it waits before connecting.
    let boring = boringssl_client(bed.dir());
    let output = link
        .command(boring.to_str().expect("UTF-8 path"))
        .args([&link.host_v4, &server.port.to_string(), "boring.test"])
        .env("CLIENT_DELAY_MS", "1500")
        .stdin(Stdio::null())
        .output()
        .expect("BoringSSL client");
    assert!(output.status.success(), "{output:?}");

    // libssl loaded late (dlopen at `import ssl`), from copies the sensor
    // has not seen: probed within the second before the handshake.
    let copies = bed.dir().join("late-lib");
    std::fs::create_dir_all(&copies).expect("dir");
    for library in [LIBSSL, LIBCRYPTO] {
        let name = Path::new(library).file_name().expect("name");
        std::fs::copy(library, copies.join(name)).expect("copy");
    }
    let output = link
        .command("python3")
        .args(["-c", &late_python(&server, link, "dlopen.test")])
        .env("LD_LIBRARY_PATH", &copies)
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(output.status.success(), "{output:?}");

    // Its own mount namespace, libssl at a path the host does not have.
    let private = "/mnt/cipherlens-probes-only";
    assert!(!Path::new(private).exists(), "{private} exists on the host");
    let script = format!(
        "set -e\n\
         mount -t tmpfs tmpfs /mnt\n\
         mkdir -p {private}\n\
         cp {LIBSSL} {LIBCRYPTO} {private}/\n\
         LD_LIBRARY_PATH={private} python3 -c \"$0\"",
    );
    let output = link
        .command("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .arg(late_python(&server, link, "mount.test"))
        .stdin(Stdio::null())
        .output()
        .expect("unshare");
    assert!(output.status.success(), "{output:?}");

    // Coverage as a scraper sees it: processes on OpenSSL of the version
    // `openssl version` prints, hooked.
    let version = run("openssl", &["version"]);
    let version = version.split_whitespace().nth(1).expect("openssl version");
    let sample = format!(
        "cipherlens_tls_processes{{library=\"openssl-3\",version=\"{version}\",hooked=\"true\",reason=\"\"}}"
    );
    assert!(
        sensor.metric(&sample).is_some_and(|count| count >= 1.0),
        "{sample} missing:\n{}",
        sensor.metrics()
    );

    let (records, stats, _) = sensor.stop();
    let names = [
        ("curl.test", "openssl-3"),
        ("python.test", "openssl-3"),
        ("sclient.test", "openssl-3"),
        ("node.test", "openssl-3"),
        ("boring.test", "boringssl"),
        ("dlopen.test", "openssl-3"),
        ("mount.test", "openssl-3"),
    ];
    for (name, library) in names {
        let record = session(&records, name);
        assert_valid_session_record(record);
        let tls = &record["cipherlens"]["tls"];
        assert_eq!(tls["version"]["name"], "TLS 1.3", "{name}");
        let source = &tls["certificate_source"];
        assert_eq!(source["chain"], "server", "{name}: {record}");
        assert_eq!(source["library"], library, "{name}: {source}");
        assert_eq!(chain(record), expected, "{name}: {source}");
        // The process is the client's, as the kernel saw its socket.
        assert_eq!(
            source["pid"], record["cipherlens"]["observation"]["client_socket"]["pid"],
            "{name}"
        );
        // The leaf's facts in `tls.server`, as for a chain sent in clear.
        assert_eq!(
            record["tls"]["server"]["hash"]["sha256"], expected[0],
            "{name}"
        );
    }
    let dlopen = &session(&records, "dlopen.test")["cipherlens"]["tls"]["certificate_source"];
    assert!(
        dlopen["path"]
            .as_str()
            .is_some_and(|path| path.starts_with(copies.to_str().expect("UTF-8"))),
        "{dlopen}"
    );
    let mounted = &session(&records, "mount.test")["cipherlens"]["tls"]["certificate_source"];
    assert!(
        mounted["path"]
            .as_str()
            .is_some_and(|path| path.starts_with(private)),
        "{mounted}"
    );
    let probes = &stats["tls_probes"];
    assert!(
        probes["files_attached"].as_u64() >= Some(files as u64),
        "{probes}"
    );
    for loss in ["tls_probe_ring_buffer_full", "tls_probe_map_full"] {
        assert_eq!(probes["counters"][loss], 0, "{loss}: {probes}");
    }
}

#[test]
fn plaintext_only_when_asked_equals_the_bytes_is_redacted_and_names_the_flow() {
    let bed = TestBed::new("probes-plaintext");
    let link = &bed.link;
    let (server, _) = chain_server(&bed, &[]);
    let sensor = bed.sensor(&[
        "--plaintext",
        "--plaintext-sni",
        "plain.test",
        "--plaintext-max-bytes",
        "16384",
    ]);
    wait_probed_files(&sensor, 3.0, Duration::from_secs(20));
    let request = "GET /plain HTTP/1.0\r\nX-Marker: cipherlens-42\r\nAuthorization: Bearer s3cret-token\r\n\r\n";
    let client = |server_name: &str| -> Vec<u8> {
        let script = format!(
            "import base64, socket, ssl, sys\n\
             ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
             s = ctx.wrap_socket(socket.create_connection(('{}', {})), server_hostname='{server_name}')\n\
             s.sendall({request:?}.encode())\n\
             got = b''\n\
             while True:\n\
             \x20   chunk = s.recv(65536)\n\
             \x20   if not chunk: break\n\
             \x20   got += chunk\n\
             sys.stdout.write(base64.b64encode(got).decode())",
            link.host_v4, server.port
        );
        let output = link
            .command("python3")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .output()
            .expect("python3");
        assert!(output.status.success(), "{output:?}");
        base64::engine::general_purpose::STANDARD
            .decode(output.stdout)
            .expect("base64 from the client")
    };
    let received = client("plain.test");
    assert!(!received.is_empty());
    // Outside every plaintext scope: nothing of it is recorded.
    client("other.test");

    let written_to = sensor.records.clone();
    let (records, _, _) = sensor.stop();
    let session = session(&records, "plain.test");
    let other = self::session(&records, "other.test");
    let everything = read_json_lines(&written_to);
    let plaintext: Vec<&Value> = everything
        .iter()
        .filter(|record| record["schema"] == "cipherlens.plaintext/v1")
        .collect();
    assert!(!plaintext.is_empty(), "no plaintext records");
    let socket = session["cipherlens"]["observation"]["client_socket"]["socket_cookie"].clone();
    let mut written = Vec::new();
    let mut read = Vec::new();
    let mut sequences = Vec::new();
    for record in &plaintext {
        assert_valid_plaintext_record(record);
        let flow = &record["flow"];
        assert_ne!(
            flow["socket_cookie"],
            other["cipherlens"]["observation"]["client_socket"]["socket_cookie"],
            "a session outside the scope was recorded"
        );
        assert_eq!(flow["socket_cookie"], socket, "{record}");
        assert_eq!(flow["community_id"], session["network"]["community_id"]);
        assert_eq!(flow["cnflow_id"], session["cipherlens"]["cnflow_id"]);
        assert_eq!(flow["server_name"], "plain.test");
        assert_eq!(
            record["process"]["pid"],
            session["cipherlens"]["observation"]["client_socket"]["pid"]
        );
        assert_eq!(record["truncated"], false, "{record}");
        sequences.push(flow["sequence"].as_u64().expect("sequence"));
        let data = base64::engine::general_purpose::STANDARD
            .decode(record["data_base64"].as_str().expect("data"))
            .expect("base64");
        if record["redactions"].as_array().is_some_and(Vec::is_empty) {
            assert_eq!(
                record["byte_count"].as_u64(),
                Some(data.len() as u64),
                "{record}"
            );
        }
        match record["direction"].as_str() {
            Some("write") => {
                written.extend_from_slice(&data);
                if !record["redactions"]
                    .as_array()
                    .expect("redactions")
                    .is_empty()
                {
                    assert_eq!(
                        record["redactions"],
                        serde_json::json!([{"pattern": "Authorization", "count": 1}])
                    );
                }
            }
            Some("read") => read.extend_from_slice(&data),
            other => panic!("direction {other:?}"),
        }
    }
    sequences.sort_unstable();
    assert_eq!(sequences, (0..plaintext.len() as u64).collect::<Vec<_>>());
    let redacted = request.replace("Bearer s3cret-token", "[REDACTED]");
    assert_eq!(String::from_utf8_lossy(&written), redacted);
    assert_eq!(read, received);
}

#[test]
fn filters_leave_processes_out_and_without_tls_probes_nothing_is_attached() {
    let bed = TestBed::light("probes-off");
    let link = &bed.link;
    let (server, _) = chain_server(&bed, &[]);
    let count_uprobes = |sensor: &Sensor| {
        held_links(sensor.pid())
            .iter()
            .filter(|link| link.link_type.contains("uprobe"))
            .count()
    };
    // With the probes (the default), the libraries s_server maps carry them.
    let sensor = bed.sensor(&[]);
    wait_probed_files(&sensor, 3.0, Duration::from_secs(20));
    assert!(count_uprobes(&sensor) > 0, "{:?}", held_links(sensor.pid()));
    drop(sensor.stop());

    // Excluded by its process name: probes stay attached (for others),
    // its session gets no chain. A process is filtered once it has been
    // scanned, so both clients wait a moment before their handshake.
    let sensor = bed.sensor(&["--tls-probe-exclude-executable", "python3"]);
    wait_probed_files(&sensor, 3.0, Duration::from_secs(60));
    let output = link
        .command("python3")
        .args(["-c", &late_python(&server, link, "excluded.test")])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(output.status.success(), "{output:?}");
    let boring = boringssl_client(bed.dir());
    let output = link
        .command(boring.to_str().expect("UTF-8 path"))
        .args([&link.host_v4, &server.port.to_string(), "included.test"])
        .env("CLIENT_DELAY_MS", "1500")
        .stdin(Stdio::null())
        .output()
        .expect("BoringSSL client");
    assert!(output.status.success(), "{output:?}");
    let (records, stats, _) = sensor.stop();
    let excluded = session(&records, "excluded.test");
    assert!(
        excluded["cipherlens"]["tls"]["certificate_source"].is_null(),
        "{excluded}"
    );
    assert_eq!(chain(excluded), Vec::<String>::new());
    let included = session(&records, "included.test");
    assert_eq!(
        included["cipherlens"]["tls"]["certificate_source"]["library"], "boringssl",
        "{included}"
    );
    assert!(
        stats["tls_probes"]["coverage"]
            .as_array()
            .is_some_and(|groups| groups
                .iter()
                .any(|group| group["reason"] == "excluded_process")),
        "{stats}"
    );

    let sensor = bed.sensor(&["--no-tls-probes"]);
    link.python_handshake(server.port, "off.test");
    assert_eq!(count_uprobes(&sensor), 0, "{:?}", held_links(sensor.pid()));
    let (records, stats, _) = sensor.stop();
    assert!(stats["tls_probes"].is_null(), "{stats}");
    let record = session(&records, "off.test");
    assert!(record["cipherlens"]["tls"]["certificate_source"].is_null());
    assert_eq!(chain(record), Vec::<String>::new());
}
