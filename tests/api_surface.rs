//! The public contract of `shared/API.md`, written the way seed-era (mio 0.5) code uses it:
//! if a name or a signature drifts, this file stops compiling. The few behaviours checked at
//! run time are the ones the contract states in words.

use readyio::prelude::*;
use readyio::tcp::{TcpListener, TcpStream};
use readyio::udp::UdpSocket;
use readyio::unix::{EventedFd, PipeReader, PipeWriter, UnixListener, UnixSocket, UnixStream};
use readyio::util::Slab;
use readyio::{
    EventLoopConfig, Evented, Events, IoEvent, IpAddr, Ipv4Addr, Ipv6Addr, NotifyError, Poll, Selector, Sender,
    Timeout, TimerError, TimerResult, TryAccept,
};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

fn io_type<
    T: AsRawFd + AsFd + FromRawFd + IntoRawFd + From<OwnedFd> + Into<OwnedFd> + std::fmt::Debug + Send + Sync + Evented,
>() {
}

/// The IO types that convert from and into an `Io` (all of them; the seed had `From<Io>` for
/// the pipe ends and `UnixSocket`).
fn from_io<T: From<readyio::Io> + Into<readyio::Io>>() {}

#[test]
fn every_io_type_has_the_fd_traits_debug_send_and_evented() {
    io_type::<TcpListener>();
    io_type::<TcpStream>();
    io_type::<UdpSocket>();
    io_type::<UnixListener>();
    io_type::<UnixStream>();
    io_type::<UnixSocket>();
    io_type::<PipeReader>();
    io_type::<PipeWriter>();
    io_type::<readyio::Io>();
    from_io::<PipeReader>();
    from_io::<PipeWriter>();
    from_io::<UnixSocket>();
    from_io::<UnixStream>();
    from_io::<UnixListener>();
    from_io::<TcpStream>();
    from_io::<TcpListener>();
    from_io::<UdpSocket>();
}

