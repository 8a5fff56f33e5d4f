//! Buffers against real sockets on loopback: a wrapped `RingBuf` goes out with exactly one
//! `writev` and is filled with exactly one `readv`, the bytes on the other side are right,
//! and `WouldBlock` is `Ok(None)` for every buffer kind.
//!
//! The syscall count is the kernel's own: `/proc/thread-self/io` counts this thread's read
//! (`syscr`) and write (`syscw`) syscalls, `readv`/`writev` included, and the bytes they
//! moved (`rchar`/`wchar`). Reading that file costs one `pread`, which is measured and
//! subtracted. Those counters see only read- and write-type calls, so each measured call
//! also runs in a marked window (`support/syscall_window.rs`) in which
//! `ci/syscalls-in-windows.sh` counts every syscall under `strace` and fails on any other
//! call (a zero-length `send`, an `fcntl`, ...). Linux only, for that file.
#![cfg(target_os = "linux")]

#[path = "support/syscall_window.rs"]
mod syscall_window;

use readyio::buf::{Buf, BufMut, BytesMut, RingBuf};
use readyio::{Io, TryRead, TryWrite};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

/// This thread's IO accounting, from `/proc/thread-self/io`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IoCounters {
    read_syscalls: u64,
    write_syscalls: u64,
    written_bytes: u64,
}

impl std::ops::Sub for IoCounters {
    type Output = IoCounters;
    fn sub(self, earlier: IoCounters) -> IoCounters {
        IoCounters {
            read_syscalls: self.read_syscalls - earlier.read_syscalls,
            write_syscalls: self.write_syscalls - earlier.write_syscalls,
            written_bytes: self.written_bytes - earlier.written_bytes,
        }
    }
}

/// Reads the calling thread's counters with one `pread` of an already open file.
struct ThreadIo(File);

impl ThreadIo {
    fn open() -> ThreadIo {
        ThreadIo(File::open("/proc/thread-self/io").expect("/proc/thread-self/io (CONFIG_TASK_IO_ACCOUNTING)"))
    }

    fn snapshot(&self) -> IoCounters {
        let mut text = [0u8; 1024];
        let len = self.0.read_at(&mut text, 0).expect("read /proc/thread-self/io");
        let text = std::str::from_utf8(&text[..len]).unwrap();
        let field = |name: &str| -> u64 {
            let line = text.lines().find(|l| l.starts_with(name)).expect(name);
            line[name.len()..].trim().parse().unwrap()
        };
        IoCounters { read_syscalls: field("syscr:"), write_syscalls: field("syscw:"), written_bytes: field("wchar:") }
    }

    /// The counters `op` alone moves (the snapshot's own `pread` is subtracted); `op` runs in
    /// the syscall window `label`.
    fn measure<T>(&self, label: &str, op: impl FnOnce() -> T) -> (T, IoCounters) {
        let (a, b) = (self.snapshot(), self.snapshot());
        let overhead = b - a;
        let before = self.snapshot();
        let value = syscall_window::window(label, op);
        let after = self.snapshot();
        let delta = after - before;
        let op_only = IoCounters {
            read_syscalls: delta.read_syscalls - overhead.read_syscalls,
            write_syscalls: delta.write_syscalls - overhead.write_syscalls,
            written_bytes: delta.written_bytes - overhead.written_bytes,
        };
        (value, op_only)
    }
}

/// A loopback TCP connection: the readyio side as a non-blocking `Io` (plain `readv` /
/// `writev`, both counted by the kernel's per-thread counters) plus a second handle on it
/// for peeking, and the peer as a blocking std stream with timeouts.
fn tcp_pair() -> (Io, TcpStream, TcpStream) {
    let (ours, peek, peer) = std_tcp_pair();
    (Io::from(OwnedFd::from(ours)), peek, peer)
}

/// As `tcp_pair`, with the readyio side as a `tcp::TcpStream` (`readv` / `sendmsg`).
fn readyio_tcp_pair() -> (readyio::tcp::TcpStream, TcpStream, TcpStream) {
    let (ours, peek, peer) = std_tcp_pair();
    (readyio::tcp::TcpStream::from_std(ours).unwrap(), peek, peer)
}

fn std_tcp_pair() -> (TcpStream, TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    peer.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    ours.set_nonblocking(true).unwrap();
    let peek = ours.try_clone().unwrap();
    (ours, peek, peer)
}

