//! `Evented`: what a handle implements to be registered with a [`Poll`](crate::Poll).

use crate::readiness::event::{EventSet, PollOpt};
use crate::readiness::selector::Selector;
use crate::readiness::token::Token;
use std::io;
use std::os::fd::RawFd;

/// A handle that can be registered with a [`Selector`] (and so with a `Poll` or an
/// `EventLoop`). Every readyio IO type implements it; wrap any other fd in
/// [`EventedFd`].
///
/// # A socket belongs to one selector
///
/// Each socket and pipe readyio owns (the [`tcp`](crate::tcp), [`udp`](crate::udp) and
/// [`unix`](crate::unix) types, the pipe ends, [`Io`](crate::Io)) belongs to the `Poll` or
/// `EventLoop` it was registered with, as in mio 0.5:
///
/// * registering or reregistering it with **another** one fails with `ErrorKind::Other`,
///   "socket already registered"; so does a [`try_clone`](crate::tcp::TcpStream::try_clone)
///   made while it belonged to one (the clone inherits the association, though its fd is a
///   different one: it may be registered with the same selector, not with another);
/// * registering it with the **same** one again fails with `ErrorKind::AlreadyExists`;
/// * [`deregister`](crate::Poll::deregister) ends the association, and so does dropping
///   the `Poll` or `EventLoop` (mio 0.5 never let go): the socket may then be registered
///   anywhere. Deregistering a clone that inherited an association but was never
///   registered itself ends its association too (and reports `NotFound`);
/// * a registration that fails leaves the association as it was, so a refused or
///   invalid registration never ties a socket to a selector;
/// * the association moves with the fd between readyio types (`PipeReader::from(io)`,
///   [`UnixSocket::connect`](crate::unix::UnixSocket::connect), ...) and is lost when the
///   fd leaves them (`OwnedFd::from(socket)`, `into_raw_fd`): a bare fd carries no state.
///
/// It costs one atomic word per socket and a compare when registering; polling and IO
/// never look at it.
///
/// [`EventedFd`] (a borrowed raw fd) carries no state and is exempt: through it any fd may
/// be registered with several selectors at once, as epoll and kqueue themselves allow.
///
/// ```
/// use readyio::{EventSet, Poll, PollOpt, Token};
/// use std::io::ErrorKind;
///
/// let (reader, _writer) = readyio::unix::pipe()?;
/// let mut first = Poll::new()?;
/// let mut second = Poll::new()?;
/// first.register(&reader, Token(0), EventSet::readable(), PollOpt::edge())?;
///
/// let refused = second.register(&reader, Token(0), EventSet::readable(), PollOpt::edge());
/// let error = refused.unwrap_err();
/// assert_eq!((error.kind(), error.to_string()), (ErrorKind::Other, "socket already registered".into()));
/// let clone = reader.try_clone()?;
/// assert!(second.register(&clone, Token(1), EventSet::readable(), PollOpt::edge()).is_err());
///
/// first.deregister(&reader)?;
/// second.register(&reader, Token(0), EventSet::readable(), PollOpt::edge())?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Dropping (closing) a registered handle removes its registration only if no other fd
/// refers to the same open file. With epoll (Linux), a registration belongs to the open
/// file *and* the fd number, and lives until the last fd of that file closes: a handle
/// dropped while registered, while a `try_clone` of it (or a `dup`, an fd passed to
/// another process, a child process between `fork` and `exec`) keeps the file open,
/// leaves a registration nobody can reach: its fd number is closed, or names another file
/// by now, so `deregister` cannot name it. Its events still come:
///
/// * while the table still holds the dropped handle's registration (nothing else was
///   registered under its fd number), under the dropped handle's token: a `ready` for a
///   token whose handle is gone. `deregister(&EventedFd(&old_fd))` then answers `EBADF`
///   (or `NotFound`) and makes the table let go, which turns this into the next case;
/// * once the number names another registration, or the table was told the fd is gone
///   (a `deregister` or `reregister` answered `EBADF`/`NotFound`), readyio rejects them by
///   their generation. A level-triggered one would come on every poll and make the loop
///   spin on events it never shows. readyio notices this case (an event of a registration
///   that ended before the current poll began) and purges the orphan before the next
///   poll: it moves every live registration into a new epoll instance and closes the old
///   one. [`Poll::orphan_purges`](crate::Poll::orphan_purges) and
///   [`EventLoop::orphan_purges`](crate::EventLoop::orphan_purges) count these repairs;
///   each costs two syscalls per registration, and the moved registrations may report
///   readiness they already had once more (a spurious event).
///
/// So: `deregister` a handle before dropping it whenever a clone of it may be open (the
/// clone itself is a different fd, registered or not on its own). kqueue systems remove a
/// descriptor's registrations when it closes, clones or not; the rule costs nothing there.
pub trait Evented {
    /// Registers `self` with `selector`.
    fn register(&self, selector: &mut Selector, token: Token, interest: EventSet, opts: PollOpt) -> io::Result<()>;
    /// Changes the registration's token, interest or options.
    fn reregister(&self, selector: &mut Selector, token: Token, interest: EventSet, opts: PollOpt) -> io::Result<()>;
    /// Removes the registration.
    fn deregister(&self, selector: &mut Selector) -> io::Result<()>;
}

