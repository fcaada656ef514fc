//! Plaintext, only when asked: for Python (`SSL_read_ex`/`SSL_write_ex`),
//! curl (`SSL_read`/`SSL_write` on libssl.so.3), node (its own OpenSSL,
//! memory BIOs) and a BoringSSL client, the recorded bytes equal what the
//! client sent (redacted) and received (the client's own copy), the flow
//! ids equal the session record's, and a session outside the scopes leaves
//! no plaintext.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use cipherlens_integration::schema::assert_valid_plaintext_record;
use cipherlens_integration::{Link, Server, TestBed, read_json_lines};
use serde_json::Value;

use super::{
    boringssl_client, chain_server, run_boringssl_client, session, wait_node_probed,
    wait_probed_files,
};

/// The secret every client sends, and what the record must carry instead.
const SECRET_HEADER: &str = "Authorization: Bearer s3cret-token";
const REDACTED_HEADER: &str = "Authorization: [REDACTED]";

fn base64(text: &[u8]) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim_ascii())
        .expect("base64")
}

/// A Python client: sends `request`, prints what it received (base64).
fn python(link: &Link, server: &Server, server_name: &str, request: &str) -> Vec<u8> {
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
    base64(&output.stdout)
}

/// A node client: sends `request`, prints what it received (base64).
fn node(link: &Link, server: &Server, server_name: &str, request: &str) -> Vec<u8> {
    let script = format!(
        "const tls = require('tls');\n\
         const chunks = [];\n\
         const s = tls.connect({{ host: '{}', port: {}, servername: '{server_name}', rejectUnauthorized: false }}, () => s.write({request:?}));\n\
         s.on('data', (d) => chunks.push(d));\n\
         s.on('end', () => process.stdout.write(Buffer.concat(chunks).toString('base64')));\n\
         s.on('error', (e) => {{ console.error(e); process.exit(1); }});",
        link.host_v4, server.port
    );
    let output = link
        .command("node")
        .args(["-e", &script])
        .stdin(Stdio::null())
        .output()
        .expect("node");
    assert!(output.status.success(), "{output:?}");
    base64(&output.stdout)
}

/// What the plaintext records of one local socket carry, in sequence
/// order: (bytes written, bytes read), each record checked against the
/// session record of the same flow.
fn flow_bytes(plaintext: &[&Value], session: &Value) -> (Vec<u8>, Vec<u8>) {
    let socket = &session["cipherlens"]["observation"]["client_socket"];
    let mut records: Vec<&Value> = plaintext
        .iter()
        .copied()
        .filter(|record| record["flow"]["socket_cookie"] == socket["socket_cookie"])
        .collect();
    assert!(
        !records.is_empty(),
        "no plaintext for {}",
        session["tls"]["client"]
    );
    records.sort_by_key(|record| record["flow"]["sequence"].as_u64());
    let sequences: Vec<u64> = records
        .iter()
        .filter_map(|record| record["flow"]["sequence"].as_u64())
        .collect();
    assert_eq!(sequences, (0..records.len() as u64).collect::<Vec<_>>());
    let (mut written, mut read) = (Vec::new(), Vec::new());
    for record in records {
        let flow = &record["flow"];
        assert_eq!(
            flow["community_id"], session["network"]["community_id"],
            "{record}"
        );
        assert_eq!(
            flow["cnflow_id"], session["cipherlens"]["cnflow_id"],
            "{record}"
        );
        assert_eq!(flow["server_name"], session["tls"]["client"]["server_name"]);
        assert_eq!(record["process"]["pid"], socket["pid"], "{record}");
        assert_eq!(record["truncated"], false, "{record}");
        let data = base64(record["data_base64"].as_str().expect("data").as_bytes());
        let redactions = record["redactions"].as_array().expect("redactions");
        if redactions.is_empty() {
            assert_eq!(
                record["byte_count"].as_u64(),
                Some(data.len() as u64),
                "{record}"
            );
        } else {
            assert_eq!(
                record["redactions"],
                serde_json::json!([{"pattern": "Authorization", "count": 1}])
            );
        }
        match record["direction"].as_str() {
            Some("write") => written.extend_from_slice(&data),
            Some("read") => read.extend_from_slice(&data),
            other => panic!("direction {other:?}"),
        }
    }
    (written, read)
}