/// Waits (bounded) until `count` bytes are queued on `socket`, without consuming them.
fn wait_until_queued(socket: &TcpStream, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut scratch = vec![0u8; count + 1];
    loop {
        match socket.peek(&mut scratch) {
            Ok(n) if n >= count => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("peek: {e}"),
        }
        assert!(Instant::now() < deadline, "{count} bytes never arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `len` bytes of a pattern that shows misordering (no period dividing 4096).
fn pattern(start: usize, len: usize) -> Vec<u8> {
    (start..start + len).map(|i| (i % 251) as u8).collect()
}

/// A 4096-byte ring holding 4000 bytes that wrap: 2096 at the end of the storage and
/// 1904 at its start.
fn wrapped_full_ring() -> (RingBuf, Vec<u8>) {
    let mut ring = RingBuf::with_capacity(4096);
    ring.put_slice(&pattern(0, 3000));
    ring.advance(2000);
    ring.put_slice(&pattern(3000, 3000));
    let (first, second) = ring.as_slices();
    assert_eq!((first.len(), second.len()), (2096, 1904), "the ring must wrap for this test");
    (ring, pattern(2000, 4000))
}

#[test]
fn wrapped_ring_goes_out_in_one_writev_with_the_right_bytes() {
    let (mut ours, _peek, mut peer) = tcp_pair();
    let (mut ring, expected) = wrapped_full_ring();
    let thread_io = ThreadIo::open();

    let (written, counted) = thread_io.measure("ring-writev", || ours.try_write_buf(&mut ring).unwrap());

    assert_eq!(written, Some(4000));
    assert_eq!(counted.write_syscalls, 1, "one writev for both regions: {counted:?}");
    assert_eq!(counted.written_bytes, 4000);
    assert!(ring.is_empty());
    let mut received = vec![0u8; 4000];
    peer.read_exact(&mut received).unwrap();
    assert_eq!(received, expected);
}

#[test]
fn wrapped_free_space_is_filled_by_one_readv_with_the_right_bytes() {
    let (mut ours, peek, mut peer) = tcp_pair();
    // Head at 2000 with 1000 readable bytes: the free space is 3000..4096 and 0..2000.
    let mut ring = RingBuf::with_capacity(4096);
    ring.put_slice(&pattern(0, 3000));
    ring.advance(2000);
    let free = ring.remaining_mut();
    assert_eq!(free, 3096);
    let incoming = pattern(3000, free);
    peer.write_all(&incoming).unwrap();
    wait_until_queued(&peek, free);
    let thread_io = ThreadIo::open();

    let (read, counted) = thread_io.measure("ring-readv", || ours.try_read_buf_vectored(&mut ring).unwrap());

    assert_eq!(read, Some(free));
    assert_eq!(counted.read_syscalls, 1, "one readv for both free regions: {counted:?}");
    assert!(ring.is_full());
    assert_eq!(ring.make_contiguous(), &pattern(2000, 4096)[..]);
}

#[test]
fn wrapped_ring_leaves_a_tcp_stream_in_one_call_with_the_right_bytes() {
    // `TcpStream` writes vectored data with `sendmsg`, which the per-thread counters do not
    // see: one `write_vectored` call moving everything is checked here, the single
    // `sendmsg` (and nothing else) by `ci/syscalls-in-windows.sh` under strace.
    let (mut ours, _peek, mut peer) = readyio_tcp_pair();
    let (mut ring, expected) = wrapped_full_ring();

    let written = syscall_window::window("ring-tcp-sendmsg", || ours.try_write_buf(&mut ring).unwrap());

    assert_eq!(written, Some(4000));

    assert!(ring.is_empty());
    let mut received = vec![0u8; 4000];
    peer.read_exact(&mut received).unwrap();
    assert_eq!(received, expected);
}

#[test]
fn wrapped_free_space_is_filled_from_a_tcp_stream_by_one_readv() {
    let (mut ours, peek, mut peer) = readyio_tcp_pair();
    let mut ring = RingBuf::with_capacity(4096);
    ring.put_slice(&pattern(0, 3000));
    ring.advance(2000);
    let free = ring.remaining_mut();
    peer.write_all(&pattern(3000, free)).unwrap();
    wait_until_queued(&peek, free);
    let thread_io = ThreadIo::open();

    let (read, counted) = thread_io.measure("ring-tcp-readv", || ours.try_read_buf_vectored(&mut ring).unwrap());

    assert_eq!(read, Some(free));
    assert_eq!(counted.read_syscalls, 1, "one readv for both free regions: {counted:?}");
    assert_eq!(ring.make_contiguous(), &pattern(2000, 4096)[..]);
}

#[test]
fn echo_through_one_wrapping_ring_keeps_every_byte_in_order() {
    // Many rounds through a small ring make the head and tail wrap at every offset.
    let (mut ours, peek, mut peer) = tcp_pair();
    let mut ring = RingBuf::with_capacity(64);
    let mut sent_total = 0;
    for round in 0..200 {
        let chunk = pattern(sent_total, 1 + (round * 7) % 63);
        peer.write_all(&chunk).unwrap();
        wait_until_queued(&peek, chunk.len());
        assert_eq!(ours.try_read_buf_vectored(&mut ring).unwrap(), Some(chunk.len()));
        assert_eq!(ours.try_write_buf(&mut ring).unwrap(), Some(chunk.len()));
        let mut echoed = vec![0u8; chunk.len()];
        peer.read_exact(&mut echoed).unwrap();
        assert_eq!(echoed, chunk);
        sent_total += chunk.len();
        // Leave a byte behind now and then so the head drifts instead of resetting to 0.
        if round % 3 == 0 {
            ring.put_u8(0xEE);
            assert_eq!(ours.try_write_buf(&mut ring).unwrap(), Some(1));
            let mut one = [0u8; 1];
            peer.read_exact(&mut one).unwrap();
            assert_eq!(one, [0xEE]);
        }
    }
}

#[test]
fn chained_buffers_go_out_in_one_writev() {
    let (mut ours, _peek, mut peer) = tcp_pair();
    let header = readyio::buf::Bytes::from_static(b"HEADER:");
    let body = readyio::buf::Bytes::from(pattern(0, 1000));
    let mut message = header.chain(body);
    let thread_io = ThreadIo::open();

    let (written, counted) = thread_io.measure("chain-writev", || ours.try_write_buf(&mut message).unwrap());

    assert_eq!(written, Some(1007));
    assert_eq!(counted.write_syscalls, 1, "{counted:?}");
    let mut received = vec![0u8; 1007];
    peer.read_exact(&mut received).unwrap();
    assert_eq!(&received[..7], b"HEADER:");
    assert_eq!(&received[7..], &pattern(0, 1000)[..]);
}

#[test]
fn nothing_to_read_is_none_for_every_buffer_kind() {
    let (mut ours, _peek, _peer) = tcp_pair();
    let mut ring = RingBuf::with_capacity(64);
    let mut bytes = BytesMut::with_capacity(64);
    let mut vec = Vec::with_capacity(64);
    let mut storage = [0u8; 64];
    assert_eq!(ours.try_read_buf_vectored(&mut ring).unwrap(), None);
    assert_eq!(ours.try_read_buf(&mut ring).unwrap(), None);
    assert_eq!(ours.try_read_buf(&mut bytes).unwrap(), None);
    assert_eq!(ours.try_read_buf(&mut vec).unwrap(), None);
    assert_eq!(ours.try_read_buf(&mut &mut storage[..]).unwrap(), None);
    assert!(ring.is_empty() && bytes.is_empty() && vec.is_empty());
}

#[test]
fn full_socket_buffer_write_is_none_and_keeps_the_bytes() {
    let (mut ours, _peek, _peer) = tcp_pair();
    let mut ring = RingBuf::with_capacity(1 << 16);
    // Write until the kernel's send and receive queues are full (the peer never reads).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if !ring.has_remaining() {
            ring.put_slice(&pattern(0, ring.remaining_mut()));
        }
        if ours.try_write_buf(&mut ring).unwrap().is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the socket never filled up");
    }
    let before = ring.len();
    assert_eq!(ours.try_write_buf(&mut ring).unwrap(), None);
    assert_eq!(ring.len(), before, "a blocked write leaves the buffer untouched");
}

#[test]
fn end_of_stream_is_some_zero_for_the_buffers() {
    let (mut ours, peek, peer) = tcp_pair();
    drop(peer);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut scratch = [0u8; 1];
    while !matches!(peek.peek(&mut scratch), Ok(0)) {
        assert!(Instant::now() < deadline, "EOF never arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut ring = RingBuf::with_capacity(64);
    let mut bytes = BytesMut::with_capacity(64);
    assert_eq!(ours.try_read_buf_vectored(&mut ring).unwrap(), Some(0));
    assert_eq!(ours.try_read_buf(&mut bytes).unwrap(), Some(0));
}
