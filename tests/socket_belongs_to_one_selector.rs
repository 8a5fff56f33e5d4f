//! A socket or pipe readyio owns belongs to the one `Poll` or `EventLoop` it was registered
//! with (mio 0.5's rule): another one refuses it, and a `try_clone` made meanwhile, with
//! `ErrorKind::Other` "socket already registered"; the same one again says `AlreadyExists`;
//! `deregister`, or dropping its selector, lets it go. Checked for every kind of handle,
//! then case by case: failed registrations, conversions, `EventedFd`, racing threads.

use readyio::tcp::{TcpListener, TcpStream};
use readyio::udp::UdpSocket;
use readyio::unix::{pipe, EventedFd, PipeReader, PipeWriter, UnixListener, UnixSocket, UnixStream};
use readyio::{EventLoop, EventSet, Evented, Handler, Io, Poll, PollOpt, Token, TryWrite};
use std::any::Any;
use std::io::{self, ErrorKind};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::Duration;

const FIRST: Token = Token(1);
const SECOND: Token = Token(2);

fn interest() -> EventSet {
    EventSet::readable() | EventSet::writable()
}

fn assert_already_registered(result: io::Result<()>, what: &str) {
    let error = result.expect_err(what);
    assert_eq!(error.kind(), ErrorKind::Other, "{what}: {error}");
    assert_eq!(error.to_string(), "socket already registered", "{what}");
}

fn assert_kind(result: io::Result<()>, kind: ErrorKind, what: &str) {
    let error = result.expect_err(what);
    assert_eq!(error.kind(), kind, "{what}: {error}");
}

/// Lets one check drive both a `Poll` and an `EventLoop`.
trait Selectors {
    fn register<E: Evented>(&mut self, io: &E, token: Token) -> io::Result<()>;
    fn reregister<E: Evented>(&mut self, io: &E, token: Token) -> io::Result<()>;
    fn deregister<E: Evented>(&mut self, io: &E) -> io::Result<()>;
}

impl Selectors for Poll {
    fn register<E: Evented>(&mut self, io: &E, token: Token) -> io::Result<()> {
        Poll::register(self, io, token, interest(), PollOpt::level())
    }
    fn reregister<E: Evented>(&mut self, io: &E, token: Token) -> io::Result<()> {
        Poll::reregister(self, io, token, interest(), PollOpt::edge())
    }
    fn deregister<E: Evented>(&mut self, io: &E) -> io::Result<()> {
        Poll::deregister(self, io)
    }
}

struct Idle;

impl Handler for Idle {
    type Timeout = ();
    type Message = ();
}

impl Selectors for EventLoop<Idle> {
    fn register<E: Evented>(&mut self, io: &E, token: Token) -> io::Result<()> {
        EventLoop::register(self, io, token, interest(), PollOpt::level())
    }
    fn reregister<E: Evented>(&mut self, io: &E, token: Token) -> io::Result<()> {
        EventLoop::reregister(self, io, token, interest(), PollOpt::edge())
    }
    fn deregister<E: Evented>(&mut self, io: &E) -> io::Result<()> {
        EventLoop::deregister(self, io)
    }
}

/// The whole rule for one handle, with `first` and `second` two live selectors.
fn belongs_to_the_first_selector_until_deregistered<H: Evented, S: Selectors>(
    handle: &H,
    clone: impl Fn(&H) -> io::Result<H>,
    first: &mut S,
    second: &mut S,
) {
    let early_clone = clone(handle).unwrap();
    first.register(handle, FIRST).unwrap();

    assert_already_registered(second.register(handle, SECOND), "registering with a second selector");
    assert_already_registered(second.reregister(handle, SECOND), "reregistering with a second selector");
    assert_kind(first.register(handle, FIRST), ErrorKind::AlreadyExists, "registering with the same selector twice");
    first.reregister(handle, FIRST).unwrap();

    let late_clone = clone(handle).unwrap();
    assert_already_registered(second.register(&late_clone, SECOND), "a clone made while registered, second selector");
    first.register(&late_clone, SECOND).expect("a clone made while registered, same selector (its own fd)");
    second.register(&early_clone, SECOND).expect("a clone made before registering belongs to no selector");

    first.deregister(handle).unwrap();
    second.register(handle, FIRST).expect("after deregister, a second selector accepts it");
    assert_already_registered(first.register(handle, FIRST), "now the first selector is the other one");

    assert_already_registered(second.register(&late_clone, FIRST), "the clone is still registered with the first");
    first.deregister(&late_clone).unwrap();
    second.register(&late_clone, Token(3)).expect("the deregistered clone");
}

