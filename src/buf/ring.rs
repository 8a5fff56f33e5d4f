//! `RingBuf`: a fixed-capacity byte ring that is both the buffer a socket is read into and
//! the buffer it is written out from, so a server can read, parse in place and echo back
//! without copying between buffers.
//!
//! # Layout and invariants
//!
//! ```text
//!   storage: [ free | readable (len bytes) ...... | free ]      no wrap
//!                     ^head
//!   storage: [ readable ... | free ............ | readable ]    wrapped
//!                            ^tail               ^head
//! ```
//!
//! * `storage.len()` is a power of two, fixed at construction; nothing allocates after.
//! * `head < capacity` is where the readable bytes start, `len <= capacity` how many there
//!   are; the free space starts at `tail = (head + len) mod capacity`.
//! * The readable bytes and the free space are each at most two contiguous regions, which
//!   [`Buf::chunks_vectored`] and [`BufMutVectored::read_vectored_from`] hand to one
//!   `writev` / `readv`.
//! * When the ring becomes empty `head` returns to 0, so that the next fill sees the whole
//!   storage as one region and the common case needs only one iovec.
//! * Every byte of `storage` is initialised (zeroed at construction), so reading into the
//!   free space needs no zero-fill and no `unsafe`.

use super::{over_read, Buf, BufMutVectored};
use crate::sys::buf::{buf_mut_over_initialized, try_zeroed_bytes, InitializedBufMut};
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read};

/// A fixed-capacity ring of bytes implementing [`Buf`] (read side) and
/// [`BufMut`](super::BufMut) (write side), with vectored access to both.
///
/// Bytes put in with [`BufMut`](super::BufMut) methods or
/// [`TryRead::try_read_buf_vectored`](crate::TryRead::try_read_buf_vectored) come out, in
/// order, through [`Buf`] methods or [`TryWrite::try_write_buf`](crate::TryWrite::try_write_buf).
/// Both IO calls make one syscall even when the data or the free space wraps around the
/// end of the storage.
///
/// Use `try_read_buf_vectored` rather than `try_read_buf` to fill a ring: the latter takes
/// any `BufMut` and so only sees the first contiguous part of the free space.
///
/// ```
/// use readyio::buf::{Buf, BufMut, RingBuf};
///
/// let mut ring = RingBuf::with_capacity(6); // rounded up to 8
/// assert_eq!(ring.capacity(), 8);
/// ring.put_slice(b"abcdef");
/// ring.advance(4); // consume "abcd"
/// ring.put_slice(b"ghij"); // wraps around the end of the storage
/// assert_eq!(ring.as_slices(), (&b"efgh"[..], &b"ij"[..]));
/// assert_eq!(ring.make_contiguous(), b"efghij");
/// ```
pub struct RingBuf {
    storage: Box<[u8]>,
    head: usize,
    len: usize,
}

impl RingBuf {
    /// A ring holding at least `capacity` bytes: the capacity is rounded up to a power of
    /// two (and to at least 1). This is the only allocation the ring ever makes.
    ///
    /// # Panics
    /// If the rounded capacity is more than `isize::MAX` bytes or the allocator refuses it
    /// (a panic, which `catch_unwind` can stop, where `vec!` would abort the process). Use
    /// [`try_with_capacity`](RingBuf::try_with_capacity) to get an error instead.
    pub fn with_capacity(capacity: usize) -> RingBuf {
        match RingBuf::try_with_capacity(capacity) {
            Ok(ring) => ring,
            Err(e) => panic!("RingBuf::with_capacity({capacity}): {e}"),
        }
    }

