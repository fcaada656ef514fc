//! TCP reassembly tests. Oracles: the original byte string the segments were cut from, a
//! per-byte "first copy wins" model written independently in this file, and counts worked
//! out by hand.

use cipherlens_capture::{ReassemblyError, ReassemblyStats, StreamReassembler};

const ROOMY: usize = 1 << 20;

fn original(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// All orderings of `0..n` (Heap's algorithm).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn heap(k: usize, items: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k <= 1 {
            out.push(items.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, items, out);
            let swap_with = if k.is_multiple_of(2) { i } else { 0 };
            items.swap(swap_with, k - 1);
        }
    }
    let mut out = Vec::new();
    heap(n, &mut (0..n).collect(), &mut out);
    out
}

#[test]
fn permutation_helper_yields_every_order_once() {
    let mut all = permutations(5);
    assert_eq!(all.len(), 120);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 120);
}

/// Pushes `segments` (offset, length into `data`) in `order` after a SYN with `isn`,
/// taking ready bytes after every push.
fn reassemble(
    isn: u32,
    data: &[u8],
    segments: &[(usize, usize)],
    order: &[usize],
) -> (Vec<u8>, ReassemblyStats) {
    let mut stream = StreamReassembler::new(ROOMY);
    stream.push(isn, true, false, &[]).unwrap();
    let mut out = Vec::new();
    for &i in order {
        let (offset, len) = segments[i];
        let seq = isn.wrapping_add(1).wrapping_add(offset as u32);
        stream
            .push(seq, false, false, &data[offset..offset + len])
            .unwrap();
        out.extend(stream.take_ready());
    }
    assert_eq!(stream.buffered_bytes(), 0);
    assert_eq!(stream.skip_gap(), None, "nothing may be left behind a hole");
    (out, stream.stats())
}

#[test]
fn every_order_of_five_segments_yields_the_stream() {
    let data = original(57);
    let segments = [(0, 10), (10, 3), (13, 20), (33, 1), (34, 23)];
    // ISNs that put the stream, or the SYN itself, across 2^32.
    for isn in [1000u32, u32::MAX - 20, u32::MAX, u32::MAX - 1] {
        for order in permutations(segments.len()) {
            let (out, stats) = reassemble(isn, &data, &segments, &order);
            assert_eq!(out, data, "isn {isn} order {order:?}");
            // Independent count: a segment is out of order when some earlier segment of
            // the stream had not arrived before it.
            let expected_out_of_order = order
                .iter()
                .enumerate()
                .filter(|&(position, &segment)| {
                    (0..segment).any(|earlier| !order[..position].contains(&earlier))
                })
                .count() as u64;
            assert_eq!(
                stats.out_of_order_segments, expected_out_of_order,
                "{order:?}"
            );
            assert_eq!(stats.bytes_delivered, 57);
            assert_eq!(stats.segments, 6);
            assert_eq!(stats.retransmitted_segments, 0);
            assert_eq!(stats.overlapping_segments, 0);
            assert_eq!(stats.conflicting_overlaps, 0);
            assert_eq!((stats.gaps, stats.gap_bytes), (0, 0));
        }
    }
}

#[test]
fn every_order_of_overlapping_segments_yields_the_stream() {
    let data = original(50);
    let segments = [(0, 15), (10, 15), (20, 15), (30, 15), (40, 10)];
    for isn in [7u32, u32::MAX - 30] {
        for order in permutations(segments.len()) {
            let (out, stats) = reassemble(isn, &data, &segments, &order);
            assert_eq!(out, data, "order {order:?}");
            assert_eq!(stats.conflicting_overlaps, 0, "same content is no conflict");
            assert_eq!(stats.bytes_delivered, 50);
        }
    }
}

#[test]
fn retransmissions_are_ignored_and_conflicts_counted() {
    let mut stream = StreamReassembler::new(ROOMY);
    stream.push(99, true, false, &[]).unwrap(); // ISN 99: data starts at 100
    stream.push(100, false, false, b"GET ").unwrap();
    stream.push(104, false, false, b"/ HTTP").unwrap();
    // Exact retransmission while the bytes are still held.
    stream.push(100, false, false, b"GET ").unwrap();
    // Retransmission with different content: the first copy wins and it is counted.
    stream.push(104, false, false, b"/ XXXX").unwrap();
    assert_eq!(stream.take_ready(), b"GET / HTTP");
    let stats = stream.stats();
    assert_eq!(stats.retransmitted_segments, 2);
    assert_eq!(stats.conflicting_overlaps, 1);
    assert_eq!(stats.bytes_delivered, 10);

    // Bytes already taken cannot be compared: still a retransmission, no conflict known.
    stream.push(100, false, false, b"PUT ").unwrap();
    assert_eq!(stream.stats().retransmitted_segments, 3);
    assert_eq!(stream.stats().conflicting_overlaps, 1);
    assert!(stream.take_ready().is_empty());
    assert_eq!(stream.next_seq(), Some(110));
}