fn poll_pair() -> (Poll, Poll) {
    (Poll::new().unwrap(), Poll::new().unwrap())
}

fn event_loop_pair() -> (EventLoop<Idle>, EventLoop<Idle>) {
    (EventLoop::new().unwrap(), EventLoop::new().unwrap())
}

/// Things a handle needs kept alive (a listener, a socket file) while it is tested.
type Keep = Box<dyn Any>;

fn tcp_listener() -> (TcpListener, Keep) {
    (TcpListener::bind(&"127.0.0.1:0".parse().unwrap()).unwrap(), Box::new(()))
}

fn tcp_stream() -> (TcpStream, Keep) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = TcpStream::connect(&listener.local_addr().unwrap()).unwrap();
    (stream, Box::new(listener))
}

fn udp_socket() -> (UdpSocket, Keep) {
    (UdpSocket::bound(&"127.0.0.1:0".parse().unwrap()).unwrap(), Box::new(()))
}

fn unix_stream() -> (UnixStream, Keep) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    (ours, Box::new(theirs))
}

/// A socket file path removed on drop.
struct SocketPath(PathBuf);

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn unix_listener() -> (UnixListener, Keep) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("readyio-one-selector-{}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    (UnixListener::bind(&path).unwrap(), Box::new(SocketPath(path)))
}

fn unix_socket() -> (UnixSocket, Keep) {
    (UnixSocket::stream().unwrap(), Box::new(()))
}

fn pipe_reader() -> (PipeReader, Keep) {
    let (reader, writer) = pipe().unwrap();
    (reader, Box::new(writer))
}

fn pipe_writer() -> (PipeWriter, Keep) {
    let (reader, writer) = pipe().unwrap();
    (writer, Box::new(reader))
}

fn io_handle() -> (Io, Keep) {
    let (reader, writer) = pipe().unwrap();
    (Io::from(OwnedFd::from(reader)), Box::new(writer))
}

/// Two tests per kind of handle: the rule with two `Poll`s and with two `EventLoop`s.
macro_rules! every_kind {
    ($($kind:ident: $ty:ty;)*) => {$(
        mod $kind {
            use super::*;

            #[test]
            fn it_and_its_clone_are_refused_by_a_second_poll_and_accepted_after_deregister() {
                let (handle, _keep) = super::$kind();
                let (mut first, mut second) = poll_pair();
                belongs_to_the_first_selector_until_deregistered(&handle, <$ty>::try_clone, &mut first, &mut second);
            }

            #[test]
            fn it_and_its_clone_are_refused_by_a_second_event_loop_and_accepted_after_deregister() {
                let (handle, _keep) = super::$kind();
                let (mut first, mut second) = event_loop_pair();
                belongs_to_the_first_selector_until_deregistered(&handle, <$ty>::try_clone, &mut first, &mut second);
            }
        }
    )*};
}

every_kind! {
    tcp_listener: TcpListener;
    tcp_stream: TcpStream;
    udp_socket: UdpSocket;
    unix_stream: UnixStream;
    unix_listener: UnixListener;
    unix_socket: UnixSocket;
    pipe_reader: PipeReader;
    pipe_writer: PipeWriter;
    io_handle: Io;
}

#[test]
fn a_poll_refuses_a_socket_that_belongs_to_an_event_loop_and_back() {
    let (reader, _writer) = pipe().unwrap();
    let mut event_loop: EventLoop<Idle> = EventLoop::new().unwrap();
    let mut poll = Poll::new().unwrap();
    Selectors::register(&mut event_loop, &reader, FIRST).unwrap();
    assert_already_registered(Selectors::register(&mut poll, &reader, FIRST), "a Poll, socket of an EventLoop");
    Selectors::deregister(&mut event_loop, &reader).unwrap();
    Selectors::register(&mut poll, &reader, FIRST).unwrap();
    assert_already_registered(Selectors::register(&mut event_loop, &reader, FIRST), "an EventLoop, socket of a Poll");
}

#[test]
fn events_follow_a_pipe_moved_to_another_poll() {
    let (reader, mut writer) = pipe().unwrap();
    let (mut first, mut second) = poll_pair();
    first.register(&reader, FIRST, EventSet::readable(), PollOpt::level()).unwrap();
    first.deregister(&reader).unwrap();
    second.register(&reader, SECOND, EventSet::readable(), PollOpt::level()).unwrap();
    writer.try_write(b"x").unwrap();
    second.poll_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(second.events().any(|e| e.token == SECOND && e.kind.is_readable()));
    first.poll_timeout(Some(Duration::ZERO)).unwrap();
    assert_eq!(first.events().count(), 0, "the first poll no longer watches the pipe");
}

