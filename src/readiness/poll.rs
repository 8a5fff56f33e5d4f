//! `Poll`: register handles, wait for readiness, read the events.
//!
//! One `poll` is one `epoll_wait`/`kevent` call into a buffer allocated by `Poll::new`;
//! polling never allocates.

use crate::readiness::event::{EventSet, IoEvent, PollOpt};
use crate::readiness::evented::Evented;
use crate::readiness::selector::Selector;
use crate::readiness::token::Token;
use crate::sys::SelectorEvents;
use std::io;
use std::time::Duration;

/// Events fetched per poll by [`Poll::new`].
pub const DEFAULT_EVENTS_CAPACITY: usize = 1024;

/// The largest events capacity [`Poll::with_capacity`] accepts: the most events one kernel
/// wait can return (`INT_MAX / sizeof(struct epoll_event)`, which is Linux's own limit,
/// about 179 million on x86_64; the same rule for `struct kevent` on kqueue systems).
pub const MAX_EVENTS_CAPACITY: usize = SelectorEvents::MAX_CAPACITY;

/// Waits for readiness on registered handles.
///
/// # Spurious events
///
/// An event says a handle *may* be ready: a read or write can still return
/// `WouldBlock` (use [`TryRead`](crate::TryRead)/[`TryWrite`](crate::TryWrite)).
///
/// # Draining readiness
///
/// With `PollOpt::edge()`, readiness is reported once per change: read (or write or
/// accept) until `WouldBlock` before polling again, or the next event may never come.
/// With `PollOpt::level()` the event repeats on every poll until the handle is drained.
///
/// # Deregistering
///
/// A handle deregistered after a poll yields no event from that poll, even one the
/// kernel already returned ([`Poll::events`] skips it, [`Poll::event`] reports it with an
/// empty kind).
///
/// Deregister a handle before dropping it if a clone of it (`try_clone`, a `dup`, an fd
/// passed elsewhere) may still be open: see
/// [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives) for what
/// happens otherwise, and [`Poll::orphan_purges`] for how readyio repairs it.
///
/// ```
/// use readyio::{EventSet, Poll, PollOpt, Token};
/// use readyio::tcp::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap())?;
/// let mut poll = Poll::new()?;
/// poll.register(&listener, Token(0), EventSet::readable(), PollOpt::edge())?;
/// let _client = TcpStream::connect(&listener.local_addr()?)?;
/// poll.poll(Some(1000))?;
/// assert!(poll.events().any(|e| e.token == Token(0) && e.kind.is_readable()));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Poll {
    selector: Selector,
    events: SelectorEvents,
}

impl Poll {
    /// A new poller fetching up to [`DEFAULT_EVENTS_CAPACITY`] events per poll.
    pub fn new() -> io::Result<Poll> {
        Poll::with_capacity(DEFAULT_EVENTS_CAPACITY)
    }

    /// A new poller fetching up to `events_capacity` events per poll (0 counts as 1). The
    /// event buffer is allocated here, once.
    ///
    /// Errors: `InvalidInput` above [`MAX_EVENTS_CAPACITY`]; `OutOfMemory` if the buffer
    /// cannot be allocated (never an abort); and whatever creating the OS selector gives
    /// (e.g. `EMFILE` when the process is out of file descriptors).
    ///
    /// ```
    /// use readyio::{Poll, MAX_EVENTS_CAPACITY};
    /// use std::io::ErrorKind;
    ///
    /// assert!(Poll::with_capacity(64).is_ok());
    /// let too_many = Poll::with_capacity(usize::MAX).unwrap_err();
    /// assert_eq!(too_many.kind(), ErrorKind::InvalidInput);
    /// # assert!(MAX_EVENTS_CAPACITY > 1_000_000);
    /// ```
    pub fn with_capacity(events_capacity: usize) -> io::Result<Poll> {
        let events = SelectorEvents::with_capacity(events_capacity)?;
        Ok(Poll { selector: Selector::new()?, events })
    }

    /// Sizes the registration table for fd numbers `0..fds`, so that registering any of
    /// them never allocates (a server that registers the connections it accepts inside its
    /// poll loop then allocates nothing there). Without it the table grows, doubling, when
    /// a registration names a larger fd than any before: a few allocations over a
    /// program's life. Each entry is 24 bytes on 64-bit targets.
    ///
    /// `OutOfMemory` if the allocator refuses the table; it is then unchanged.
    pub fn reserve_fds(&mut self, fds: usize) -> io::Result<()> {
        self.selector.reserve_fds(fds)
    }

