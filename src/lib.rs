//! readyio: fast, low-level, readiness-based IO for Rust.
//!
//! Non-blocking sockets, readiness notification over epoll (Linux) and kqueue (macOS and
//! the BSDs), and on top of them an event loop with timers and a cross-thread channel,
//! buffers and a slab. Every constant, struct and function handed to the kernel comes
//! from the system's own C headers through `bindgen` (see `build.rs`), not from a
//! handwritten copy.
//!
//! The layers, each using only the ones below it:
//!
//! | module | what |
//! |---|---|
//! | `sys` (private) | the only `unsafe` code: generated bindings, the epoll/kqueue selector, fd and socket calls |
//! | [`Token`], [`EventSet`], [`PollOpt`], [`Selector`], [`Poll`], [`Evented`] | the readiness core |
//! | [`Io`], [`TryRead`], [`TryWrite`], [`tcp`], [`udp`], [`unix`], [`buf`], [`util`] | sockets, pipes, buffers, slab |
//! | [`EventLoop`], [`Handler`] | the event loop: IO, timers and messages from other threads |
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]

mod sys;

mod event;
mod event_loop;
mod evented;
mod io;
mod net;
mod poll;
mod selector;
mod token;

pub use event::{EventSet, IoEvent, PollOpt};
pub use event_loop::{EventLoop, EventLoopConfig, Handler, NotifyError, Sender, Timeout, TimerError, TimerResult};
pub use evented::Evented;
pub use io::{Io, TryAccept, TryRead, TryWrite};
pub use net::{tcp, udp, unix};
pub use poll::{Events, Poll, DEFAULT_EVENTS_CAPACITY};
pub use selector::Selector;
pub use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
pub use token::Token;

/// The names most programs using an [`EventLoop`] need: `use readyio::prelude::*;`.
pub mod prelude {
    pub use crate::{EventLoop, EventSet, Handler, PollOpt, Token, TryRead, TryWrite};
}