#[test]
fn a_failed_registration_leaves_the_socket_free() {
    let (reader, _writer) = pipe().unwrap();
    let (mut first, mut second) = poll_pair();
    let reserved = Token(usize::MAX);
    assert_kind(
        first.register(&reader, reserved, EventSet::readable(), PollOpt::level()),
        ErrorKind::InvalidInput,
        "the reserved token",
    );
    second
        .register(&reader, SECOND, EventSet::readable(), PollOpt::level())
        .expect("the failed registration tied nothing");
    // A failure with the selector it already belongs to keeps the association.
    assert_kind(
        second.register(&reader, SECOND, EventSet::readable(), PollOpt::level()),
        ErrorKind::AlreadyExists,
        "registered twice",
    );
    assert_already_registered(
        first.register(&reader, FIRST, EventSet::readable(), PollOpt::level()),
        "still the second poll's",
    );
}

#[test]
fn dropping_the_poll_frees_its_sockets_and_their_clones() {
    let (stream, _peer) = UnixStream::pair().unwrap();
    let mut first = Poll::new().unwrap();
    first.register(&stream, FIRST, interest(), PollOpt::edge()).unwrap();
    let clone = stream.try_clone().unwrap();
    drop(first);
    let mut second = Poll::new().unwrap();
    second.register(&stream, FIRST, interest(), PollOpt::edge()).expect("its poll was dropped");
    let mut third = Poll::new().unwrap();
    third.register(&clone, FIRST, interest(), PollOpt::edge()).expect("the clone's poll was dropped");
}

#[test]
fn dropping_the_event_loop_frees_its_sockets() {
    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let mut first: EventLoop<Idle> = EventLoop::new().unwrap();
    first.register(&listener, FIRST, EventSet::readable(), PollOpt::edge()).unwrap();
    drop(first);
    let mut second: EventLoop<Idle> = EventLoop::new().unwrap();
    second.register(&listener, FIRST, EventSet::readable(), PollOpt::edge()).expect("its loop was dropped");
}

#[test]
fn deregistering_a_clone_that_was_never_registered_frees_it() {
    let (reader, _writer) = pipe().unwrap();
    let (mut first, mut second) = poll_pair();
    first.register(&reader, FIRST, EventSet::readable(), PollOpt::level()).unwrap();
    let clone = reader.try_clone().unwrap();
    assert_kind(first.deregister(&clone), ErrorKind::NotFound, "the clone's own fd was never registered");
    second.register(&clone, SECOND, EventSet::readable(), PollOpt::level()).expect("the clone was let go");
    assert_already_registered(
        second.register(&reader, SECOND, EventSet::readable(), PollOpt::level()),
        "the original is still the first poll's",
    );
}

#[test]
fn deregistering_from_a_poll_it_does_not_belong_to_changes_nothing() {
    let (reader, _writer) = pipe().unwrap();
    let (mut first, mut second) = poll_pair();
    first.register(&reader, FIRST, EventSet::readable(), PollOpt::level()).unwrap();
    assert_kind(second.deregister(&reader), ErrorKind::NotFound, "not registered with the second poll");
    assert_already_registered(
        second.register(&reader, SECOND, EventSet::readable(), PollOpt::level()),
        "still the first poll's",
    );
}

