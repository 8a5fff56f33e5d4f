//! `EventLoop`: one thread's IO readiness, timers and cross-thread messages, dispatched to a
//! [`Handler`].
//!
//! The loop owns a [`Poll`], a [`TimerWheel`] and the receiving end
//! of the notify channel, all sized by [`EventLoopConfig`] when the loop is created; an
//! iteration allocates nothing. Each iteration:
//!
//! 1. polls, with a timeout that is the caller's, shortened to the next timer deadline
//!    (exact to the nanosecond where the kernel allows, never rounded down), and zero if
//!    messages are waiting;
//! 2. calls [`Handler::ready`] once per token that has readiness, skipping tokens whose
//!    handle was deregistered earlier in the same iteration;
//! 3. delivers up to `messages_per_tick` messages to [`Handler::notify`];
//! 4. fires every timer whose deadline has passed, in deadline order, via
//!    [`Handler::timeout`];
//! 5. calls [`Handler::tick`].
//!
//! A poll interrupted by a signal calls [`Handler::interrupted`] and the iteration goes on.
//! Must never: sleep while a message is queued, fire a timer early, or deliver an event for
//! a handle after it was deregistered.

mod config;
mod handler;
mod notify;
mod sync;
mod timer_wheel;

pub use config::EventLoopConfig;
pub use handler::Handler;
pub use notify::{NotifyError, Sender};
/// The loop's end of the notify channel and its waker trait, for the loom model only.
#[cfg(loom)]
pub use notify::{Receiver, Wake};

use crate::readiness::event::{EventSet, PollOpt};
use crate::readiness::evented::Evented;
use crate::readiness::poll::{Poll, DEFAULT_EVENTS_CAPACITY};
use crate::readiness::token::Token;
#[cfg(not(loom))]
use notify::Receiver;
use std::error::Error;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};
use timer_wheel::{TimerKey, TimerWheel};

/// A single-threaded IO event loop: register handles, set timeouts, receive messages from
/// other threads, and [`run`](EventLoop::run) a [`Handler`] over them.
///
/// ```
/// use readyio::{EventLoop, Handler};
/// use std::time::Duration;
///
/// struct Countdown(u32);
/// impl Handler for Countdown {
///     type Timeout = u32;
///     type Message = u32;
///     fn notify(&mut self, event_loop: &mut EventLoop<Self>, msg: u32) {
///         event_loop.timeout(msg, Duration::from_millis(1)).unwrap();
///     }
///     fn timeout(&mut self, event_loop: &mut EventLoop<Self>, n: u32) {
///         self.0 = n;
///         event_loop.shutdown();
///     }
/// }
///
/// let mut event_loop = EventLoop::new()?;
/// let sender = event_loop.channel();
/// std::thread::spawn(move || sender.send(3).unwrap());
/// let mut handler = Countdown(0);
/// event_loop.run(&mut handler)?;
/// assert_eq!(handler.0, 3);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventLoop<H: Handler> {
    poll: Poll,
    timers: TimerWheel<H::Timeout>,
    notify: Receiver<H::Message>,
    messages_per_tick: usize,
    running: bool,
    /// Time zero of the timer wheel.
    origin: Instant,
    /// `(token, event index)` of the last poll's events, sorted to merge tokens; sized once.
    ready_tokens: Vec<(usize, usize)>,
}

impl<H: Handler> EventLoop<H> {
    /// A loop with the default [`EventLoopConfig`].
    pub fn new() -> io::Result<EventLoop<H>> {
        EventLoop::configured(EventLoopConfig::default())
    }

