//! Batched reads and deletes (`cipherlens-bpf-batch`) against real kernel
//! hash maps: what a read returns is checked against what the test put in
//! through the single-entry calls, and a delete against what is left.

use std::collections::HashMap;
use std::os::fd::AsFd;

use aya::maps::{HashMap as BpfHashMap, MapData};
use aya_obj::generated::bpf_map_type;
use cipherlens_bpf_batch::{BatchError, HashBatch};
use cipherlens_common::{FlowCounters, FlowKey};

fn hash_map(kind: bpf_map_type, capacity: u32) -> MapData {
    let definition = aya_obj::Map::new_from_params(
        kind as u32,
        size_of::<FlowKey>() as u32,
        size_of::<FlowCounters>() as u32,
        capacity,
        0,
    );
    MapData::create(definition, "clbatchtest", None).expect("create a map (root?)")
}

fn second(map: &MapData) -> MapData {
    let fd = map
        .fd()
        .as_fd()
        .try_clone_to_owned()
        .expect("dup the map fd");
    MapData::from_fd(fd).expect("second handle")
}

fn key(n: u32) -> FlowKey {
    let mut key = FlowKey {
        low_address: [0; 16],
        high_address: [0; 16],
        low_port: (n % 60_000) as u16,
        high_port: 443,
        protocol: 6,
        _pad: [0; 3],
    };
    key.low_address[..4].copy_from_slice(&n.to_be_bytes());
    key
}

fn counters(n: u32) -> FlowCounters {
    let mut value = FlowCounters {
        first_ns: u64::from(n) * 1_000 + 7,
        ..FlowCounters::default()
    };
    value.directions[1].bytes = u64::from(n) * 3;
    value
}

#[test]
fn a_batched_read_returns_every_entry_once_and_a_batched_delete_skips_missing_keys() {
    for kind in [
        bpf_map_type::BPF_MAP_TYPE_HASH,
        bpf_map_type::BPF_MAP_TYPE_LRU_HASH,
    ] {
        let map = hash_map(kind, 16_384);
        let mut single: BpfHashMap<MapData, FlowKey, FlowCounters> =
            BpfHashMap::try_from(aya::maps::Map::HashMap(second(&map)))
                .or_else(|_| BpfHashMap::try_from(aya::maps::Map::LruHashMap(second(&map))))
                .expect("single-entry handle");
        let total = 5_000u32;
        for n in 0..total {
            single.insert(&key(n), &counters(n), 0).expect("insert");
        }
        // A small batch: many calls, each ending mid-map.
        let mut batch: HashBatch<FlowKey, FlowCounters> = HashBatch::new(map, 64).expect("batch");
        let mut seen: HashMap<FlowKey, FlowCounters> = HashMap::new();
        let read = batch
            .for_each(|key, value| {
                let previous = seen.insert(*key, *value);
                assert!(previous.is_none(), "an entry read twice");
            })
            .expect("batched read");
        assert_eq!(read.entries, u64::from(total), "{kind:?}");
        assert!(read.calls >= u64::from(total) / 64, "{read:?}");
        for n in 0..total {
            assert_eq!(seen.get(&key(n)), Some(&counters(n)), "{kind:?} entry {n}");
        }

        // Every third key, plus keys that were never there in between.
        let mut doomed: Vec<FlowKey> = (0..total).step_by(3).map(key).collect();
        doomed.insert(10, key(total + 1));
        doomed.insert(500, key(total + 2));
        doomed.push(key(total + 3));
        let deleted = batch.delete(&doomed).expect("batched delete");
        let expected = u64::from(total.div_ceil(3));
        assert_eq!(
            (deleted.deleted, deleted.missing),
            (expected, 3),
            "{kind:?}"
        );
        let left: Vec<FlowKey> = single.keys().map(|key| key.expect("key")).collect();
        assert_eq!(left.len() as u64, u64::from(total) - expected);
        assert!(
            left.iter()
                .all(|key| u32::from_be_bytes(key.low_address[..4].try_into().unwrap()) % 3 != 0)
        );
    }
}

#[test]
fn a_map_of_other_sizes_is_refused() {
    let map = hash_map(bpf_map_type::BPF_MAP_TYPE_HASH, 16);
    let refused = HashBatch::<FlowKey, u64>::new(map, 64);
    assert!(
        matches!(refused, Err(BatchError::SizeMismatch { what: "value", .. })),
        "{:?}",
        refused.err()
    );
}
