//! `Selector`: the OS selector plus the table that maps each registered fd to its token.
//!
//! The kernel is handed `(generation << 32) | fd` as each registration's data instead of
//! the token. An event is turned back into a token only when it is read, by looking the fd
//! up here and checking that its generation is still the one the event carries. So:
//!
//! * an fd deregistered (or deregistered and registered again) after `select` returned
//!   but before its event was read yields no stale event (mio#219, mio#464);
//! * the table answers "which token" without the kernel, which lets backends whose
//!   kernel cannot tell (kqueue) give the same errors as epoll.
//!
//! The table is a `Vec` indexed by fd (fds are small and dense), sized up front by
//! `reserve_fds` (the event loop's `fd_capacity`) and otherwise grown, doubling, only when a
//! registration names a larger fd: polling never allocates.
//!
//! Each selector also has a [`SelectorId`], unique in the process, by which the sockets and
//! pipes readyio owns remember the one selector they belong to (see
//! [`Evented`](crate::Evented)).
//!
//! # Orphaned registrations
//!
//! epoll keys a registration on the open file *and* the fd number, and removes it only when
//! the last fd of that open file is closed (or on `EPOLL_CTL_DEL` through that very fd
//! number). A registered handle dropped while a duplicate of it lives (`try_clone`, `dup`,
//! an fd sent to another process, a child between `fork` and `exec`) therefore leaves its
//! registration in the kernel, unreachable: its fd number is closed or already names another
//! file. Its events still arrive with their old `(generation, fd)` data, which the table
//! rejects, and a level-triggered one arrives on every poll: the loop spins on events it
//! hides.
//!
//! Such an event is told from a merely late one (the fd deregistered after the poll that
//! fetched it, which never repeats) by *when* the table let go of that registration: each
//! entry records the number of the poll during which it last ended (`ended_in_poll`), and
//! an event of a registration that ended before the current poll began can only come from
//! a registration the kernel kept. Seeing one (on the cold path of `resolve`) marks the
//! selector, and the next `select` *purges* it (`purge_orphans`): a new kernel selector
//! receives every registration the table holds that the old one still has under the same
//! fd number and open file (an `EPOLL_CTL_MOD` on the old selector proves that), and the
//! old selector, orphans included, is closed. That costs two calls per registration, once
//! per orphan sighting; the common path pays one flag test per `select`. Re-adding reports
//! readiness that is already there once more, which the `Poll` docs allow ("Spurious
//! events"). kqueue removes a descriptor's knotes when that descriptor closes, so it never
//! orphans a registration and never purges (`sys::CLOSE_KEEPS_REGISTRATIONS`).

use crate::readiness::event::{EventSet, PollOpt};
use crate::readiness::selector_id::SelectorId;
use crate::readiness::token::Token;
use crate::sys::{self, Interest, Readiness, Trigger};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The OS readiness selector (epoll or kqueue) that [`Evented`](crate::Evented) types
/// register themselves with.
#[derive(Debug)]
pub struct Selector {
    sys: sys::Selector,
    registrations: Vec<Registration>,
    next_generation: u32,
    id: SelectorId,
    /// Counts `select` calls (wrapping): the number of the poll whose events are being read.
    polls: u32,
    /// Set by `resolve` when an event came from an orphaned registration; the next `select`
    /// purges it. (An atomic only because `resolve` takes `&self` and `Selector` is `Sync`.)
    orphan_seen: AtomicBool,
    orphan_purges: u64,
}

/// What the table knows of one fd. `generation == 0` means "not registered".
#[derive(Clone, Copy, Debug, Default)]
struct Registration {
    token: usize,
    generation: u32,
    /// The poll during which the fd's last registration ended (see the module docs).
    ended_in_poll: u32,
    /// What it was registered for, to register it again in a purge.
    interest: Interest,
    trigger: Trigger,
}

impl Selector {
    /// Creates a new OS selector (`epoll_create1` or `kqueue`), close-on-exec.
    pub fn new() -> io::Result<Selector> {
        let sys = sys::Selector::new()?;
        let id = SelectorId::new_live()?;
        Ok(Selector {
            sys,
            registrations: Vec::new(),
            next_generation: 1,
            id,
            polls: 0,
            orphan_seen: AtomicBool::new(false),
            orphan_purges: 0,
        })
    }

