//! TCP on real loopback sockets: connect/accept/echo over IPv4 and IPv6, readiness events
//! (refused connects, peer hang-ups), errors, vectored IO and conversions from std.

use readyio::tcp::{TcpListener, TcpStream};
use readyio::{EventSet, IoEvent, Poll, PollOpt, Token, TryAccept, TryRead, TryWrite};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::time::{Duration, Instant};

#[path = "support/read_exactly.rs"]
mod read_exactly;

use read_exactly::read_exactly;

const LISTENER: Token = Token(0);
const CLIENT: Token = Token(1);
const SERVER: Token = Token(2);

fn v4() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn v6() -> SocketAddr {
    "[::1]:0".parse().unwrap()
}

/// Polls until an event for `token` satisfies `wanted`, for at most 5 s.
fn wait_for(poll: &mut Poll, token: Token, wanted: impl Fn(EventSet) -> bool) -> IoEvent {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        poll.poll_timeout(Some(Duration::from_millis(100))).unwrap();
        if let Some(event) = poll.events().find(|e| e.token == token && wanted(e.kind)) {
            return event;
        }
    }
    panic!("no event for {token:?} within 5 s");
}

/// Accepts one connection, waiting for it with `poll` (listener registered as LISTENER).
fn accept_one(poll: &mut Poll, listener: &TcpListener) -> (TcpStream, SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(pair) = listener.accept().unwrap() {
            return pair;
        }
        assert!(Instant::now() < deadline, "no connection within 5 s");
        poll.poll_timeout(Some(Duration::from_millis(100))).unwrap();
    }
}

/// A connected (client, server) pair on `addr`'s family.
fn connected_pair(addr: SocketAddr) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(&addr).unwrap();
    let client = TcpStream::connect(&listener.local_addr().unwrap()).unwrap();
    let mut poll = Poll::new().unwrap();
    poll.register(&listener, LISTENER, EventSet::readable(), PollOpt::level()).unwrap();
    let (server, _) = accept_one(&mut poll, &listener);
    (client, server)
}

fn echo_round_trip(addr: SocketAddr) {
    let listener = TcpListener::bind(&addr).unwrap();
    let server_addr = listener.local_addr().unwrap();
    assert_eq!(server_addr.ip(), addr.ip());
    assert_ne!(server_addr.port(), 0);

    let mut poll = Poll::new().unwrap();
    poll.register(&listener, LISTENER, EventSet::readable(), PollOpt::edge()).unwrap();
    let mut client = TcpStream::connect(&server_addr).unwrap();
    poll.register(&client, CLIENT, EventSet::writable(), PollOpt::edge()).unwrap();

    wait_for(&mut poll, CLIENT, |kind| kind.is_writable());
    client.take_socket_error().unwrap();
    let (mut server, peer) = accept_one(&mut poll, &listener);
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), server_addr);

    // An echo thread on the server side, a blocking-style loop driven by its own Poll.
    let echo = std::thread::spawn(move || {
        let request = read_exactly(&mut server, 4);
        server.write_all(&request).unwrap();
        request
    });
    client.write_all(b"ping").unwrap();
    // A socket belongs to one selector: free the client for read_exactly's own Poll.
    poll.deregister(&client).unwrap();
    let reply = read_exactly(&mut client, 4);
    assert_eq!(echo.join().unwrap(), b"ping");
    assert_eq!(reply, b"ping");
}

#[test]
fn connect_accept_and_echo_over_ipv4() {
    echo_round_trip(v4());
}

#[test]
fn connect_accept_and_echo_over_ipv6() {
    echo_round_trip(v6());
}

#[test]
fn accept_returns_none_when_nothing_is_pending() {
    let listener = TcpListener::bind(&v4()).unwrap();
    assert!(listener.accept().unwrap().is_none());
    assert!(TryAccept::accept(&listener).unwrap().is_none());
}

