//! What the notify channel's wake/sleep protocol is made of, in one place: its atomics,
//! fences, `Arc` and message queue. `std`'s (and `crossbeam_queue::ArrayQueue`) in every
//! normal build; [loom](https://docs.rs/loom)'s under `--cfg loom`, so that the loom model
//! (`tests/notify_loom.rs`) runs the real `notify.rs` and explores every interleaving and
//! every value the C11 memory model lets each load see.
//!
//! # The queue under loom
//!
//! `ArrayQueue` is built on `core`'s atomics, which loom cannot see: to loom its push would
//! be visible to every thread at once, and a missing fence in the protocol could never show.
//! Under `--cfg loom` it is therefore replaced by a model made of loom atomics: the same
//! algorithm (Vyukov's bounded queue: a head, a tail and a stamp per slot) with the same
//! orderings as crossbeam-queue 0.3.14's `src/array_queue.rs`:
//!
//! * `push` (`push_or_else`, lines 145-205): the tail is loaded `Relaxed`, the slot's stamp
//!   `Acquire`; the tail is advanced by a `compare_exchange_weak(SeqCst, Relaxed)`, then the
//!   value is written and the stamp stored `Release`. A full-looking slot is confirmed by a
//!   `fence(SeqCst)` and a `Relaxed` load of the head (`push`, lines 221-233).
//! * `pop` (lines 336-398): head `Relaxed`, stamp `Acquire`, head advanced by a
//!   `compare_exchange_weak(SeqCst, Relaxed)`, stamp stored `Release`; an empty-looking slot
//!   is confirmed by a `fence(SeqCst)` and a `Relaxed` load of the tail, and a slot whose
//!   push is still in flight is waited for, never reported empty.
//! * `is_empty` (lines 475-485): head, then tail, both loaded `SeqCst`.
//!
//! Loom treats `SeqCst` loads, stores and read-modify-writes as `AcqRel` (only
//! `fence(SeqCst)` gets its full meaning): the model's queue is, if anything, weaker than the
//! real one, so it can only make the model find more executions, never fewer. The values
//! themselves sit in `std` mutexes that loom does not see: loom runs one thread at a time
//! and never switches inside them, so they add no synchronisation to the model; the stamps
//! alone order the slots, as in the real queue.

#[cfg(not(loom))]
pub(crate) use crossbeam_queue::ArrayQueue;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU8, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU8, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom_queue::ArrayQueue;

#[cfg(loom)]
mod loom_queue {
    use loom::sync::atomic::{fence, AtomicUsize, Ordering};
    use std::sync::Mutex;

    struct Slot<T> {
        /// `tail` when the slot is next to be written, `head + 1` when next to be read.
        stamp: AtomicUsize,
        value: Mutex<Option<T>>,
    }

    /// The loom model of `crossbeam_queue::ArrayQueue` (see the module docs).
    pub(crate) struct ArrayQueue<T> {
        head: AtomicUsize,
        tail: AtomicUsize,
        buffer: Box<[Slot<T>]>,
        cap: usize,
        /// The smallest power of two above `cap`: the index is below it, the lap above.
        one_lap: usize,
    }

    /// A retry waits for another thread: let loom run the others first.
    fn backoff() {
        loom::thread::yield_now();
    }

    impl<T> ArrayQueue<T> {
        pub(crate) fn new(cap: usize) -> ArrayQueue<T> {
            assert!(cap > 0, "capacity must be non-zero");
            let buffer = (0..cap).map(|i| Slot { stamp: AtomicUsize::new(i), value: Mutex::new(None) }).collect();
            let one_lap = (cap + 1).next_power_of_two();
            ArrayQueue { head: AtomicUsize::new(0), tail: AtomicUsize::new(0), buffer, cap, one_lap }
        }

        /// The stamp after `stamp` at `index`: the next index, or index 0 of the next lap.
        fn next(&self, stamp: usize) -> usize {
            let index = stamp & (self.one_lap - 1);
            let lap = stamp & !(self.one_lap - 1);
            if index + 1 < self.cap {
                stamp + 1
            } else {
                lap.wrapping_add(self.one_lap)
            }
        }

        pub(crate) fn push(&self, value: T) -> Result<(), T> {
            let mut tail = self.tail.load(Ordering::Relaxed);
            loop {
                let slot = &self.buffer[tail & (self.one_lap - 1)];
                let stamp = slot.stamp.load(Ordering::Acquire);
                if tail == stamp {
                    match self.tail.compare_exchange_weak(tail, self.next(tail), Ordering::SeqCst, Ordering::Relaxed) {
                        Ok(_) => {
                            *slot.value.lock().unwrap() = Some(value);
                            slot.stamp.store(tail + 1, Ordering::Release);
                            return Ok(());
                        }
                        Err(current) => tail = current,
                    }
                } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                    fence(Ordering::SeqCst);
                    let head = self.head.load(Ordering::Relaxed);
                    if head.wrapping_add(self.one_lap) == tail {
                        return Err(value);
                    }
                    backoff();
                    tail = self.tail.load(Ordering::Relaxed);
                } else {
                    backoff();
                    tail = self.tail.load(Ordering::Relaxed);
                }
            }
        }

        pub(crate) fn pop(&self) -> Option<T> {
            let mut head = self.head.load(Ordering::Relaxed);
            loop {
                let slot = &self.buffer[head & (self.one_lap - 1)];
                let stamp = slot.stamp.load(Ordering::Acquire);
                if head + 1 == stamp {
                    match self.head.compare_exchange_weak(head, self.next(head), Ordering::SeqCst, Ordering::Relaxed) {
                        Ok(_) => {
                            let value = slot.value.lock().unwrap().take();
                            slot.stamp.store(head.wrapping_add(self.one_lap), Ordering::Release);
                            return Some(value.expect("the stamp says the slot holds a value"));
                        }
                        Err(current) => head = current,
                    }
                } else if stamp == head {
                    fence(Ordering::SeqCst);
                    let tail = self.tail.load(Ordering::Relaxed);
                    if tail == head {
                        return None;
                    }
                    backoff();
                    head = self.head.load(Ordering::Relaxed);
                } else {
                    backoff();
                    head = self.head.load(Ordering::Relaxed);
                }
            }
        }

        pub(crate) fn is_empty(&self) -> bool {
            let head = self.head.load(Ordering::SeqCst);
            let tail = self.tail.load(Ordering::SeqCst);
            tail == head
        }

        pub(crate) fn len(&self) -> usize {
            loop {
                let tail = self.tail.load(Ordering::SeqCst);
                let head = self.head.load(Ordering::SeqCst);
                if self.tail.load(Ordering::SeqCst) == tail {
                    let (hix, tix) = (head & (self.one_lap - 1), tail & (self.one_lap - 1));
                    return if hix < tix {
                        tix - hix
                    } else if hix > tix {
                        self.cap - hix + tix
                    } else if tail == head {
                        0
                    } else {
                        self.cap
                    };
                }
            }
        }

        pub(crate) fn capacity(&self) -> usize {
            self.cap
        }
    }
}
