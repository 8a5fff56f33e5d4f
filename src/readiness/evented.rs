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
