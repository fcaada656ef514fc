//! TLS 1.3 chains from the TLS libraries of local clients.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use cipherlens_integration::schema::assert_valid_session_record;
use cipherlens_integration::{TestBed, run};

use super::{
    LIBCRYPTO, LIBSSL, boringssl_client, chain, chain_server, late_python, run_boringssl_client,
    session, wait_node_probed, wait_probed_files,
};

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
    wait_node_probed(link, &sensor);
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
    run_boringssl_client(&boring, link, &sensor, &server, "boring.test", &[]);

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
