//! Stress for the notify wake/sleep protocol (see `src/event_loop/notify.rs`): producers on
//! several threads send one message at a time and wait until the loop has delivered it,
//! so the loop keeps going to sleep and being woken. The loop polls with a long timeout: a
//! lost wake-up would leave a producer waiting for that whole timeout, which fails the test.

#[path = "support/stress.rs"]
mod stress;

use readyio::{EventLoop, Handler, NotifyError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const PRODUCERS: usize = 4;
const ROUNDS: u64 = 20_000;
/// The loop's poll timeout: far longer than any delivery should take.
const LOOP_POLL_TIMEOUT_MS: usize = 1_000;
/// An iteration this long, or a producer waiting this long, means the loop slept through
/// a message: a lost wake-up.
const STALL: Duration = Duration::from_millis(800);

/// One bounded iteration that fails the test if it slept to its timeout while messages
/// were still to come.
fn iterate<H: Handler>(event_loop: &mut EventLoop<H>, handler: &mut H) {
    let start = Instant::now();
    event_loop.run_once(handler, Some(LOOP_POLL_TIMEOUT_MS)).unwrap();
    assert!(start.elapsed() < STALL, "the loop slept {:?} with messages outstanding: lost wake-up", start.elapsed());
}

struct Deliver {
    delivered: Arc<Vec<AtomicU64>>,
    total: u64,
}

impl Handler for Deliver {
    type Timeout = ();
    type Message = usize;
    fn notify(&mut self, _: &mut EventLoop<Self>, producer: usize) {
        self.delivered[producer].fetch_add(1, Ordering::Release);
        self.total += 1;
    }
}

#[test]
fn no_wake_up_is_lost_when_producers_race_the_loop_going_to_sleep() {
    let mut event_loop = EventLoop::new().unwrap();
    let delivered: Arc<Vec<AtomicU64>> = Arc::new((0..PRODUCERS).map(|_| AtomicU64::new(0)).collect());
    let failed = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            let sender = event_loop.channel();
            let delivered = Arc::clone(&delivered);
            let failed = Arc::clone(&failed);
            thread::spawn(move || {
                let mut spin = id as u64 + 1;
                for round in 1..=ROUNDS {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    // Vary the moment of the send relative to the loop's sleep; half the
                    // time send at once, which lands while the loop is finishing the
                    // iteration that delivered the previous message.
                    spin = spin.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    if spin >> 63 == 1 {
                        for _ in 0..(spin >> 52) & 0x3ff {
                            std::hint::spin_loop();
                        }
                    }
                    match sender.send(id) {
                        Ok(()) => {}
                        Err(NotifyError::Full(_)) => unreachable!("one message in flight per producer"),
                        Err(e) => panic!("send failed: {e}"),
                    }
                    let sent = Instant::now();
                    while delivered[id].load(Ordering::Acquire) < round {
                        if sent.elapsed() > STALL {
                            failed.store(true, Ordering::Relaxed);
                            panic!("producer {id}: message {round} not delivered after {STALL:?}: lost wake-up");
                        }
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let mut handler = Deliver { delivered: Arc::clone(&delivered), total: 0 };
    let start = Instant::now();
    while handler.total < PRODUCERS as u64 * ROUNDS && !failed.load(Ordering::Relaxed) {
        iterate(&mut event_loop, &mut handler);
        assert!(start.elapsed() < Duration::from_secs(60), "stress test took too long");
    }
    for producer in producers {
        producer.join().expect("a producer saw a lost wake-up");
    }
    assert_eq!(handler.total, PRODUCERS as u64 * ROUNDS);
}

/// 8 producers flood the channel (retrying on `Full`); every message arrives exactly once,
/// and each producer's in the order it sent them. `READYIO_STRESS_MESSAGES` per producer
/// (tests/support/stress.rs): 25,000 by default, 1,000,000 in `ci/stress.sh`.
#[test]
fn eight_producers_flooding_deliver_every_message_once_and_in_order() {
    const THREADS: u64 = 8;
    let per_thread = stress::size("MESSAGES", 25_000, u32::MAX as usize) as u64;
    struct Tally {
        seen: Vec<u64>,
        count: u64,
    }
    impl Handler for Tally {
        type Timeout = ();
        type Message = u64;
        fn notify(&mut self, _: &mut EventLoop<Self>, msg: u64) {
            let (thread, seq) = ((msg >> 32) as usize, msg & 0xffff_ffff);
            assert_eq!(self.seen[thread], seq, "thread {thread}: lost, duplicated or reordered message");
            self.seen[thread] += 1;
            self.count += 1;
        }
    }
    let mut event_loop = EventLoop::new().unwrap();
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let sender = event_loop.channel();
            thread::spawn(move || {
                for seq in 0..per_thread {
                    let mut msg = (t << 32) | seq;
                    loop {
                        match sender.send(msg) {
                            Ok(()) => break,
                            Err(NotifyError::Full(back)) => {
                                msg = back;
                                thread::yield_now();
                            }
                            Err(e) => panic!("send failed: {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    let mut handler = Tally { seen: vec![0; THREADS as usize], count: 0 };
    let start = Instant::now();
    while handler.count < THREADS * per_thread {
        iterate(&mut event_loop, &mut handler);
        assert!(start.elapsed() < Duration::from_secs(120), "bursts took too long");
    }
    senders.into_iter().for_each(|s| s.join().unwrap());
    assert_eq!(handler.seen, vec![per_thread; THREADS as usize]);
    println!(
        "{THREADS} producers x {per_thread} messages, each once and in order, in {:.2} s",
        start.elapsed().as_secs_f64()
    );
}
