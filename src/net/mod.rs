//! Non-blocking sockets and pipes: [`tcp`], [`udp`] and [`unix`].
//!
//! Every type here owns one fd that is non-blocking and close-on-exec from birth, is
//! registered with a [`Poll`](crate::Poll) through that fd ([`Evented`](crate::Evented)),
//! converts to and from raw and owned fds, and is `Send`. Sends never raise `SIGPIPE`: a
//! peer that went away shows up as an `EPIPE` (or `ECONNRESET`) error.
//!
//! The syscalls themselves live in `sys::socket` and `sys::pipe`; this layer only gives
//! them types.

pub(crate) mod fd_reserve;
mod pipe;
pub mod tcp;
pub mod udp;
pub mod unix;

use std::io;

/// `Some(error)` becomes `Err(error)`, as the seed's `take_socket_error` reports it.
fn error_as_result(pending: io::Result<Option<io::Error>>) -> io::Result<()> {
    match pending? {
        Some(error) => Err(error),
        None => Ok(()),
    }
}
