//! The CBOM of real sessions validates against the official CycloneDX 1.6
//! JSON Schema (vendored in `schema/cyclonedx`, see its README), a broken
//! one does not, and it names every asset the sessions used: each value
//! expected here is read from the records themselves.

mod common;

use std::collections::{BTreeSet, HashMap};

use cipherlens_integration::cbom::{
    assert_cbom_names_sessions, assert_valid_cyclonedx, components, cyclonedx_errors,
    property_values,
};
use cipherlens_inventory::export::cyclonedx::{self, Options};
use cipherlens_inventory::{Inventory, Snapshot};
use common::{ALL, ingest_file, values};
use serde_json::{Value, json};

fn options() -> Options {
    Options {
        timestamp: "2026-11-29T12:00:00Z".into(),
        serial_number: Some("urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79".into()),
        tool_version: "0.1.0".into(),
        pretty: false,
    }
}

fn inventory_of_all(dir: &std::path::Path) -> Inventory {
    let mut inventory = Inventory::open(dir.join("inventory.db")).unwrap();
    for name in ALL {
        ingest_file(&mut inventory, name, "replay-node", None);
    }
    inventory
}

fn export(snapshot: &Snapshot) -> Value {
    let mut out = Vec::new();
    cyclonedx::write(snapshot, &options(), &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn the_cbom_of_real_sessions_validates_and_a_broken_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = inventory_of_all(dir.path()).snapshot().unwrap();
    let bom = export(&snapshot);
    assert_valid_cyclonedx(&bom);

    // A 1.7 field inside cryptoProperties.
    let mut broken = bom.clone();
    let protocol = broken["components"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["cryptoProperties"]["assetType"] == "protocol")
        .unwrap();
    protocol["cryptoProperties"]["protocolProperties"]["tlsGroups"] = json!(["x25519"]);
    assert!(
        cyclonedx_errors(&broken).is_some(),
        "tlsGroups passed as 1.6"
    );

    // A quantum level outside 0..6, and a component without its type.
    let mut broken = bom.clone();
    let algorithm = broken["components"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["cryptoProperties"]["assetType"] == "algorithm")
        .unwrap();
    algorithm["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"] = json!(7);
    assert!(cyclonedx_errors(&broken).is_some());
    let mut broken = bom.clone();
    broken["components"][0]
        .as_object_mut()
        .unwrap()
        .remove("type");
    assert!(cyclonedx_errors(&broken).is_some());
}

#[test]
fn the_cbom_names_every_asset_the_sessions_used() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = inventory_of_all(dir.path()).snapshot().unwrap();
    let bom = export(&snapshot);
    let records: Vec<Value> = ALL.iter().flat_map(|name| values(name)).collect();
    let checked = assert_cbom_names_sessions(&bom, &records);
    assert!(
        checked > 50,
        "only {checked} sessions had a version and suite"
    );
}

#[test]
fn the_hybrid_group_is_a_level_3_kem_built_on_ml_kem_768_and_x25519() {
    let dir = tempfile::tempdir().unwrap();
    let mut inventory = Inventory::open(dir.path().join("i.db")).unwrap();
    ingest_file(&mut inventory, "live-node-a.jsonl", "n", None);
    let bom = export(&inventory.snapshot().unwrap());
    let algorithms = components(&bom, "algorithm");
    let by_name: HashMap<&str, &Value> = algorithms
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), *c))
        .collect();
    let hybrid = by_name["X25519MLKEM768"];
    let properties = &hybrid["cryptoProperties"]["algorithmProperties"];
    assert_eq!(properties["primitive"], "kem");
    assert_eq!(properties["nistQuantumSecurityLevel"], 3);
    let hybrid_ref = hybrid["bom-ref"].as_str().unwrap();
    let depends: BTreeSet<&str> = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == hybrid_ref)
        .unwrap()["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = ["ML-KEM-768", "x25519"]
        .iter()
        .map(|name| by_name[name]["bom-ref"].as_str().unwrap())
        .collect();
    assert_eq!(depends, expected);
    assert_eq!(
        by_name["ML-KEM-768"]["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"],
        3
    );
    // Every algorithm states its quantum level, 0 for classical ones.
    for algorithm in &algorithms {
        let level =
            &algorithm["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"];
        assert!(level.is_u64(), "{} has no quantum level", algorithm["name"]);
    }
    assert_eq!(
        by_name["x25519"]["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"],
        0
    );
}