    /// A loop configured by `config`; every buffer it will use is allocated here.
    pub fn configured(config: EventLoopConfig) -> io::Result<EventLoop<H>> {
        let mut poll = Poll::with_capacity(DEFAULT_EVENTS_CAPACITY)?;
        // Reported as `Token::RESERVED` and never read: see notify.rs.
        let waker = poll.selector().new_waker()?;
        let notify = Receiver::new(config.notify_capacity, waker);
        let tick_ns = u64::try_from(config.timer_tick.as_nanos()).unwrap_or(u64::MAX);
        Ok(EventLoop {
            poll,
            timers: TimerWheel::new(config.timer_capacity, tick_ns, config.timer_wheel_size),
            notify,
            messages_per_tick: config.messages_per_tick,
            running: false,
            origin: Instant::now(),
            ready_tokens: Vec::with_capacity(DEFAULT_EVENTS_CAPACITY),
        })
    }

    /// A [`Sender`] that other threads (or the handler itself) use to send messages to
    /// this loop.
    pub fn channel(&self) -> Sender<H::Message> {
        self.notify.sender()
    }

    /// Calls [`Handler::timeout`] with `token` once `delay_ms` milliseconds have passed.
    /// See [`timeout`](Self::timeout).
    pub fn timeout_ms(&mut self, token: H::Timeout, delay_ms: u64) -> TimerResult<Timeout> {
        self.timeout(token, Duration::from_millis(delay_ms))
    }

    /// Calls [`Handler::timeout`] with `token` once `delay` has passed: never earlier, and
    /// as soon after as the loop wakes up. O(1), allocates nothing. Fails with
    /// [`TimerError`] (dropping `token`) when `timer_capacity` timers are pending.
    pub fn timeout(&mut self, token: H::Timeout, delay: Duration) -> TimerResult<Timeout> {
        let delay_ns = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        let deadline_ns = self.now_ns().saturating_add(delay_ns);
        match self.timers.insert(deadline_ns, token) {
            Ok(key) => Ok(Timeout { key }),
            Err(_token) => Err(TimerError),
        }
    }

    /// Cancels a pending timeout and drops its value. Returns `false`, touching nothing, if
    /// it already fired or was cleared. O(1).
    pub fn clear_timeout(&mut self, timeout: Timeout) -> bool {
        self.timers.cancel(timeout.key).is_some()
    }

    /// Makes [`run`](Self::run) return after the current iteration.
    pub fn shutdown(&mut self) {
        self.running = false;
    }

    /// Whether [`run`](Self::run) is running and [`shutdown`](Self::shutdown) has not been
    /// called since.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Registers `io` for `interest` as `token`; see [`Poll::register`].
    pub fn register<E: Evented + ?Sized>(
        &mut self,
        io: &E,
        token: Token,
        interest: EventSet,
        opts: PollOpt,
    ) -> io::Result<()> {
        self.poll.register(io, token, interest, opts)
    }

    /// Changes a registration; see [`Poll::reregister`].
    pub fn reregister<E: Evented + ?Sized>(
        &mut self,
        io: &E,
        token: Token,
        interest: EventSet,
        opts: PollOpt,
    ) -> io::Result<()> {
        self.poll.reregister(io, token, interest, opts)
    }

    /// Removes a registration; events of `io` not yet dispatched in this iteration are
    /// dropped. See [`Poll::deregister`].
    pub fn deregister<E: Evented + ?Sized>(&mut self, io: &E) -> io::Result<()> {
        self.poll.deregister(io)
    }

    /// Runs iterations until [`shutdown`](Self::shutdown) is called. Returns an error if a
    /// poll fails for a reason other than a signal.
    pub fn run(&mut self, handler: &mut H) -> io::Result<()> {
        self.running = true;
        while self.running {
            self.run_once_timeout(handler, None)?;
        }
        Ok(())
    }

    /// Runs one iteration, polling for at most `timeout_ms` milliseconds (`None`: until an
    /// event, a message or the next timer).
    pub fn run_once(&mut self, handler: &mut H, timeout_ms: Option<usize>) -> io::Result<()> {
        self.run_once_timeout(handler, timeout_ms.map(|ms| Duration::from_millis(ms as u64)))
    }

