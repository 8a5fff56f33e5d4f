//! Unix sockets and pipes on the real kernel: listener/stream/socket, fd passing,
//! pipe readiness, vectored IO, bad paths and conversions from std.

use readyio::buf::{Buf, BufMut, BytesMut, RingBuf};
use readyio::unix::{pipe, EventedFd, PipeReader, PipeWriter, UnixListener, UnixSocket, UnixStream};
use readyio::{EventSet, IoEvent, Poll, PollOpt, Token, TryAccept, TryRead, TryWrite};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "support/read_exactly.rs"]
mod read_exactly;

use read_exactly::read_exactly;

const TOKEN: Token = Token(3);

/// A fresh directory for one test's socket files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("readyio-unix-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls until an event for TOKEN satisfies `wanted`, for at most 5 s.
fn wait_for(poll: &mut Poll, wanted: impl Fn(EventSet) -> bool) -> IoEvent {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        poll.poll_timeout(Some(Duration::from_millis(100))).unwrap();
        if let Some(event) = poll.events().find(|e| e.token == TOKEN && wanted(e.kind)) {
            return event;
        }
    }
    panic!("no matching event within 5 s");
}

fn poll_for<E: readyio::Evented>(handle: &E, interest: EventSet) -> Poll {
    let mut poll = Poll::new().unwrap();
    poll.register(handle, TOKEN, interest, PollOpt::level()).unwrap();
    poll
}

fn accept_one(listener: &UnixListener) -> UnixStream {
    let mut poll = poll_for(listener, EventSet::readable());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(stream) = listener.accept().unwrap() {
            return stream;
        }
        assert!(Instant::now() < deadline, "no connection within 5 s");
        poll.poll_timeout(Some(Duration::from_millis(100))).unwrap();
    }
}

