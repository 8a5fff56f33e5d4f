//! The places where buffers need `unsafe`: implementing the `unsafe trait BufMut` (whose
//! `advance_mut` is an `unsafe fn`), turning the uninitialised `chunk_mut()` of an
//! arbitrary `BufMut` into a `&mut [u8]` that `Read` can fill, and allocating zeroed
//! storage without aborting when the allocator refuses.
//!
//! All are wrapped here so that `buf/` and `io.rs` stay free of `unsafe`: buffers that
//! own fully initialised memory implement the safe [`InitializedBufMut`] and get `BufMut`
//! from [`buf_mut_over_initialized!`]; reads into an arbitrary `BufMut` go through
//! [`read_into_chunk`]; storage comes from [`try_zeroed_bytes`].

use bytes::buf::UninitSlice;
use bytes::BufMut;
use std::alloc::{self, Layout};
use std::io;
use std::mem::MaybeUninit;

/// `len` zeroed bytes on the heap, as `vec![0u8; len]` makes them (with `calloc`, so large
/// buffers come as the kernel's zero pages, touched only when used), but returning
/// `OutOfMemory` where `vec!` would panic on an oversized `len` or abort the process when
/// the allocator refuses.
pub(crate) fn try_zeroed_bytes(len: usize) -> io::Result<Box<[u8]>> {
    if len == 0 {
        return Ok(Box::default());
    }
    let refused = |why: &str| {
        io::Error::new(io::ErrorKind::OutOfMemory, format!("readyio could not allocate {len} bytes: {why}"))
    };
    let layout = Layout::array::<u8>(len).map_err(|_| refused("more than isize::MAX bytes"))?;
    // SAFETY: `layout` has a non-zero size (`len > 0`).
    let ptr = unsafe { alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(refused("the allocator refused"));
    }
    // SAFETY: `ptr` is a live allocation of `len` zeroed (so initialised) bytes from the
    // global allocator with the layout of `[u8; len]`, which is the layout `Box<[u8]>`
    // frees it with; nothing else owns it.
    Ok(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) })
}

/// A writable buffer whose spare room is always initialised memory, so that committing
/// bytes after a write can never expose uninitialised data and needs no `unsafe`.
pub(crate) trait InitializedBufMut {
    /// How many bytes can still be written in total (`BufMut::remaining_mut`).
    fn spare_len(&self) -> usize;
    /// The next contiguous writable region (empty only when `spare_len() == 0`).
    fn spare_chunk(&mut self) -> &mut [u8];
    /// Marks the first `count` bytes of the spare room as written.
    ///
    /// # Panics
    /// If `count > spare_len()`, as `BufMut::advance_mut` may.
    fn commit(&mut self, count: usize);
}

/// Implements `bytes::BufMut` for a type that implements [`InitializedBufMut`].
macro_rules! buf_mut_over_initialized {
    ($ty:ty) => {
        // SAFETY: `chunk_mut` hands out initialised memory owned by the buffer, and
        // `remaining_mut`/`advance_mut` forward to `InitializedBufMut`, whose `commit`
        // panics instead of advancing past the spare room.
        #[allow(unsafe_code)]
        unsafe impl ::bytes::BufMut for $ty {
            #[inline]
            fn remaining_mut(&self) -> usize {
                $crate::sys::buf::InitializedBufMut::spare_len(self)
            }
            #[inline]
            unsafe fn advance_mut(&mut self, count: usize) {
                $crate::sys::buf::InitializedBufMut::commit(self, count)
            }
            #[inline]
            fn chunk_mut(&mut self) -> &mut ::bytes::buf::UninitSlice {
                ::bytes::buf::UninitSlice::new($crate::sys::buf::InitializedBufMut::spare_chunk(self))
            }
        }
    };
}
pub(crate) use buf_mut_over_initialized;

/// Calls `read` once with `buf.chunk_mut()` (zero-filled first) and advances `buf` by the
/// count it returns.
///
/// `std::io::Read::read` takes `&mut [u8]`, which must not point at uninitialised memory;
/// the zeroing is the price of reading into an arbitrary `BufMut` safely. Buffers that own
/// initialised memory (`RingBuf`, `&mut [u8]`) skip it through `BufMutVectored`.
/// A `read` that claims more bytes than it was given is an `InvalidData` error.
pub(crate) fn read_into_chunk<B: BufMut + ?Sized>(
    buf: &mut B,
    read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    let chunk = zeroed_chunk(buf.chunk_mut());
    let room = chunk.len();
    let n = read(chunk)?;
    if n > room {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "reader returned more bytes than it was given"));
    }
    // SAFETY: the first `n <= room` bytes of `chunk_mut()` were zero-filled above (and
    // possibly overwritten by `read`), so they are initialised.
    unsafe { buf.advance_mut(n) };
    Ok(n)
}

/// Zero-fills `chunk` and returns it as initialised bytes.
fn zeroed_chunk(chunk: &mut UninitSlice) -> &mut [u8] {
    // SAFETY: `as_uninit_slice_mut` forbids reading from the memory and writing
    // uninitialised bytes into it; we only write zeros.
    let uninit: &mut [MaybeUninit<u8>] = unsafe { chunk.as_uninit_slice_mut() };
    uninit.fill(MaybeUninit::new(0));
    let len = uninit.len();
    // SAFETY: every one of the `len` bytes was initialised just above, and `MaybeUninit<u8>`
    // has the layout of `u8`; the new slice borrows `chunk` exclusively for as long as `uninit`.
    unsafe { std::slice::from_raw_parts_mut(uninit.as_mut_ptr().cast::<u8>(), len) }
}
