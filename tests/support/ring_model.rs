//! `RingBuf` against a `VecDeque<u8>` model, shared by `tests/buf_ring.rs` and the fuzz
//! target `fuzz/fuzz_targets/ring_buf.rs`: a case is a capacity and a sequence of puts,
//! pulls, vectored reads and writes, compactions and clears, all drawn from a [`Choices`];
//! after each step the ring must hold exactly the bytes the model holds, seen through
//! every view the ring offers.
//!
//! Include it beside `rng.rs` (`#[path = ".../support/rng.rs"] mod rng;`).

#![allow(dead_code)]

use super::rng::Choices;
use readyio::buf::{Buf, BufMut, RingBuf};
use readyio::{TryRead, TryWrite};
use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

/// One case: a ring of capacity 1 to 63 (rounded up to a power of two) and 1 to 63 steps,
/// each checked against the model.
pub fn run_case(choices: &mut impl Choices) {
    let capacity = 1 + choices.below(63);
    let mut ring = RingBuf::with_capacity(capacity);
    assert!(ring.capacity().is_power_of_two() && ring.capacity() >= capacity);
    let mut model = VecDeque::new();
    for _ in 0..1 + choices.below(63) {
        let op = random_op(choices);
        apply(&mut ring, &mut model, &op);
        assert_same(&mut ring, &model);
    }
}

/// One step applied to both the ring and the model.
#[derive(Clone, Debug)]
pub enum Op {
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
pub fn random_op(rng: &mut impl Choices) -> Op {
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
pub struct Trickle {
    pub taken: Vec<u8>,
    pub per_call: usize,
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

pub fn apply(ring: &mut RingBuf, model: &mut VecDeque<u8>, op: &Op) {
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

pub fn assert_same(ring: &mut RingBuf, model: &VecDeque<u8>) {
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
