//! The notify channel's wake/sleep protocol under loom: the real `src/event_loop/notify.rs`
//! (its atomics, fences and `Arc` come from loom under `--cfg loom`, see
//! `src/event_loop/sync.rs`, and so does a model of its queue), driven by a model of the event
//! loop and of its eventfd, under every interleaving of the threads and every value the C11
//! memory model lets each load see. Run with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release --test notify_loom
//! ```
//!
//! The loop model does what `EventLoop::run_once_timeout` does with a timeout that may block:
//! `prepare_to_sleep`, a poll (blocking if it said so, else with timeout 0), `awake`, then
//! drain the queue; and again, until it has every message. The eventfd model is a flag that
//! a wake raises and a poll consumes (edge-triggered, never read), and a count of writes.
//!
//! What fails the model:
//! * a lost wake-up: the loop blocks in a poll that nothing will end. Loom reports it as a
//!   deadlock ("deadlock; threads = ..."), or, while a producer keeps retrying a full queue
//!   that the blocked loop never drains, as "Model exceeded maximum number of branches";
//! * more `write`s than times the loop announced it was going to sleep, or any `write` to a
//!   loop that never sleeps;
//! * a message lost, duplicated or reordered.
//!
//! Loom explores every interleaving up to `LOOM_MAX_PREEMPTIONS` preemptions per execution
//! (this file defaults it to 3 when unset: it runs in seconds, and removing either fence of
//! the protocol fails several of the tests at that bound).
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use readyio::loom_model::{Receiver, Wake};
use readyio::{NotifyError, Sender};
use std::io;

/// The default preemption bound when `LOOM_MAX_PREEMPTIONS` is unset.
const PREEMPTIONS: usize = 3;

fn model(test: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(PREEMPTIONS);
    builder.check(test);
}

/// The loop's eventfd, registered edge-triggered: each write raises an edge that the next
/// poll reports, and so consumes; the counter is never read.
#[derive(Default)]
struct Eventfd {
    edge: Mutex<bool>,
    raised: Condvar,
    writes: AtomicUsize,
}

impl Eventfd {
    /// A poll that may block: returns once an edge is raised, consuming it.
    fn poll_blocking(&self) {
        let mut edge = self.edge.lock().unwrap();
        while !*edge {
            edge = self.raised.wait(edge).unwrap();
        }
        *edge = false;
    }

    /// A poll with timeout 0: reports (consumes) an edge if one is raised.
    fn poll_now(&self) {
        *self.edge.lock().unwrap() = false;
    }

    fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

/// The waker the channel is built with: one `write` to the eventfd.
struct EventfdWaker(Arc<Eventfd>);

impl Wake for EventfdWaker {
    fn wake(&self) -> io::Result<()> {
        self.0.writes.fetch_add(1, Ordering::SeqCst);
        *self.0.edge.lock().unwrap() = true;
        self.0.raised.notify_one();
        Ok(())
    }
}

/// The event loop, reduced to what it does with the channel.
struct Loop {
    receiver: Receiver<u32>,
    eventfd: Arc<Eventfd>,
    /// Times the loop announced it was going to sleep (stored `SLEEPING`).
    sleep_attempts: usize,
    received: Vec<u32>,
}

impl Loop {
    fn new(capacity: usize) -> Loop {
        let eventfd = Arc::new(Eventfd::default());
        let receiver = Receiver::new(capacity, EventfdWaker(Arc::clone(&eventfd))).unwrap();
        Loop { receiver, eventfd, sleep_attempts: 0, received: Vec::new() }
    }

    fn sender(&self) -> Sender<u32> {
        self.receiver.sender()
    }

    /// One iteration with a timeout that may block (`EventLoop::run_once_timeout`).
    fn iterate(&mut self) {
        self.sleep_attempts += 1;
        if self.receiver.prepare_to_sleep() {
            self.eventfd.poll_blocking();
        } else {
            self.eventfd.poll_now();
        }
        self.receiver.awake();
        while let Some(msg) = self.receiver.try_recv() {
            self.received.push(msg);
        }
    }