/// Closes a raw fd handed over by the seed's raw-fd receive calls.
fn close(fd: Option<RawFd>) {
    // SAFETY: the receive calls hand ownership of a received fd to the caller.
    drop(fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
}

#[test]
fn unix_fd_passing_has_the_seed_calls_and_buffer_forms() -> io::Result<()> {
    // The seed's calls took `&mut self`; readyio's take `&self` (so `&mut` callers compile too).
    let (a, b) = UnixStream::pair()?;
    let (reader, writer) = readyio::unix::pipe()?;
    let mut buf = [0u8; 8];
    let _: Option<usize> = a.try_write_send_fd(b"x", writer.as_raw_fd())?;
    let received: Option<(usize, Option<RawFd>)> = b.try_read_recv_fd(&mut buf)?;
    close(received.and_then(|(_, fd)| fd));
    let _: usize = a.write_send_fd(b"y", writer.as_raw_fd())?;
    let (_, fd): (usize, Option<RawFd>) = b.read_recv_fd(&mut buf)?;
    close(fd);

    // The buffer forms take `bytes` 1 buffers; the fd goes out borrowed and comes back owned.
    let mut out = readyio::buf::BytesMut::from(&b"z"[..]);
    let _: Option<usize> = a.try_write_buf_send_fd(&mut out, &writer)?;
    let mut into = readyio::buf::RingBuf::with_capacity(8);
    let received: Option<(usize, Option<OwnedFd>)> = b.try_read_buf_recv_fd(&mut into)?;
    if let Some((_, Some(fd))) = received {
        let _writer: PipeWriter = From::<readyio::Io>::from(From::from(fd));
    }
    let _: PipeReader = From::<readyio::Io>::from(readyio::Io::from(OwnedFd::from(reader)));
    Ok(())
}

#[test]
fn readiness_vocabulary_has_the_seed_constructors_and_operators() {
    let all = EventSet::readable() | EventSet::writable() | EventSet::error() | EventSet::hup();
    assert_eq!(all, EventSet::all());
    assert!(EventSet::none().is_empty());
    assert_eq!((all - EventSet::hup()) & EventSet::hup(), EventSet::none());
    assert_eq!((!EventSet::readable()) & EventSet::readable(), EventSet::none());
    assert_eq!(EventSet::readable() ^ EventSet::readable(), EventSet::none());
    let mut set = EventSet::none();
    set.insert(EventSet::readable());
    set.remove(EventSet::readable());
    assert_eq!(set.bits(), 0);
    let opts = PollOpt::edge() | PollOpt::oneshot();
    assert!(opts.is_edge() && opts.is_oneshot() && !opts.is_level() && PollOpt::level().is_level());
    assert!(PollOpt::all().contains(PollOpt::empty()));
    let event = IoEvent::new(EventSet::readable(), Token(3));
    assert_eq!((event.kind, event.token, Token(3).as_usize()), (EventSet::readable(), Token(3), 3));
}

#[test]
fn poll_and_selector_have_the_seed_signatures() -> io::Result<()> {
    let mut poll = Poll::new()?;
    let (reader, writer) = readyio::unix::pipe()?;
    poll.register(&reader, Token(0), EventSet::readable(), PollOpt::level())?;
    poll.reregister(&reader, Token(1), EventSet::readable(), PollOpt::edge())?;
    let dyn_evented: &dyn Evented = &writer;
    poll.register(dyn_evented, Token(2), EventSet::writable(), PollOpt::edge())?;
    let count: usize = poll.poll(Some(100))?;
    let _: usize = poll.poll_timeout(Some(Duration::from_micros(10)))?;
    let events: Events<'_> = poll.events();
    assert!(events.count() <= count.max(1));
    let _: IoEvent = poll.event(0);
    poll.deregister(&reader)?;
    let fd = writer.as_raw_fd();
    let selector: &mut Selector = poll.selector();
    selector.deregister(fd)?;
    EventedFd(&fd).register(selector, Token(5), EventSet::writable(), PollOpt::level())?;
    Ok(())
}

#[test]
fn networking_has_the_seed_constructors() -> io::Result<()> {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listener = TcpListener::bind(&any)?;
    let addr = listener.local_addr()?;
    let stream = TcpStream::connect(&addr)?;
    let accepted: Option<(TcpStream, SocketAddr)> = loop {
        if let Some(pair) = listener.accept()? {
            break Some(pair);
        }
    };
    assert!(accepted.is_some());
    let _: Option<TcpStream> = TryAccept::accept(&listener)?;
    stream.set_nodelay(true)?;
    stream.set_keepalive(Some(30))?;
    stream.take_socket_error()?;
    let _ = stream.try_clone()?.peer_addr()?;
    stream.shutdown(std::net::Shutdown::Both)?;
    let _ = TcpListener::from_listener(std::net::TcpListener::bind("127.0.0.1:0")?, &any)?;
    let _ = TcpStream::connect_stream(std::net::TcpStream::connect(addr)?, &addr)?;

    let udp = UdpSocket::v4()?;
    udp.bind(&any)?;
    let peer = UdpSocket::bound(&any)?;
    let _: Option<usize> = udp.send_to(b"x", &peer.local_addr()?)?;
    let mut buf = [0u8; 8];
    let _: Option<(usize, SocketAddr)> = peer.recv_from(&mut buf)?;
    udp.set_broadcast(true)?;
    let _ = UdpSocket::v6()?;
    let group = IpAddr::V4(Ipv4Addr::new(239, 1, 2, 3));
    if udp.join_multicast(&group).is_ok() {
        udp.leave_multicast(&group)?;
    }
    udp.set_multicast_loop(true)?;
    udp.set_multicast_time_to_live(1)?;
    let _ = Ipv6Addr::LOCALHOST;
    Ok(())
}

struct Counter {
    notified: usize,
}

impl Handler for Counter {
    type Timeout = u32;
    type Message = u32;

    fn notify(&mut self, event_loop: &mut EventLoop<Counter>, message: u32) {
        self.notified += message as usize;
        event_loop.shutdown();
    }
}

#[test]
fn event_loop_has_the_seed_signatures() -> io::Result<()> {
    let mut config = EventLoopConfig::new();
    config.notify_capacity(8).messages_per_tick(4).timer_tick_ms(1).timer_wheel_size(64).timer_capacity(16);
    let mut event_loop: EventLoop<Counter> = EventLoop::configured(config)?;
    let _default: EventLoop<Counter> = EventLoop::new()?;
    let sender: Sender<u32> = event_loop.channel();
    let timeout: TimerResult<Timeout> = event_loop.timeout_ms(7, 10_000);
    assert!(event_loop.clear_timeout(timeout.expect("room for a timer")));
    let _: Result<Timeout, TimerError> = event_loop.timeout(8, Duration::from_secs(10));
    let sent: Result<(), NotifyError<u32>> = sender.send(5);
    sent.expect("room in the channel");
    let mut handler = Counter { notified: 0 };
    event_loop.run_once(&mut handler, Some(0))?;
    assert_eq!(handler.notified, 5);
    let _: bool = event_loop.is_running();
    let _slab: Slab<u32> = Slab::new_starting_at(Token(1), 4);
    Ok(())
}