#[test]
fn try_accept_yields_the_stream() {
    let listener = TcpListener::bind(&v4()).unwrap();
    let client = TcpStream::connect(&listener.local_addr().unwrap()).unwrap();
    let mut poll = Poll::new().unwrap();
    poll.register(&listener, LISTENER, EventSet::readable(), PollOpt::level()).unwrap();
    wait_for(&mut poll, LISTENER, |kind| kind.is_readable());
    let server = TryAccept::accept(&listener).unwrap().expect("a pending connection");
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
}

#[test]
fn refused_connect_reports_an_error_event_and_take_socket_error() {
    // Bind a port, then close the listener, so that nothing listens there.
    let closed = TcpListener::bind(&v4()).unwrap().local_addr().unwrap();
    let stream = TcpStream::connect(&closed).unwrap();
    let mut poll = Poll::new().unwrap();
    poll.register(&stream, CLIENT, EventSet::writable() | EventSet::readable(), PollOpt::edge()).unwrap();

    let event = wait_for(&mut poll, CLIENT, |kind| kind.is_error() || kind.is_hup());
    assert!(event.kind.is_error(), "refused connect gave {:?}", event.kind);
    let error = stream.take_socket_error().unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    // Taking the error cleared it.
    stream.take_socket_error().unwrap();
    assert!(stream.take_error().unwrap().is_none());
}

#[test]
fn take_error_is_none_on_a_healthy_connection() {
    let (client, server) = connected_pair(v4());
    assert!(client.take_error().unwrap().is_none());
    server.take_socket_error().unwrap();
    let listener = TcpListener::bind(&v4()).unwrap();
    listener.take_socket_error().unwrap();
    assert!(listener.take_error().unwrap().is_none());
}

#[test]
fn peer_close_reports_hup() {
    let (client, server) = connected_pair(v4());
    let mut poll = Poll::new().unwrap();
    poll.register(&server, SERVER, EventSet::readable(), PollOpt::edge()).unwrap();
    drop(client);
    wait_for(&mut poll, SERVER, |kind| kind.is_hup());
    let mut buf = [0u8; 8];
    assert_eq!((&server).read(&mut buf).unwrap(), 0, "end of stream after the peer closed");
}

#[test]
fn peer_write_shutdown_reports_hup_and_end_of_stream() {
    let (client, mut server) = connected_pair(v6());
    let mut poll = Poll::new().unwrap();
    poll.register(&server, SERVER, EventSet::readable(), PollOpt::level()).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    wait_for(&mut poll, SERVER, |kind| kind.is_hup());
    assert_eq!(server.try_read(&mut [0u8; 8]).unwrap(), Some(0));
}

/// The peer's end of stream is reported as hup even while its last data is still unread, on
/// a socket watched edge-triggered for both directions (a server's usual registration): a
/// reader that stops at a short read learns from it that one more read reaches the end,
/// since no new edge will come. Both orders: data and FIN there before the registration, and
/// arriving after it. (libkqueue once lost it: adding the write filter after the read one
/// dropped EPOLLRDHUP from its epoll registration; see `registration_changes`.)
#[test]
fn end_of_stream_behind_unread_data_is_reported_as_hup_for_both_directions() {
    let both = EventSet::readable() | EventSet::writable() | EventSet::hup();
    for arrives_first in [true, false] {
        let (mut client, server) = connected_pair(v4());
        let mut poll = Poll::new().unwrap();
        let say_goodbye = |client: &mut TcpStream| {
            client.write_all(b"last words").unwrap();
            client.shutdown(Shutdown::Write).unwrap();
        };
        if arrives_first {
            say_goodbye(&mut client);
            std::thread::sleep(Duration::from_millis(50));
        }
        poll.register(&server, SERVER, both, PollOpt::edge()).unwrap();
        if !arrives_first {
            say_goodbye(&mut client);
        }
        wait_for(&mut poll, SERVER, |kind| kind.is_hup());
        let mut buf = [0u8; 64];
        assert_eq!((&server).read(&mut buf).unwrap(), 10, "the data is still there, unread");
        assert_eq!((&server).read(&mut buf).unwrap(), 0, "and the end of stream behind it");
    }
}

