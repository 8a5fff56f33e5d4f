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
//! Where the iteration stands (`Step`, the cursor into the ready tokens, the messages left)
//! lives in the loop, so a panic in a callback loses only that callback: the next
//! `run`/`run_once` finishes the iteration.
//! Must never: sleep while a message is queued, poll without sleeping while nothing can be
//! delivered, fire a timer early, or deliver an event for a handle after it was deregistered.

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
/// # Panics in handler callbacks
///
/// A panic in [`Handler::ready`], [`notify`](Handler::notify), [`timeout`](Handler::timeout),
/// [`interrupted`](Handler::interrupted) or [`tick`](Handler::tick) unwinds out of
/// `run`/`run_once`, and loses nothing else: the loop keeps its place in the iteration.
/// Catch the panic (`std::panic::catch_unwind`, with `AssertUnwindSafe` around the loop
/// and the handler, whose state you judge) and call `run` or `run_once` again: it first
/// finishes the interrupted iteration, without polling, so every token that was ready and
/// not yet dispatched gets its `ready`, the messages of this iteration's budget are
/// delivered, the due timers fire and `tick` is called. Only the callback that panicked is
/// consumed: its readiness, message or timer is not delivered again. This costs nothing per
/// callback (no `catch_unwind` inside the loop): the place is a cursor the loop keeps
/// anyway.
///
/// ```
/// use readyio::{EventLoop, Handler};
/// use std::panic::{catch_unwind, AssertUnwindSafe};
///
/// struct Fragile(Vec<u32>);
/// impl Handler for Fragile {
///     type Timeout = ();
///     type Message = u32;
///     fn notify(&mut self, _: &mut EventLoop<Self>, msg: u32) {
///         if msg == 1 {
///             panic!("message 1 is cursed");
///         }
///         self.0.push(msg);
///     }
/// }
///
/// let mut event_loop = EventLoop::new()?;
/// let sender = event_loop.channel();
/// for msg in 0..4 {
///     sender.send(msg).unwrap();
/// }
/// let mut handler = Fragile(Vec::new());
/// # let hook = std::panic::take_hook();
/// # std::panic::set_hook(Box::new(|_| {}));
/// let first = catch_unwind(AssertUnwindSafe(|| event_loop.run_once(&mut handler, Some(0))));
/// # std::panic::set_hook(hook);
/// assert!(first.is_err());
/// event_loop.run_once(&mut handler, Some(0))?; // finishes the interrupted iteration
/// assert_eq!(handler.0, [0, 2, 3]);
/// # Ok::<(), std::io::Error>(())
/// ```
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
    /// Where the current iteration stands. Kept here rather than on the stack so that a
    /// loop entered again after a handler's panic finishes the iteration the panic cut short.
    step: Step,
    /// The entry of `ready_tokens` to dispatch next.
    next_ready: usize,
    /// How many more messages this iteration may deliver.
    messages_left: usize,
}

/// The steps of one iteration (see the module docs); `Poll` when none is under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Poll,
    Ready,
    Messages,
    Timers,
    Tick,
}

impl<H: Handler> EventLoop<H> {
    /// A loop with the default [`EventLoopConfig`].
    pub fn new() -> io::Result<EventLoop<H>> {
        EventLoop::configured(EventLoopConfig::default())
    }

