//! The notify channel through a running EventLoop: delivery across threads and from the
//! handler itself, `Full` at capacity, `Closed` after the loop is dropped, per-tick limits.

use readyio::{EventLoop, EventLoopConfig, Handler, NotifyError, Sender};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Collects messages; shuts the loop down once it has `want` of them.
struct Collect {
    got: Vec<u64>,
    want: usize,
}

impl Handler for Collect {
    type Timeout = ();
    type Message = u64;
    fn notify(&mut self, event_loop: &mut EventLoop<Self>, msg: u64) {
        self.got.push(msg);
        if self.got.len() == self.want {
            event_loop.shutdown();
        }
    }
}

/// Iterates until `handler` has `want` messages, failing the test after `limit`.
fn run_until_collected(event_loop: &mut EventLoop<Collect>, handler: &mut Collect, limit: Duration) {
    let start = Instant::now();
    while handler.got.len() < handler.want {
        event_loop.run_once(handler, Some(100)).unwrap();
        assert!(start.elapsed() < limit, "the loop did not finish within {limit:?}");
    }
}

#[test]
fn messages_from_another_thread_arrive_in_order() {
    let mut event_loop = EventLoop::new().unwrap();
    let sender = event_loop.channel();
    let producer = thread::spawn(move || {
        for i in 0..1000u64 {
            loop {
                match sender.send(i) {
                    Ok(()) => break,
                    Err(NotifyError::Full(_)) => thread::yield_now(),
                    Err(e) => panic!("send failed: {e}"),
                }
            }
        }
    });
    let mut handler = Collect { got: Vec::new(), want: 1000 };
    run_until_collected(&mut event_loop, &mut handler, Duration::from_secs(10));
    producer.join().unwrap();
    assert_eq!(handler.got, (0..1000).collect::<Vec<_>>());
}

#[test]
fn a_message_wakes_a_loop_blocked_without_timeout() {
    let mut event_loop = EventLoop::new().unwrap();
    let sender = event_loop.channel();
    let (started_tx, started_rx) = mpsc::channel();
    let waker = thread::spawn(move || {
        started_rx.recv().unwrap();
        thread::sleep(Duration::from_millis(50));
        sender.send(42).unwrap();
    });
    let mut handler = Collect { got: Vec::new(), want: 1 };
    started_tx.send(()).unwrap();
    let start = Instant::now();
    // `run` blocks with no timeout at all: only the wake-up can end it.
    event_loop.run(&mut handler).unwrap();
    assert_eq!(handler.got, vec![42]);
    assert!(start.elapsed() < Duration::from_secs(5));
    waker.join().unwrap();
}