    /// [`with_capacity`](RingBuf::with_capacity), returning `ErrorKind::OutOfMemory` when the
    /// rounded capacity is more than `isize::MAX` bytes or the allocator refuses it.
    ///
    /// ```
    /// use readyio::buf::RingBuf;
    ///
    /// assert_eq!(RingBuf::try_with_capacity(1000)?.capacity(), 1024);
    /// let absurd = RingBuf::try_with_capacity(usize::MAX).unwrap_err();
    /// assert_eq!(absurd.kind(), std::io::ErrorKind::OutOfMemory);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_with_capacity(capacity: usize) -> io::Result<RingBuf> {
        let Some(capacity) = capacity.max(1).checked_next_power_of_two() else {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("a RingBuf of {capacity} bytes rounds up past usize::MAX"),
            ));
        };
        Ok(RingBuf { storage: try_zeroed_bytes(capacity)?, head: 0, len: 0 })
    }

    /// How many bytes the ring can hold (a power of two).
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// How many readable bytes the ring holds (the same as [`Buf::remaining`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether there is no room to write.
    pub fn is_full(&self) -> bool {
        self.len == self.capacity()
    }

    /// Drops all readable bytes.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// The readable bytes as two slices, in order; the second is empty unless they wrap.
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        let first_len = self.len.min(self.capacity() - self.head);
        let (wrapped, from_head) = self.storage.split_at(self.head);
        (&from_head[..first_len], &wrapped[..self.len - first_len])
    }

    /// The readable bytes as two mutable slices, for editing in place before writing out.
    pub fn as_mut_slices(&mut self) -> (&mut [u8], &mut [u8]) {
        let first_len = self.len.min(self.capacity() - self.head);
        let (wrapped, from_head) = self.storage.split_at_mut(self.head);
        (&mut from_head[..first_len], &mut wrapped[..self.len - first_len])
    }

    /// Moves the readable bytes to the start of the storage (in place, no allocation) and
    /// returns them as one slice, for a parser that needs contiguous input.
    pub fn make_contiguous(&mut self) -> &mut [u8] {
        if self.head + self.len > self.capacity() {
            self.storage.rotate_left(self.head);
        } else {
            self.storage.copy_within(self.head..self.head + self.len, 0);
        }
        self.head = 0;
        &mut self.storage[..self.len]
    }

    /// Where the free space starts.
    fn tail(&self) -> usize {
        (self.head + self.len) & (self.capacity() - 1)
    }

    /// The free space as up to two slices, in order; both empty when the ring is full.
    fn free_slices(&mut self) -> (&mut [u8], &mut [u8]) {
        if self.is_full() {
            return (&mut [], &mut []);
        }
        let (head, tail) = (self.head, self.tail());
        if tail < head {
            (&mut self.storage[tail..head], &mut [])
        } else {
            let (before_tail, from_tail) = self.storage.split_at_mut(tail);
            (from_tail, &mut before_tail[..head])
        }
    }
}

impl fmt::Debug for RingBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingBuf")
            .field("capacity", &self.capacity())
            .field("head", &self.head)
            .field("len", &self.len)
            .finish()
    }
}

impl Buf for RingBuf {
    fn remaining(&self) -> usize {
        self.len
    }

    fn chunk(&self) -> &[u8] {
        self.as_slices().0
    }

    /// # Panics
    /// If `count > self.remaining()`, as `Buf::advance` may.
    fn advance(&mut self, count: usize) {
        assert!(count <= self.len, "RingBuf::advance({count}) past the {} readable bytes", self.len);
        self.len -= count;
        // An empty ring starts over at 0 so the next fill is one contiguous region.
        self.head = if self.len == 0 { 0 } else { (self.head + count) & (self.capacity() - 1) };
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let (first, second) = self.as_slices();
        let mut filled = 0;
        for part in [first, second] {
            if part.is_empty() || filled == dst.len() {
                break;
            }
            dst[filled] = IoSlice::new(part);
            filled += 1;
        }
        filled
    }
}

impl InitializedBufMut for RingBuf {
    fn spare_len(&self) -> usize {
        self.capacity() - self.len
    }

    fn spare_chunk(&mut self) -> &mut [u8] {
        self.free_slices().0
    }

    fn commit(&mut self, count: usize) {
        let spare = self.spare_len();
        assert!(count <= spare, "RingBuf::advance_mut({count}) past the {spare} free bytes");
        self.len += count;
    }
}

buf_mut_over_initialized!(RingBuf);

/// One `read_vectored` (`readv` on readyio's types) over both free regions.
impl BufMutVectored for RingBuf {
    fn read_vectored_from<R: Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<usize> {
        let spare = self.spare_len();
        let (first, second) = self.free_slices();
        let n = if second.is_empty() {
            // One region: a plain read is the same syscall count and lets readers
            // without a vectored path (the default `read_vectored` reads only the first
            // buffer) still fill it.
            reader.read(first)?
        } else {
            reader.read_vectored(&mut [IoSliceMut::new(first), IoSliceMut::new(second)])?
        };
        if n > spare {
            return Err(over_read(n, spare));
        }
        self.len += n;
        Ok(n)
    }
}
