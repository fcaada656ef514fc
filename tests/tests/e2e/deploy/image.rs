//! The image, built as scripts/build-image.sh builds it and run by podman as
//! deploy/README.md says: read-only, host network and pids, the documented
//! capabilities only, no new privileges, the shipped seccomp profile and the
//! documented mounts. It records a real TLS handshake made on the host;
//! without any one required capability it refuses to start with the
//! documented message; two builds of one binary give one digest.

use std::process::Stdio;
use std::time::{Duration, Instant};

use cipherlens_integration::deploy::readme_rows;
use cipherlens_integration::schema::assert_valid_session_record;
use cipherlens_integration::{TestBed, capabilities, free_port, repo_root, status_field};
use serde_json::Value;

use super::Podman;

const IMAGE: &str = "localhost/cipherlens-e2e";

/// Builds the image under `tag`; its id and manifest digest.
fn build(podman: &Podman, tag: &str) -> (String, String) {
    let output = std::process::Command::new(repo_root().join("scripts/build-image.sh"))
        .arg(tag)
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/build-image.sh runs");
    assert!(output.status.success(), "the image builds");
    let inspect = podman.output(&["image", "inspect", "--format", "{{.Id}} {{.Digest}}", tag]);
    assert!(inspect.status.success(), "{tag} is in local storage");
    let text = String::from_utf8_lossy(&inspect.stdout);
    let mut fields = text.split_whitespace().map(str::to_owned);
    (
        fields.next().expect("an image id"),
        fields.next().expect("a digest"),
    )
}

/// What a run is granted: the documented grants, or all but one of them.
#[derive(Clone, Copy)]
struct Grants<'a> {
    /// A capability of the README's table left out (without `CAP_`).
    without: Option<&'a str>,
    host_network: bool,
    host_pid: bool,
}

const DOCUMENTED: Grants<'static> = Grants {
    without: None,
    host_network: true,
    host_pid: true,
};

/// `podman run` with `grants`: the capabilities of the README's table,
/// the host namespaces, the mounts, the seccomp profile. A mounted path
/// this host lacks (the kubelet's log directories on a host that is no
/// Kubernetes node) is an empty directory of `scratch`.
fn run_args(grants: Grants, name: &str, scratch: &std::path::Path) -> Vec<String> {
    let capabilities: Vec<String> = readme_rows("CAP_")
        .into_iter()
        .map(|(name, _)| name.trim_start_matches("CAP_").to_owned())
        .filter(|name| Some(name.as_str()) != grants.without)
        .collect();
    let seccomp = repo_root().join("deploy/seccomp/cipherlens.json");
    let mut args: Vec<String> = [
        "run",
        "--name",
        name,
        "--pull=never",
        "--network",
        if grants.host_network { "host" } else { "none" },
        "--pid",
        if grants.host_pid { "host" } else { "private" },
        "--read-only",
        "--cap-drop=ALL",
        "--security-opt",
        "no-new-privileges",
    ]
    .map(String::from)
    .into();
    args.push(format!("--cap-add={}", capabilities.join(",")));
    args.push(format!("--security-opt=seccomp={}", seccomp.display()));
    for (path, _) in readme_rows("/") {
        let source = if std::path::Path::new(&path).exists() {
            std::path::PathBuf::from(&path)
        } else {
            let empty = scratch.join(path.trim_start_matches('/').replace('/', "-"));
            std::fs::create_dir_all(&empty).expect("an empty directory");
            empty
        };
        args.push(format!("--volume={}:{path}:ro", source.display()));
    }
    args
}

/// A container removed (with its logs) on drop.
struct Container<'a> {
    podman: &'a Podman,
    name: String,
}

impl Container<'_> {
    fn logs(&self) -> (String, String) {
        let output = self.podman.output(&["logs", &self.name]);
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn main_pid(&self) -> u32 {
        let output = self
            .podman
            .output(&["inspect", "--format", "{{.State.Pid}}", &self.name]);
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("the container's pid")
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self.podman.output(&["rm", "-f", "-t", "2", &self.name]);
    }
}

