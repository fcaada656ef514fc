//! The deployment files stay true to the code: the configuration shipped in
//! the ConfigMap parses with the sensor's own strict parser, and the
//! capabilities the DaemonSet grants are exactly those deploy/README.md
//! explains.

mod common;

use std::collections::BTreeSet;

use cipherlens_control::config::{self, AttachMode, Secret};
use common::repo_root;

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path))
        .unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The literal block under `key: |`, dedented.
fn block(yaml: &str, key: &str) -> String {
    let mut lines = yaml
        .lines()
        .skip_while(|line| line.trim() != format!("{key}: |"));
    let header = lines.next().expect("block header");
    let header_indent = header.len() - header.trim_start().len();
    let body: Vec<&str> = lines
        .take_while(|line| {
            line.trim().is_empty() || line.len() - line.trim_start().len() > header_indent
        })
        .collect();
    let indent = body
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    body.iter()
        .map(|line| line.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_shipped_configuration_parses_strictly() {
    let toml = block(&read("deploy/kubernetes/configmap.yaml"), "cipherlens.toml");
    let parsed = config::parse(&toml).unwrap_or_else(|error| panic!("{error}\n{toml}"));
    // The values the ConfigMap states.
    let capture = &parsed.capture;
    assert_eq!(capture.exclude_interfaces, ["docker0"]);
    assert_eq!(capture.flow_byte_budget, 131_072);
    assert_eq!(capture.attach_mode, AttachMode::Auto);
    assert_eq!(capture.metrics_listen.map(|a| a.port()), Some(9464));
    assert!(capture.cnflow);
    assert_eq!(capture.cnflow_idle_timeout_seconds, 120);
    assert_eq!(
        parsed.nats.password_file,
        Some(Secret::File("/etc/cipherlens/secrets/nats-password".into()))
    );
    assert!(parsed.nats.tls && parsed.nats.jetstream);
    assert_eq!(parsed.nats.buffer, 100_000);
    // The probe and the metrics address agree.
    let daemonset = read("deploy/kubernetes/daemonset.yaml");
    assert!(daemonset.contains("port: 9464") && daemonset.contains("path: /healthz"));
}

#[test]
fn granted_capabilities_are_the_documented_ones() {
    let daemonset = read("deploy/kubernetes/daemonset.yaml");
    let granted: BTreeSet<String> = daemonset
        .lines()
        .skip_while(|line| line.trim() != "add:")
        .skip(1)
        .take_while(|line| line.trim_start().starts_with("- "))
        .map(|line| format!("CAP_{}", line.trim_start().trim_start_matches("- ").trim()))
        .collect();
    let readme = read("deploy/README.md");
    let documented: BTreeSet<String> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `CAP_"))
        .filter_map(|rest| rest.split('`').next())
        .map(|name| format!("CAP_{name}"))
        .collect();
    assert!(!granted.is_empty());
    assert_eq!(granted, documented);
    // The three the sensor checks at start are among them.
    for needed in ["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN"] {
        assert!(granted.contains(needed), "{needed}");
    }
}
