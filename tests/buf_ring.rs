//! `RingBuf` against a `VecDeque<u8>` model (`support/ring_model.rs`, shared with the fuzz
//! target `ring_buf`): random sequences of puts, pulls, vectored reads and writes,
//! compactions and clears must leave the ring holding exactly the bytes the model holds,
//! seen through every view the ring offers.
//!
//! The sequences come from a seeded generator (`support/rng.rs`), so a failure names the seed
//! that reproduces it; `READYIO_MODEL_CASES` raises the number of cases (default 2000).

#[path = "support/ring_model.rs"]
mod ring_model;
#[path = "support/rng.rs"]
mod rng;

use readyio::buf::{Buf, BufMut, BufMutVectored, RingBuf};
use readyio::{TryRead, TryWrite};
use ring_model::Trickle;
use std::io;

#[test]
fn ring_matches_vecdeque_model() {
    // Under Miri a case costs about a second: a dozen still cover wrapping, partial
    // vectored reads and writes, compaction and clear.
    let cases = if cfg!(miri) { 12 } else { 2000 };
    rng::for_each_case(cases, ring_model::run_case);
}

#[test]
fn vectored_read_fills_both_free_regions_of_a_wrapped_ring() {
    // Every head offset and fill of rings up to 128 bytes; up to 16 under Miri, where the
    // full sweep takes minutes.
    let largest_log2 = if cfg!(miri) { 4 } else { 7 };
    for capacity_log2 in 1..=largest_log2 {
        let capacity = 1usize << capacity_log2;
        for offset in 0..capacity {
            for kept in 0..=capacity - offset {
                let mut ring = RingBuf::with_capacity(capacity);
                // Move the head to `offset` while keeping `kept` bytes, so the free space wraps.
                ring.put_slice(&vec![0xAA; offset + kept]);
                ring.advance(offset);
                let incoming: Vec<u8> = (0..capacity as u32).map(|i| i as u8).collect();
                let read = (&incoming[..]).try_read_buf_vectored(&mut ring).unwrap().unwrap();
                assert_eq!(read, capacity - kept);
                assert!(ring.is_full());
                let mut expected = vec![0xAA; kept];
                expected.extend_from_slice(&incoming[..read]);
                assert_eq!(ring.make_contiguous(), &expected[..]);
            }
        }
    }
}

#[test]
fn capacity_is_rounded_up_to_a_power_of_two() {
    assert_eq!(RingBuf::with_capacity(0).capacity(), 1);
    assert_eq!(RingBuf::with_capacity(1).capacity(), 1);
    assert_eq!(RingBuf::with_capacity(5).capacity(), 8);
    assert_eq!(RingBuf::with_capacity(4096).capacity(), 4096);
    assert_eq!(RingBuf::with_capacity(4097).capacity(), 8192);
}

#[test]
fn full_ring_reads_nothing_and_reports_no_room() {
    let mut ring = RingBuf::with_capacity(4);
    ring.put_slice(b"abcd");
    assert!(!ring.has_remaining_mut());
    assert_eq!((&b"more"[..]).try_read_buf_vectored(&mut ring).unwrap(), Some(0));
    assert_eq!(ring.as_slices().0, b"abcd");
}

#[test]
fn empty_ring_writes_nothing_without_calling_the_writer() {
    let mut ring = RingBuf::with_capacity(4);
    let mut refusing = Trickle { taken: Vec::new(), per_call: 0 };
    assert_eq!(refusing.try_write_buf(&mut ring).unwrap(), Some(0));
}

#[test]
#[should_panic(expected = "past the 2 readable bytes")]
fn advancing_past_the_readable_bytes_panics_as_buf_allows() {
    let mut ring = RingBuf::with_capacity(4);
    ring.put_slice(b"ab");
    ring.advance(3);
}

/// A reader that claims to have read more than it was given.
struct Liar;

impl io::Read for Liar {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(buf.len() + 1)
    }
}

#[test]
fn reader_claiming_more_than_the_room_is_an_error_and_changes_nothing() {
    let mut ring = RingBuf::with_capacity(8);
    ring.put_slice(b"abc");
    let err = ring.read_vectored_from(&mut Liar).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(ring.len(), 3);
    let err = Liar.try_read_buf(&mut ring).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(ring.len(), 3);

    let mut storage = [0u8; 4];
    let mut unfilled = &mut storage[..];
    assert_eq!(unfilled.read_vectored_from(&mut Liar).unwrap_err().kind(), io::ErrorKind::InvalidData);
    assert_eq!(unfilled.len(), 4);
}

#[test]
fn common_buffers_fill_through_the_vectored_hook() {
    let mut vec = Vec::new();
    assert_eq!(vec.read_vectored_from(&mut &b"vec"[..]).unwrap(), 3);
    assert_eq!(vec, b"vec");

    let mut bytes = readyio::buf::BytesMut::with_capacity(8);
    assert_eq!((&b"bytes"[..]).try_read_buf_vectored(&mut bytes).unwrap(), Some(5));
    assert_eq!(&bytes[..], b"bytes");

    let mut storage = [0u8; 8];
    let mut unfilled = &mut storage[..];
    assert_eq!((&b"stack"[..]).try_read_buf_vectored(&mut unfilled).unwrap(), Some(5));
    assert_eq!(unfilled.len(), 3);
    assert_eq!(&storage[..5], b"stack");
}
