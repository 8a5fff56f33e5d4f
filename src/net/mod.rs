//! Non-blocking sockets and pipes: [`tcp`], [`udp`] and [`unix`].
//!
//! Every type here owns one fd that is non-blocking and close-on-exec from birth, is
//! registered with a [`Poll`](crate::Poll) through that fd ([`Evented`](crate::Evented)),
//! converts to and from raw and owned fds, and is `Send`. Sends never raise `SIGPIPE`: a
//! peer that went away shows up as an `EPIPE` (or `ECONNRESET`) error.
//!
//! The syscalls themselves live in `sys::socket` and `sys::pipe`; this layer only gives
//! them types.

mod pipe;
pub mod tcp;
pub mod udp;
pub mod unix;

use std::io;

/// Implements [`Evented`](crate::Evented) for a type that owns its fd in `$field`, by
/// registering that fd.
macro_rules! evented_by_fd {
    ($ty:ty, $field:ident) => {
        impl $crate::Evented for $ty {
            fn register(
                &self,
                selector: &mut $crate::Selector,
                token: $crate::Token,
                interest: $crate::EventSet,
                opts: $crate::PollOpt,
            ) -> ::std::io::Result<()> {
                selector.register(::std::os::fd::AsRawFd::as_raw_fd(&self.$field), token, interest, opts)
            }
            fn reregister(
                &self,
                selector: &mut $crate::Selector,
                token: $crate::Token,
                interest: $crate::EventSet,
                opts: $crate::PollOpt,
            ) -> ::std::io::Result<()> {
                selector.reregister(::std::os::fd::AsRawFd::as_raw_fd(&self.$field), token, interest, opts)
            }
            fn deregister(&self, selector: &mut $crate::Selector) -> ::std::io::Result<()> {
                selector.deregister(::std::os::fd::AsRawFd::as_raw_fd(&self.$field))
            }
        }
    };
}
use evented_by_fd;

/// `Some(error)` becomes `Err(error)`, as the seed's `take_socket_error` reports it.
fn error_as_result(pending: io::Result<Option<io::Error>>) -> io::Result<()> {
    match pending? {
        Some(error) => Err(error),
        None => Ok(()),
    }
}