/// Capability numbers (linux/capability.h) of the README's names.
fn capability_bit(name: &str) -> u32 {
    match name {
        "CAP_DAC_READ_SEARCH" => 2,
        "CAP_NET_ADMIN" => 12,
        "CAP_SYS_PTRACE" => 19,
        "CAP_PERFMON" => 38,
        "CAP_BPF" => 39,
        other => panic!("{other}: add its number here"),
    }
}

/// A detached container with `grants` running `live` with `args`.
fn start<'a>(
    podman: &'a Podman,
    grants: Grants,
    name: &str,
    bed: &TestBed,
    image: &str,
    args: &[&str],
) -> Container<'a> {
    let container = Container {
        podman,
        name: name.to_owned(),
    };
    let mut command = run_args(grants, name, bed.dir());
    command.push("--detach".into());
    command.push(image.to_owned());
    command.push("live".into());
    command.extend(args.iter().map(|arg| arg.to_string()));
    let started = podman
        .command()
        .args(&command)
        .output()
        .expect("podman run");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    container
}

/// Waits until the container's sensor answers `/healthz` on `metrics`
/// with 200: its programs are loaded and attached.
fn wait_healthy(container: &Container, metrics: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while cipherlens_integration::sensor::http_get(metrics, "/healthz").map(|(code, _)| code)
        != Some(200)
    {
        assert!(
            Instant::now() < deadline,
            "the container's sensor is not healthy: {:?}",
            container.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The container's session record for `server_name`, within `limit`.
fn wait_session(container: &Container, server_name: &str, limit: Duration) -> Option<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let (stdout, _) = container.logs();
        let found = stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|record| record["tls"]["client"]["server_name"] == server_name);
        if found.is_some() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_image_is_reproducible_and_records_a_handshake_with_only_the_documented_grants() {
    let bed = TestBed::new("image");
    let podman = Podman::new(bed.dir());
    let first_tag = format!("{IMAGE}:first");
    let second_tag = format!("{IMAGE}:second");
    let _ = podman.output(&["rmi", "-f", &first_tag, &second_tag]);

    // Two builds, the first image removed before the second: one digest.
    let first = build(&podman, &first_tag);
    let removed = podman.output(&["rmi", "-f", &first_tag]);
    assert!(removed.status.success());
    let second = build(&podman, &second_tag);
    assert_eq!(first, second, "two builds of one binary, one image");

    // Run with the documented grants; a handshake made on the host.
    let server_name = "image.cipherlens.test";
    let certificate = bed.certificate(server_name);
    let server = bed.s_server(&certificate, &[]);
    let metrics = format!("127.0.0.1:{}", free_port());
    let container = start(
        &podman,
        DOCUMENTED,
        &format!("cipherlens-e2e-{}", std::process::id()),
        &bed,
        &second_tag,
        &[
            "-i",
            bed.interface(),
            "--metrics-listen",
            &metrics,
            "--stats-interval",
            "0",
        ],
    );
    wait_healthy(&container, &metrics);
    // The process holds exactly the documented capabilities, cannot gain
    // more, and runs under the seccomp filter.
    let pid = container.main_pid();
    let expected: u64 = readme_rows("CAP_")
        .iter()
        .map(|(name, _)| 1u64 << capability_bit(name))
        .sum();
    let effective = capabilities(pid, "CapEff").expect("CapEff");
    assert_eq!(effective, expected, "CapEff {effective:x}");
    let bounding = capabilities(pid, "CapBnd").expect("CapBnd");
    assert_eq!(bounding, expected, "CapBnd {bounding:x}");
    assert_eq!(status_field(pid, "NoNewPrivs").as_deref(), Some("1"));
    assert_eq!(
        status_field(pid, "Seccomp").as_deref(),
        Some("2"),
        "a seccomp filter"
    );

    bed.link.s_client(
        &format!("{}:{}", bed.link.host_v4, server.port),
        server_name,
        &[],
    );
    let record =
        wait_session(&container, server_name, Duration::from_secs(20)).unwrap_or_else(|| {
            panic!(
                "no session record from the container: {:?}",
                container.logs()
            )
        });
    assert_valid_session_record(&record);
    // With the host's pids, the server is attributed to its process, by
    // name too (read from the host's /proc).
    assert_eq!(record["server"]["process"]["pid"], server.pid(), "{record}");
    assert_eq!(
        record["server"]["process"]["executable"]["name"], "openssl",
        "{record}"
    );
    let stopped = podman.output(&["stop", "-t", "10", &container.name]);
    assert!(stopped.status.success());
    let exit = podman.output(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}",
        &container.name,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&exit.stdout).trim(),
        "0",
        "a clean exit"
    );

    // Without the host's pids: the session is recorded, and the kernel's
    // pid with it, but nothing /proc would tell of the process.
    let metrics = format!("127.0.0.1:{}", free_port());
    let private_pids = start(
        &podman,
        Grants {
            host_pid: false,
            ..DOCUMENTED
        },
        &format!("{}-private-pids", container.name),
        &bed,
        &second_tag,
        &["-i", bed.interface(), "--metrics-listen", &metrics],
    );
    // Attached before the handshake: a fixed wait lost the race on a
    // slow machine, where loading the programs took longer.
    wait_healthy(&private_pids, &metrics);
    bed.link.s_client(
        &format!("{}:{}", bed.link.host_v4, server.port),
        server_name,
        &[],
    );
    let record = wait_session(&private_pids, server_name, Duration::from_secs(15))
        .expect("a session record with private pids");
    assert_eq!(record["server"]["process"]["pid"], server.pid(), "{record}");
    assert!(
        record["server"]["process"]["executable"].is_null(),
        "{record}"
    );
    drop(private_pids);
    // Without the host's network: only the container's own interfaces.
    let own_network = start(
        &podman,
        Grants {
            host_network: false,
            ..DOCUMENTED
        },
        &format!("{}-own-network", container.name),
        &bed,
        &second_tag,
        &[],
    );
    std::thread::sleep(Duration::from_secs(3));
    bed.link.s_client(
        &format!("{}:{}", bed.link.host_v4, server.port),
        server_name,
        &[],
    );
    assert_eq!(
        wait_session(&own_network, server_name, Duration::from_secs(3)),
        None
    );
    let stopped = podman.output(&["stop", "-t", "10", &own_network.name]);
    assert!(stopped.status.success());
    let (_, stderr) = own_network.logs();
    let stats: Value = stderr
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["schema"] == "cipherlens.stats/v1")
        .unwrap_or_else(|| panic!("a stats record at exit: {stderr}"));
    assert_eq!(
        stats["interfaces_attached"],
        serde_json::json!(["lo"]),
        "{stats}"
    );
    drop(own_network);

    // Without any one required capability: refused, with the documented message.
    let mut refusals = 0;
    for (name, cells) in readme_rows("CAP_") {
        let Some(message) = cells
            .get(1)
            .and_then(|cell| cell.strip_prefix("refuses to start: \""))
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        let capability = name.trim_start_matches("CAP_");
        let refused = Container {
            podman: &podman,
            name: format!("cipherlens-e2e-{}-no-{capability}", std::process::id()),
        };
        let mut args = run_args(
            Grants {
                without: Some(capability),
                ..DOCUMENTED
            },
            &refused.name,
            bed.dir(),
        );
        args.push(second_tag.clone());
        args.extend(["live", "-i", bed.interface()].map(String::from));
        let output = podman.command().args(&args).output().expect("podman run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "started without {name}");
        assert!(stderr.contains(message), "without {name}: {stderr}");
        refusals += 1;
    }
    assert_eq!(
        refusals, 3,
        "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN are required"
    );
    let _ = podman.output(&["rmi", "-f", &second_tag]);
}