    /// Iterates until `count` messages have arrived; blocks forever on a lost wake-up.
    fn run_until(&mut self, count: usize) {
        while self.received.len() < count {
            self.iterate();
        }
    }

    /// At most one write per announced sleep.
    fn assert_no_extra_writes(&self) {
        let writes = self.eventfd.writes();
        assert!(writes <= self.sleep_attempts, "{writes} wake-up writes for {} sleep attempts", self.sleep_attempts);
    }
}

/// Sends `msg`, retrying while the queue is full (as a producer that must not drop it would).
fn send_retrying(sender: &Sender<u32>, mut msg: u32) {
    loop {
        match sender.send(msg) {
            Ok(()) => return,
            Err(NotifyError::Full(back)) => {
                msg = back;
                thread::yield_now();
            }
            Err(e) => panic!("send failed: {e}"),
        }
    }
}

#[test]
fn a_loop_sleeping_between_messages_is_woken_for_each_of_them() {
    // Two pushes, each racing one of the loop's sleep attempts; the loop goes to sleep
    // again after the first wake-up.
    model(|| {
        let mut event_loop = Loop::new(4);
        let sender = event_loop.sender();
        let producer = thread::spawn(move || {
            send_retrying(&sender, 1);
            send_retrying(&sender, 2);
        });
        event_loop.run_until(2);
        producer.join().unwrap();
        assert_eq!(event_loop.received, [1, 2], "lost, duplicated or reordered");
        event_loop.assert_no_extra_writes();
    });
}

#[test]
fn two_senders_racing_a_loop_going_to_sleep_wake_it_once_per_sleep() {
    model(|| {
        let mut event_loop = Loop::new(4);
        let producers: Vec<_> = (1..=2)
            .map(|msg| {
                let sender = event_loop.sender();
                thread::spawn(move || send_retrying(&sender, msg))
            })
            .collect();
        event_loop.run_until(2);
        producers.into_iter().for_each(|p| p.join().unwrap());
        event_loop.received.sort_unstable();
        assert_eq!(event_loop.received, [1, 2], "lost or duplicated");
        event_loop.assert_no_extra_writes();
    });
}

#[test]
fn a_full_queue_hands_the_message_back_and_the_retry_still_wakes_the_loop() {
    model(|| {
        let mut event_loop = Loop::new(1);
        let sender = event_loop.sender();
        let producer = thread::spawn(move || {
            send_retrying(&sender, 1);
            send_retrying(&sender, 2);
        });
        event_loop.run_until(2);
        producer.join().unwrap();
        assert_eq!(event_loop.received, [1, 2], "lost, duplicated or reordered");
        event_loop.assert_no_extra_writes();
    });
}

#[test]
fn sends_to_a_loop_that_never_sleeps_write_nothing() {
    model(|| {
        let event_loop = Loop::new(4);
        let sender = event_loop.sender();
        let producer = thread::spawn(move || {
            send_retrying(&sender, 1);
            send_retrying(&sender, 2);
        });
        // A loop with a zero timeout never announces a sleep.
        let mut received = Vec::new();
        while received.len() < 2 {
            match event_loop.receiver.try_recv() {
                Some(msg) => received.push(msg),
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(received, [1, 2]);
        assert_eq!(event_loop.eventfd.writes(), 0, "a send to an awake loop wrote to its eventfd");
    });
}

#[test]
fn a_send_racing_the_loops_drop_is_queued_or_handed_back() {
    model(|| {
        let event_loop = Loop::new(4);
        let sender = event_loop.sender();
        let producer = thread::spawn(move || match sender.send(7) {
            Ok(()) | Err(NotifyError::Closed(Some(7))) => {}
            Err(e) => panic!("unexpected {e:?}"),
        });
        drop(event_loop);
        producer.join().unwrap();
    });
}
