//! The event loop's IO dispatch: ready/notify/timeout/tick order, once per token, nothing
//! for a token deregistered earlier in the same iteration, register/reregister/deregister,
//! hup after the peer drops its socket, shutdown.

use readyio::unix::EventedFd;
use readyio::{EventLoop, EventSet, Handler, PollOpt, Token};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

fn socket_pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Records every callback as a string.
#[derive(Default)]
struct Recorder {
    calls: Vec<String>,
    /// On `ready` for the key, deregister the fd of the value.
    deregister_on_ready: Option<(Token, RawFd)>,
}

impl Handler for Recorder {
    type Timeout = &'static str;
    type Message = &'static str;
    fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, events: EventSet) {
        self.calls.push(format!("ready {} {}", token.0, describe(events)));
        if let Some((trigger, fd)) = self.deregister_on_ready {
            if trigger == token {
                event_loop.deregister(&EventedFd(&fd)).unwrap();
                self.deregister_on_ready = None;
            }
        }
    }
    fn notify(&mut self, _: &mut EventLoop<Self>, msg: &'static str) {
        self.calls.push(format!("notify {msg}"));
    }
    fn timeout(&mut self, _: &mut EventLoop<Self>, timeout: &'static str) {
        self.calls.push(format!("timeout {timeout}"));
    }
    fn tick(&mut self, _: &mut EventLoop<Self>) {
        self.calls.push("tick".into());
    }
}

fn describe(events: EventSet) -> String {
    let mut s = String::new();
    for (flag, name) in [(EventSet::readable(), "r"), (EventSet::writable(), "w"), (EventSet::hup(), "h")] {
        if events.contains(flag) {
            s.push_str(name);
        }
    }
    s
}

#[test]
fn one_iteration_calls_ready_then_notify_then_timeout_then_tick() {
    let (a, mut b) = socket_pair();
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.register(&EventedFd(&a.as_raw_fd()), Token(1), EventSet::readable(), PollOpt::edge()).unwrap();
    b.write_all(b"x").unwrap();
    event_loop.channel().send("m").unwrap();
    event_loop.timeout_ms("t", 0).unwrap();
    let mut handler = Recorder::default();
    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    assert_eq!(handler.calls, ["ready 1 r", "notify m", "timeout t", "tick"]);
}

#[test]
fn tick_is_called_after_ready_and_on_idle_iterations() {
    let (a, mut b) = socket_pair();
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.register(&EventedFd(&a.as_raw_fd()), Token(3), EventSet::readable(), PollOpt::edge()).unwrap();
    let mut handler = Recorder::default();
    event_loop.run_once(&mut handler, Some(0)).unwrap();
    b.write_all(b"x").unwrap();
    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    assert_eq!(handler.calls, ["tick", "ready 3 r", "tick"]);
}

#[test]
fn a_token_deregistered_earlier_in_the_iteration_gets_no_ready() {
    let (a1, mut b1) = socket_pair();
    let (a2, mut b2) = socket_pair();
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.register(&EventedFd(&a1.as_raw_fd()), Token(1), EventSet::readable(), PollOpt::level()).unwrap();
    event_loop.register(&EventedFd(&a2.as_raw_fd()), Token(2), EventSet::readable(), PollOpt::level()).unwrap();
    b1.write_all(b"x").unwrap();
    b2.write_all(b"x").unwrap();
    // Both are ready in the same poll; whichever is dispatched first deregisters the other.
    let mut handler = Recorder::default();
    let (first, other_fd) = (Token(1), a2.as_raw_fd());
    handler.deregister_on_ready = Some((first, other_fd));
    // Make sure both events are in one poll before dispatching: wait until both are ready.
    std::thread::sleep(Duration::from_millis(20));
    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    assert_eq!(handler.calls, ["ready 1 r", "tick"], "token 2 was deregistered by token 1's ready");
    // And the deregistered socket stays silent afterwards, although it is still readable.
    event_loop.run_once(&mut handler, Some(50)).unwrap();
    assert_eq!(handler.calls.iter().filter(|c| c.starts_with("ready 2")).count(), 0);
}

#[test]
fn ready_is_called_once_per_token_when_two_handles_share_it() {
    let (a1, mut b1) = socket_pair();
    let (a2, b2) = socket_pair();
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.register(&EventedFd(&a1.as_raw_fd()), Token(5), EventSet::readable(), PollOpt::edge()).unwrap();
    event_loop.register(&EventedFd(&a2.as_raw_fd()), Token(5), EventSet::readable(), PollOpt::edge()).unwrap();
    b1.write_all(b"x").unwrap();
    drop(b2); // a2 becomes readable (EOF) and hup
    std::thread::sleep(Duration::from_millis(20));
    let mut handler = Recorder::default();
    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    assert_eq!(handler.calls, ["ready 5 rh", "tick"], "the two handles' events are merged into one call");
}