#[test]
fn references_resolve_and_workloads_depend_on_what_they_used() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = inventory_of_all(dir.path()).snapshot().unwrap();
    let bom = export(&snapshot);
    let components = bom["components"].as_array().unwrap();
    let mut refs = BTreeSet::new();
    for component in components {
        assert!(
            refs.insert(component["bom-ref"].as_str().unwrap()),
            "duplicate {}",
            component["bom-ref"]
        );
        for property in component["properties"].as_array().into_iter().flatten() {
            assert!(
                property["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("cipherlens:")
            );
        }
    }
    let resolves = |r: &Value| assert!(refs.contains(r.as_str().unwrap()), "dangling {r}");
    for dependency in bom["dependencies"].as_array().unwrap() {
        resolves(&dependency["ref"]);
        dependency["dependsOn"]
            .as_array()
            .into_iter()
            .flatten()
            .for_each(resolves);
    }
    for component in components {
        let crypto = &component["cryptoProperties"];
        crypto["protocolProperties"]["cipherSuites"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|suite| suite["algorithms"].as_array().unwrap())
            .for_each(resolves);
        for reference in [
            &crypto["certificateProperties"]["signatureAlgorithmRef"],
            &crypto["certificateProperties"]["subjectPublicKeyRef"],
            &crypto["relatedCryptoMaterialProperties"]["algorithmRef"],
        ] {
            if !reference.is_null() {
                resolves(reference);
            }
        }
    }
    // curl on node-a used TLS 1.3 and TLS 1.2: its component depends on both.
    let curl = components
        .iter()
        .find(|c| {
            c["type"] == "application"
                && property_values(c, "cipherlens:process.executable.path") == ["/usr/bin/curl"]
        })
        .expect("curl's workload");
    let depends: Vec<&str> = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == curl["bom-ref"])
        .unwrap()["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for protocol in [
        "crypto/protocol/tls-1.3-tcp@",
        "crypto/protocol/tls-1.2-tcp@",
    ] {
        assert!(
            depends.iter().any(|r| r.starts_with(protocol)),
            "{protocol} not in {depends:?}"
        );
    }
    // Occurrences name the node, the workload and the endpoint.
    let locations: Vec<&str> = components
        .iter()
        .flat_map(|c| {
            c["evidence"]["occurrences"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .map(|o| o["location"].as_str().unwrap())
        .collect();
    assert!(locations.contains(&"node node-a: curl -> 127.0.0.1:44406/tcp (self.inventory.test)"));
}

#[test]
fn the_same_inventory_gives_the_same_bytes_and_merged_nodes_the_same_bom() {
    let dir = tempfile::tempdir().unwrap();
    // Each file is its own node here: a node's rows come from one writer.
    let mut direct = Inventory::open(dir.path().join("direct.db")).unwrap();
    for (index, name) in ALL.iter().enumerate() {
        ingest_file(&mut direct, name, &format!("replay-{index}"), None);
    }
    let first = {
        let mut out = Vec::new();
        cyclonedx::write(&direct.snapshot().unwrap(), &options(), &mut out).unwrap();
        out
    };
    let mut again = Vec::new();
    cyclonedx::write(&direct.snapshot().unwrap(), &options(), &mut again).unwrap();
    assert_eq!(first, again);
    let mut pretty = Vec::new();
    let indented = Options {
        pretty: true,
        ..options()
    };
    cyclonedx::write(&direct.snapshot().unwrap(), &indented, &mut pretty).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&pretty).unwrap(),
        serde_json::from_slice::<Value>(&first).unwrap()
    );

    let mut merged = Inventory::open(dir.path().join("merged.db")).unwrap();
    for (index, name) in ALL.iter().enumerate() {
        let path = dir.path().join(format!("{index}.db"));
        let mut node = Inventory::open(&path).unwrap();
        ingest_file(&mut node, name, &format!("replay-{index}"), None);
        drop(node);
        merged.merge_from(&path).unwrap();
    }
    let mut from_merge = Vec::new();
    cyclonedx::write(&merged.snapshot().unwrap(), &options(), &mut from_merge).unwrap();
    assert!(
        first == from_merge,
        "merging node databases changed the BOM"
    );
}

#[test]
fn serial_numbers_are_version_4_uuids() {
    let serial = cyclonedx::random_serial_number().unwrap();
    let uuid = serial.strip_prefix("urn:uuid:").unwrap();
    let groups: Vec<&str> = uuid.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(groups[2].starts_with('4'));
    assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"));
    assert_ne!(serial, cyclonedx::random_serial_number().unwrap());
}
