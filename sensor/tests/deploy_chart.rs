//! The Helm chart, checked offline with the tools a cluster's gatekeepers
//! use, and held to what deploy/README.md promises:
//!
//! - `helm lint --strict` with the default values and every values file
//!   under `deploy/helm/cipherlens/ci/`;
//! - each render validated by `kubernetes-validate --strict` against the
//!   oldest and newest Kubernetes versions the chart covers, and scanned by
//!   checkov (every skipped check carries its reason in an annotation);
//! - the DaemonSet grants exactly the capabilities, host namespaces and host
//!   mounts the README's tables list, never `privileged` or CAP_SYS_ADMIN;
//! - the ConfigMap's configuration parses with the sensor's strict parser
//!   (and the policy with the policy engine's), naming only files the pod
//!   mounts;
//! - the plain manifests are a fresh render of the chart.
//!
//! The tools are installed by scripts/setup.sh under /opt/cipherlens-tools
//! (`CIPHERLENS_TOOLS` overrides).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use cipherlens_control::config::{self, Secret};
use cipherlens_integration::deploy::{helm, readme_rows, tool};
use cipherlens_policy::Policy;
use common::repo_root;
use serde::Deserialize as _;
use serde_norway::Value;

/// Oldest and newest Kubernetes versions the chart is validated against
/// (the chart's kubeVersion is >= 1.25; kubernetes-validate 1.37 bundles
/// schemas up to 1.37).
const KUBERNETES_VERSIONS: [&str; 2] = ["1.25.0", "1.37.0"];

fn chart() -> PathBuf {
    repo_root().join("deploy/helm/cipherlens")
}

