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
//!
//! # Example
//!
//! Using readyio starts by creating an [`EventLoop`], which receives events from the OS and
//! dispatches them to a [`Handler`]. (This is the example of mio 0.5's front page with only
//! the crate name changed; it is also `examples/seed.rs`.)
//!
//! ```
//! use readyio::*;
//! use readyio::tcp::{TcpListener, TcpStream};
//!
//! // Setup some tokens to allow us to identify which event is
//! // for which socket.
//! const SERVER: Token = Token(0);
//! const CLIENT: Token = Token(1);
//!
//! let addr = "127.0.0.1:13265".parse().unwrap();
//!
//! // Setup the server socket
//! let server = TcpListener::bind(&addr).unwrap();
//!
//! // Create an event loop
//! let mut event_loop = EventLoop::new().unwrap();
//!
//! // Start listening for incoming connections
//! event_loop.register(&server, SERVER, EventSet::readable(),
//!                     PollOpt::edge()).unwrap();
//!
//! // Setup the client socket
//! let sock = TcpStream::connect(&addr).unwrap();
//!
//! // Register the socket
//! event_loop.register(&sock, CLIENT, EventSet::readable(),
//!                     PollOpt::edge()).unwrap();
//!
//! // Define a handler to process the events
//! struct MyHandler(TcpListener);
//!
//! impl Handler for MyHandler {
//!     type Timeout = ();
//!     type Message = ();
//!
//!     fn ready(&mut self, event_loop: &mut EventLoop<MyHandler>, token: Token, _: EventSet) {
//!         match token {
//!             SERVER => {
//!                 let MyHandler(ref mut server) = *self;
//!                 // Accept and drop the socket immediately, this will close
//!                 // the socket and notify the client of the EOF.
//!                 let _ = server.accept();
//!             }
//!             CLIENT => {
//!                 // The server just shuts down the socket, let's just
//!                 // shutdown the event loop
//!                 event_loop.shutdown();
//!             }
//!             _ => panic!("unexpected token"),
//!         }
//!     }
//! }
//!
//! // Start handling events
//! event_loop.run(&mut MyHandler(server)).unwrap();
//! ```
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

pub mod buf;
pub mod util;

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