#[test]
fn write_to_closed_peer_returns_broken_pipe_or_reset() {
    let (mut client, server) = connected_pair(v4());
    drop(server);
    // The first write may still be accepted by the kernel; the RST it provokes makes a
    // later one fail. Every failure must be an error, never a signal.
    let deadline = Instant::now() + Duration::from_secs(5);
    let error = loop {
        assert!(Instant::now() < deadline, "writes to a closed peer kept succeeding");
        match client.write(b"data") {
            Ok(n) => {
                assert_eq!(n, 4, "a 4-byte write to an idle socket is whole");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => break e,
        }
    };
    assert!(
        matches!(error.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset),
        "unexpected error {error:?}"
    );
}

/// Makes closing `stream` reset the connection (`SO_LINGER` on, 0 s) instead of ending it.
fn reset_on_close(stream: &TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket and a `linger` struct of the size passed.
    let ret = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(ret, 0);
}

#[test]
fn a_peer_reset_is_reported_and_then_reads_and_writes_fail_cleanly() {
    let (client, mut server) = connected_pair(v4());
    let mut poll = Poll::new().unwrap();
    poll.register(&server, SERVER, EventSet::readable() | EventSet::hup(), PollOpt::edge()).unwrap();
    reset_on_close(&client);
    drop(client);
    let event = wait_for(&mut poll, SERVER, |kind| kind.is_hup() || kind.is_error());
    assert!(event.kind.is_readable() || event.kind.is_hup(), "{:?}", event.kind);
    assert_eq!(server.try_read(&mut [0u8; 8]).unwrap_err().kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(server.take_error().unwrap().map(|e| e.kind()), None, "the read took the pending error");
    assert_eq!(server.try_read(&mut [0u8; 8]).unwrap(), Some(0), "after the reset: end of stream");
    assert_eq!(server.write(b"late").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn binding_an_address_in_use_returns_addr_in_use() {
    let listener = TcpListener::bind(&v4()).unwrap();
    let error = TcpListener::bind(&listener.local_addr().unwrap()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn bind_reuseport_lets_listeners_share_a_port() {
    for any_port in [v4(), v6()] {
        let first = TcpListener::bind_reuseport(&any_port).unwrap();
        let addr = first.local_addr().unwrap();
        let second = TcpListener::bind_reuseport(&addr).unwrap();
        assert_eq!(second.local_addr().unwrap(), addr);
        assert!(first.reuseport().unwrap() && second.reuseport().unwrap());
    }
}

#[test]
fn plain_bind_of_a_reuseport_port_returns_addr_in_use() {
    let shared = TcpListener::bind_reuseport(&v4()).unwrap();
    let error = TcpListener::bind(&shared.local_addr().unwrap()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    let plain = TcpListener::bind(&v4()).unwrap();
    assert!(!plain.reuseport().unwrap());
    let error = TcpListener::bind_reuseport(&plain.local_addr().unwrap()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
}

/// Linux hashes each connection's addresses to one of the listeners sharing the port:
/// 64 connections from distinct source ports all landing on one of two listeners has
/// probability 2^-63.
#[cfg(target_os = "linux")]
#[test]
fn reuseport_listeners_share_the_incoming_connections() {
    let first = TcpListener::bind_reuseport(&v4()).unwrap();
    let addr = first.local_addr().unwrap();
    let listeners = [first, TcpListener::bind_reuseport(&addr).unwrap()];
    let clients: Vec<_> = (0..64).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
    let mut accepted = [0usize; 2];
    let deadline = Instant::now() + Duration::from_secs(5);
    while accepted.iter().sum::<usize>() < clients.len() && Instant::now() < deadline {
        for (count, listener) in accepted.iter_mut().zip(&listeners) {
            while listener.accept().unwrap().is_some() {
                *count += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(accepted.iter().sum::<usize>(), clients.len(), "accepted {accepted:?}");
    assert!(accepted.iter().all(|&n| n > 0), "one listener got every connection: {accepted:?}");
}

#[test]
fn vectored_write_and_read_move_all_buffers_in_one_call() {
    let (client, server) = connected_pair(v4());
    let parts: [&[u8]; 3] = [b"one ", b"two ", b"three"];
    let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
    // A default `write_vectored` would only write the first buffer: 4 bytes.
    let written = (&client).write_vectored(&slices).unwrap();
    assert_eq!(written, 13);

    let mut poll = Poll::new().unwrap();
    poll.register(&server, SERVER, EventSet::readable(), PollOpt::level()).unwrap();
    wait_for(&mut poll, SERVER, |kind| kind.is_readable());
    let (mut a, mut b, mut c) = ([0u8; 4], [0u8; 4], [0u8; 16]);
    let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b), IoSliceMut::new(&mut c)];
    // Loopback delivers the 13 bytes as one segment; a default `read_vectored` would fill
    // only the first buffer.
    let read = (&server).read_vectored(&mut bufs).unwrap();
    assert_eq!(read, 13);
    assert_eq!(&a, b"one ");
    assert_eq!(&b, b"two ");
    assert_eq!(&c[..5], b"three");
}

#[test]
fn read_on_an_idle_stream_would_block() {
    let (mut client, _server) = connected_pair(v4());
    assert_eq!(client.try_read(&mut [0u8; 8]).unwrap(), None);
    let error = client.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
}

#[test]
fn write_into_a_full_socket_returns_none() {
    let (mut client, _server) = connected_pair(v4());
    let chunk = vec![7u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "the socket never filled up");
        if client.try_write(&chunk).unwrap().is_none() {
            break;
        }
    }
}

#[test]
fn std_streams_and_listeners_convert_and_become_non_blocking() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let listener = TcpListener::from(std_listener);
    assert!(listener.accept().unwrap().is_none(), "a blocking listener would hang here");

    let std_client = std::net::TcpStream::connect(addr).unwrap();
    let mut client = TcpStream::from(std_client);
    assert_eq!(client.try_read(&mut [0u8; 4]).unwrap(), None, "a blocking stream would hang here");

    let other = TcpListener::from_listener(std::net::TcpListener::bind("[::1]:0").unwrap(), &v6()).unwrap();
    assert!(other.accept().unwrap().is_none());
    let std_client = std::net::TcpStream::connect(other.local_addr().unwrap()).unwrap();
    let mut client = TcpStream::from_std(std_client).unwrap();
    assert_eq!(client.try_read(&mut [0u8; 4]).unwrap(), None);
}

#[test]
fn connect_stream_takes_over_a_connected_std_stream() {
    let listener = TcpListener::bind(&v4()).unwrap();
    let addr = listener.local_addr().unwrap();
    let std_stream = std::net::TcpStream::connect(addr).unwrap();
    let mut stream = TcpStream::connect_stream(std_stream, &addr).unwrap();
    assert_eq!(stream.peer_addr().unwrap(), addr);
    assert_eq!(stream.try_read(&mut [0u8; 4]).unwrap(), None);

    // Connected elsewhere: EISCONN is an error, not silently accepted.
    let other = TcpListener::bind(&v4()).unwrap();
    let std_stream = std::net::TcpStream::connect(addr).unwrap();
    let error = TcpStream::connect_stream(std_stream, &other.local_addr().unwrap()).unwrap_err();
    assert!(error.raw_os_error().is_some(), "{error:?}");
}

#[test]
fn socket_options_round_trip() {
    let (client, _server) = connected_pair(v4());
    client.set_nodelay(true).unwrap();
    assert!(client.nodelay().unwrap());
    client.set_nodelay(false).unwrap();
    assert!(!client.nodelay().unwrap());

    client.set_keepalive(Some(30)).unwrap();
    assert_eq!(client.keepalive().unwrap(), Some(30));
    client.set_keepalive(None).unwrap();
    assert_eq!(client.keepalive().unwrap(), None);
}

#[test]
fn bad_keepalive_values_are_invalid_input() {
    let (client, _server) = connected_pair(v4());
    assert_eq!(client.set_keepalive(Some(0)).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!(client.set_keepalive(Some(u32::MAX)).unwrap_err().kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn clones_share_the_connection() {
    let (client, server) = connected_pair(v4());
    let clone = client.try_clone().unwrap();
    assert_ne!(clone.as_raw_fd(), client.as_raw_fd());
    (&clone).write_all(b"via clone").unwrap();
    drop(clone);
    let mut server = server;
    assert_eq!(read_exactly(&mut server, 9), b"via clone");

    let listener = TcpListener::bind(&v4()).unwrap();
    let listener_clone = listener.try_clone().unwrap();
    assert_eq!(listener_clone.local_addr().unwrap(), listener.local_addr().unwrap());
}

#[test]
fn shutdown_write_gives_the_peer_end_of_stream() {
    let (client, mut server) = connected_pair(v4());
    (&client).write_all(b"last").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_exactly(&mut server, 4), b"last");
    let mut poll = Poll::new().unwrap();
    poll.register(&server, SERVER, EventSet::readable(), PollOpt::level()).unwrap();
    wait_for(&mut poll, SERVER, |kind| kind.is_readable());
    assert_eq!(server.try_read(&mut [0u8; 4]).unwrap(), Some(0));
}

#[test]
fn raw_fd_round_trip_keeps_the_socket() {
    let (client, mut server) = connected_pair(v4());
    let raw = client.into_raw_fd();
    // SAFETY: `raw` came from `into_raw_fd` just above and is owned by nobody else.
    let client = unsafe { TcpStream::from_raw_fd(raw) };
    (&client).write_all(b"raw").unwrap();
    assert_eq!(read_exactly(&mut server, 3), b"raw");

    let owned = OwnedFd::from(client);
    let client = TcpStream::from(owned);
    assert!(client.peer_addr().is_ok());
}

#[test]
fn debug_shows_fd_and_addresses() {
    let (client, _server) = connected_pair(v4());
    let text = format!("{client:?}");
    assert!(text.contains(&format!("fd: {}", client.as_raw_fd())), "{text}");
    assert!(text.contains(&client.local_addr().unwrap().to_string()), "{text}");
    assert!(text.contains(&client.peer_addr().unwrap().to_string()), "{text}");

    let listener = TcpListener::bind(&v6()).unwrap();
    let text = format!("{listener:?}");
    assert!(text.contains(&listener.local_addr().unwrap().to_string()), "{text}");
}

#[test]
fn tcp_types_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<TcpListener>();
    assert_send::<TcpStream>();
}

#[test]
fn deregistered_stream_reports_nothing() {
    let (client, server) = connected_pair(v4());
    let mut poll = Poll::new().unwrap();
    poll.register(&server, SERVER, EventSet::readable(), PollOpt::level()).unwrap();
    poll.deregister(&server).unwrap();
    (&client).write_all(b"x").unwrap();
    poll.poll_timeout(Some(Duration::from_millis(50))).unwrap();
    assert_eq!(poll.events().count(), 0);
}

/// (O_NONBLOCK set, FD_CLOEXEC set) for `fd`.
fn flags_of(fd: &impl AsRawFd) -> (bool, bool) {
    // SAFETY: F_GETFL and F_GETFD only read the flags of an open fd we borrow.
    let (status, descriptor) =
        unsafe { (libc::fcntl(fd.as_raw_fd(), libc::F_GETFL), libc::fcntl(fd.as_raw_fd(), libc::F_GETFD)) };
    assert!(status >= 0 && descriptor >= 0);
    (status & libc::O_NONBLOCK != 0, descriptor & libc::FD_CLOEXEC != 0)
}

#[test]
fn listeners_connected_and_accepted_streams_are_non_blocking_and_cloexec() {
    let listener = TcpListener::bind(&v4()).unwrap();
    let client = TcpStream::connect(&listener.local_addr().unwrap()).unwrap();
    let mut poll = Poll::new().unwrap();
    poll.register(&listener, LISTENER, EventSet::readable(), PollOpt::level()).unwrap();
    let (server, _) = accept_one(&mut poll, &listener);
    for flags in [flags_of(&listener), flags_of(&client), flags_of(&server), flags_of(&client.try_clone().unwrap())] {
        assert_eq!(flags, (true, true));
    }
}
