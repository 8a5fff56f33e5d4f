//! `RingBuf` against a `VecDeque<u8>` model: random sequences of puts, pulls, vectored
//! reads and writes, compactions and clears must leave the ring holding exactly the bytes
//! the model holds, seen through every view the ring offers.
//!
//! The sequences come from a seeded generator (`support/rng.rs`), so a failure names the seed
//! that reproduces it; `READYIO_MODEL_CASES` raises the number of cases (default 2000).

#[path = "support/rng.rs"]
mod rng;

use readyio::buf::{Buf, BufMut, BufMutVectored, RingBuf};
use readyio::{TryRead, TryWrite};
use rng::Rng;
use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

/// One step applied to both the ring and the model.
#[derive(Clone, Debug)]
enum Op {
    /// `put_slice` of as much of the bytes as fits.
    Put(Vec<u8>),
    /// `put_u8`, if there is room.
    PutByte(u8),
    /// `copy_to_slice` of up to n bytes.
    Pull(usize),
    /// `advance` by up to n bytes.
    Advance(usize),
    /// `try_read_buf_vectored` from a reader holding these bytes.
    ReadFrom(Vec<u8>),
    /// `try_read_buf` (the generic, one-chunk path) from a reader holding these bytes.
    ReadChunkFrom(Vec<u8>),
    /// `try_write_buf` into a writer taking at most n bytes per call.
    WriteTo(usize),
    /// `make_contiguous`.
    MakeContiguous,
    /// `clear`.
    Clear,
}

/// A random step: each kind equally likely, byte strings and counts below 80.
fn random_op(rng: &mut Rng) -> Op {
    match rng.below(9) {
        0 => Op::Put(rng.bytes(80)),
        1 => Op::PutByte(rng.next() as u8),
        2 => Op::Pull(rng.below(80)),
        3 => Op::Advance(rng.below(80)),
        4 => Op::ReadFrom(rng.bytes(80)),
        5 => Op::ReadChunkFrom(rng.bytes(80)),
        6 => Op::WriteTo(rng.below(80)),
        7 => Op::MakeContiguous,
        _ => Op::Clear,
    }
}

/// A writer that takes at most `per_call` bytes per call and whose `write_vectored` is
/// std's default (only the first non-empty slice), to exercise partial vectored writes.
struct Trickle {
    taken: Vec<u8>,
    per_call: usize,
}

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.per_call == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.per_call);
        self.taken.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn apply(ring: &mut RingBuf, model: &mut VecDeque<u8>, op: &Op) {
    let free = ring.capacity() - model.len();
    match op {
        Op::Put(bytes) => {
            let fit = &bytes[..bytes.len().min(free)];
            ring.put_slice(fit);
            model.extend(fit);
        }
        Op::PutByte(byte) => {
            if free > 0 {
                ring.put_u8(*byte);
                model.push_back(*byte);
            }
        }
        Op::Pull(n) => {
            let n = (*n).min(model.len());
            let mut out = vec![0; n];
            ring.copy_to_slice(&mut out);
            let expected: Vec<u8> = model.drain(..n).collect();
            assert_eq!(out, expected);
        }
        Op::Advance(n) => {
            let n = (*n).min(model.len());
            ring.advance(n);
            model.drain(..n);
        }
        Op::ReadFrom(bytes) => {
            let read = (&bytes[..]).try_read_buf_vectored(ring).unwrap().unwrap();
            // A vectored read fills the whole free space when the reader has enough.
            assert_eq!(read, bytes.len().min(free));
            model.extend(&bytes[..read]);
        }
        Op::ReadChunkFrom(bytes) => {
            let read = (&bytes[..]).try_read_buf(ring).unwrap().unwrap();
            assert!(read <= bytes.len().min(free));
            model.extend(&bytes[..read]);
        }
        Op::WriteTo(per_call) => {
            let mut writer = Trickle { taken: Vec::new(), per_call: *per_call };
            let before = model.len();
            match writer.try_write_buf(ring).unwrap() {
                None => assert_eq!(*per_call, 0, "only the refusing writer would block"),
                Some(n) => {
                    assert!(n <= before);
                    let expected: Vec<u8> = model.drain(..n).collect();
                    assert_eq!(writer.taken, expected);
                }
            }
        }
        Op::MakeContiguous => {
            let expected: Vec<u8> = model.iter().copied().collect();
            assert_eq!(ring.make_contiguous(), &expected[..]);
        }
        Op::Clear => {
            ring.clear();
            model.clear();
        }
    }
}

fn assert_same(ring: &mut RingBuf, model: &VecDeque<u8>) {
    let expected: Vec<u8> = model.iter().copied().collect();
    assert_eq!(ring.remaining(), expected.len());
    assert_eq!(ring.len(), expected.len());
    assert_eq!(ring.is_empty(), expected.is_empty());
    assert_eq!(ring.is_full(), expected.len() == ring.capacity());
    assert_eq!(ring.remaining_mut(), ring.capacity() - expected.len());

    let (first, second) = ring.as_slices();
    assert_eq!([first, second].concat(), expected);
    assert_eq!(ring.chunk(), first, "chunk() is the first readable region");

    let mut slices = [IoSlice::new(&[]); 4];
    let count = ring.chunks_vectored(&mut slices);
    assert!(count <= 2);
    let gathered: Vec<u8> = slices[..count].iter().flat_map(|s| s.iter().copied()).collect();
    assert_eq!(gathered, expected);
    assert_eq!(count, usize::from(!first.is_empty()) + usize::from(!second.is_empty()));

    let free = ring.remaining_mut();
    assert_eq!(ring.chunk_mut().len() == 0, free == 0, "chunk_mut() is empty only when full");
    assert!(ring.chunk_mut().len() <= free);
}

#[test]
fn ring_matches_vecdeque_model() {
    rng::for_each_case(2000, |rng| {
        let capacity = 1 + rng.below(63);
        let mut ring = RingBuf::with_capacity(capacity);
        assert!(ring.capacity().is_power_of_two() && ring.capacity() >= capacity);
        let mut model = VecDeque::new();
        for _ in 0..1 + rng.below(63) {
            let op = random_op(rng);
            apply(&mut ring, &mut model, &op);
            assert_same(&mut ring, &model);
        }
    });
}

#[test]
fn vectored_read_fills_both_free_regions_of_a_wrapped_ring() {
    for capacity_log2 in 1..8 {
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
