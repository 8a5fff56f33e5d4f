//! The notify channel: [`Sender`]s on any thread hand messages to one event loop.
//!
//! Messages go through a bounded MPMC queue allocated once with `notify_capacity` slots
//! (`crossbeam_queue::ArrayQueue`), so sending never allocates and a full queue hands the
//! message back ([`NotifyError::Full`]). A sender wakes the loop with the platform
//! [`Waker`] only when the loop is asleep in `poll`: a send to a loop that is awake makes
//! **no syscall**, a send to a sleeping loop exactly one `write`. (Senders that collide on
//! the queue retry, and the queue's backoff yields the CPU, `sched_yield`, after a few
//! failed attempts: a cost of contention between senders, never of the wake-up protocol.)
//!
//! # The wake/sleep protocol
//!
//! One atomic word, `state`, holds `AWAKE` or `SLEEPING`, plus a `CLOSED` bit the loop sets
//! when it is dropped. Only the loop stores `SLEEPING` or `AWAKE`; a sender only changes
//! `SLEEPING` to `AWAKE`, with a compare-and-swap.
//!
//! ```text
//! loop, before a poll that may block        sender
//!   L1 state := SLEEPING                      S1 queue.push(msg)
//!   L2 fence(SeqCst)                          S2 fence(SeqCst)
//!   L3 if queue is not empty:                 S3 if state == SLEEPING and
//!        state := AWAKE; poll without waiting      CAS(state, SLEEPING -> AWAKE) succeeds:
//!      else poll (may sleep)                        waker.wake()      (one write)
//!   L4 state := AWAKE (after the poll returns)
//!   then deliver messages with queue.pop()
//! ```
//!
//! **No lost wake-up.** Take a message pushed at S1 and a loop that reaches L1 at some point
//! (if it never does, it is awake and will pop the message). The two `SeqCst` fences are
//! ordered one way or the other in the single total order of `SeqCst` operations:
//!
//! * S2 before L2: then the load of the queue's tail at L3 sees S1's push (a fence-fence
//!   pair orders the push before the load), the queue is not empty, and the loop does not
//!   sleep. Only the loop pops, so the message is still there and is delivered.
//! * L2 before S2: then S3's load sees L1's `SLEEPING` or a later value of `state`. If it
//!   sees `SLEEPING` and wins the CAS, it writes to the waker, which ends (or pre-empts)
//!   the poll. If it loses the CAS or sees `AWAKE`, someone else moved `state` on after L1:
//!   either another sender (who then writes to the waker) or the loop itself at L3/L4,
//!   i.e. the loop did not sleep or already woke. In every case the poll that followed L1
//!   ends, and the loop comes back to L1 later. At that next L1', S3's load (which read a
//!   value older than L1') cannot be ordered after L2', so S2 precedes L2' and the first
//!   case applies: the loop sees the message before it can sleep again.
//!
//! `crossbeam_queue::ArrayQueue::pop` does not miss a push whose tail update is visible:
//! it waits for a slot whose write is in progress instead of reporting the queue empty.
//!
//! **Exactly one write per sleep.** Between the loop's `SLEEPING` store and its next store,
//! only one CAS from `SLEEPING` can succeed, so at most one sender writes; senders that see
//! `AWAKE` write nothing. A sender that wins the CAS just as the loop wakes for another
//! reason makes the next poll return at once: a spurious wake-up, never a lost one.
//!
//! **Edge-triggered, never read.** The loop's selector makes the waker and reports it
//! edge-triggered, and the loop never reads it: each wake raises a new edge (an eventfd
//! write, see `sys/waker_eventfd.rs`; an `EVFILT_USER` trigger on kqueue systems, see
//! `sys/waker_kqueue.rs`), and the messages, not the wake-ups, are what the loop counts.
//!
//! **Closing.** Dropping the loop sets `CLOSED`; a send that sees it returns
//! `Closed(Some(msg))`. A send racing with the drop may still enqueue its message, which
//! is then dropped with the queue, as any message the loop had not yet delivered.
//!
//! **Checked by loom.** Every atomic, fence and `Arc` here comes from `sync.rs`, which is
//! `std` normally and [loom](https://docs.rs/loom) under `--cfg loom` (with a loom model of
//! the queue, see there), and the waker is any [`Wake`]. So `tests/notify_loom.rs` runs this
//! very file, with a model of the eventfd for a waker, under every interleaving of senders and
//! a loop that goes to sleep again and again; a lost wake-up shows there as a loop blocked
//! forever, an extra write as more writes than sleeps. Removing either fence makes it fail.
//! `tests/notify_stress.rs` runs the real channel with producers that wait for every message
//! to be delivered, so a lost wake-up shows up as a poll that sleeps to its timeout.

use super::sync::{fence, Arc, ArrayQueue, AtomicU8, Ordering};
use crate::sys::Waker;
use std::error::Error;
use std::fmt;
use std::io;
use std::mem::MaybeUninit;

const AWAKE: u8 = 0;
const SLEEPING: u8 = 1;
const CLOSED: u8 = 2;

/// How a sender wakes a sleeping loop: the loop's selector [`Waker`] (one `write`), or a
/// model of it in the loom tests. Called only when the loop is asleep, so the dynamic call
/// costs nothing beside the syscall it makes.
pub trait Wake: Send + Sync {
    /// Ends the loop's blocking poll, or the next one if it has not started yet.
    fn wake(&self) -> io::Result<()>;
}

impl Wake for Waker {
    fn wake(&self) -> io::Result<()> {
        Waker::wake(self)
    }
}

