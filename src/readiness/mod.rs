//! The readiness core: the vocabulary of readiness and the one place that turns kernel
//! events into tokens.
//!
//! | file | what |
//! |---|---|
//! | `token.rs` | [`Token`](token::Token): the caller's name for a registration |
//! | `event.rs` | [`EventSet`](event::EventSet), [`PollOpt`](event::PollOpt), [`IoEvent`](event::IoEvent) |
//! | `selector.rs` | [`Selector`](selector::Selector): the OS selector plus the fd -> token table |
//! | `selector_id.rs` | `SelectorId`: names a selector, so a socket knows the one it belongs to |
//! | `evented.rs` | [`Evented`](evented::Evented): what a handle implements to be registered |
//! | `owned_evented_fd.rs` | `OwnedEventedFd`: the fd inside every readyio socket and pipe, and the one selector it belongs to |
//! | `poll.rs` | [`Poll`](poll::Poll): register, wait, read the events |
//!
//! This layer sits on `sys` (which it reaches only through `sys`'s neutral types) and
//! knows nothing of sockets, buffers or the event loop above it.

pub(crate) mod event;
pub(crate) mod evented;
pub(crate) mod owned_evented_fd;
pub(crate) mod poll;
pub(crate) mod selector;
pub(crate) mod selector_id;
pub(crate) mod token;
