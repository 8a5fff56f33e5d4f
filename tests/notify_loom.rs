//! A loom model of the notify channel's wake/sleep protocol (`src/event_loop/notify.rs`):
//! every interleaving, under the C11 memory model, of senders racing a loop that is about to
//! sleep. Run with `RUSTFLAGS="--cfg loom" cargo test --release --test notify_loom`.
//!
//! The model keeps the protocol's atomics and fences exactly as `notify.rs` has them and
//! stands in for the rest: the queue is its tail counter (`ArrayQueue::push` advances the
//! tail with a `SeqCst` compare-and-swap; `is_empty` compares head and tail with `SeqCst`
//! loads), the waker is a counter of `write`s.
#![cfg(loom)]

use loom::sync::atomic::{fence, AtomicU8, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

const AWAKE: u8 = 0;
const SLEEPING: u8 = 1;

#[derive(Default)]
struct Model {
    state: AtomicU8,
    queue_tail: AtomicUsize,
    wake_writes: AtomicUsize,
}

impl Model {
    /// `Sender::send` after the closed check.
    fn send(&self) {
        self.queue_tail.fetch_add(1, Ordering::SeqCst); // S1: push
        fence(Ordering::SeqCst); // S2
        if self.state.load(Ordering::Relaxed) == SLEEPING
            && self.state.compare_exchange(SLEEPING, AWAKE, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            self.wake_writes.fetch_add(1, Ordering::SeqCst); // S3: waker.wake()
        }
    }

    /// `Receiver::prepare_to_sleep` with `popped` messages already taken: true = sleeps.
    fn prepare_to_sleep(&self, popped: usize) -> bool {
        self.state.store(SLEEPING, Ordering::Relaxed); // L1
        fence(Ordering::SeqCst); // L2
        if self.queue_tail.load(Ordering::SeqCst) == popped {
            true
        } else {
            self.state.store(AWAKE, Ordering::Relaxed); // L3
            false
        }
    }
}

#[test]
fn a_loop_never_sleeps_through_a_message_and_one_write_wakes_it() {
    loom::model(|| {
        let model = Arc::new(Model::default());
        let sender = {
            let model = Arc::clone(&model);
            thread::spawn(move || model.send())
        };
        let slept = model.prepare_to_sleep(0);
        sender.join().unwrap();
        let writes = model.wake_writes.load(Ordering::SeqCst);
        if slept {
            assert_eq!(writes, 1, "the loop went to sleep with a message queued and no wake-up");
        } else {
            // The sender may have seen SLEEPING just before the loop saw the message: one
            // spurious wake-up (the next poll returns at once), never more.
            assert!(writes <= 1);
        }
    });
}

#[test]
fn two_senders_to_a_sleeping_loop_write_once() {
    loom::model(|| {
        let model = Arc::new(Model::default());
        let senders: Vec<_> = (0..2)
            .map(|_| {
                let model = Arc::clone(&model);
                thread::spawn(move || model.send())
            })
            .collect();
        let slept = model.prepare_to_sleep(0);
        senders.into_iter().for_each(|s| s.join().unwrap());
        let writes = model.wake_writes.load(Ordering::SeqCst);
        assert!(writes <= 1, "{writes} writes for one sleep");
        if slept {
            assert_eq!(writes, 1, "the loop went to sleep with messages queued and no wake-up");
        }
    });
}

#[test]
fn a_message_sent_while_the_loop_finishes_an_iteration_is_seen_before_the_next_sleep() {
    loom::model(|| {
        let model = Arc::new(Model::default());
        // The loop was woken (L4: AWAKE) and is delivering; a send races its next sleep.
        let sender = {
            let model = Arc::clone(&model);
            thread::spawn(move || model.send())
        };
        let slept = model.prepare_to_sleep(0);
        let seen_before_sleeping = !slept;
        sender.join().unwrap();
        let woken = model.wake_writes.load(Ordering::SeqCst) > 0;
        assert!(seen_before_sleeping || woken, "message stranded: the loop sleeps and nobody wakes it");
        // After the wake-up the loop stores AWAKE (L4), pops the message and may sleep again:
        // with nothing new queued it sleeps, and no stale wake-up is owed.
        model.state.store(AWAKE, Ordering::Release);
        assert!(model.prepare_to_sleep(1));
    });
}