/// Registers any raw fd the caller owns elsewhere.
///
/// It borrows the fd number and carries no state, so it is exempt from the rule that a
/// socket belongs to one selector (see [`Evented`]): the same fd may be registered with
/// several selectors through it. Use it for fds readyio does not own.
///
/// ```
/// use readyio::{EventSet, Poll, PollOpt, Token};
/// use readyio::unix::EventedFd;
/// use std::os::fd::AsRawFd;
///
/// let (reader, _writer) = readyio::unix::pipe()?;
/// let mut poll = Poll::new()?;
/// poll.register(&EventedFd(&reader.as_raw_fd()), Token(7), EventSet::readable(), PollOpt::level())?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct EventedFd<'a>(pub &'a RawFd);

impl Evented for EventedFd<'_> {
    fn register(&self, selector: &mut Selector, token: Token, interest: EventSet, opts: PollOpt) -> io::Result<()> {
        selector.register(*self.0, token, interest, opts)
    }
    fn reregister(&self, selector: &mut Selector, token: Token, interest: EventSet, opts: PollOpt) -> io::Result<()> {
        selector.reregister(*self.0, token, interest, opts)
    }
    fn deregister(&self, selector: &mut Selector) -> io::Result<()> {
        selector.deregister(*self.0)
    }
}

/// Implements [`Evented`] for a type that keeps its fd in `$field`, an
/// [`OwnedEventedFd`](crate::readiness::owned_evented_fd::OwnedEventedFd), which registers
/// the fd and keeps the rule that a handle belongs to one selector.
macro_rules! evented_by_fd {
    ($ty:ty, $field:ident) => {
        impl $crate::readiness::evented::Evented for $ty {
            fn register(
                &self,
                selector: &mut $crate::readiness::selector::Selector,
                token: $crate::readiness::token::Token,
                interest: $crate::readiness::event::EventSet,
                opts: $crate::readiness::event::PollOpt,
            ) -> ::std::io::Result<()> {
                $crate::readiness::evented::Evented::register(&self.$field, selector, token, interest, opts)
            }
            fn reregister(
                &self,
                selector: &mut $crate::readiness::selector::Selector,
                token: $crate::readiness::token::Token,
                interest: $crate::readiness::event::EventSet,
                opts: $crate::readiness::event::PollOpt,
            ) -> ::std::io::Result<()> {
                $crate::readiness::evented::Evented::reregister(&self.$field, selector, token, interest, opts)
            }
            fn deregister(&self, selector: &mut $crate::readiness::selector::Selector) -> ::std::io::Result<()> {
                $crate::readiness::evented::Evented::deregister(&self.$field, selector)
            }
        }
    };
}
pub(crate) use evented_by_fd;
