//! Buffers: the `bytes` crate's traits, a fixed ring buffer, and the hook that lets a
//! buffer whose free space is split in two be filled by one vectored read.
//!
//! # The traits are the ecosystem's
//!
//! [`Buf`] (something to write out) and [`BufMut`] (something to read into) are
//! re-exported from [`bytes`], so [`Bytes`], [`BytesMut`], `Vec<u8>`, `&[u8]`,
//! `&mut [u8]`, `std::io::Cursor` and `bytes`' adapters all work with
//! [`TryRead::try_read_buf`](crate::TryRead::try_read_buf) and
//! [`TryWrite::try_write_buf`](crate::TryWrite::try_write_buf). [`MutBuf`] is the seed's
//! name for [`BufMut`].
//!
//! # Slice buffers over caller memory
//!
//! The seed's `SliceBuf` (over `&[u8]`) and `MutSliceBuf` (over `&mut [u8]`, e.g. a stack
//! array) are not separate types here: `bytes` already implements [`Buf`] for `&[u8]` and
//! [`BufMut`] for `&mut [u8]`, each advancing by shrinking the slice, and this module adds
//! [`BufMutVectored`] for `&mut [u8]` so that a read into one touches no memory twice:
//!
//! ```
//! use readyio::buf::{BufMut, BufMutVectored};
//!
//! let mut storage = [0u8; 16];
//! let mut unfilled = &mut storage[..];
//! let n = unfilled.read_vectored_from(&mut &b"hello"[..]).unwrap();
//! let filled = 16 - unfilled.remaining_mut();
//! assert_eq!((n, &storage[..filled]), (5, &b"hello"[..]));
//! ```
//!
//! # One read even when the free space wraps: `BufMutVectored`
//!
//! [`Buf::chunks_vectored`] lets a generic writer send a wrapped ring with one `writev`,
//! but [`BufMut`] has no vectored counterpart: through it a reader only ever sees one
//! contiguous `chunk_mut()`. Rust has no specialisation, so a generic
//! `try_read_buf<B: BufMut>` cannot notice that `B` is a ring. The decision:
//!
//! * [`TryRead::try_read_buf`](crate::TryRead::try_read_buf) accepts **any** [`BufMut`]
//!   and makes one `read` into its first contiguous chunk (zero-filled first: `Read`
//!   must not be handed uninitialised memory).
//! * [`BufMutVectored`] is this crate's extension of [`BufMut`]: "fill me with one read
//!   call". Its provided method does what `try_read_buf` does; [`RingBuf`] overrides it
//!   with one `read_vectored` (`readv`) over both free regions when its free space wraps
//!   (a plain `read` when it is one region), and `&mut [u8]` overrides it to skip the
//!   zero-fill. It is implemented for `Vec<u8>`, [`BytesMut`], `&mut [u8]`,
//!   [`RingBuf`] and `&mut B`; implement it for your own buffer with an empty `impl`.
//! * [`TryRead::try_read_buf_vectored`](crate::TryRead::try_read_buf_vectored) reads
//!   through that hook, so a wrapped [`RingBuf`] is filled by exactly one syscall.

mod ring;

pub use bytes::{Buf, BufMut, Bytes, BytesMut};
pub use ring::RingBuf;

use std::io::{self, Read};

/// The seed's name for [`BufMut`]: a buffer that can be read into.
pub use bytes::BufMut as MutBuf;

/// A [`BufMut`] that can be filled by one (possibly vectored) read call.
///
/// The provided [`read_vectored_from`](BufMutVectored::read_vectored_from) makes one
/// `read` into the first contiguous chunk; buffers whose free space is split override it
/// to make one `read_vectored` over all of it. See the [module docs](self) for why this
/// trait exists.
pub trait BufMutVectored: BufMut {
    /// Makes exactly one read call on `reader` into this buffer's free space and advances
    /// the buffer by the number of bytes read, which it returns.
    ///
    /// `Ok(0)` means end of stream, or that the buffer had no room (check
    /// [`BufMut::has_remaining_mut`] first). Errors, including `WouldBlock`, are passed on
    /// and leave the buffer unchanged.
    fn read_vectored_from<R: Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<usize> {
        crate::sys::buf::read_into_chunk(self, |chunk| reader.read(chunk))
    }
}

impl BufMutVectored for Vec<u8> {}

impl BufMutVectored for BytesMut {}

/// Reads straight into the slice (it is initialised already) and shrinks it past the
/// bytes read, as `BufMut` for `&mut [u8]` does.
impl BufMutVectored for &mut [u8] {
    fn read_vectored_from<R: Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<usize> {
        let n = reader.read(self)?;
        if n > self.len() {
            return Err(over_read(n, self.len()));
        }
        let unfilled = std::mem::take(self);
        *self = &mut unfilled[n..];
        Ok(n)
    }
}

impl<B: BufMutVectored + ?Sized> BufMutVectored for &mut B {
    fn read_vectored_from<R: Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<usize> {
        (**self).read_vectored_from(reader)
    }
}

/// The error for a `Read` that returns a count larger than the room it was given.
pub(crate) fn over_read(claimed: usize, room: usize) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("reader claimed {claimed} bytes read into {room} bytes of room"))
}
