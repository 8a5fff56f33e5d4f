//! Writes to a closed peer must return an error and never raise `SIGPIPE`.
//!
//! Rust's runtime ignores `SIGPIPE` at start-up, which would hide a missing
//! `MSG_NOSIGNAL`; this binary restores the default action (terminate the process) first.
//! It holds a single test so that no other test runs with that disposition.

use readyio::tcp::{TcpListener, TcpStream};
use readyio::unix::{pipe, UnixStream};
use std::io::{self, IoSlice, Write};
use std::time::{Duration, Instant};

fn restore_default_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL has no memory-safety preconditions.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);
}

/// Writes until the kernel reports the closed peer; returns that error.
fn write_until_error(mut write: impl FnMut() -> io::Result<usize>) -> io::Error {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "writes to a closed peer kept succeeding");
        match write() {
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return e,
        }
    }
}

fn assert_peer_gone(error: io::Error) {
    assert!(
        matches!(error.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset),
        "unexpected error {error:?}"
    );
}

#[test]
fn writes_to_a_closed_peer_return_errors_without_sigpipe() {
    restore_default_sigpipe();

    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let connect = |listener: &TcpListener| {
        let client = TcpStream::connect(&listener.local_addr().unwrap()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let server = loop {
            if let Some((server, _)) = listener.accept().unwrap() {
                break server;
            }
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(1));
        };
        (client, server)
    };

    // Plain writes (send with MSG_NOSIGNAL).
    let (mut client, server) = connect(&listener);
    drop(server);
    assert_peer_gone(write_until_error(|| client.write(b"data")));
    // Once the connection is reset, every further write fails with EPIPE.
    assert_eq!(client.write(b"more").unwrap_err().kind(), io::ErrorKind::BrokenPipe);

    // Vectored writes (sendmsg with MSG_NOSIGNAL).
    let (mut client, server) = connect(&listener);
    drop(server);
    let bufs = [IoSlice::new(b"a"), IoSlice::new(b"b")];
    assert_peer_gone(write_until_error(|| client.write_vectored(&bufs)));
    assert_eq!(client.write_vectored(&bufs).unwrap_err().kind(), io::ErrorKind::BrokenPipe);

    // A connection the peer reset (SO_LINGER 0): the write after the reset is EPIPE.
    let (mut client, server) = connect(&listener);
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket and a `linger` struct of the size passed.
    let set = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&server),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0);
    drop(server);
    assert_peer_gone(write_until_error(|| client.write(b"data")));
    assert_eq!(client.write(b"more").unwrap_err().kind(), io::ErrorKind::BrokenPipe);

    // Unix streams: plain, vectored and fd-passing writes.
    let (mut unix, peer) = UnixStream::pair().unwrap();
    drop(peer);
    assert_eq!(unix.write(b"x").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(unix.write_vectored(&bufs).unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    let (_reader, writer) = pipe().unwrap();
    let error = unix.write_send_fd(b"x", std::os::fd::AsRawFd::as_raw_fd(&writer)).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
}