#[test]
fn listener_accepts_and_streams_echo_across_threads() {
    let dir = TempDir::new("echo");
    let path = dir.join("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));

    let server = std::thread::spawn(move || {
        let mut stream = accept_one(&listener);
        let request = read_exactly(&mut stream, 5);
        stream.write_all(&request).unwrap();
    });
    let mut client = UnixStream::connect(&path).unwrap();
    assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    assert!(client.local_addr().unwrap().is_unnamed());
    client.write_all(b"hello").unwrap();
    assert_eq!(read_exactly(&mut client, 5), b"hello");
    server.join().unwrap();
}

#[test]
fn accept_returns_none_when_nothing_is_pending() {
    let dir = TempDir::new("none");
    let listener = UnixListener::bind(&dir.join("idle.sock")).unwrap();
    assert!(listener.accept().unwrap().is_none());
    assert!(TryAccept::accept(&listener).unwrap().is_none());
}

#[test]
fn binding_a_path_in_use_returns_addr_in_use() {
    let dir = TempDir::new("inuse");
    let path = dir.join("taken.sock");
    let _listener = UnixListener::bind(&path).unwrap();
    assert_eq!(UnixListener::bind(&path).unwrap_err().kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn too_long_or_nul_paths_are_invalid_input() {
    let long = PathBuf::from(format!("/tmp/{}", "x".repeat(200)));
    assert_eq!(UnixListener::bind(&long).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!(UnixStream::connect(&long).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    let socket = UnixSocket::stream().unwrap();
    assert_eq!(socket.bind(&long).unwrap_err().kind(), io::ErrorKind::InvalidInput);

    // Exactly sun_path's size leaves no room for the terminating NUL.
    let exact = PathBuf::from("y".repeat(108));
    assert_eq!(UnixStream::connect(&exact).unwrap_err().kind(), io::ErrorKind::InvalidInput);

    assert_eq!(UnixStream::connect("/tmp/a\0b").unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!(UnixStream::connect("").unwrap_err().kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn connecting_to_nothing_is_a_clean_error() {
    let dir = TempDir::new("nothing");
    let error = UnixStream::connect(&dir.join("absent.sock")).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);

    // A socket file whose listener is gone refuses connections.
    let stale = dir.join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    assert_eq!(UnixStream::connect(&stale).unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn unix_socket_binds_listens_and_connects() {
    let dir = TempDir::new("socket");
    let path = dir.join("built.sock");
    let socket = UnixSocket::stream().unwrap();
    socket.bind(&path).unwrap();
    let listener = socket.listen(16).unwrap();

    let (mut client, complete) = UnixSocket::stream().unwrap().connect(&path).unwrap();
    assert!(complete, "a Unix connect to a listening socket completes at once");
    let mut server = accept_one(&listener);
    client.write_all(b"built").unwrap();
    assert_eq!(read_exactly(&mut server, 5), b"built");
}

#[cfg(target_os = "linux")]
#[test]
fn abstract_names_work_on_linux() {
    let name = format!("\0readyio-abstract-{}", std::process::id());
    let listener = UnixListener::bind(std::path::Path::new(&name)).unwrap();
    let mut client = UnixStream::connect(std::path::Path::new(&name)).unwrap();
    let mut server = accept_one(&listener);
    client.write_all(b"abs").unwrap();
    assert_eq!(read_exactly(&mut server, 3), b"abs");
    use std::os::linux::net::SocketAddrExt;
    assert_eq!(listener.local_addr().unwrap().as_abstract_name(), Some(&name.as_bytes()[1..]));
}

/// Whether `fd` has FD_CLOEXEC set.
fn is_cloexec(fd: impl AsFd) -> bool {
    // SAFETY: F_GETFD only reads the flags of an fd we borrow.
    let flags = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0);
    flags & libc::FD_CLOEXEC != 0
}

#[test]
fn passed_pipe_fd_carries_data_to_the_other_end() {
    let (sender, receiver) = UnixStream::pair().unwrap();
    let (mut pipe_reader, pipe_writer) = pipe().unwrap();

    assert_eq!(sender.try_write_send_fd(b"fd", pipe_writer.as_raw_fd()).unwrap(), Some(2));
    drop(pipe_writer); // The receiver now holds the only write end.

    let mut poll = poll_for(&receiver, EventSet::readable());
    wait_for(&mut poll, |kind| kind.is_readable());
    let mut buf = [0u8; 8];
    let (len, fd) = receiver.try_read_recv_owned_fd(&mut buf).unwrap().expect("a message");
    assert_eq!(&buf[..len], b"fd");
    let fd = fd.expect("the passed fd");
    assert!(is_cloexec(&fd), "received fds are close-on-exec");

    let mut passed_writer = PipeWriter::from(fd);
    passed_writer.write_all(b"through the passed fd").unwrap();
    assert_eq!(read_exactly(&mut pipe_reader, 21), b"through the passed fd");
    drop(passed_writer);
    // Every write end is closed now: end of stream.
    let mut poll = poll_for(&pipe_reader, EventSet::readable());
    wait_for(&mut poll, |kind| kind.is_readable() || kind.is_hup());
    assert_eq!(pipe_reader.try_read(&mut buf).unwrap(), Some(0));
}

#[test]
fn raw_fd_form_of_fd_passing_hands_ownership_to_the_caller() {
    let dir = TempDir::new("rawfd");
    let path = dir.join("pass.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let mut client = UnixStream::connect(&path).unwrap();
    let server = accept_one(&listener);
    let (mut pipe_reader, pipe_writer) = pipe().unwrap();

    client.write_send_fd(b"w", pipe_writer.as_raw_fd()).unwrap();
    let mut buf = [0u8; 4];
    let mut poll = poll_for(&server, EventSet::readable());
    wait_for(&mut poll, |kind| kind.is_readable());
    let (len, raw) = server.try_read_recv_fd(&mut buf).unwrap().expect("a message");
    assert_eq!(len, 1);
    let raw = raw.expect("the passed fd");
    assert_ne!(raw, pipe_writer.as_raw_fd(), "the kernel installs a new fd");
    // SAFETY: the received fd is ours to own and close, per `try_read_recv_fd`'s contract.
    let mut received = unsafe { PipeWriter::from_raw_fd(raw) };
    received.write_all(b"ok").unwrap();
    assert_eq!(read_exactly(&mut pipe_reader, 2), b"ok");

    // Plain data has no fd attached.
    client.write_all(b"plain").unwrap();
    wait_for(&mut poll, |kind| kind.is_readable());
    let (len, fd) = server.read_recv_fd(&mut buf).unwrap();
    assert_eq!(&buf[..len], b"plai");
    assert!(fd.is_none());
}

#[test]
fn recv_fd_with_nothing_queued_returns_none() {
    let (a, _b) = UnixStream::pair().unwrap();
    assert!(a.try_read_recv_fd(&mut [0u8; 4]).unwrap().is_none());
    assert!(a.try_read_recv_owned_fd(&mut [0u8; 4]).unwrap().is_none());
    assert_eq!(a.read_recv_fd(&mut [0u8; 4]).unwrap_err().kind(), io::ErrorKind::WouldBlock);
}

#[test]
fn sending_an_fd_needs_data_and_a_valid_fd() {
    let (a, _b) = UnixStream::pair().unwrap();
    let (_reader, writer) = pipe().unwrap();
    assert_eq!(a.try_write_send_fd(b"", writer.as_raw_fd()).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    // An fd number that is not open is the kernel's EBADF, not a crash.
    let error = a.try_write_send_fd(b"x", 999_999).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EBADF));
}

#[test]
fn write_to_closed_unix_peer_returns_broken_pipe() {
    let (mut a, b) = UnixStream::pair().unwrap();
    drop(b);
    assert_eq!(a.write(b"x").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    let bufs = [IoSlice::new(b"x"), IoSlice::new(b"y")];
    assert_eq!(a.write_vectored(&bufs).unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    let (_reader, writer) = pipe().unwrap();
    assert_eq!(a.write_send_fd(b"x", writer.as_raw_fd()).unwrap_err().kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn unix_peer_close_reports_hup() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut poll = Poll::new().unwrap();
    poll.register(&a, TOKEN, EventSet::readable(), PollOpt::edge()).unwrap();
    b.shutdown(Shutdown::Both).unwrap();
    wait_for(&mut poll, |kind| kind.is_hup());
}

#[test]
fn vectored_unix_write_and_read_move_all_buffers_in_one_call() {
    let (a, b) = UnixStream::pair().unwrap();
    let written = (&a).write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd"), IoSlice::new(b"ef")]).unwrap();
    assert_eq!(written, 6);
    let (mut x, mut y) = ([0u8; 2], [0u8; 8]);
    let read = (&b).read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)]).unwrap();
    assert_eq!(read, 6);
    assert_eq!(&x, b"ab");
    assert_eq!(&y[..4], b"cdef");
}

#[test]
fn pipe_readiness_follows_data_and_closing() {
    let (mut reader, mut writer) = pipe().unwrap();

    let mut write_poll = poll_for(&writer, EventSet::writable());
    wait_for(&mut write_poll, |kind| kind.is_writable());

    let mut read_poll = poll_for(&reader, EventSet::readable());
    read_poll.poll_timeout(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(read_poll.events().count(), 0, "an empty pipe is not readable");
    assert_eq!(reader.try_read(&mut [0u8; 4]).unwrap(), None);

    writer.try_write(b"data").unwrap();
    wait_for(&mut read_poll, |kind| kind.is_readable());
    assert_eq!(reader.try_read(&mut [0u8; 4]).unwrap(), Some(4));

    drop(writer);
    wait_for(&mut read_poll, |kind| kind.is_hup());
    assert_eq!(reader.try_read(&mut [0u8; 4]).unwrap(), Some(0));
}

#[test]
fn full_pipe_write_returns_none_and_closed_reader_gives_broken_pipe() {
    let (reader, mut writer) = pipe().unwrap();
    let chunk = [1u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while writer.try_write(&chunk).unwrap().is_some() {
        assert!(Instant::now() < deadline, "the pipe never filled up");
    }
    drop(reader);
    // Rust's runtime ignores SIGPIPE, so the closed read end shows up as EPIPE.
    assert_eq!(writer.write(b"x").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn vectored_pipe_write_and_read_move_all_buffers_in_one_call() {
    let (reader, writer) = pipe().unwrap();
    let written = (&writer).write_vectored(&[IoSlice::new(b"12"), IoSlice::new(b"345")]).unwrap();
    assert_eq!(written, 5);
    let (mut x, mut y) = ([0u8; 3], [0u8; 3]);
    let read = (&reader).read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)]).unwrap();
    assert_eq!(read, 5);
    assert_eq!(&x, b"123");
    assert_eq!(&y[..2], b"45");
}

#[test]
fn pipe_ends_are_cloexec_and_clone() {
    let (reader, writer) = pipe().unwrap();
    assert!(is_cloexec(&reader) && is_cloexec(&writer));
    let reader2 = reader.try_clone().unwrap();
    let writer2 = writer.try_clone().unwrap();
    assert!(is_cloexec(&reader2) && is_cloexec(&writer2));
    (&writer2).write_all(b"z").unwrap();
    let mut reader2 = reader2;
    assert_eq!(read_exactly(&mut reader2, 1), b"z");
}

#[test]
fn evented_fd_registers_any_fd() {
    let (reader, writer) = pipe().unwrap();
    let raw = reader.as_raw_fd();
    let mut poll = Poll::new().unwrap();
    poll.register(&EventedFd(&raw), TOKEN, EventSet::readable(), PollOpt::level()).unwrap();
    (&writer).write_all(b"e").unwrap();
    wait_for(&mut poll, |kind| kind.is_readable());
    poll.deregister(&EventedFd(&raw)).unwrap();
}

#[test]
fn std_unix_types_convert_and_become_non_blocking() {
    let dir = TempDir::new("std");
    let path = dir.join("std.sock");
    let listener = UnixListener::from(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(listener.accept().unwrap().is_none(), "a blocking listener would hang here");

    let mut stream = UnixStream::from(std::os::unix::net::UnixStream::connect(&path).unwrap());
    assert_eq!(stream.try_read(&mut [0u8; 4]).unwrap(), None, "a blocking stream would hang here");

    let (std_a, _std_b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut a = UnixStream::from_std(std_a).unwrap();
    assert_eq!(a.try_read(&mut [0u8; 4]).unwrap(), None);

    let path2 = dir.join("std2.sock");
    let listener2 = UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path2).unwrap()).unwrap();
    assert!(listener2.accept().unwrap().is_none());
}

#[test]
fn owned_fd_round_trips() {
    let (a, b) = UnixStream::pair().unwrap();
    let a = UnixStream::from(OwnedFd::from(a));
    let (reader, writer) = pipe().unwrap();
    let reader = PipeReader::from(OwnedFd::from(reader));
    (&a).write_all(b"k").unwrap();
    let mut b = b;
    assert_eq!(read_exactly(&mut b, 1), b"k");
    (&writer).write_all(b"p").unwrap();
    let mut reader = reader;
    assert_eq!(read_exactly(&mut reader, 1), b"p");
}

#[test]
fn debug_shows_fd_and_addresses() {
    let dir = TempDir::new("debug");
    let path = dir.join("dbg.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let text = format!("{listener:?}");
    assert!(text.contains(&format!("fd: {}", listener.as_raw_fd())), "{text}");
    assert!(text.contains("dbg.sock"), "{text}");

    let client = UnixStream::connect(&path).unwrap();
    let text = format!("{client:?}");
    assert!(text.contains("peer_addr") && text.contains("dbg.sock"), "{text}");

    let (reader, _writer) = pipe().unwrap();
    assert!(format!("{reader:?}").contains(&format!("fd: {}", reader.as_raw_fd())));
    let socket = UnixSocket::stream().unwrap();
    assert!(format!("{socket:?}").contains("UnixSocket"));
}

#[test]
fn unix_types_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<UnixListener>();
    assert_send::<UnixStream>();
    assert_send::<UnixSocket>();
    assert_send::<PipeReader>();
    assert_send::<PipeWriter>();
}

/// Sends `fds` in one SCM_RIGHTS message with the libc crate's own CMSG macros, an
/// independent source for the layout readyio computes by hand.
fn send_fds_with_libc(stream: &UnixStream, fds: &[i32]) {
    let data_len = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut byte = *b"m";
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    // SAFETY: msghdr is plain old data; zeroed is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer holds `space` bytes, enough for one header and `fds`.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(data_len) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(header).cast::<i32>(), fds.len());
        assert_eq!(libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL), 1);
    }
}

#[test]
fn fds_past_the_first_in_one_message_are_closed_not_leaked() {
    let (sender, receiver) = UnixStream::pair().unwrap();
    let pipes: Vec<(PipeReader, PipeWriter)> = (0..3).map(|_| pipe().unwrap()).collect();
    let writers: Vec<i32> = pipes.iter().map(|(_, w)| w.as_raw_fd()).collect();
    send_fds_with_libc(&sender, &writers);

    let mut poll = poll_for(&receiver, EventSet::readable());
    wait_for(&mut poll, |kind| kind.is_readable());
    let mut buf = [0u8; 4];
    let (len, first) = receiver.try_read_recv_owned_fd(&mut buf).unwrap().expect("a message");
    assert_eq!(&buf[..len], b"m");
    let first = PipeWriter::from(first.expect("the first fd"));

    // Close our own write ends. If readyio leaked the 2nd and 3rd received fds, their
    // pipes would still have a writer and never reach end of stream.
    let mut readers = Vec::new();
    for (reader, writer) in pipes {
        drop(writer);
        readers.push(reader);
    }
    for reader in &readers[1..] {
        let mut poll = poll_for(reader, EventSet::readable());
        wait_for(&mut poll, |kind| kind.is_hup());
        assert_eq!((&*reader).try_read(&mut buf).unwrap(), Some(0));
    }
    // The first pipe still has a writer: the fd we were handed.
    (&first).write_all(b"1").unwrap();
    let mut first_reader = readers.remove(0);
    assert_eq!(read_exactly(&mut first_reader, 1), b"1");
}

/// A ring holding `data` split across the end of its storage, so that it is two chunks.
fn wrapped_ring(data: &[u8]) -> RingBuf {
    let mut ring = RingBuf::with_capacity(32);
    ring.put_slice(&[0u8; 24]);
    ring.advance(20); // Not empty, so the ring keeps its head at 20.
    ring.put_slice(data);
    ring.advance(4);
    let mut chunks = [IoSlice::new(&[]); 4];
    assert_eq!(ring.chunks_vectored(&mut chunks), 2, "the data wraps");
    ring
}

#[test]
fn buf_forms_pass_a_pipe_from_a_wrapped_ring_into_bytes_mut_and_back() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let (pipe_reader, mut pipe_writer) = pipe().unwrap();

    // Out of a wrapped RingBuf: both chunks and the fd go out in one sendmsg.
    let mut out = wrapped_ring(b"take this reader");
    assert_eq!(ours.try_write_buf_send_fd(&mut out, &pipe_reader).unwrap(), Some(16));
    assert!(!out.has_remaining(), "the ring advanced past what was sent");
    drop(pipe_reader); // The peer now holds the only read end.

    let mut into = BytesMut::with_capacity(64);
    let (len, fd) = theirs.try_read_buf_recv_fd(&mut into).unwrap().expect("a message is queued");
    assert_eq!((len, &into[..]), (16, &b"take this reader"[..]), "BytesMut advanced by the bytes read");
    let fd = fd.expect("the pipe's read end came along");
    assert!(is_cloexec(&fd), "received fds are close-on-exec");
    let mut received = PipeReader::from(fd);
    pipe_writer.write_all(b"through").unwrap();
    assert_eq!(read_exactly(&mut received, 7), b"through");

    // And back: out of a BytesMut (a Buf), into a RingBuf (a BufMut) that has data in it.
    let mut back = BytesMut::from(&b"returned"[..]);
    assert_eq!(theirs.try_write_buf_send_fd(&mut back, received.as_fd()).unwrap(), Some(8));
    assert!(back.is_empty());
    let mut ring = RingBuf::with_capacity(32);
    ring.put_slice(b">");
    let (len, fd) = ours.try_read_buf_recv_fd(&mut ring).unwrap().expect("a message is queued");
    assert_eq!(len, 8);
    assert_eq!(ring.make_contiguous(), b">returned", "the ring advanced by the bytes read");
    let fd = fd.expect("the read end came back");
    assert!(is_cloexec(&fd));
    drop(received);
    let mut returned = PipeReader::from(fd);
    pipe_writer.write_all(b"again").unwrap();
    assert_eq!(read_exactly(&mut returned, 5), b"again");
}

#[test]
fn buf_forms_with_nothing_to_read_or_send_leave_the_buffer_alone() {
    let (a, _b) = UnixStream::pair().unwrap();
    let mut into = BytesMut::with_capacity(8);
    assert!(a.try_read_buf_recv_fd(&mut into).unwrap().is_none(), "nothing queued: Ok(None)");
    assert!(into.is_empty());

    let (reader, _writer) = pipe().unwrap();
    let mut empty = RingBuf::with_capacity(8);
    let error = a.try_write_buf_send_fd(&mut empty, &reader).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "an fd needs a byte to travel with");
    let error = a.try_write_buf_send_fd(&mut &b""[..], &reader).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn buf_form_write_returns_none_when_the_socket_is_full() {
    let (a, _b) = UnixStream::pair().unwrap();
    let (reader, _writer) = pipe().unwrap();
    let chunk = vec![7u8; 64 * 1024];
    // Fill the socket buffer with plain data first.
    while (&a).try_write(&chunk).unwrap().is_some() {}
    let mut out = &b"late"[..];
    assert_eq!(a.try_write_buf_send_fd(&mut out, &reader).unwrap(), None);
    assert_eq!(out, b"late", "nothing sent, nothing consumed");
}

#[test]
fn buf_form_closes_fds_past_the_first_in_one_message() {
    let (sender, receiver) = UnixStream::pair().unwrap();
    let pipes: Vec<(PipeReader, PipeWriter)> = (0..3).map(|_| pipe().unwrap()).collect();
    let writers: Vec<i32> = pipes.iter().map(|(_, w)| w.as_raw_fd()).collect();
    send_fds_with_libc(&sender, &writers);

    let mut poll = poll_for(&receiver, EventSet::readable());
    wait_for(&mut poll, |kind| kind.is_readable());
    let mut into = BytesMut::with_capacity(8);
    let (len, first) = receiver.try_read_buf_recv_fd(&mut into).unwrap().expect("a message");
    assert_eq!((len, &into[..]), (1, &b"m"[..]));
    let first = PipeWriter::from(first.expect("the first fd"));

    // With our own write ends closed, pipes 2 and 3 reach end of stream only if the
    // received copies of their write ends were closed too.
    let mut readers = Vec::new();
    for (reader, writer) in pipes {
        drop(writer);
        readers.push(reader);
    }
    let mut buf = [0u8; 4];
    for reader in &readers[1..] {
        let mut poll = poll_for(reader, EventSet::readable());
        wait_for(&mut poll, |kind| kind.is_hup());
        assert_eq!((&*reader).try_read(&mut buf).unwrap(), Some(0));
    }
    (&first).write_all(b"1").unwrap();
    let mut first_reader = readers.remove(0);
    assert_eq!(read_exactly(&mut first_reader, 1), b"1");
}

#[test]
fn unix_sockets_and_pipes_are_non_blocking_and_cloexec() {
    let dir = TempDir::new("flags");
    let path = dir.join("flags.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let client = UnixStream::connect(&path).unwrap();
    let server = accept_one(&listener);
    let (a, b) = UnixStream::pair().unwrap();
    let (reader, writer) = pipe().unwrap();
    let socket = UnixSocket::stream().unwrap();
    let fds = [
        listener.as_raw_fd(),
        client.as_raw_fd(),
        server.as_raw_fd(),
        a.as_raw_fd(),
        b.as_raw_fd(),
        reader.as_raw_fd(),
        writer.as_raw_fd(),
        socket.as_raw_fd(),
    ];
    for fd in fds {
        // SAFETY: F_GETFL only reads the flags of an fd that stays open for the call.
        let status = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        assert!(status & libc::O_NONBLOCK != 0, "fd {fd} blocks");
        // SAFETY: `fd` is open; the borrow ends before the loop's owners drop.
        assert!(is_cloexec(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }), "fd {fd} lacks CLOEXEC");
    }
}