    /// This selector's process-unique id.
    pub(crate) fn id(&self) -> SelectorId {
        self.id
    }

    /// Whether `fd` is registered here, as far as the table knows: true from a successful
    /// `register` until a `deregister`, or until a kernel call on the fd reports that the
    /// kernel forgot it (the fd was closed).
    pub(crate) fn is_registered(&self, fd: RawFd) -> bool {
        let Ok(index) = fd_index(fd) else { return false };
        self.registrations.get(index).is_some_and(|r| r.generation != 0)
    }

    /// Sizes the table for fd numbers `0..fds` (never shrinks it). See
    /// [`Poll::reserve_fds`](crate::Poll::reserve_fds).
    pub(crate) fn reserve_fds(&mut self, fds: usize) -> io::Result<()> {
        self.sys.reserve_fds(fds)?;
        if let Some(missing) = fds.checked_sub(self.registrations.len()).filter(|&m| m > 0) {
            self.registrations
                .try_reserve_exact(missing)
                .map_err(|e| sys::reserve_error(format_args!("a registration table for {fds} fds"), e))?;
            self.registrations.resize(fds, Registration::default());
        }
        Ok(())
    }

    /// Starts watching `fd` for `interest`, reporting it as `token`.
    ///
    /// Errors: `InvalidInput` for a negative fd or `Token(usize::MAX)`; `AlreadyExists`
    /// (`EEXIST`) if `fd` is already registered with this selector.
    #[doc(alias = "epoll_ctl")]
    pub fn register(&mut self, fd: RawFd, token: Token, interest: EventSet, opts: PollOpt) -> io::Result<()> {
        check_token(token)?;
        self.register_any_token(fd, token, interest, opts)
    }

    /// `register` without the reserved-token check, for readyio's own wake-up fds.
    pub(crate) fn register_any_token(
        &mut self,
        fd: RawFd,
        token: Token,
        interest: EventSet,
        opts: PollOpt,
    ) -> io::Result<()> {
        let index = fd_index(fd)?;
        let generation = self.next_generation;
        let (interest, trigger) = (interest_of(interest), trigger_of(opts));
        self.sys.add(fd, event_data(fd, generation), interest, trigger)?;
        // Grown only after the kernel accepted the fd, so a bogus huge fd number costs nothing.
        if index >= self.registrations.len() {
            let missing = index + 1 - self.registrations.len();
            if let Err(e) = self.registrations.try_reserve(missing) {
                // Undo the registration the table cannot record; the kernel forgets it.
                let _ = self.sys.delete(fd);
                return Err(sys::reserve_error(format_args!("the registration table for fd {fd}"), e));
            }
            self.registrations.resize(index + 1, Registration::default());
        }
        self.next_generation = self.next_generation.checked_add(1).unwrap_or(1);
        // A registration this one replaces ended (its fd was closed) no later than now.
        let ended_in_poll = self.polls;
        self.registrations[index] = Registration { token: token.0, generation, ended_in_poll, interest, trigger };
        Ok(())
    }

    /// Changes the token, interest or options of a registered `fd`.
    ///
    /// Errors: `NotFound` (`ENOENT`) if `fd` is not registered with this selector;
    /// `InvalidInput` as for `register`.
    pub fn reregister(&mut self, fd: RawFd, token: Token, interest: EventSet, opts: PollOpt) -> io::Result<()> {
        check_token(token)?;
        let index = fd_index(fd)?;
        let generation = match self.registrations.get(index) {
            Some(r) if r.generation != 0 => r.generation,
            _ => return Err(not_registered()),
        };
        let (interest, trigger) = (interest_of(interest), trigger_of(opts));
        match self.sys.modify(fd, event_data(fd, generation), interest, trigger) {
            Ok(()) => {
                let registration = &mut self.registrations[index];
                registration.token = token.0;
                registration.interest = interest;
                registration.trigger = trigger;
                Ok(())
            }
            Err(e) => Err(self.forget_if_closed(index, e)),
        }
    }

