//! A panic in a handler callback loses nothing but that callback: after the caller catches
//! it and runs the loop again, everything that was due and not yet delivered is delivered.
//!
//! Each test makes several pieces of work due in one iteration (ready tokens, messages,
//! timers), panics in the callback for one of them, catches the panic, runs the loop again,
//! and checks that every other piece arrives exactly once and the one that panicked is not
//! handed over again.

use readyio::unix::UnixStream;
use readyio::{EventLoop, EventSet, Handler, PollOpt, Token};
use std::collections::BTreeSet;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The payload of the panics these tests provoke; the panic hook keeps them quiet.
const DELIBERATE: &str = "deliberate panic in a handler callback";

fn quiet_deliberate_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message =
                payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
            if message != Some(DELIBERATE) {
                default_hook(info);
            }
        }));
    });
}

/// What the handler saw, and which callback panics (once).
#[derive(Default)]
struct Fragile {
    ready: Vec<Token>,
    messages: Vec<u32>,
    timeouts: Vec<u32>,
    ticks: u32,
    panic_on_ready: Option<Token>,
    panic_on_message: Option<u32>,
    panic_on_timeout: Option<u32>,
    panic_on_tick: bool,
}

impl Handler for Fragile {
    type Timeout = u32;
    type Message = u32;

    fn ready(&mut self, _: &mut EventLoop<Self>, token: Token, _: EventSet) {
        if take_if_equal(&mut self.panic_on_ready, token) {
            panic!("{}", DELIBERATE);
        }
        self.ready.push(token);
    }

    fn notify(&mut self, _: &mut EventLoop<Self>, msg: u32) {
        if take_if_equal(&mut self.panic_on_message, msg) {
            panic!("{}", DELIBERATE);
        }
        self.messages.push(msg);
    }

    fn timeout(&mut self, _: &mut EventLoop<Self>, value: u32) {
        if take_if_equal(&mut self.panic_on_timeout, value) {
            panic!("{}", DELIBERATE);
        }
        self.timeouts.push(value);
    }

    fn tick(&mut self, _: &mut EventLoop<Self>) {
        if std::mem::take(&mut self.panic_on_tick) {
            panic!("{}", DELIBERATE);
        }
        self.ticks += 1;
    }
}

/// Clears `slot` and says true if it held `value` (`Option::take_if` is newer than the
/// crate's minimum Rust).
fn take_if_equal<T: PartialEq>(slot: &mut Option<T>, value: T) -> bool {
    if slot.as_ref() == Some(&value) {
        *slot = None;
        return true;
    }
    false
}

/// Three stream pairs registered edge-triggered as tokens 1, 2 and 3, each with a byte
/// waiting, so that one poll reports all three exactly once.
fn three_ready_tokens(event_loop: &mut EventLoop<Fragile>) -> Vec<(UnixStream, UnixStream)> {
    (1..=3)
        .map(|token| {
            let (ours, mut peer) = UnixStream::pair().unwrap();
            event_loop.register(&ours, Token(token), EventSet::readable(), PollOpt::edge()).unwrap();
            peer.write_all(b"x").unwrap();
            (ours, peer)
        })
        .collect()
}

/// Runs one iteration and expects it to panic with the deliberate panic.
fn iteration_panics(event_loop: &mut EventLoop<Fragile>, handler: &mut Fragile) {
    quiet_deliberate_panics();
    let result = catch_unwind(AssertUnwindSafe(|| event_loop.run_once(handler, Some(1000))));
    let payload = result.expect_err("the callback was meant to panic");
    assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some(DELIBERATE));
}