    /// Registers `io` for `interest`, to be reported as `token`.
    ///
    /// Registering a handle that is already registered fails with `AlreadyExists`;
    /// `Token(usize::MAX)` with `InvalidInput`; a readyio socket or pipe that belongs to
    /// another `Poll` or `EventLoop` with `Other`, "socket already registered" (see
    /// [`Evented`](crate::Evented#a-socket-belongs-to-one-selector)).
    pub fn register<E: Evented + ?Sized>(
        &mut self,
        io: &E,
        token: Token,
        interest: EventSet,
        opts: PollOpt,
    ) -> io::Result<()> {
        io.register(&mut self.selector, token, interest, opts)
    }

    /// Changes the token, interest or options of a registered handle (and re-arms a
    /// oneshot one). An unregistered handle fails with `NotFound`.
    pub fn reregister<E: Evented + ?Sized>(
        &mut self,
        io: &E,
        token: Token,
        interest: EventSet,
        opts: PollOpt,
    ) -> io::Result<()> {
        io.reregister(&mut self.selector, token, interest, opts)
    }

    /// Removes a handle. An unregistered handle fails with `NotFound`.
    pub fn deregister<E: Evented + ?Sized>(&mut self, io: &E) -> io::Result<()> {
        io.deregister(&mut self.selector)
    }

    /// Waits up to `timeout_ms` milliseconds (`None`: forever) and returns the number of
    /// events fetched.
    #[inline]
    pub fn poll(&mut self, timeout_ms: Option<usize>) -> io::Result<usize> {
        self.poll_timeout(timeout_ms.map(|ms| Duration::from_millis(ms as u64)))
    }

    /// Waits up to `timeout` (`None`: forever) and returns the number of events fetched.
    ///
    /// Sub-millisecond timeouts are honoured where the kernel can (Linux 5.11+
    /// `epoll_pwait2`, kqueue); elsewhere they are rounded up, never down. A signal
    /// interrupting the wait returns `ErrorKind::Interrupted`.
    #[inline]
    pub fn poll_timeout(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        self.events.clear();
        self.selector.select(&mut self.events, timeout)?;
        Ok(self.events.len())
    }

    /// The events of the last poll, skipping those of handles deregistered since.
    #[inline]
    pub fn events(&self) -> Events<'_> {
        Events { poll: self, next: 0 }
    }

    /// The `idx`th event of the last poll. An event whose handle was deregistered since
    /// the poll, or an `idx` past the count the last poll returned, has an empty `kind`
    /// (and the reserved token); [`Poll::get_event`] says `None` instead.
    #[inline]
    pub fn event(&self, idx: usize) -> IoEvent {
        self.get_event(idx).unwrap_or(IoEvent::new(EventSet::none(), Token::RESERVED))
    }

    /// The `idx`th event of the last poll, or `None` if there is no such event or its
    /// handle was deregistered since.
    #[inline]
    pub fn get_event(&self, idx: usize) -> Option<IoEvent> {
        let (token, kind) = self.selector.resolve(self.events.get(idx)?)?;
        Some(IoEvent::new(kind, token))
    }

    /// How many events the last poll fetched.
    #[inline]
    pub fn events_len(&self) -> usize {
        self.events.len()
    }

    /// How many times this poll has found readiness from a registration orphaned by a
    /// live duplicate of its fd, and purged it by moving every live registration into a
    /// new kernel selector. A count above 0 means a handle was dropped while registered
    /// and while a clone of it lived: see
    /// [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    /// Always 0 on kqueue systems, where closing an fd removes its registrations.
    ///
    /// The orphan is noticed when one of its events is read ([`Poll::events`],
    /// [`Poll::event`]; an [`EventLoop`](crate::EventLoop) reads every event) and purged at
    /// the start of the next poll.
    pub fn orphan_purges(&self) -> u64 {
        self.selector.orphan_purges()
    }

    /// The selector handles register with.
    pub fn selector(&mut self) -> &mut Selector {
        &mut self.selector
    }
}

/// Iterator over the events of the last poll (see [`Poll::events`]).
#[derive(Debug)]
pub struct Events<'a> {
    poll: &'a Poll,
    next: usize,
}

impl Iterator for Events<'_> {
    type Item = IoEvent;

    #[inline]
    fn next(&mut self) -> Option<IoEvent> {
        while self.next < self.poll.events.len() {
            let idx = self.next;
            self.next += 1;
            if let Some(event) = self.poll.get_event(idx) {
                return Some(event);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.poll.events.len() - self.next))
    }
}