#[test]
fn plaintext_only_when_asked_equals_the_bytes_is_redacted_and_names_the_flow() {
    let bed = TestBed::new("probes-plaintext");
    let link = &bed.link;
    let (server, _) = chain_server(&bed, &[]);
    let mut arguments = vec!["--plaintext", "--plaintext-max-bytes", "16384"];
    for name in ["python.plain", "curl.plain", "node.plain", "boring.plain"] {
        arguments.extend(["--plaintext-sni", name]);
    }
    let sensor = bed.sensor(&arguments);
    wait_probed_files(&sensor, 3.0, Duration::from_secs(60));
    let request =
        format!("GET /plain HTTP/1.0\r\nX-Marker: cipherlens-42\r\n{SECRET_HEADER}\r\n\r\n");
    let mut received: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    let mut sent: BTreeMap<&str, String> = BTreeMap::new();

    received.insert(
        "python.plain",
        python(link, &server, "python.plain", &request),
    );
    sent.insert("python.plain", request.clone());

    // curl keeps the answer's header and body apart: together they are
    // what it read.
    let headers = bed.dir().join("curl.headers");
    let body = bed.dir().join("curl.body");
    link.client(
        "curl",
        &[
            "-sk",
            "--http1.0",
            "--resolve",
            &format!("curl.plain:{}:{}", server.port, link.host_v4),
            "-H",
            "X-Marker: cipherlens-42",
            "-H",
            SECRET_HEADER,
            "-D",
            headers.to_str().expect("UTF-8"),
            "-o",
            body.to_str().expect("UTF-8"),
            &format!("https://curl.plain:{}/plain", server.port),
        ],
    );
    let mut answer = std::fs::read(&headers).expect("headers");
    answer.extend(std::fs::read(&body).expect("body"));
    received.insert("curl.plain", answer);

    // node: its binary is probed once it has been read (slow the first time).
    wait_node_probed(link, &sensor);
    received.insert("node.plain", node(link, &server, "node.plain", &request));
    sent.insert("node.plain", request.clone());

    let boring = boringssl_client(bed.dir());
    let answer = run_boringssl_client(
        &boring,
        link,
        &sensor,
        &server,
        "boring.plain",
        &[("REQUEST_HEADER", SECRET_HEADER)],
    );
    received.insert("boring.plain", answer);
    sent.insert(
        "boring.plain",
        format!("GET / HTTP/1.0\r\n{SECRET_HEADER}\r\n\r\n"),
    );

    // Outside every plaintext scope: nothing of it is recorded.
    python(link, &server, "other.test", &request);

    let written_to = sensor.records.clone();
    let (records, _, _) = sensor.stop();
    let everything = read_json_lines(&written_to);
    let plaintext: Vec<&Value> = everything
        .iter()
        .filter(|record| record["schema"] == "cipherlens.plaintext/v1")
        .collect();
    for record in &plaintext {
        assert_valid_plaintext_record(record);
    }
    let other = session(&records, "other.test");
    for socket in ["client_socket", "server_socket"] {
        let cookie = &other["cipherlens"]["observation"][socket]["socket_cookie"];
        assert!(
            !plaintext
                .iter()
                .any(|record| &record["flow"]["socket_cookie"] == cookie),
            "a session outside the scopes was recorded"
        );
    }
    for (name, answer) in &received {
        let (written, read) = flow_bytes(&plaintext, session(&records, name));
        assert_eq!(&read, answer, "{name}: read");
        let written = String::from_utf8_lossy(&written);
        match sent.get(name) {
            Some(request) => assert_eq!(
                written,
                request.replace(SECRET_HEADER, REDACTED_HEADER),
                "{name}"
            ),
            // curl's own request: the headers the test added, redacted.
            None => {
                assert!(
                    written.starts_with("GET /plain HTTP/1.0\r\n"),
                    "{name}: {written}"
                );
                assert!(
                    written.contains("\r\nX-Marker: cipherlens-42\r\n"),
                    "{name}: {written}"
                );
                assert!(
                    written.contains(&format!("\r\n{REDACTED_HEADER}\r\n")),
                    "{name}: {written}"
                );
            }
        }
        assert!(
            !written.contains("s3cret"),
            "{name}: the secret left the sensor"
        );
    }
}