#[test]
fn the_handler_can_send_to_its_own_loop() {
    struct Echo {
        sender: Option<Sender<u64>>,
        got: Vec<u64>,
    }
    impl Handler for Echo {
        type Timeout = ();
        type Message = u64;
        fn notify(&mut self, event_loop: &mut EventLoop<Self>, msg: u64) {
            self.got.push(msg);
            if msg < 5 {
                self.sender.as_ref().unwrap().send(msg + 1).unwrap();
            } else {
                event_loop.shutdown();
            }
        }
    }
    let mut event_loop = EventLoop::new().unwrap();
    let sender = event_loop.channel();
    sender.send(0).unwrap();
    let mut handler = Echo { sender: Some(sender), got: Vec::new() };
    event_loop.run(&mut handler).unwrap();
    assert_eq!(handler.got, vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn capacity_one_returns_full_until_drained() {
    let mut config = EventLoopConfig::new();
    config.notify_capacity(1);
    let mut event_loop = EventLoop::configured(config).unwrap();
    let sender = event_loop.channel();
    sender.send(1).unwrap();
    for attempt in 2..5 {
        match sender.send(attempt) {
            Err(NotifyError::Full(msg)) => assert_eq!(msg, attempt, "Full hands the message back"),
            other => panic!("expected Full, got {other:?}"),
        }
    }
    let mut handler = Collect { got: Vec::new(), want: 2 };
    event_loop.run_once(&mut handler, Some(0)).unwrap();
    assert_eq!(handler.got, vec![1]);
    sender.send(5).unwrap();
    event_loop.run_once(&mut handler, Some(0)).unwrap();
    assert_eq!(handler.got, vec![1, 5]);
}

#[test]
fn sends_after_the_loop_is_dropped_return_closed_with_the_message() {
    let event_loop: EventLoop<Collect> = EventLoop::new().unwrap();
    let sender = event_loop.channel();
    let clone = sender.clone();
    drop(event_loop);
    match sender.send(7) {
        Err(NotifyError::Closed(Some(7))) => {}
        other => panic!("expected Closed(Some(7)), got {other:?}"),
    }
    let from_thread = thread::spawn(move || clone.send(8)).join().unwrap();
    assert!(matches!(from_thread, Err(NotifyError::Closed(Some(8)))));
}

#[test]
fn undelivered_messages_are_dropped_with_the_loop() {
    use std::sync::Arc;
    let token = Arc::new(());
    struct Holder;
    impl Handler for Holder {
        type Timeout = ();
        type Message = Arc<()>;
    }
    let event_loop: EventLoop<Holder> = EventLoop::new().unwrap();
    let sender = event_loop.channel();
    sender.send(Arc::clone(&token)).unwrap();
    assert_eq!(Arc::strong_count(&token), 2);
    drop(event_loop);
    assert_eq!(Arc::strong_count(&token), 1, "the queued message was dropped, not leaked");
    drop(sender);
}

#[test]
fn at_most_messages_per_tick_are_delivered_per_iteration() {
    let mut config = EventLoopConfig::new();
    config.messages_per_tick(3);
    let mut event_loop = EventLoop::configured(config).unwrap();
    let sender = event_loop.channel();
    for i in 0..7 {
        sender.send(i).unwrap();
    }
    let mut handler = Collect { got: Vec::new(), want: usize::MAX };
    let start = Instant::now();
    event_loop.run_once(&mut handler, Some(5000)).unwrap();
    assert_eq!(handler.got.len(), 3);
    // Messages are still queued, so the next poll must not sleep for its 5 s.
    event_loop.run_once(&mut handler, Some(5000)).unwrap();
    event_loop.run_once(&mut handler, Some(5000)).unwrap();
    assert_eq!(handler.got, (0..7).collect::<Vec<_>>());
    assert!(start.elapsed() < Duration::from_secs(2), "a poll slept although messages were queued");
}

/// Counts iterations (ticks) and messages.
#[derive(Default)]
struct CountIterations {
    ticks: u64,
    messages: u64,
}

impl Handler for CountIterations {
    type Timeout = ();
    type Message = u64;
    fn notify(&mut self, _: &mut EventLoop<Self>, _: u64) {
        self.messages += 1;
    }
    fn tick(&mut self, _: &mut EventLoop<Self>) {
        self.ticks += 1;
    }
}

/// `messages_per_tick(0)` once made the loop spin: with a message queued the poll timeout
/// is forced to zero, and an iteration that may deliver nothing never drains the queue
/// (640k iterations in 300 ms). Every `messages_per_tick` value must either be rejected
/// when the loop is configured, or give a loop that sleeps in its polls once it has
/// delivered what it can. Over 300 ms of `run_once(Some(50 ms))` a sleeping loop makes
/// about 6 idle iterations plus one per queued message; the bound leaves room for a slow
/// machine and is still thousands of times below a spin.
#[test]
fn no_messages_per_tick_value_makes_the_loop_spin() {
    const QUEUED: u64 = 5;
    const MAX_ITERATIONS: u64 = QUEUED + 100;
    for per_tick in [0, 1, 2, 256, usize::MAX] {
        let mut config = EventLoopConfig::new();
        config.messages_per_tick(per_tick);
        let mut event_loop: EventLoop<CountIterations> = match EventLoop::configured(config) {
            Ok(event_loop) => event_loop,
            Err(e) => {
                assert_eq!(per_tick, 0, "only 0 is rejected, got {e} for {per_tick}");
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
                continue;
            }
        };
        let sender = event_loop.channel();
        for msg in 0..QUEUED {
            sender.send(msg).unwrap();
        }
        let mut handler = CountIterations::default();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            event_loop.run_once(&mut handler, Some(50)).unwrap();
            assert!(handler.ticks <= MAX_ITERATIONS, "messages_per_tick({per_tick}): the loop spins");
        }
        assert_eq!(handler.messages, QUEUED, "messages_per_tick({per_tick}) delivered every message");
        println!("messages_per_tick({per_tick}): {} iterations in 300 ms", handler.ticks);
    }
}

#[test]
fn messages_per_tick_zero_is_rejected_with_invalid_input() {
    let mut config = EventLoopConfig::new();
    config.messages_per_tick(0);
    let error = EventLoop::<Collect>::configured(config).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("messages_per_tick"), "{error}");
}

#[test]
fn notify_errors_display_and_debug() {
    let full: NotifyError<u8> = NotifyError::Full(1);
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert!(full.to_string().contains("full"));
    let io: NotifyError<u8> = NotifyError::Io(std::io::Error::other("x"));
    assert!(std::error::Error::source(&io).is_some());
    let closed: NotifyError<u8> = NotifyError::Closed(None);
    assert!(closed.to_string().contains("gone"));
}

#[test]
fn sender_is_clone_send_and_sync() {
    fn assert_traits<T: Clone + Send + Sync>() {}
    assert_traits::<Sender<u64>>();
    let mut event_loop = EventLoop::new().unwrap();
    let sender = event_loop.channel();
    let senders: Vec<_> = (0..4).map(|_| sender.clone()).collect();
    let handles: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(t, s)| thread::spawn(move || (0..100u64).for_each(|i| s.send(t as u64 * 1000 + i).unwrap())))
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let mut handler = Collect { got: Vec::new(), want: 400 };
    run_until_collected(&mut event_loop, &mut handler, Duration::from_secs(10));
    handler.got.sort();
    let expected: Vec<u64> = (0..4).flat_map(|t| (0..100).map(move |i| t * 1000 + i)).collect();
    assert_eq!(handler.got, expected);
}