#[test]
fn register_reregister_and_deregister_through_the_loop() {
    let (a, mut b) = socket_pair();
    let raw = a.as_raw_fd();
    let fd = EventedFd(&raw);
    let mut event_loop = EventLoop::new().unwrap();
    let mut handler = Recorder::default();
    event_loop.register(&fd, Token(1), EventSet::readable(), PollOpt::level()).unwrap();
    b.write_all(b"x").unwrap();
    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    event_loop.reregister(&fd, Token(2), EventSet::writable(), PollOpt::level()).unwrap();
    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    event_loop.deregister(&fd).unwrap();
    event_loop.run_once(&mut handler, Some(20)).unwrap();
    assert_eq!(handler.calls, ["ready 1 r", "tick", "ready 2 w", "tick", "tick"]);
}

#[test]
fn registration_errors_are_io_errors_not_panics() {
    let (a, _b) = socket_pair();
    let raw = a.as_raw_fd();
    let fd = EventedFd(&raw);
    let mut event_loop: EventLoop<Recorder> = EventLoop::new().unwrap();
    let reserved = event_loop.register(&fd, Token(usize::MAX), EventSet::readable(), PollOpt::edge());
    assert_eq!(reserved.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!(event_loop.deregister(&fd).unwrap_err().kind(), io::ErrorKind::NotFound);
    let rereg = event_loop.reregister(&fd, Token(1), EventSet::readable(), PollOpt::edge());
    assert_eq!(rereg.unwrap_err().kind(), io::ErrorKind::NotFound);
    event_loop.register(&fd, Token(1), EventSet::readable(), PollOpt::edge()).unwrap();
    let twice = event_loop.register(&fd, Token(1), EventSet::readable(), PollOpt::edge());
    assert_eq!(twice.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
}

#[test]
fn hup_is_reported_after_the_peer_drops_its_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.register(&EventedFd(&server.as_raw_fd()), Token(9), EventSet::readable(), PollOpt::edge()).unwrap();
    drop(client);
    let mut handler = Recorder::default();
    let start = Instant::now();
    while !handler.calls.iter().any(|c| c.starts_with("ready 9")) {
        event_loop.run_once(&mut handler, Some(1000)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    let ready = handler.calls.iter().find(|c| c.starts_with("ready 9")).unwrap();
    assert!(ready.contains('h'), "expected hup, got {ready}");
    assert_eq!(server.read(&mut [0; 8]).unwrap(), 0, "and the read sees EOF");
}

#[test]
fn run_returns_after_shutdown_and_is_running_reflects_it() {
    struct StopOnTick {
        running_inside: Option<bool>,
    }
    impl Handler for StopOnTick {
        type Timeout = ();
        type Message = ();
        fn tick(&mut self, event_loop: &mut EventLoop<Self>) {
            self.running_inside = Some(event_loop.is_running());
            event_loop.shutdown();
        }
    }
    let mut event_loop = EventLoop::new().unwrap();
    // Something to wake the first poll: run() itself polls without a timeout.
    event_loop.timeout_ms((), 1).unwrap();
    let mut handler = StopOnTick { running_inside: None };
    assert!(!event_loop.is_running());
    event_loop.run(&mut handler).unwrap();
    assert_eq!(handler.running_inside, Some(true));
    assert!(!event_loop.is_running());
}

#[test]
fn run_once_waits_for_its_timeout_when_nothing_happens() {
    let mut event_loop: EventLoop<Recorder> = EventLoop::new().unwrap();
    let mut handler = Recorder::default();
    let start = Instant::now();
    event_loop.run_once(&mut handler, Some(30)).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(30));
    let start = Instant::now();
    event_loop.run_once_timeout(&mut handler, Some(Duration::from_micros(1500))).unwrap();
    assert!(start.elapsed() >= Duration::from_micros(1500));
    assert_eq!(handler.calls, ["tick", "tick"]);
}

#[test]
fn the_loop_is_debug() {
    let event_loop: EventLoop<Recorder> = EventLoop::new().unwrap();
    assert!(format!("{event_loop:?}").starts_with("EventLoop"));
}