/// What the loop and all its senders share.
struct Shared<M> {
    queue: ArrayQueue<M>,
    state: AtomicU8,
    waker: Box<dyn Wake>,
}

/// Sends messages to an [`EventLoop`](crate::EventLoop) from any thread; the loop's
/// [`Handler::notify`](crate::Handler::notify) receives them in order of arrival.
///
/// Cloning a `Sender` is cheap (a reference count). Get one from
/// [`EventLoop::channel`](crate::EventLoop::channel).
pub struct Sender<M> {
    shared: Arc<Shared<M>>,
}

impl<M> Clone for Sender<M> {
    fn clone(&self) -> Self {
        Sender { shared: Arc::clone(&self.shared) }
    }
}

impl<M> fmt::Debug for Sender<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("queued", &self.shared.queue.len())
            .field("capacity", &self.shared.queue.capacity())
            .finish()
    }
}

impl<M: Send> Sender<M> {
    /// Queues `msg` for the loop and wakes it if it is asleep.
    ///
    /// Never blocks and never allocates. Errors hand the message back where it was not
    /// queued: [`NotifyError::Full`] if `notify_capacity` messages are waiting,
    /// [`NotifyError::Closed`] if the loop was dropped. [`NotifyError::Io`] means the message
    /// was queued but waking the loop failed (it will see the message when it next wakes).
    pub fn send(&self, msg: M) -> Result<(), NotifyError<M>> {
        let shared = &*self.shared;
        if shared.state.load(Ordering::Acquire) & CLOSED != 0 {
            return Err(NotifyError::Closed(Some(msg)));
        }
        shared.queue.push(msg).map_err(NotifyError::Full)?;
        // S2/S3 of the protocol in the module docs.
        fence(Ordering::SeqCst);
        if shared.state.load(Ordering::Relaxed) == SLEEPING
            && shared.state.compare_exchange(SLEEPING, AWAKE, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            shared.waker.wake().map_err(NotifyError::Io)?;
        }
        Ok(())
    }
}

/// The loop's end of the channel. Dropping it closes the channel.
///
/// (Public only to the loom model, under `--cfg loom`; the module is private otherwise.)
pub struct Receiver<M> {
    shared: Arc<Shared<M>>,
}

impl<M> Receiver<M> {
    /// A channel of `capacity` (at least 1) messages that wakes the loop with `waker`
    /// (made by the loop's selector, which reports its wake-ups as `Token::RESERVED`).
    ///
    /// `OutOfMemory` if the queue's storage cannot be allocated.
    pub fn new(capacity: usize, waker: impl Wake + 'static) -> io::Result<Receiver<M>> {
        let capacity = capacity.max(1);
        // `ArrayQueue::new` has no fallible form: a size whose bytes overflow panics
        // ("capacity overflow") and one the allocator refuses aborts the process. So the
        // same storage (a slot is a stamp word and a message) is reserved first and given
        // back: whatever the allocator refuses is an error here instead.
        let mut probe: Vec<(std::sync::atomic::AtomicUsize, MaybeUninit<M>)> = Vec::new();
        probe
            .try_reserve_exact(capacity)
            .map_err(|e| crate::sys::reserve_error(format_args!("a notify queue of {capacity} messages"), e))?;
        drop(probe);
        let shared = Shared { queue: ArrayQueue::new(capacity), state: AtomicU8::new(AWAKE), waker: Box::new(waker) };
        Ok(Receiver { shared: Arc::new(shared) })
    }

    /// A new sender to this loop.
    pub fn sender(&self) -> Sender<M> {
        Sender { shared: Arc::clone(&self.shared) }
    }

    /// L1-L3: announces that the loop is about to block. Returns `false` (and stays
    /// awake) if messages are already waiting, in which case the poll must not block.
    pub fn prepare_to_sleep(&self) -> bool {
        let shared = &*self.shared;
        shared.state.store(SLEEPING, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if shared.queue.is_empty() {
            true
        } else {
            shared.state.store(AWAKE, Ordering::Relaxed);
            false
        }
    }

    /// L4: the poll returned; senders no longer need to wake the loop.
    pub fn awake(&self) {
        self.shared.state.store(AWAKE, Ordering::Release);
    }

    /// The next message, if any.
    pub fn try_recv(&self) -> Option<M> {
        self.shared.queue.pop()
    }
}

impl<M> Drop for Receiver<M> {
    fn drop(&mut self) {
        self.shared.state.fetch_or(CLOSED, Ordering::Release);
        // Undelivered messages are dropped now rather than when the last sender goes.
        while self.shared.queue.pop().is_some() {}
    }
}

impl<M> fmt::Debug for Receiver<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("queued", &self.shared.queue.len()).finish()
    }
}

/// Why [`Sender::send`] failed.
pub enum NotifyError<T> {
    /// The message was queued but the loop could not be woken.
    Io(io::Error),
    /// The queue holds `notify_capacity` messages; here is the message back.
    Full(T),
    /// The event loop is gone; here is the message back (`None` is never produced by
    /// readyio, and exists for the seed API's sake).
    Closed(Option<T>),
}

impl<T> fmt::Debug for NotifyError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyError::Io(e) => f.debug_tuple("Io").field(e).finish(),
            NotifyError::Full(_) => f.write_str("Full(..)"),
            NotifyError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for NotifyError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyError::Io(e) => write!(f, "message queued but waking the event loop failed: {e}"),
            NotifyError::Full(_) => f.write_str("the event loop's notify queue is full"),
            NotifyError::Closed(_) => f.write_str("the event loop is gone"),
        }
    }
}

impl<T> Error for NotifyError<T> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            NotifyError::Io(e) => Some(e),
            _ => None,
        }
    }
}
