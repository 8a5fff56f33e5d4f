//! `Evented`: what a handle implements to be registered with a [`Poll`](crate::Poll).

use crate::readiness::event::{EventSet, PollOpt};
use crate::readiness::selector::Selector;
use crate::readiness::token::Token;
use std::io;
use std::os::fd::RawFd;

/// A handle that can be registered with a [`Selector`] (and so with a `Poll` or an
/// `EventLoop`). Every readyio IO type implements it; wrap any other fd in
/// [`EventedFd`].
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

/// Implements [`Evented`] for a type that owns its fd in `$field`, by
/// registering that fd.
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
                selector.register(::std::os::fd::AsRawFd::as_raw_fd(&self.$field), token, interest, opts)
            }
            fn reregister(
                &self,
                selector: &mut $crate::readiness::selector::Selector,
                token: $crate::readiness::token::Token,
                interest: $crate::readiness::event::EventSet,
                opts: $crate::readiness::event::PollOpt,
            ) -> ::std::io::Result<()> {
                selector.reregister(::std::os::fd::AsRawFd::as_raw_fd(&self.$field), token, interest, opts)
            }
            fn deregister(&self, selector: &mut $crate::readiness::selector::Selector) -> ::std::io::Result<()> {
                selector.deregister(::std::os::fd::AsRawFd::as_raw_fd(&self.$field))
            }
        }
    };
}
pub(crate) use evented_by_fd;
