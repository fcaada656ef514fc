//! The embedded eBPF object holds every map and program the user side looks
//! up by name, of the kind the user side opens it as.
//!
//! Root-free: the object is parsed (aya-obj, the parser aya's loader uses),
//! not loaded, so a renamed or retyped map or program fails `cargo test`
//! instead of the first start on a node. The names are the constants in
//! `cipherlens-common` that the sensor passes to aya; the kinds are those the
//! sensor's aya types accept (`Array`, `RingBuf`, `HashMap` over a hash or
//! LRU hash, `PerCpuArray`, `SchedClassifier`, `BtfTracePoint`).

use std::mem::size_of;

use aya_obj::generated::bpf_map_type::{self, *};
use aya_obj::{Object, ProgramSection};
use cipherlens_common::cpu_state::{CPU_STATE_MAP, CpuState};
use cipherlens_common::{
    CONFIG_MAP, COUNTERS_MAP, Counter, EVENTS_MAP, FLOW_COUNTERS_MAP, FLOWS_MAP, FlowCounters,
    FlowKey, FlowState, KNOWN_PROCESSES_MAP, KernelConfig, SOCKET_OWNER_PROGRAMS,
    SOCKET_OWNERS_MAP, TC_EGRESS_PROGRAM, TC_INGRESS_PROGRAM,
};
use cipherlens_sensor::live::ebpf_object;

/// A map as the user side opens it.
struct ExpectedMap {
    name: &'static str,
    kinds: &'static [bpf_map_type],
    /// Key and value sizes of the user-side types (`None`: a ring buffer has none).
    key_value: Option<(usize, usize)>,
    /// Entries the user side reads or writes at least.
    min_entries: u32,
}

fn expected_maps() -> [ExpectedMap; 8] {
    const HASH_MAPS: &[bpf_map_type] = &[BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH];
    [
        ExpectedMap {
            name: CONFIG_MAP,
            kinds: &[BPF_MAP_TYPE_ARRAY],
            key_value: Some((size_of::<u32>(), size_of::<KernelConfig>())),
            min_entries: 1,
        },
        ExpectedMap {
            name: COUNTERS_MAP,
            kinds: &[BPF_MAP_TYPE_PERCPU_ARRAY],
            key_value: Some((size_of::<u32>(), size_of::<u64>())),
            min_entries: Counter::COUNT,
        },
        ExpectedMap {
            name: CPU_STATE_MAP,
            kinds: &[BPF_MAP_TYPE_ARRAY],
            key_value: Some((size_of::<u32>(), size_of::<CpuState>())),
            min_entries: 1,
        },
        ExpectedMap {
            name: EVENTS_MAP,
            kinds: &[BPF_MAP_TYPE_RINGBUF],
            key_value: None,
            min_entries: 1,
        },
        ExpectedMap {
            name: FLOWS_MAP,
            kinds: HASH_MAPS,
            key_value: Some((size_of::<FlowKey>(), size_of::<FlowState>())),
            min_entries: 1,
        },
        ExpectedMap {
            name: FLOW_COUNTERS_MAP,
            kinds: HASH_MAPS,
            key_value: Some((size_of::<FlowKey>(), size_of::<FlowCounters>())),
            min_entries: 1,
        },
        ExpectedMap {
            name: SOCKET_OWNERS_MAP,
            kinds: HASH_MAPS,
            key_value: Some((size_of::<u64>(), size_of::<u64>())),
            min_entries: 1,
        },
        ExpectedMap {
            name: KNOWN_PROCESSES_MAP,
            kinds: HASH_MAPS,
            key_value: Some((size_of::<u32>(), size_of::<u8>())),
            min_entries: 1,
        },
    ]
}

fn object() -> Object {
    Object::parse(ebpf_object::embedded()).expect("the embedded eBPF object parses")
}

#[test]
fn every_map_the_sensor_opens_is_in_the_object_with_its_kind_and_sizes() {
    let object = object();
    let mut problems = Vec::new();
    for expected in expected_maps() {
        let Some(map) = object.maps.get(expected.name) else {
            let mut present: Vec<&String> = object.maps.keys().collect();
            present.sort();
            problems.push(format!(
                "map {} is missing (the object has {present:?})",
                expected.name
            ));
            continue;
        };
        if !expected
            .kinds
            .iter()
            .any(|kind| *kind as u32 == map.map_type())
        {
            problems.push(format!(
                "map {} has type {}, the user side opens it as one of {:?}",
                expected.name,
                map.map_type(),
                expected.kinds
            ));
        }
        if let Some((key, value)) = expected.key_value {
            let found = (map.key_size() as usize, map.value_size() as usize);
            if found != (key, value) {
                problems.push(format!(
                    "map {}: key/value sizes {found:?} in the object, {:?} on the user side",
                    expected.name,
                    (key, value)
                ));
            }
        }
        if map.max_entries() < expected.min_entries {
            problems.push(format!(
                "map {} has {} entries, the user side uses {}",
                expected.name,
                map.max_entries(),
                expected.min_entries
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_program_the_sensor_loads_is_in_the_object_with_its_kind() {
    let object = object();
    let expected = [
        (TC_INGRESS_PROGRAM, "classifier"),
        (TC_EGRESS_PROGRAM, "classifier"),
    ]
    .into_iter()
    .chain(
        SOCKET_OWNER_PROGRAMS
            .iter()
            .map(|(name, _tracepoint)| (*name, "tp_btf")),
    );
    let mut problems = Vec::new();
    for (name, kind) in expected {
        match object.programs.get(name).map(|program| &program.section) {
            Some(ProgramSection::SchedClassifier) if kind == "classifier" => {}
            Some(ProgramSection::BtfTracePoint) if kind == "tp_btf" => {}
            Some(section) => problems.push(format!("program {name} is {section:?}, not {kind}")),
            None => {
                let mut present: Vec<&String> = object.programs.keys().collect();
                present.sort();
                problems.push(format!(
                    "program {name} is missing (the object has {present:?})"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_tcp_metrics_object_holds_its_classifier_and_no_maps() {
    let object = Object::parse(ebpf_object::tcp_metrics()).expect("the TCP metrics object parses");
    assert!(
        matches!(
            object
                .programs
                .get(cipherlens_common::tcp_metrics::TCP_METRICS_PROGRAM)
                .map(|program| &program.section),
            Some(ProgramSection::SchedClassifier)
        ),
        "programs: {:?}",
        object.programs.keys().collect::<Vec<_>>()
    );
    assert!(
        object.maps.is_empty(),
        "maps: {:?}",
        object.maps.keys().collect::<Vec<_>>()
    );
}
