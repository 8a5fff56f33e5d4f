//! What the HTTP benchmark's contender servers (`src/bin/http_mio.rs`, `http_tokio.rs`)
//! share: the example server's HTTP handling (`examples/http/parse.rs` and `session.rs`,
//! included by path), the same per-connection pump as `examples/http_server.rs` over any
//! non-blocking stream, and the same command line and listen backlog.

#[path = "../../examples/http/parse.rs"]
pub mod parse;
#[path = "../../examples/http/session.rs"]
pub mod session;

use readyio::buf::{Buf, RingBuf};
use readyio::{TryRead, TryWrite};
use session::{CommonHeaders, Next, Session, INPUT_CAPACITY, LINGER, OUTPUT_CAPACITY};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// How long after an accept error (`EMFILE`, ...) the listener is tried again.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// A contender's command line: `[--addr IP:PORT] [--idle-ms MS] [--max-connections N]`.
pub struct Arguments {
    /// Where to listen (default 127.0.0.1:8080; port 0 picks one).
    pub addr: SocketAddr,
    /// A connection with no activity for this long is closed (default 10 s).
    pub idle_timeout: Duration,
    /// The most connections (default 10000).
    pub max_connections: usize,
}

/// Parses the command line, or prints the usage of `program` and exits with status 2.
pub fn parse_arguments(program: &str) -> Arguments {
    let usage = || -> ! {
        eprintln!("usage: {program} [--addr IP:PORT] [--idle-ms MS] [--max-connections N]");
        std::process::exit(2)
    };
    let mut parsed = Arguments {
        addr: "127.0.0.1:8080".parse().unwrap(),
        idle_timeout: Duration::from_secs(10),
        max_connections: 10_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--addr" => parsed.addr = value.parse().unwrap_or_else(|_| usage()),
            "--idle-ms" => parsed.idle_timeout = Duration::from_millis(value.parse().unwrap_or_else(|_| usage())),
            "--max-connections" => {
                parsed.max_connections = value.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    parsed
}

/// Raises a listening socket's backlog to `SOMAXCONN`, which readyio's `TcpListener::bind`
/// uses, from the 128 that mio's (and so tokio's) `bind` use: with 1024 clients
/// connecting at once, a short queue would make some retry their SYN a second later and
/// measure the backlog rather than the server. `listen` on a listening socket only
/// updates its backlog.
pub fn listen_backlog(listener: &impl AsRawFd) -> std::io::Result<()> {
    // SAFETY: `listen` on a socket fd we borrow, with an integer argument.
    if unsafe { libc::listen(listener.as_raw_fd(), libc::SOMAXCONN) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Shuts down the write side of a socket (`shutdown(SHUT_WR)`), for streams whose library
/// offers no synchronous call for it (tokio's is `AsyncWrite::poll_shutdown`).
pub fn shutdown_write(socket: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: `shutdown` on a socket fd we borrow, with an integer argument.
    if unsafe { libc::shutdown(socket.as_raw_fd(), libc::SHUT_WR) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading requests and answering them.
    Open,
    /// A final response is queued: write it out, then linger.
    Closing,
    /// Write side shut down: discard input until the client closes or the deadline.
    Lingering,
}

/// A connection's buffers and HTTP state, apart from its socket.
pub struct Connection {
    /// Received bytes not yet consumed by the session.
    pub input: RingBuf,
    /// Response bytes not yet written.
    pub output: RingBuf,
    /// The HTTP exchange state.
    pub session: Session,
    /// See [`Phase`].
    pub phase: Phase,
    /// The client closed its side.
    pub peer_done: bool,
    /// The socket may hold bytes not read yet (see `may_read` in `examples/http_server.rs`):
    /// cleared by a short or blocked read, set by [`mark_readable`](Connection::mark_readable).
    pub may_read: bool,
    /// The client's FIN was reported: read until end of stream whatever a short read says.
    pub peer_closing: bool,
    /// When the connection is closed unless something happens first.
    pub deadline: Instant,
}

impl Connection {
    /// A fresh connection, reusing `buffers` if given.
    pub fn new(buffers: Option<(RingBuf, RingBuf)>, idle_timeout: Duration) -> Connection {
        let (input, output) = buffers
            .unwrap_or_else(|| (RingBuf::with_capacity(INPUT_CAPACITY), RingBuf::with_capacity(OUTPUT_CAPACITY)));
        Connection {
            input,
            output,
            session: Session::new(),
            phase: Phase::Open,
            peer_done: false,
            may_read: true,
            peer_closing: false,
            deadline: Instant::now() + idle_timeout,
        }
    }

    /// The buffers, emptied, for the next connection.
    pub fn into_buffers(mut self) -> (RingBuf, RingBuf) {
        self.input.clear();
        self.output.clear();
        (self.input, self.output)
    }

    /// Records a readable event: there may be bytes to read; `closing`: the event also
    /// reported the client's FIN (or an error).
    pub fn mark_readable(&mut self, closing: bool) {
        self.may_read = true;
        self.peer_closing |= closing;
    }

    /// Whether the pump stopped because it wants to read (the socket had nothing).
    pub fn wants_read(&self) -> bool {
        !self.peer_done && !self.input.is_full()
    }

    /// Whether the pump stopped with bytes left to write (the socket was full).
    pub fn wants_write(&self) -> bool {
        !self.output.is_empty()
    }

    /// Moves bytes until nothing moves, exactly as `HttpLoop::drive` in
    /// `examples/http_server.rs` does: parse and answer what is buffered, write what is
    /// answered, read what has arrived. `stream` reads and writes without blocking;
    /// `shutdown` shuts its write side. `Ok(false)` means: close the connection now.
    pub fn drive<S: Read + Write>(
        &mut self,
        mut stream: S,
        shutdown: impl Fn(&S) -> io::Result<()>,
        common: &CommonHeaders,
        idle_timeout: Duration,
    ) -> io::Result<bool> {
        loop {
            let mut progress = false;
            if self.phase == Phase::Open {
                let (used, next) = if self.input.is_empty() {
                    (0, Next::Read)
                } else {
                    self.session.handle(self.input.make_contiguous(), &mut self.output, common)
                };
                self.input.advance(used);
                progress |= used > 0;
                if next == Next::Close || (next == Next::Read && self.peer_done) {
                    self.phase = Phase::Closing;
                    progress = true;
                }
            }
            if !self.output.is_empty() {
                if let Some(written) = stream.try_write_buf(&mut self.output)? {
                    progress |= written > 0;
                }
            }
            if self.phase == Phase::Closing && self.output.is_empty() {
                if self.peer_done {
                    return Ok(false);
                }
                shutdown(&stream)?;
                self.phase = Phase::Lingering;
                self.input.clear();
                self.deadline = self.deadline.min(Instant::now() + LINGER);
                progress = true;
            }
            if self.may_read && !self.peer_done && !self.input.is_full() {
                let room = self.input.capacity() - self.input.len();
                match stream.try_read_buf_vectored(&mut self.input)? {
                    Some(0) => {
                        self.peer_done = true;
                        progress = true;
                    }
                    Some(n) => {
                        self.may_read = n == room || self.peer_closing;
                        progress = true;
                    }
                    None => self.may_read = false,
                }
                if self.phase == Phase::Lingering {
                    self.input.clear();
                    if self.peer_done {
                        return Ok(false);
                    }
                }
            }
            if !progress {
                break;
            }
        }
        if self.phase != Phase::Lingering {
            self.deadline = Instant::now() + idle_timeout;
        }
        Ok(true)
    }
}
