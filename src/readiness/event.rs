//! The readiness vocabulary: `EventSet` (what is or should be ready), `PollOpt` (how it
//! is reported) and `IoEvent` (one token's readiness from one poll).

use crate::readiness::token::Token;
use std::fmt;

bitflags::bitflags! {
    /// A set of readiness kinds: the interest of a registration, or what an event reports.
    ///
    /// `error` and `hup` are always reported when they happen, whatever the interest.
    ///
    /// ```
    /// use readyio::EventSet;
    /// let interest = EventSet::readable() | EventSet::writable();
    /// assert!(interest.is_readable() && !interest.is_hup());
    /// assert_eq!(format!("{:?}", EventSet::hup()), "EventSet(HUP)");
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct EventSet: usize {
        /// Data can be read (or a connection accepted) without blocking.
        const READABLE = 0b0001;
        /// Data can be written (or a connect has completed) without blocking.
        const WRITABLE = 0b0010;
        /// The handle has a pending error (e.g. a refused connect).
        const ERROR = 0b0100;
        /// The peer closed its side (hang-up, read half closed).
        const HUP = 0b1000;
    }
}

impl EventSet {
    /// The empty set.
    pub fn none() -> EventSet {
        EventSet::empty()
    }
    /// Readable only.
    pub fn readable() -> EventSet {
        EventSet::READABLE
    }
    /// Writable only.
    pub fn writable() -> EventSet {
        EventSet::WRITABLE
    }
    /// Error only.
    pub fn error() -> EventSet {
        EventSet::ERROR
    }
    /// Hang-up only.
    pub fn hup() -> EventSet {
        EventSet::HUP
    }
    /// Whether `readable` is in the set.
    pub fn is_readable(&self) -> bool {
        self.contains(EventSet::READABLE)
    }
    /// Whether `writable` is in the set.
    pub fn is_writable(&self) -> bool {
        self.contains(EventSet::WRITABLE)
    }
    /// Whether `error` is in the set.
    pub fn is_error(&self) -> bool {
        self.contains(EventSet::ERROR)
    }
    /// Whether `hup` is in the set.
    pub fn is_hup(&self) -> bool {
        self.contains(EventSet::HUP)
    }
}

impl fmt::Debug for EventSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventSet(")?;
        bitflags::parser::to_writer(self, &mut *f)?;
        f.write_str(")")
    }
}

bitflags::bitflags! {
    /// How a registration reports readiness.
    ///
    /// * `level` (the default when neither is given): every poll reports readiness
    ///   while it lasts, until the data is drained.
    /// * `edge`: a poll reports readiness once per change; drain until `WouldBlock`.
    /// * `oneshot`: after one event the registration is disabled until `reregister`.
    ///
    /// `level` wins over `edge` when both are given.
    ///
    /// ```
    /// use readyio::PollOpt;
    /// let opt = PollOpt::edge() | PollOpt::oneshot();
    /// assert!(opt.is_edge() && opt.is_oneshot() && !opt.is_level());
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct PollOpt: usize {
        /// Edge-triggered.
        const EDGE = 0b001;
        /// Level-triggered.
        const LEVEL = 0b010;
        /// Disabled after one event until reregistered.
        const ONESHOT = 0b100;
    }
}

impl PollOpt {
    /// Edge-triggered.
    pub fn edge() -> PollOpt {
        PollOpt::EDGE
    }
    /// Level-triggered.
    pub fn level() -> PollOpt {
        PollOpt::LEVEL
    }
    /// One event, then disabled until `reregister`.
    pub fn oneshot() -> PollOpt {
        PollOpt::ONESHOT
    }
    /// Whether `edge` is in the set.
    pub fn is_edge(&self) -> bool {
        self.contains(PollOpt::EDGE)
    }
    /// Whether `level` is in the set.
    pub fn is_level(&self) -> bool {
        self.contains(PollOpt::LEVEL)
    }
    /// Whether `oneshot` is in the set.
    pub fn is_oneshot(&self) -> bool {
        self.contains(PollOpt::ONESHOT)
    }
}

impl fmt::Debug for PollOpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PollOpt(")?;
        bitflags::parser::to_writer(self, &mut *f)?;
        f.write_str(")")
    }
}

/// One token's readiness, as returned by [`Poll::events`](crate::Poll::events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoEvent {
    /// What is ready.
    pub kind: EventSet,
    /// The token the handle was registered with.
    pub token: Token,
}

impl IoEvent {
    /// An event of `kind` for `token`.
    pub fn new(kind: EventSet, token: Token) -> IoEvent {
        IoEvent { kind, token }
    }
    /// What is ready.
    pub fn kind(&self) -> EventSet {
        self.kind
    }
    /// The registration's token.
    pub fn token(&self) -> Token {
        self.token
    }
    /// Whether the peer closed its writing side: reads will drain what is left and then
    /// return 0.
    pub fn is_read_closed(&self) -> bool {
        self.kind.is_hup()
    }
}
