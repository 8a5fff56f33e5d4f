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
/// # Dropping a registered handle while a clone lives
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