    /// Runs one iteration, polling for at most `timeout` (`None`: until an event, a message
    /// or the next timer).
    pub fn run_once_timeout(&mut self, handler: &mut H, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = self.poll_timeout(timeout);
        let may_sleep = timeout != Some(Duration::ZERO);
        let timeout = if may_sleep && !self.notify.prepare_to_sleep() { Some(Duration::ZERO) } else { timeout };
        let polled = self.poll.poll_timeout(timeout);
        if may_sleep {
            self.notify.awake();
        }
        match polled {
            Ok(_) => self.dispatch_ready(handler),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => handler.interrupted(self),
            Err(e) => return Err(e),
        }
        self.deliver_messages(handler);
        self.fire_timers(handler);
        handler.tick(self);
        Ok(())
    }

    /// The caller's timeout, shortened to the next timer deadline.
    fn poll_timeout(&self, timeout: Option<Duration>) -> Option<Duration> {
        let Some(deadline_ns) = self.timers.next_deadline() else {
            return timeout;
        };
        let until_timer = Duration::from_nanos(deadline_ns.saturating_sub(self.now_ns()));
        Some(timeout.map_or(until_timer, |t| t.min(until_timer)))
    }

    /// Calls `ready` once per token, merging the events of handles that share a token and
    /// re-reading each event just before dispatch, so a handle deregistered by an earlier
    /// `ready` of this iteration gets nothing.
    fn dispatch_ready(&mut self, handler: &mut H) {
        self.ready_tokens.clear();
        for index in 0..self.poll.events_len() {
            if let Some(event) = self.poll.get_event(index) {
                if event.token != Token::RESERVED {
                    self.ready_tokens.push((event.token.0, index));
                }
            }
        }
        if self.ready_tokens.len() > 1 {
            self.ready_tokens.sort_unstable();
        }
        let mut next = 0;
        while next < self.ready_tokens.len() {
            let token = self.ready_tokens[next].0;
            let mut kind = EventSet::none();
            while next < self.ready_tokens.len() && self.ready_tokens[next].0 == token {
                match self.poll.get_event(self.ready_tokens[next].1) {
                    Some(event) if event.token.0 == token => kind |= event.kind,
                    _ => {}
                }
                next += 1;
            }
            if kind != EventSet::none() {
                handler.ready(self, Token(token), kind);
            }
        }
    }

    fn deliver_messages(&mut self, handler: &mut H) {
        for _ in 0..self.messages_per_tick {
            match self.notify.try_recv() {
                Some(msg) => handler.notify(self, msg),
                None => break,
            }
        }
    }

    /// Fires the timers due now. Timers set by these callbacks wait for the next iteration,
    /// so a handler re-arming a zero delay cannot keep the loop here.
    fn fire_timers(&mut self, handler: &mut H) {
        if self.timers.is_empty() {
            return;
        }
        let now_ns = self.now_ns();
        let mut budget = self.timers.len();
        while budget > 0 {
            match self.timers.poll(now_ns) {
                Some(token) => handler.timeout(self, token),
                None => break,
            }
            budget -= 1;
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl<H: Handler> fmt::Debug for EventLoop<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("poll", &self.poll)
            .field("timers_pending", &self.timers.len())
            .field("notify", &self.notify)
            .field("running", &self.running)
            .finish()
    }
}

/// A pending timeout, as returned by [`EventLoop::timeout_ms`]; give it to
/// [`EventLoop::clear_timeout`] of the same loop to cancel it. Stays harmless after the
/// timeout fired or was cleared: clearing it again returns `false` and touches no other
/// timer (it names a slot and that slot's generation, which changes whenever the slot is
/// freed). A `Timeout` from a different loop is meaningless to this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeout {
    key: TimerKey,
}

/// [`EventLoop::timeout_ms`] failed because `timer_capacity` timeouts are already pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerError;

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the event loop's timer capacity is exhausted")
    }
}

impl Error for TimerError {}

/// The result of setting a timeout.
pub type TimerResult<T> = Result<T, TimerError>;