    /// Stops watching `fd`. Events of `fd` already fetched by the last poll but not yet
    /// read are dropped.
    ///
    /// Errors: `NotFound` (`ENOENT`) if `fd` is not registered with this selector.
    pub fn deregister(&mut self, fd: RawFd) -> io::Result<()> {
        let index = fd_index(fd)?;
        match self.registrations.get(index) {
            Some(r) if r.generation != 0 => {}
            _ => return Err(not_registered()),
        }
        match self.sys.delete(fd) {
            Ok(()) => {
                self.forget(index);
                Ok(())
            }
            Err(e) => Err(self.forget_if_closed(index, e)),
        }
    }

    /// The kernel forgets an fd when its last descriptor closes; when it says so, the
    /// table does too.
    fn forget_if_closed(&mut self, index: usize, error: io::Error) -> io::Error {
        if error.kind() == io::ErrorKind::NotFound || error.raw_os_error() == Some(sys::EBADF) {
            self.forget(index);
        }
        error
    }

    /// Ends the registration of the fd at `index` in the table.
    fn forget(&mut self, index: usize) {
        self.registrations[index] = Registration { ended_in_poll: self.polls, ..Registration::default() };
    }

    /// Creates the waker that lets another thread end this selector's `select`; its wake-ups
    /// are reported as `Token::RESERVED`, readable. A waker with an fd of its own (eventfd,
    /// pipe) is registered here, edge-triggered: each wake raises a new edge, so it is never
    /// read. A kqueue `EVFILT_USER` waker registered itself inside the kqueue.
    pub(crate) fn new_waker(&mut self) -> io::Result<sys::Waker> {
        let waker = sys::Waker::new(&self.sys)?;
        if let Some(fd) = waker.fd() {
            self.register_any_token(fd, Token::RESERVED, EventSet::readable(), PollOpt::edge())?;
        }
        Ok(waker)
    }

    /// Blocks in the kernel until an event or the timeout, filling `events`; first purges
    /// the orphaned registrations the last poll's events revealed, if any.
    #[inline]
    pub(crate) fn select(&mut self, events: &mut sys::SelectorEvents, timeout: Option<Duration>) -> io::Result<()> {
        if *self.orphan_seen.get_mut() {
            self.purge_orphans();
        }
        self.polls = self.polls.wrapping_add(1);
        self.sys.select(events, timeout)
    }

    /// How many times this selector found readiness from a registration orphaned by a
    /// live duplicate of its fd, and purged it (see the module docs).
    pub(crate) fn orphan_purges(&self) -> u64 {
        self.orphan_purges
    }

    /// Moves every registration the table holds that the kernel still has under the same
    /// fd number and open file into a new kernel selector, and closes the old one with the
    /// orphans in it. Registrations the kernel no longer has (their fd was closed, perhaps
    /// reused by a file nobody registered) leave the table. If the new selector cannot be
    /// made complete, the old one is kept: the orphan shows up again and is retried then.
    #[cold]
    #[inline(never)]
    fn purge_orphans(&mut self) {
        *self.orphan_seen.get_mut() = false;
        if !sys::CLOSE_KEEPS_REGISTRATIONS {
            return;
        }
        let Ok(fresh) = sys::Selector::new() else {
            return;
        };
        for index in 0..self.registrations.len() {
            let registration = self.registrations[index];
            if registration.generation == 0 {
                continue;
            }
            let fd = index as RawFd;
            let data = event_data(fd, registration.generation);
            let (interest, trigger) = (registration.interest, registration.trigger);
            // `modify` succeeds only if the old selector holds this very fd number and
            // open file: the registration is alive, not a stale entry whose number a
            // file nobody registered has taken since (that one ends here).
            if self.sys.modify(fd, data, interest, trigger).is_err() {
                self.forget(index);
            } else if fresh.add(fd, data, interest, trigger).is_err() {
                return;
            }
        }
        self.sys = fresh;
        self.orphan_purges += 1;
    }