#[test]
fn partial_overlaps_keep_the_first_copy() {
    let mut stream = StreamReassembler::new(ROOMY);
    stream.push(0, true, false, &[]).unwrap(); // data offset 0 is seq 1
    // Out of order: offsets 10..15 and 20..25 arrive first.
    stream.push(11, false, false, b"KLMNO").unwrap();
    stream.push(21, false, false, b"UVWXY").unwrap();
    assert!(stream.take_ready().is_empty());
    assert_eq!(stream.buffered_bytes(), 10);
    // One segment covering 0..30 whose bytes differ from the held ones in 10..15 only.
    stream
        .push(1, false, false, b"abcdefghij-----pqrstUVWXYz0123")
        .unwrap();
    assert_eq!(stream.take_ready(), b"abcdefghijKLMNOpqrstUVWXYz0123");
    let stats = stream.stats();
    assert_eq!(stats.overlapping_segments, 1);
    assert_eq!(stats.conflicting_overlaps, 1);
    assert_eq!(stats.out_of_order_segments, 2);
    assert_eq!(stats.bytes_delivered, 30);

    // A segment reaching back over delivered (held) bytes with new bytes after them.
    stream.push(29, false, false, b"23456").unwrap();
    assert_eq!(stream.take_ready(), b"456");
    assert_eq!(stream.stats().overlapping_segments, 2);
    assert_eq!(
        stream.stats().conflicting_overlaps,
        1,
        "23 matched the delivered bytes"
    );
}

#[test]
fn gap_skipping_reports_the_exact_gap() {
    let mut stream = StreamReassembler::new(ROOMY);
    stream.push(4_000_000_000, true, false, &[]).unwrap();
    let base = 4_000_000_001u32;
    stream.push(base, false, false, &[1; 10]).unwrap();
    stream.push(base + 25, false, false, &[2; 5]).unwrap();
    stream.push(base + 40, false, false, &[3; 2]).unwrap();
    assert_eq!(stream.take_ready(), vec![1; 10]);
    assert_eq!(stream.skip_gap(), Some(15));
    assert_eq!(stream.take_ready(), vec![2; 5]);
    assert_eq!(stream.skip_gap(), Some(10));
    assert_eq!(stream.take_ready(), vec![3; 2]);
    assert_eq!(stream.skip_gap(), None);
    let stats = stream.stats();
    assert_eq!((stats.gaps, stats.gap_bytes), (2, 25));
    assert_eq!(stats.bytes_delivered, 17);
    assert_eq!(stream.stream_offset(), 42);
    // The stream continues after the skipped holes.
    stream.push(base + 42, false, true, b"end").unwrap();
    assert_eq!(stream.take_ready(), b"end");
    assert!(stream.fin_seen() && stream.is_complete());
}

#[test]
fn stream_offsets_beyond_four_gigabytes() {
    // Jump over holes of 2^31 - 1 bytes three times: the sequence space wraps and offsets
    // pass 2^32, and in-order data must still be recognised.
    let mut stream = StreamReassembler::new(ROOMY);
    let isn = 0x8000_0000u32;
    stream.push(isn, true, false, &[]).unwrap();
    let mut seq = isn.wrapping_add(1);
    let mut expected_offset = 0u64;
    for round in 0..3u8 {
        let jump = (1u32 << 31) - 1;
        seq = seq.wrapping_add(jump);
        stream.push(seq, false, false, &[round; 4]).unwrap();
        assert_eq!(stream.skip_gap(), Some(u64::from(jump)));
        assert_eq!(stream.take_ready(), vec![round; 4]);
        seq = seq.wrapping_add(4);
        expected_offset += u64::from(jump) + 4;
        assert_eq!(stream.stream_offset(), expected_offset);
        assert_eq!(stream.next_seq(), Some(seq));
    }
    assert!(expected_offset > 1 << 32);
    stream.push(seq, false, false, b"still in order").unwrap();
    assert_eq!(stream.take_ready(), b"still in order");
    // Just "behind" the next sequence number is old data, not data 4 GB ahead.
    stream
        .push(seq.wrapping_sub(5), false, false, b"order")
        .unwrap();
    assert_eq!(stream.stats().retransmitted_segments, 1);
}

#[test]
fn capture_starting_mid_stream_uses_the_first_segment() {
    let mut stream = StreamReassembler::new(ROOMY);
    stream.push(123_456, false, false, b"middle").unwrap();
    stream.push(123_462, false, false, b" of it").unwrap();
    assert_eq!(stream.take_ready(), b"middle of it");
    assert!(!stream.syn_seen());
    assert_eq!(stream.next_seq(), Some(123_468));
}