/// `None` for the default values, else a file under the chart's `ci/`.
fn values_files() -> Vec<Option<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(chart().join("ci"))
        .expect("the chart's ci/ directory")
        .map(|entry| entry.expect("a ci/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "values files under ci/: {files:?}");
    std::iter::once(None)
        .chain(files.into_iter().map(Some))
        .collect()
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("the tool runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn render(scratch: &Path, values: Option<&Path>) -> String {
    let mut command = helm(scratch);
    command
        .args(["template", "cipherlens"])
        .arg(chart())
        .args(["--namespace", "cipherlens"]);
    if let Some(values) = values {
        command.arg("-f").arg(values);
    }
    run(&mut command)
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|document| Value::deserialize(document).expect("rendered YAML parses"))
        .filter(|value| !value.is_null())
        .collect()
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|document| document["kind"].as_str() == Some(kind))
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_chart_lints_validates_and_passes_checkov_with_every_values_file() {
    let scratch = tempfile::tempdir().expect("scratch");
    // Not a dot-name: checkov passes over hidden directories.
    let renders = tempfile::Builder::new()
        .prefix("cipherlens-renders")
        .tempdir()
        .expect("renders");
    for (index, values) in values_files().into_iter().enumerate() {
        let mut lint = helm(scratch.path());
        lint.args(["lint", "--strict"]).arg(chart());
        if let Some(values) = &values {
            lint.arg("-f").arg(values);
        }
        run(&mut lint);
        let rendered = render(scratch.path(), values.as_deref());
        let file = renders.path().join(format!("render-{index}.yaml"));
        std::fs::write(&file, &rendered).expect("write the render");
        for version in KUBERNETES_VERSIONS {
            let output = run(Command::new(tool("kubernetes-validate"))
                .args(["--strict", "--quiet", "-k", version])
                .arg(&file));
            assert!(
                !output.contains("ERROR"),
                "{values:?} on {version}: {output}"
            );
        }
    }
    // One scan over every render; a failed check fails the run.
    let output = run(Command::new(tool("checkov"))
        .args(["--skip-download", "--compact", "--framework"])
        .arg("kubernetes")
        .arg("-d")
        .arg(renders.path()));
    assert!(
        output.contains("Failed checks: 0") && !output.contains("Passed checks: 0,"),
        "{output}"
    );
}

/// The same render with an invalid value is refused with a message that
/// says which (the template's `required` and `fail` calls).
#[test]
fn the_chart_refuses_incomplete_nats_credentials() {
    let scratch = tempfile::tempdir().expect("scratch");
    for (args, message) in [
        (
            vec!["--set", "nats.auth.method=password"],
            "nats.auth.existingSecret is required",
        ),
        (
            vec![
                "--set",
                "nats.auth.method=kerberos",
                "--set",
                "nats.auth.existingSecret=x",
            ],
            "use none, password, token, nkey or creds",
        ),
        (
            vec!["--set", "metrics.serviceMonitor.enabled=true"],
            "needs metrics.listenAddress reachable",
        ),
    ] {
        let output = helm(scratch.path())
            .args(["template", "cipherlens"])
            .arg(chart())
            .args(args)
            .output()
            .expect("helm runs");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[test]
fn the_daemonset_grants_what_the_readme_explains_and_nothing_else() {
    let scratch = tempfile::tempdir().expect("scratch");
    let capabilities = readme_rows("CAP_");
    let required: BTreeSet<String> = capabilities
        .iter()
        .filter(|(_, cells)| {
            cells
                .get(1)
                .is_some_and(|c| c.starts_with("refuses to start"))
        })
        .map(|(name, _)| name.clone())
        .collect();
    let all: BTreeSet<String> = capabilities.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(
        required,
        ["CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"]
            .map(String::from)
            .into()
    );
    let host_grants: BTreeSet<String> = readme_rows("host")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mounts: BTreeSet<String> = readme_rows("/").into_iter().map(|(name, _)| name).collect();
    for values in values_files() {
        let rendered = documents(&render(scratch.path(), values.as_deref()));
        let daemonsets = of_kind(&rendered, "DaemonSet");
        assert_eq!(daemonsets.len(), 1, "{values:?}");
        let pod = &daemonsets[0]["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let security = &container["securityContext"];
        let granted: BTreeSet<String> = strings(&security["capabilities"]["add"])
            .into_iter()
            .map(|name| format!("CAP_{name}"))
            .collect();
        let attribution = !values.as_ref().is_some_and(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .contains("attributionCapabilities: false")
        });
        assert_eq!(
            granted,
            if attribution {
                all.clone()
            } else {
                required.clone()
            },
            "{values:?}"
        );
        assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
        assert_eq!(security["privileged"].as_bool(), Some(false));
        assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
        assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
        assert!(!granted.contains("CAP_SYS_ADMIN"));
        // Host namespaces: those the table justifies, and no others.
        let mut used = BTreeSet::new();
        for field in ["hostNetwork", "hostPID", "hostIPC"] {
            if pod[field].as_bool() == Some(true) {
                used.insert(format!("{field}: true"));
            }
        }
        assert_eq!(used, host_grants, "{values:?}");
        assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
        // Host paths: exactly the mounts the table lists, read-only.
        let volumes = pod["volumes"].as_sequence().expect("volumes");
        let host_paths: BTreeSet<String> = volumes
            .iter()
            .filter_map(|volume| volume["hostPath"]["path"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(host_paths, mounts, "{values:?}");
        for mount in container["volumeMounts"].as_sequence().expect("mounts") {
            assert_eq!(mount["readOnly"].as_bool(), Some(true), "{mount:?}");
        }
        // Probes reach /healthz on the metrics port.
        for probe in ["livenessProbe", "readinessProbe"] {
            assert_eq!(
                container[probe]["httpGet"]["path"].as_str(),
                Some("/healthz")
            );
            assert_eq!(
                container[probe]["httpGet"]["port"].as_u64(),
                container["ports"][0]["containerPort"].as_u64()
            );
        }
        check_configuration(&rendered, container, values.as_deref());
    }
}

/// The ConfigMap's files parse strictly, and every file the configuration
/// names is one the container mounts.
fn check_configuration(rendered: &[Value], container: &Value, values: Option<&Path>) {
    let configmap = of_kind(rendered, "ConfigMap")
        .into_iter()
        .find(|map| map["data"]["cipherlens.toml"].is_string())
        .expect("the sensor's ConfigMap");
    let text = configmap["data"]["cipherlens.toml"].as_str().unwrap();
    let parsed = config::parse(text).unwrap_or_else(|error| panic!("{values:?}: {error}\n{text}"));
    let mount_dirs: Vec<String> = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|mount| mount["mountPath"].as_str().unwrap().to_owned())
        .collect();
    let mounted = |file: &Path| {
        assert!(
            mount_dirs.iter().any(|dir| file.starts_with(dir)),
            "{} is in no mount ({mount_dirs:?})",
            file.display()
        );
    };
    let nats = &parsed.nats;
    for secret in [&nats.password_file, &nats.token_file]
        .into_iter()
        .flatten()
    {
        let Secret::File(path) = secret else {
            panic!("a secret in the ConfigMap itself: {values:?}");
        };
        mounted(path);
    }
    for path in [
        &nats.nkey_seed_file,
        &nats.creds,
        &nats.ca,
        &nats.cert,
        &nats.key,
    ]
    .into_iter()
    .flatten()
    {
        mounted(path);
    }
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert_eq!(
        parsed
            .capture
            .metrics_listen
            .map(|address| u64::from(address.port())),
        Some(port)
    );
    match &parsed.policy.policy_file {
        Some(path) => {
            mounted(path);
            let rules = configmap["data"]["policy.toml"]
                .as_str()
                .expect("policy.toml");
            Policy::from_toml(rules, "policy.toml").expect("the chart's policy compiles");
        }
        None => assert!(configmap["data"]["policy.toml"].is_null()),
    }
}

#[test]
fn the_plain_manifests_are_a_fresh_render_of_the_chart() {
    let scratch = tempfile::tempdir().expect("scratch");
    let committed = std::fs::read_to_string(repo_root().join("deploy/kubernetes/cipherlens.yaml"))
        .expect("deploy/kubernetes/cipherlens.yaml");
    let fresh = render(scratch.path(), None);
    assert!(
        committed.ends_with(&fresh),
        "deploy/kubernetes/cipherlens.yaml is stale: run scripts/render-manifests.sh"
    );
    let documents = documents(&committed);
    assert_eq!(of_kind(&documents, "Namespace").len(), 1);
    assert_eq!(of_kind(&documents, "DaemonSet").len(), 1);
}