    /// The token and kind of a fetched event, or `None` if its fd was deregistered (or
    /// registered anew) since it was fetched.
    #[inline]
    pub(crate) fn resolve(&self, readiness: Readiness) -> Option<(Token, EventSet)> {
        let fd = readiness.data as u32 as usize;
        let generation = (readiness.data >> 32) as u32;
        let Some(registration) = self.registrations.get(fd) else {
            // A waker inside the selector (kqueue's `EVFILT_USER`) has no fd in the table:
            // its data names fd u32::MAX, beyond any table, so it is only checked here,
            // off the path every fd event takes.
            return (readiness.data == sys::WAKER_DATA).then_some((Token::RESERVED, EventSet::readable()));
        };
        // Issued generations start at 1 and a free slot holds 0, so a freed slot matches nothing.
        if registration.generation != generation {
            self.note_stale_event(registration);
            return None;
        }
        let mut kind = EventSet::empty();
        kind.set(EventSet::READABLE, readiness.readable);
        kind.set(EventSet::WRITABLE, readiness.writable);
        kind.set(EventSet::ERROR, readiness.error);
        kind.set(EventSet::HUP, readiness.hup);
        Some((Token(registration.token), kind))
    }
}

impl Drop for Selector {
    /// Retires the id: the kernel ends every registration of this selector as its fd
    /// closes, so the sockets that belonged to it are free to be registered elsewhere.
    fn drop(&mut self) {
        self.id.retire();
    }
}

impl Selector {
    /// An event whose registration the table no longer has: late if that registration
    /// ended during the poll being read, orphaned if it ended before it began.
    #[cold]
    #[inline(never)]
    fn note_stale_event(&self, registration: &Registration) {
        if registration.ended_in_poll != self.polls {
            self.orphan_seen.store(true, Ordering::Relaxed);
        }
    }
}

fn check_token(token: Token) -> io::Result<()> {
    if token == Token::RESERVED {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "Token(usize::MAX) is reserved by readyio"));
    }
    Ok(())
}

fn fd_index(fd: RawFd) -> io::Result<usize> {
    usize::try_from(fd).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "negative file descriptor"))
}

fn not_registered() -> io::Error {
    io::Error::from_raw_os_error(sys::ENOENT)
}

fn event_data(fd: RawFd, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(fd as u32)
}

fn interest_of(interest: EventSet) -> Interest {
    Interest { readable: interest.is_readable() || interest.is_hup(), writable: interest.is_writable() }
}

fn trigger_of(opts: PollOpt) -> Trigger {
    Trigger { edge: opts.is_edge() && !opts.is_level(), oneshot: opts.is_oneshot() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_waker_data_resolves_to_the_reserved_token_readable() {
        let selector = Selector::new().unwrap();
        let wake = Readiness { data: sys::WAKER_DATA, ..Default::default() };
        assert_eq!(selector.resolve(wake), Some((Token::RESERVED, EventSet::readable())));
    }

    #[test]
    fn selector_ids_are_distinct_and_live_until_the_selector_is_dropped() {
        let first = Selector::new().unwrap();
        let second = Selector::new().unwrap();
        let (a, b) = (first.id().get(), second.id().get());
        assert_ne!(a, b);
        assert!(SelectorId::is_live(a) && SelectorId::is_live(b));
        drop(first);
        assert!(!SelectorId::is_live(a), "a dropped selector's id is no longer live");
        assert!(SelectorId::is_live(b));
        let third = Selector::new().unwrap();
        assert!(third.id().get() > b, "ids are never reused");
    }

    #[test]
    fn is_registered_follows_register_and_deregister() {
        let mut selector = Selector::new().unwrap();
        let (reader, _writer) = sys::pipe::pipe().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&reader);
        assert!(!selector.is_registered(fd) && !selector.is_registered(-1));
        // Edge-triggered: the only epoll mode Miri emulates (ci/miri.sh runs these tests).
        selector.register(fd, Token(1), EventSet::readable(), PollOpt::edge()).unwrap();
        assert!(selector.is_registered(fd));
        selector.deregister(fd).unwrap();
        assert!(!selector.is_registered(fd));
    }

    #[test]
    fn a_wake_of_the_selectors_waker_is_reported_as_the_reserved_token() {
        let mut selector = Selector::new().unwrap();
        let waker = selector.new_waker().unwrap();
        let mut events = sys::SelectorEvents::with_capacity(4).unwrap();
        waker.wake().unwrap();
        selector.select(&mut events, Some(Duration::from_secs(1))).unwrap();
        assert_eq!(events.len(), 1);
        let resolved = selector.resolve(events.get(0).unwrap()).unwrap();
        assert_eq!(resolved, (Token::RESERVED, EventSet::readable()));
    }
}