/// Sets three timers and waits until all three are due.
fn three_due_timers(event_loop: &mut EventLoop<Fragile>) {
    for value in [10, 20, 30] {
        event_loop.timeout(value, Duration::from_millis(1)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(5));
}

#[test]
fn a_panic_in_ready_loses_no_other_ready_token() {
    let mut event_loop = EventLoop::new().unwrap();
    let _pairs = three_ready_tokens(&mut event_loop);
    let sender = event_loop.channel();
    sender.send(7).unwrap();
    three_due_timers(&mut event_loop);
    // Tokens are dispatched in order, so token 1 is the first `ready` of the iteration.
    let mut handler = Fragile { panic_on_ready: Some(Token(1)), ..Fragile::default() };
    iteration_panics(&mut event_loop, &mut handler);
    assert!(handler.ready.is_empty());

    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    assert_eq!(handler.ready, [Token(2), Token(3)], "the tokens after the panic, once each");
    assert_eq!(handler.messages, [7], "the iteration went on to its messages");
    assert_eq!(handler.timeouts, [10, 20, 30], "and its timers");
    assert_eq!(handler.ticks, 1, "and its tick");

    // Edge-triggered and not read: nothing is ready any more, token 1 included.
    event_loop.run_once(&mut handler, Some(50)).unwrap();
    assert_eq!(handler.ready, [Token(2), Token(3)], "the token whose callback panicked is consumed");
}

#[test]
fn a_panic_in_the_middle_of_the_ready_tokens_keeps_the_earlier_and_later_ones() {
    let mut event_loop = EventLoop::new().unwrap();
    let _pairs = three_ready_tokens(&mut event_loop);
    let mut handler = Fragile { panic_on_ready: Some(Token(2)), ..Fragile::default() };
    iteration_panics(&mut event_loop, &mut handler);
    assert_eq!(handler.ready, [Token(1)]);
    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    assert_eq!(handler.ready, [Token(1), Token(3)]);
}

#[test]
fn a_panic_in_notify_loses_no_other_message() {
    let mut event_loop = EventLoop::new().unwrap();
    let _pairs = three_ready_tokens(&mut event_loop);
    let sender = event_loop.channel();
    for msg in 0..5 {
        sender.send(msg).unwrap();
    }
    three_due_timers(&mut event_loop);
    let mut handler = Fragile { panic_on_message: Some(1), ..Fragile::default() };
    iteration_panics(&mut event_loop, &mut handler);
    assert_eq!(handler.ready, [Token(1), Token(2), Token(3)]);
    assert_eq!(handler.messages, [0]);

    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    assert_eq!(handler.messages, [0, 2, 3, 4], "every message but the one that panicked, in order");
    assert_eq!(handler.timeouts, [10, 20, 30]);
    assert_eq!(handler.ticks, 1);
    assert_eq!(handler.ready, [Token(1), Token(2), Token(3)], "no ready token delivered twice");
}

#[test]
fn a_panic_in_timeout_loses_no_other_due_timer() {
    let mut event_loop = EventLoop::new().unwrap();
    three_due_timers(&mut event_loop);
    let mut handler = Fragile { panic_on_timeout: Some(10), ..Fragile::default() };
    iteration_panics(&mut event_loop, &mut handler);
    assert!(handler.timeouts.is_empty());

    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    assert_eq!(handler.timeouts, [20, 30], "the due timers after the panic, once each");
    assert_eq!(handler.ticks, 1);
    event_loop.run_once(&mut handler, Some(20)).unwrap();
    assert_eq!(handler.timeouts, [20, 30], "the timer whose callback panicked is consumed");
}

#[test]
fn a_panic_in_tick_leaves_the_next_iteration_whole() {
    let mut event_loop = EventLoop::new().unwrap();
    let sender = event_loop.channel();
    sender.send(1).unwrap();
    let mut handler = Fragile { panic_on_tick: true, ..Fragile::default() };
    iteration_panics(&mut event_loop, &mut handler);
    assert_eq!(handler.messages, [1]);
    sender.send(2).unwrap();
    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    assert_eq!(handler.messages, [1, 2], "the next call polls and delivers anew");
    assert_eq!(handler.ticks, 1);
}

/// The same through `run`, as a server would use it: a supervisor catches each panic and
/// runs the loop again until the handler shuts it down; nothing is lost on the way.
#[test]
fn run_again_after_repeated_panics_delivers_everything_else() {
    struct Supervised {
        got: BTreeSet<u32>,
        expected: usize,
    }
    impl Handler for Supervised {
        type Timeout = ();
        type Message = u32;
        fn notify(&mut self, event_loop: &mut EventLoop<Self>, msg: u32) {
            if msg % 10 == 3 {
                panic!("{}", DELIBERATE);
            }
            assert!(self.got.insert(msg), "message {msg} delivered twice");
            if self.got.len() == self.expected {
                event_loop.shutdown();
            }
        }
    }
    quiet_deliberate_panics();
    let mut event_loop = EventLoop::new().unwrap();
    let sender = event_loop.channel();
    for msg in 0..100 {
        sender.send(msg).unwrap();
    }
    let mut handler = Supervised { got: BTreeSet::new(), expected: 90 };
    let mut panics = 0;
    let start = Instant::now();
    loop {
        match catch_unwind(AssertUnwindSafe(|| event_loop.run(&mut handler))) {
            Ok(result) => break result.unwrap(),
            Err(_) => panics += 1,
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the loop did not finish");
    }
    assert_eq!(panics, 10);
    assert_eq!(handler.got, (0..100).filter(|m| m % 10 != 3).collect());
}