#[test]
fn conversions_between_readyio_types_keep_the_selector() {
    let (mut first, mut second) = poll_pair();

    let (reader, _writer) = pipe().unwrap();
    let io = Io::from(OwnedFd::from(reader));
    first.register(&io, FIRST, EventSet::readable(), PollOpt::level()).unwrap();
    let reader = PipeReader::from(io);
    assert_already_registered(
        second.register(&reader, SECOND, EventSet::readable(), PollOpt::level()),
        "Io -> PipeReader",
    );
    let io = Io::from(reader);
    assert_already_registered(second.register(&io, SECOND, EventSet::readable(), PollOpt::level()), "PipeReader -> Io");
    first.deregister(&io).expect("still registered with the first poll under its new type");

    let socket = UnixSocket::stream().unwrap();
    first.register(&socket, FIRST, interest(), PollOpt::edge()).unwrap();
    let dir = std::env::temp_dir().join(format!("readyio-one-selector-listen-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    socket.bind(&dir).unwrap();
    let _remove = SocketPath(dir);
    let listener = socket.listen(8).unwrap();
    assert_already_registered(second.register(&listener, SECOND, interest(), PollOpt::edge()), "UnixSocket::listen");
    let socket = UnixSocket::from(Io::from(listener));
    assert_already_registered(second.register(&socket, SECOND, interest(), PollOpt::edge()), "-> Io -> UnixSocket");
}

#[test]
fn a_bare_fd_carries_no_selector() {
    let (mut first, mut second) = poll_pair();
    let (reader, _writer) = pipe().unwrap();
    first.register(&reader, FIRST, EventSet::readable(), PollOpt::level()).unwrap();
    // Out through OwnedFd and back: the association is lost (the fd is still in `first`).
    let reader = PipeReader::from(OwnedFd::from(reader));
    second.register(&reader, SECOND, EventSet::readable(), PollOpt::level()).expect("a bare fd has no selector");
    // From then on it belongs to `second`; `first`, which holds it too, may still change it
    // only once `second` lets go.
    assert_already_registered(
        first.reregister(&reader, FIRST, EventSet::readable(), PollOpt::level()),
        "now the second poll's",
    );
}

#[test]
fn reregistering_with_the_poll_that_holds_a_bare_fd_adopts_it() {
    let (mut first, mut second) = poll_pair();
    let (reader, _writer) = pipe().unwrap();
    let fd = OwnedFd::from(reader);
    first.register(&EventedFd(&fd.as_raw_fd()), FIRST, EventSet::readable(), PollOpt::level()).unwrap();
    let reader = PipeReader::from(fd);
    first.reregister(&reader, FIRST, EventSet::readable(), PollOpt::edge()).expect("the kernel holds the fd");
    assert_already_registered(
        second.register(&reader, SECOND, EventSet::readable(), PollOpt::level()),
        "adopted by the reregister",
    );
}

#[test]
fn evented_fd_is_exempt_and_may_register_one_fd_with_two_polls() {
    let (reader, mut writer) = pipe().unwrap();
    let (mut first, mut second) = poll_pair();
    first.register(&reader, FIRST, EventSet::readable(), PollOpt::level()).unwrap();
    let raw = reader.as_raw_fd();
    second.register(&EventedFd(&raw), SECOND, EventSet::readable(), PollOpt::level()).expect("EventedFd has no state");
    writer.try_write(b"x").unwrap();
    for (poll, token) in [(&mut first, FIRST), (&mut second, SECOND)] {
        poll.poll_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(poll.events().any(|e| e.token == token && e.kind.is_readable()));
    }
}

#[test]
fn racing_registrations_with_two_polls_let_exactly_one_win() {
    for _ in 0..200 {
        let (reader, _writer) = pipe().unwrap();
        let reader = Arc::new(reader);
        let start = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let (reader, start) = (Arc::clone(&reader), Arc::clone(&start));
                std::thread::spawn(move || {
                    let mut poll = Poll::new().unwrap();
                    start.wait();
                    let result = poll.register(&*reader, FIRST, EventSet::readable(), PollOpt::level());
                    // Keep the poll alive until both have tried, so the loser cannot take
                    // over a selector that was already dropped.
                    start.wait();
                    result.map_err(|e| (e.kind(), e.to_string()))
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|racer| racer.join().unwrap()).collect();
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "{results:?}");
        let loser = results.into_iter().find_map(Result::err).unwrap();
        assert_eq!(loser, (ErrorKind::Other, "socket already registered".to_string()));
    }
}

#[test]
fn deregister_after_the_fd_was_replaced_behind_readyios_back_frees_the_socket() {
    let (reader, _writer) = pipe().unwrap();
    let (other_reader, _other_writer) = pipe().unwrap();
    let (mut first, mut second) = poll_pair();
    first.register(&reader, FIRST, EventSet::readable(), PollOpt::level()).unwrap();
    // What unsound code elsewhere can do: close the fd and have its number reused. dup2 does
    // both at once, so `reader` still owns an open fd (now another pipe) and closes it once.
    // SAFETY (test only): both fds are open; `reader` keeps owning the number.
    let replaced = unsafe { libc::dup2(other_reader.as_raw_fd(), reader.as_raw_fd()) };
    assert_eq!(replaced, reader.as_raw_fd());
    // The kernel dropped the old registration with the old file: the deregister fails ...
    assert_kind(first.deregister(&reader), ErrorKind::NotFound, "the kernel forgot the closed file");
    // ... and yet ends the association, since the first poll no longer holds the fd.
    second.register(&reader, SECOND, EventSet::readable(), PollOpt::level()).expect("released");
}
