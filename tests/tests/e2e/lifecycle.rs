//! Attachment lifecycle, checked against the kernel's own view (the links
//! and programs the sensor's process holds, bpftool's list of every link,
//! tc's list of netlink filters): attached once, detached on every way out,
//! interfaces followed as they come and go, and a clear refusal without
//! privileges.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use cipherlens_integration::kernel::{
    attachment_count, held_links, ifindex, kernel_link_ids, netlink_filters, tc_hooks,
};
use cipherlens_integration::{
    Link, Sensor, TestBed, require_root, sensor_binary, signal, wait_exit,
};
use serde_json::Value;

/// Ids of the links `pid` holds.
fn link_ids(pid: u32) -> BTreeSet<u64> {
    held_links(pid).iter().map(|link| link.id).collect()
}

/// Which of `ids` the kernel still has.
fn still_in_kernel(ids: &BTreeSet<u64>) -> BTreeSet<u64> {
    kernel_link_ids().intersection(ids).copied().collect()
}

/// The sensor's own count of its attachments equals the kernel's. TLS
/// library probes attach in the background after start, so the two are
/// compared when the kernel's count held still across the scrape.
fn assert_programs_attached_metric_is_real(sensor: &Sensor, interfaces: &[&str]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let before = attachment_count(sensor.pid(), interfaces);
        let metric = sensor.metric("cipherlens_programs_attached");
        let after = attachment_count(sensor.pid(), interfaces);
        assert!(after > 0, "the kernel shows attachments");
        if before == after && metric == Some(after as f64) {
            return;
        }
        if std::time::Instant::now() > deadline {
            assert_eq!(
                metric,
                Some(after as f64),
                "links held: {:?}",
                held_links(sensor.pid())
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn signals_detach_everything_and_a_restart_after_kill_9_works() {
    let bed = TestBed::new("lifecycle");
    let interface = bed.interface();

    // SIGTERM: exits within 2 s and leaves no links.
    let sensor = bed.sensor(&[]);
    assert_eq!(
        tc_hooks(sensor.pid(), interface),
        ["egress", "ingress"],
        "ingress and egress attached once"
    );
    assert_programs_attached_metric_is_real(&sensor, &[interface]);
    let ids = link_ids(sensor.pid());
    let mut child = sensor.into_child();
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(2)).expect("exit within 2 s of SIGTERM");
    assert!(status.success());
    assert_eq!(
        still_in_kernel(&ids),
        BTreeSet::new(),
        "nothing left after SIGTERM"
    );

    // kill -9: the links are the process's, so they go with it; a restart
    // attaches once, not twice.
    let sensor = bed.sensor(&[]);
    let ids = link_ids(sensor.pid());
    let mut child = sensor.into_child();
    signal(&child, "KILL");
    let _ = wait_exit(&mut child, Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        still_in_kernel(&ids),
        BTreeSet::new(),
        "nothing left after kill -9"
    );
    let sensor = bed.sensor(&[]);
    assert_eq!(tc_hooks(sensor.pid(), interface), ["egress", "ingress"]);
    assert_programs_attached_metric_is_real(&sensor, &[interface]);
    let ids = link_ids(sensor.pid());
    let (_, stats, _) = sensor.stop();
    assert_eq!(stats["interfaces_attached"], serde_json::json!([interface]));
    assert_eq!(still_in_kernel(&ids), BTreeSet::new());
}

/// Our netlink filters on `interface`, ingress and egress, as tc(8) sees them.
fn our_netlink_filters(interface: &str) -> usize {
    netlink_filters(interface)
        .iter()
        .filter(|filter| filter.name.starts_with("cipherlens_tc_"))
        .count()
}

/// Kernels before 6.6 have no TCX: the sensor then attaches netlink clsact
/// filters, which outlive a killed process. Forced here with
/// `--attach-mode netlink`, the path is exercised on this kernel too.
#[test]
fn netlink_filters_capture_and_are_cleaned_up_even_after_kill_9() {
    let bed = TestBed::new("netlink-mode");
    let link = &bed.link;
    let netlink = ["--attach-mode", "netlink"];
    let interface = bed.interface();
    assert_eq!(our_netlink_filters(interface), 0);

    // Killed: its filters stay behind...
    let sensor = bed.sensor(&netlink);
    assert_eq!(our_netlink_filters(interface), 2, "ingress and egress");
    let mut child = sensor.into_child();
    signal(&child, "KILL");
    let _ = wait_exit(&mut child, Duration::from_secs(2));
    assert_eq!(
        our_netlink_filters(interface),
        2,
        "netlink filters outlive kill -9"
    );

    // ...and the next start replaces them instead of adding a second pair.
    let sensor = bed.sensor(&netlink);
    assert_eq!(our_netlink_filters(interface), 2, "one pair, not two");
    assert_eq!(
        tc_hooks(sensor.pid(), interface),
        ["egress", "ingress"],
        "the pair runs the new sensor's programs"
    );
    assert_programs_attached_metric_is_real(&sensor, &[interface]);

    // The data path works through netlink filters too.
    let server = bed.s_server(&bed.certificate("netlink.test"), &[]);
    link.s_client(
        &format!("{}:{}", link.host_v4, server.port),
        "via-netlink.test",
        &[],
    );
    drop(server);
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["attach_mode"], "netlink", "stats: {stats}");
    assert_eq!(stats["stale_filters_removed"], 2, "stats: {stats}");
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert!(
        records
            .iter()
            .any(|r| r["tls"]["client"]["server_name"] == "via-netlink.test"),
        "records: {records:?}"
    );
    assert_eq!(
        our_netlink_filters(interface),
        0,
        "nothing left after SIGINT"
    );
}

#[test]
fn a_new_interface_is_attached_within_a_second_and_a_vanished_one_forgotten() {
    let bed = TestBed::new("hotplug");
    let sensor = Sensor::start(bed.dir(), &["clv*"], bed.interface(), &[]);
    let second = Link::new();
    let name = second.host_interface.clone();
    let took = sensor.wait_attached(&name, Duration::from_secs(1));
    assert!(took < Duration::from_secs(1), "{took:?}");
    let index = ifindex(&name);
    let on_second: BTreeSet<u64> = held_links(sensor.pid())
        .iter()
        .filter(|link| link.link_type == "tcx" && link.ifindex == index)
        .map(|link| link.id)
        .collect();
    assert_eq!(on_second.len(), 2, "ingress and egress on {name}");

    // Gone: within 2 s the sensor lets go of its links there, so the
    // kernel has them no more.
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !still_in_kernel(&on_second).is_empty() {
        assert!(
            Instant::now() < deadline,
            "links on {name} kept 2 s after it vanished: {:?}",
            held_links(sensor.pid())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, stats, _) = sensor.stop();
    let attached = stats["interfaces_attached"].as_array().expect("list");
    assert!(!attached.iter().any(|n| n == &Value::from(name.clone())));
}

#[test]
fn without_privileges_it_refuses_and_names_the_capability() {
    require_root();
    let output = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(sensor_binary())
        .arg("live")
        .output()
        .expect("setpriv");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CAP_BPF") && stderr.contains("CAP_NET_ADMIN"),
        "{stderr}"
    );
}
