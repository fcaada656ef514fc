//! Who is behind a session: process, container and pod attribution from
//! real cgroups and a kubelet-style log directory.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use cipherlens_integration::{Cgroup, TestBed, require_root, run};

/// Process, container and pod attribution from real cgroups named the way
/// the runtimes name them: clients in a containerd/Kubernetes cgroup (v2,
/// systemd driver), a CRI-O/Kubernetes cgroup (v1, cgroupfs driver) and a
/// podman cgroup (v2), the server in a docker cgroup (v1); pod names from a
/// kubelet-style log directory.
#[test]
fn sessions_are_attributed_to_process_container_and_pod() {
    require_root();
    for hierarchy in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids"] {
        assert!(
            Path::new(hierarchy).join("cgroup.procs").exists(),
            "this test needs the hybrid cgroup layout of the CI machine: {hierarchy}"
        );
    }
    let bed = TestBed::new("attribution");
    let link = &bed.link;
    let unique = format!("{:08x}", std::process::id());
    let client_id = format!("{unique}{}", "c".repeat(56));
    let server_id = format!("{unique}{}", "d".repeat(56));
    let pod_uid = format!("{unique}-1b2d-4c8e-9f00-123456789abc");
    let client_cgroup = Cgroup::create(
        "/sys/fs/cgroup/unified",
        &format!(
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{client_id}.scope",
            pod_uid.replace('-', "_")
        ),
    );
    let server_cgroup = Cgroup::create("/sys/fs/cgroup/pids", &format!("docker/{server_id}"));
    // The kubelet's layout: /var/log/pods/<ns>_<pod>_<uid>/<container>/,
    // /var/log/containers/<pod>_<ns>_<container>-<id>.log.
    let pods = bed.dir().join("pods");
    let containers = bed.dir().join("containers");
    std::fs::create_dir_all(pods.join(format!("shop_checkout-7d4b9c-xk2lp_{pod_uid}/payments")))
        .expect("pod dir");
    std::fs::create_dir_all(pods.join(format!("shop_checkout-7d4b9c-xk2lp_{pod_uid}/istio-proxy")))
        .expect("pod dir");
    std::fs::create_dir_all(&containers).expect("containers dir");
    std::os::unix::fs::symlink(
        pods.join(format!(
            "shop_checkout-7d4b9c-xk2lp_{pod_uid}/payments/0.log"
        )),
        containers.join(format!(
            "checkout-7d4b9c-xk2lp_shop_payments-{client_id}.log"
        )),
    )
    .expect("log link");

    let server = bed.s_server(&bed.certificate("attributed.test"), &[]);
    let port = server.port;
    server_cgroup.add(server.pid());
    let pods_arg = pods.display().to_string();
    let containers_arg = containers.display().to_string();
    let sensor = bed.sensor(&[
        "--pods-log-dir",
        &pods_arg,
        "--containers-log-dir",
        &containers_arg,
    ]);
    // The interpreter's own word for where it is (`python3` may be a
    // wrapper script, e.g. pyenv's shim), run by that path.
    let python = run(
        "python3",
        &[
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ],
    );
    // A client that waits on stdin until it is in its cgroup, then makes
    // its handshake and stays until stdin closes; its pid. It stays a
    // second, as a client that uses its connection does: the sensor reads
    // a process's facts when its first packets are read, and a client that
    // exits within milliseconds of its handshake can be gone by then on a
    // loaded machine (a limitation measured on its own, not asserted here).
    let run_client_in = |cgroup: &Cgroup, server_name: &str| -> u32 {
        let mut client = link
            .command(python.trim())
            .args([
                "-c",
                &format!(
                    "import socket, ssl, sys\n\
                     sys.stdin.readline()\n\
                     ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                     s = socket.create_connection(('{}', {port}))\n\
                     t = ctx.wrap_socket(s, server_hostname='{server_name}')\n\
                     t.close()\n\
                     sys.stdin.readline()",
                    link.host_v4
                ),
                "--marker-argument",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .expect("python client");
        cgroup.add(client.id());
        {
            use std::io::Write;
            let mut stdin = client.stdin.take().expect("stdin");
            stdin.write_all(b"go\n").expect("go");
            std::thread::sleep(Duration::from_secs(1));
        }
        let pid = client.id();
        assert!(client.wait().expect("client").success());
        pid
    };
    // CRI-O with the kubelet's cgroupfs driver, on a v1 hierarchy; its pod
    // has one container, so the log directory names it without links.
    let crio_id = format!("{unique}{}", "e".repeat(56));
    let crio_pod = format!("{unique}-2222-4c8e-9f00-123456789abc");
    let crio_cgroup = Cgroup::create(
        "/sys/fs/cgroup/pids",
        &format!("kubepods/besteffort/pod{crio_pod}/crio-{crio_id}"),
    );
    std::fs::create_dir_all(pods.join(format!("batch_worker-0_{crio_pod}/worker")))
        .expect("pod dir");
    // podman with the systemd driver, on the unified hierarchy.
    let podman_id = format!("{unique}{}", "f".repeat(56));
    let podman_cgroup = Cgroup::create(
        "/sys/fs/cgroup/unified",
        &format!("machine.slice/libpod-{podman_id}.scope"),
    );

    let client_pid = run_client_in(&client_cgroup, "attributed.test");
    run_client_in(&crio_cgroup, "crio.attributed.test");
    run_client_in(&podman_cgroup, "podman.attributed.test");
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert_eq!(records.len(), 3, "{records:#?}\nstats: {stats}");
    let by_name = |name: &str| {
        records
            .iter()
            .find(|r| r["tls"]["client"]["server_name"] == name)
            .unwrap_or_else(|| panic!("no record for {name}"))
    };
    let crio = &by_name("crio.attributed.test")["client"];
    assert_eq!(
        crio["container"],
        serde_json::json!({"id": crio_id, "runtime": "crio"})
    );
    assert_eq!(
        crio["k8s"],
        serde_json::json!({
            "pod": {"uid": crio_pod, "name": "worker-0"},
            "namespace": {"name": "batch"},
            "container": {"name": "worker"},
        })
    );
    let podman = &by_name("podman.attributed.test")["client"];
    assert_eq!(
        podman["container"],
        serde_json::json!({"id": podman_id, "runtime": "podman"})
    );
    assert!(podman.get("k8s").is_none(), "{podman}");
    let record = by_name("attributed.test");

    let process = &record["client"]["process"];
    assert_eq!(process["pid"], client_pid, "{record}");
    let python = Path::new(python.trim());
    assert_eq!(
        process["executable"]["path"],
        python.to_str().expect("path")
    );
    assert!(
        process["command_line"]
            .as_str()
            .is_some_and(|line| line.ends_with("--marker-argument")),
        "{process}"
    );
    assert_eq!(
        process["user"],
        serde_json::json!({"id": 0, "name": "root"})
    );
    assert_eq!(
        record["client"]["container"],
        serde_json::json!({"id": client_id, "runtime": "containerd"})
    );
    assert_eq!(
        record["client"]["k8s"],
        serde_json::json!({
            "pod": {"uid": pod_uid, "name": "checkout-7d4b9c-xk2lp"},
            "namespace": {"name": "shop"},
            "container": {"name": "payments"},
        })
    );
    assert_eq!(record["server"]["process"]["pid"], server.pid());
    assert_eq!(
        record["server"]["container"],
        serde_json::json!({"id": server_id, "runtime": "docker"})
    );
    assert!(record["server"].get("k8s").is_none(), "{record}");
    let node = run("uname", &["-n"]);
    assert_eq!(record["host"]["name"], node.trim());
}