#[test]
fn syn_data_and_fin_are_placed_by_sequence_number() {
    let mut stream = StreamReassembler::new(ROOMY);
    // TCP Fast Open style: data on the SYN starts at ISN + 1.
    stream.push(u32::MAX, true, false, b"hello").unwrap();
    stream.push(5, false, true, b" world").unwrap();
    assert_eq!(stream.take_ready(), b"hello world");
    assert!(stream.is_complete());
    // A FIN before the last bytes arrive: seen, not complete.
    let mut stream = StreamReassembler::new(ROOMY);
    stream.push(10, true, false, &[]).unwrap();
    stream.push(16, false, true, b"tail").unwrap();
    assert!(stream.fin_seen() && !stream.is_complete());
    stream.push(11, false, false, b"head ").unwrap();
    assert_eq!(stream.take_ready(), b"head tail");
    assert!(stream.is_complete());
}

#[test]
fn buffer_bound_is_enforced() {
    let mut stream = StreamReassembler::new(100);
    stream.push(0, true, false, &[]).unwrap();
    // 100 out-of-order bytes fill the buffer exactly.
    stream.push(11, false, false, &[b'a'; 60]).unwrap();
    stream.push(71, false, false, &[b'b'; 40]).unwrap();
    assert_eq!(stream.buffered_bytes(), 100);
    // One more new byte does not fit, and the error says why.
    let error = stream.push(200, false, false, b"c").unwrap_err();
    assert_eq!(
        error,
        ReassemblyError::BufferFull {
            buffered: 100,
            limit: 100,
            new_bytes: 1
        }
    );
    assert!(error.to_string().contains("100 of 100 bytes"));
    // Neither does the in-order segment that would fill the hole.
    assert!(stream.push(1, false, false, &[b'z'; 10]).is_err());
    assert_eq!(stream.stats().buffer_full_rejections, 2);
    assert_eq!(
        stream.buffered_bytes(),
        100,
        "a refused segment changes nothing"
    );
    // Repeated bytes need no room.
    stream.push(11, false, false, &[b'a'; 60]).unwrap();
    // The caller gives up on the hole and drains; the stream goes on.
    assert_eq!(stream.skip_gap(), Some(10));
    assert_eq!(stream.take_ready().len(), 100);
    stream.push(111, false, false, b"next").unwrap();
    assert_eq!(stream.take_ready(), b"next");
    // Ready bytes not taken count against the bound too.
    stream.push(115, false, false, &[0; 100]).unwrap();
    assert!(matches!(
        stream.push(215, false, false, b"x"),
        Err(ReassemblyError::BufferFull { .. })
    ));
}

/// Random segmentation, order, duplication and conflicting copies, checked against a
/// byte-by-byte model: each stream offset keeps the first value written to it, the
/// output is the contiguous prefix, and a segment conflicts when it disagrees with any
/// byte written before it.
#[test]
fn random_segments_match_a_first_copy_wins_model() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    for trial in 0..300 {
        let len = 1 + next(400) as usize;
        let isn = next(1 << 32) as u32;
        let data = original(len);
        let mut model: Vec<Option<u8>> = vec![None; len];
        let mut model_conflicts = 0u64;
        let mut stream = StreamReassembler::new(ROOMY);
        stream.push(isn, true, false, &[]).unwrap();
        for _ in 0..(5 + next(40)) {
            let start = next(len as u64) as usize;
            let end = (start + 1 + next(60) as usize).min(len);
            let mut bytes = data[start..end].to_vec();
            if next(4) == 0 {
                // A copy with different content.
                let at = next(bytes.len() as u64) as usize;
                bytes[at] ^= 0x5a;
            }
            let mut conflict = false;
            for (i, &byte) in bytes.iter().enumerate() {
                match model[start + i] {
                    Some(first) => conflict |= first != byte,
                    None => model[start + i] = Some(byte),
                }
            }
            model_conflicts += u64::from(conflict);
            let seq = isn.wrapping_add(1).wrapping_add(start as u32);
            stream.push(seq, false, false, &bytes).unwrap();
        }
        let expected: Vec<u8> = model.iter().map_while(|byte| *byte).collect();
        assert_eq!(stream.take_ready(), expected, "trial {trial}");
        assert_eq!(
            stream.stats().conflicting_overlaps,
            model_conflicts,
            "trial {trial}"
        );
        // Skipping every remaining hole yields exactly the model's later runs.
        let mut offset = expected.len();
        while let Some(gap) = stream.skip_gap() {
            let hole = model[offset..]
                .iter()
                .take_while(|byte| byte.is_none())
                .count();
            assert_eq!(gap, hole as u64, "trial {trial}");
            offset += hole;
            let run: Vec<u8> = model[offset..].iter().map_while(|byte| *byte).collect();
            assert_eq!(stream.take_ready(), run, "trial {trial}");
            offset += run.len();
        }
        assert_eq!(stream.buffered_bytes(), 0);
    }
}