    /// A loop configured by `config`; every buffer it will use is allocated here.
    ///
    /// Errors, never a panic or an abort, whatever the configuration: `InvalidInput` for a
    /// value outside its documented range (see [`EventLoopConfig`]), `OutOfMemory` when the
    /// allocator refuses a size, and the OS's errors creating the selector and its waker.
    pub fn configured(config: EventLoopConfig) -> io::Result<EventLoop<H>> {
        config.check()?;
        let tick_ns = u64::try_from(config.timer_tick.as_nanos()).unwrap_or(u64::MAX);
        let timers = TimerWheel::try_new(config.timer_capacity, tick_ns, config.timer_wheel_size).map_err(|e| {
            crate::sys::reserve_error(format_args!("a timer wheel for {} timers", config.timer_capacity), e)
        })?;
        let mut poll = Poll::with_capacity(DEFAULT_EVENTS_CAPACITY)?;
        poll.reserve_fds(config.fd_capacity)?;
        // Reported as `Token::RESERVED` and never read: see notify.rs.
        let waker = poll.selector().new_waker()?;
        let notify = Receiver::new(config.notify_capacity, waker)?;
        Ok(EventLoop {
            poll,
            timers,
            notify,
            messages_per_tick: config.messages_per_tick,
            running: false,
            origin: Instant::now(),
            ready_tokens: Vec::with_capacity(DEFAULT_EVENTS_CAPACITY),
            step: Step::Poll,
            next_ready: 0,
            messages_left: 0,
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

    /// How many times the loop's poll has purged registrations orphaned by a live clone of
    /// a dropped handle; see [`Poll::orphan_purges`].
    pub fn orphan_purges(&self) -> u64 {
        self.poll.orphan_purges()
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
    ///
    /// A panic in a [`Handler`] callback unwinds out of `run`; calling `run` (or
    /// [`run_once`](Self::run_once)) again first finishes the interrupted iteration. See
    /// [Panics in handler callbacks](EventLoop#panics-in-handler-callbacks).
    pub fn run(&mut self, handler: &mut H) -> io::Result<()> {
        self.running = true;
        while self.running {
            self.run_once_timeout(handler, None)?;
        }
        Ok(())
    }

    /// Runs one iteration, polling for at most `timeout_ms` milliseconds (`None`: until an
    /// event, a message or the next timer).
    ///
    /// If the previous iteration was interrupted by a panic in a handler callback, this
    /// call finishes that iteration instead, without polling.
    pub fn run_once(&mut self, handler: &mut H, timeout_ms: Option<usize>) -> io::Result<()> {
        self.run_once_timeout(handler, timeout_ms.map(|ms| Duration::from_millis(ms as u64)))
    }

    /// Runs one iteration, polling for at most `timeout` (`None`: until an event, a message
    /// or the next timer).
    ///
    /// If the previous iteration was interrupted by a panic in a handler callback, this
    /// call finishes that iteration instead, without polling.
    pub fn run_once_timeout(&mut self, handler: &mut H, timeout: Option<Duration>) -> io::Result<()> {
        if self.step == Step::Poll {
            self.poll_for_events(handler, timeout)?;
        }
        self.finish_iteration(handler);
        Ok(())
    }

    /// Step 1: polls, and makes the events of this poll the ones to dispatch.
    fn poll_for_events(&mut self, handler: &mut H, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = self.poll_timeout(timeout);
        let may_sleep = timeout != Some(Duration::ZERO);
        let timeout = if may_sleep && !self.notify.prepare_to_sleep() { Some(Duration::ZERO) } else { timeout };
        let polled = self.poll.poll_timeout(timeout);
        if may_sleep {
            self.notify.awake();
        }
        self.messages_left = self.messages_per_tick;
        match polled {
            Ok(_) => {
                self.collect_ready_tokens();
                self.step = Step::Ready;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.ready_tokens.clear();
                self.next_ready = 0;
                self.step = Step::Messages;
                handler.interrupted(self);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Steps 2 to 5, from wherever the iteration stands. Each step is marked done before
    /// the callbacks of the next one run, and each callback's work is taken off its list
    /// before it is called, so a panic in a callback consumes that callback only.
    fn finish_iteration(&mut self, handler: &mut H) {
        if self.step == Step::Ready {
            self.dispatch_ready(handler);
            self.step_done(Step::Ready, Step::Messages);
        }
        if self.step == Step::Messages {
            self.deliver_messages(handler);
            self.step_done(Step::Messages, Step::Timers);
        }
        if self.step == Step::Timers {
            self.fire_timers(handler);
            self.step_done(Step::Timers, Step::Tick);
        }
        if self.step == Step::Tick {
            self.step = Step::Poll;
            handler.tick(self);
        }
    }

    /// Moves on from `done` to `next`, unless a callback already moved the iteration on
    /// (by running the loop from inside itself).
    fn step_done(&mut self, done: Step, next: Step) {
        if self.step == done {
            self.step = next;
        }
    }

    /// The caller's timeout, shortened to the next timer deadline.
    fn poll_timeout(&self, timeout: Option<Duration>) -> Option<Duration> {
        let Some(deadline_ns) = self.timers.next_deadline() else {
            return timeout;
        };
        let until_timer = Duration::from_nanos(deadline_ns.saturating_sub(self.now_ns()));
        Some(timeout.map_or(until_timer, |t| t.min(until_timer)))
    }

    /// Lists the polled events by token, sorted so that handles sharing a token merge.
    fn collect_ready_tokens(&mut self) {
        self.ready_tokens.clear();
        self.next_ready = 0;
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
    }

    /// Calls `ready` once per token, from the cursor `next_ready` on, merging the events of
    /// handles that share a token and re-reading each event just before dispatch, so a
    /// handle deregistered by an earlier `ready` of this iteration gets nothing. The cursor
    /// passes a token before its `ready` is called.
    fn dispatch_ready(&mut self, handler: &mut H) {
        while self.next_ready < self.ready_tokens.len() {
            let token = self.ready_tokens[self.next_ready].0;
            let mut kind = EventSet::none();
            while self.next_ready < self.ready_tokens.len() && self.ready_tokens[self.next_ready].0 == token {
                match self.poll.get_event(self.ready_tokens[self.next_ready].1) {
                    Some(event) if event.token.0 == token => kind |= event.kind,
                    _ => {}
                }
                self.next_ready += 1;
            }
            if kind != EventSet::none() {
                handler.ready(self, Token(token), kind);
            }
        }
    }

    /// Delivers what is left of this iteration's `messages_per_tick`.
    fn deliver_messages(&mut self, handler: &mut H) {
        while self.messages_left > 0 {
            let Some(msg) = self.notify.try_recv() else { break };
            self.messages_left -= 1;
            handler.notify(self, msg);
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
