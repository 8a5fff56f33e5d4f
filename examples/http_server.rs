//! An HTTP/1.1 server on `EventLoop`: `GET /` answers `Hello, world!`, `POST /echo` echoes
//! the request body, anything else is 404 (see `http/session.rs` for the routes and
//! `http/parse.rs` for what is refused, and with which status).
//!
//! ```sh
//! cargo run --release --example http_server                          # http://127.0.0.1:8080
//! cargo run --release --example http_server -- --addr 127.0.0.1:0 --threads 2 --idle-ms 5000
//! curl -s http://127.0.0.1:8080/ http://127.0.0.1:8080/nope          # two requests, one connection
//! ```
//!
//! It prints `listening on http://ADDR` once every loop is accepting.
//!
//! How it is built, per loop (one thread each):
//!
//! * connections live in a `util::Slab` keyed by their `Token` (token 0 is the listener),
//!   each with two `buf::RingBuf`s: requests are read into one with one `readv`, parsed in
//!   place, and answered into the other, which goes out with one `send`/`sendmsg`. Buffers
//!   of closed connections are kept for the next ones, so a loop that has warmed up does
//!   not allocate;
//! * sockets are registered edge-triggered for both directions; each event runs the
//!   connection until it can move no byte (parse, write, read), so pipelined requests are
//!   answered in order and a slow reader holds back only its own connection (its output
//!   fills, then its input, then the kernel's window). A read that comes back short means
//!   the socket is empty, so the next read waits for the next readable event: one `recv`
//!   and one `send` per request, not a second `recv` that says `EAGAIN`;
//! * each connection has one idle timer, armed for its deadline and moved lazily: activity
//!   only records the time, and a timer that fires early re-arms for the remainder, so a
//!   busy connection costs no timer operations;
//! * a final response (an error, `Connection: close`, HTTP/1.0) is followed by a lingering
//!   close: shut down the write side, then read and discard until the client closes or
//!   `LINGER` passes, so that unread request bytes cannot turn the close into a reset
//!   that destroys the response before the client reads it;
//! * `--threads N` runs N loops, each with its own listener bound with SO_REUSEPORT
//!   (`TcpListener::bind_reuseport`), and tags every response with `X-Loop: <loop>`.
//!
//! Accept errors never strand the listener: a failed connection (`ECONNABORTED`) is
//! skipped, and any other error (`EMFILE`, `ENFILE`, `ENOBUFS`, ...) is logged at most once
//! a second and retried from a timer, since an edge-triggered listener would not report
//! the connections still queued.

#[path = "http/parse.rs"]
mod parse;
#[path = "http/session.rs"]
mod session;

use readyio::buf::{Buf, RingBuf};
use readyio::tcp::{TcpListener, TcpStream};
use readyio::util::Slab;
use readyio::{
    EventLoop, EventLoopConfig, EventSet, FdReserve, Handler, PollOpt, Sender, Timeout, Token, TryRead, TryWrite,
};
use session::{CommonHeaders, Next, Session, INPUT_CAPACITY, LINGER, OUTPUT_CAPACITY};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);
/// How long after an accept error (`EMFILE`, ...) the listener is tried again.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// How to run the server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port (see [`Server::local_addr`]).
    pub addr: SocketAddr,
    /// Event loops (threads), sharing the port with SO_REUSEPORT when more than one.
    pub threads: usize,
    /// A connection with no activity for this long is closed.
    pub idle_timeout: Duration,
    /// The most connections per loop; beyond it, new clients get a 503 and are closed.
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: "127.0.0.1:8080".parse().unwrap(),
            threads: 1,
            idle_timeout: Duration::from_secs(10),
            max_connections: 10_000,
        }
    }
}

/// A running server: its address, and its loops' threads.
pub struct Server {
    addr: SocketAddr,
    loops: Vec<(Sender<Control>, JoinHandle<io::Result<()>>)>,
}

/// What the server's owner tells a loop.
pub enum Control {
    /// Close everything and return from `run`.
    Shutdown,
}

/// Binds the listeners (so that an address in use is reported here) and starts one loop
/// per thread; returns once every loop is accepting.
pub fn start(config: &Config) -> io::Result<Server> {
    let threads = config.threads.max(1);
    let mut listeners = Vec::with_capacity(threads);
    if threads == 1 {
        listeners.push(TcpListener::bind(&config.addr)?);
    } else {
        // The first listener fixes the port (if 0 was asked for); the others join it.
        let first = TcpListener::bind_reuseport(&config.addr)?;
        let addr = first.local_addr()?;
        listeners.push(first);
        for _ in 1..threads {
            listeners.push(TcpListener::bind_reuseport(&addr)?);
        }
    }
    let addr = listeners[0].local_addr()?;
    let mut loops = Vec::with_capacity(threads);
    for (id, listener) in listeners.into_iter().enumerate() {
        let (started_tx, started_rx) = mpsc::channel();
        let config = config.clone();
        let loop_id = (threads > 1).then_some(id);
        let thread = std::thread::Builder::new().name(format!("http-loop-{id}")).spawn(move || {
            let (mut event_loop, mut server) = match HttpLoop::new(listener, &config, loop_id) {
                Ok(ready) => ready,
                Err(e) => {
                    let _ = started_tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            };
            let _ = started_tx.send(Ok(event_loop.channel()));
            event_loop.run(&mut server)
        })?;
        let control = started_rx.recv().map_err(|_| io::Error::other("a server loop died while starting"))??;
        loops.push((control, thread));
    }
    Ok(Server { addr, loops })
}

impl Server {
    /// The address every loop listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops every loop and waits for them; returns the first error a loop ended with.
    pub fn stop(self) -> io::Result<()> {
        for (control, _) in &self.loops {
            // A loop that already ended has dropped its receiver; `wait` reports why.
            let _ = control.send(Control::Shutdown);
        }
        self.wait()
    }

    /// Waits for every loop to end (they run until stopped or a poll fails).
    pub fn wait(self) -> io::Result<()> {
        let mut result = Ok(());
        for (_, thread) in self.loops {
            let ended = thread.join().unwrap_or_else(|_| Err(io::Error::other("a server loop panicked")));
            if result.is_ok() {
                result = ended;
            }
        }
        result
    }
}

/// What a timer is for.
enum Timer {
    /// The idle (or lingering) deadline of a connection.
    Deadline(Token),
    /// Try accepting again after an accept error.
    AcceptRetry,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading requests and answering them.
    Open,
    /// A final response is queued: write it out, then linger.
    Closing,
    /// Write side shut down: discard input until the client closes or the deadline.
    Lingering,
}

struct Connection {
    stream: TcpStream,
    input: RingBuf,
    output: RingBuf,
    session: Session,
    phase: Phase,
    /// The client closed its side (a read returned 0).
    peer_done: bool,
    /// The socket may hold bytes not read yet. Cleared when a read comes back short (the
    /// kernel had no more) or would block; set again by the next readable event, which
    /// edge-triggered epoll/kqueue report for every new arrival. It saves the read that
    /// would only say `EAGAIN` after each request: a third of the syscalls.
    may_read: bool,
    /// The kernel reported the client's FIN (hup): a short read no longer means the
    /// socket is empty, since the end of stream behind the data is still to be read and
    /// no new event will announce it.
    peer_closing: bool,
    /// When the connection is closed unless something happens first.
    deadline: Instant,
    /// The pending timer, set for `deadline` or earlier.
    timer: Option<Timeout>,
}

/// One event loop's server: its listener and its connections.
struct HttpLoop {
    listener: TcpListener,
    /// A spare fd: out of fds, accepts shed the backlog through it instead of leaving it
    /// queued (see `accept_all`).
    fd_reserve: FdReserve,
    connections: Slab<Connection>,
    /// Buffers of closed connections, reused by the next ones.
    spare_buffers: Vec<(RingBuf, RingBuf)>,
    common: CommonHeaders,
    idle_timeout: Duration,
    accept_retry_pending: bool,
    last_accept_error_logged: Option<Instant>,
}

impl HttpLoop {
    fn new(
        listener: TcpListener,
        config: &Config,
        loop_id: Option<usize>,
    ) -> io::Result<(EventLoop<HttpLoop>, HttpLoop)> {
        let mut loop_config = EventLoopConfig::new();
        // One timer per connection plus the accept retry.
        loop_config.timer_capacity(config.max_connections + 1).notify_capacity(16);
        let mut event_loop = EventLoop::configured(loop_config)?;
        event_loop.register(&listener, LISTENER, EventSet::readable(), PollOpt::edge())?;
        let server = HttpLoop {
            listener,
            fd_reserve: FdReserve::new()?,
            connections: Slab::new_starting_at(Token(1), config.max_connections),
            spare_buffers: Vec::new(),
            common: CommonHeaders::new(loop_id),
            idle_timeout: config.idle_timeout,
            accept_retry_pending: false,
            last_accept_error_logged: None,
        };
        Ok((event_loop, server))
    }

    fn accept_all(&mut self, event_loop: &mut EventLoop<HttpLoop>) {
        loop {
            // Out of fds, the reserve closes its spare fd, accepts and closes every queued
            // connection (those clients see a close, not a hang), and takes the spare back.
            match self.listener.accept_or_shed(&mut self.fd_reserve) {
                Ok(Some((stream, _peer))) => self.add_connection(event_loop, stream),
                Ok(None) => return,
                // The connection died in the queue: it is gone, the next one may be fine.
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) => {}
                Err(e) => {
                    // Even shedding failed (no fd at all, or out of memory): the queued
                    // connections stay queued, and an edge-triggered listener would not
                    // report them again. Retry from a timer.
                    self.log_accept_error(&e);
                    if !self.accept_retry_pending && event_loop.timeout(Timer::AcceptRetry, ACCEPT_RETRY).is_ok() {
                        self.accept_retry_pending = true;
                    }
                    return;
                }
            }
        }
    }

    fn log_accept_error(&mut self, error: &io::Error) {
        let now = Instant::now();
        let quiet_for_a_second = match self.last_accept_error_logged {
            Some(last) => now - last >= Duration::from_secs(1),
            None => true,
        };
        if quiet_for_a_second {
            eprintln!("http_server: accept failed ({error}); retrying every {ACCEPT_RETRY:?}");
            self.last_accept_error_logged = Some(now);
        }
    }

    fn add_connection(&mut self, event_loop: &mut EventLoop<HttpLoop>, mut stream: TcpStream) {
        if !self.connections.has_remaining() {
            // Best effort: a full socket buffer on a brand-new connection is not expected.
            let _ = stream.try_write(session::SERVICE_UNAVAILABLE);
            return;
        }
        // Responses are written whole; Nagle would hold back the tail of a large one.
        let _ = stream.set_nodelay(true);
        let (input, output) = self
            .spare_buffers
            .pop()
            .unwrap_or_else(|| (RingBuf::with_capacity(INPUT_CAPACITY), RingBuf::with_capacity(OUTPUT_CAPACITY)));
        let deadline = Instant::now() + self.idle_timeout;
        let connection = Connection {
            stream,
            input,
            output,
            session: Session::new(),
            phase: Phase::Open,
            peer_done: false,
            may_read: true,
            peer_closing: false,
            deadline,
            timer: None,
        };
        let Ok(token) = self.connections.insert(connection) else { return };
        let connection = &mut self.connections[token];
        let interest = EventSet::readable() | EventSet::writable() | EventSet::hup();
        if let Err(e) = event_loop.register(&connection.stream, token, interest, PollOpt::edge()) {
            eprintln!("http_server: register: {e}");
            self.recycle(token);
            return;
        }
        match event_loop.timeout(Timer::Deadline(token), self.idle_timeout) {
            Ok(timer) => self.connections[token].timer = Some(timer),
            Err(_) => self.close(event_loop, token),
        }
    }

    /// Moves bytes until nothing moves: parse and answer what is buffered, write what is
    /// answered, read what has arrived. `Ok(false)` means: close the connection now.
    fn drive(&mut self, token: Token) -> io::Result<bool> {
        self.common.refresh();
        let common = &self.common;
        let Some(connection) = self.connections.get_mut(token) else { return Ok(true) };
        loop {
            let mut progress = false;
            if connection.phase == Phase::Open {
                let (used, next) = if connection.input.is_empty() {
                    (0, Next::Read)
                } else {
                    connection.session.handle(connection.input.make_contiguous(), &mut connection.output, common)
                };
                connection.input.advance(used);
                progress |= used > 0;
                // After the client's end of stream, a request still waiting for bytes
                // will never be complete: answer what was complete, then close.
                if next == Next::Close || (next == Next::Read && connection.peer_done) {
                    connection.phase = Phase::Closing;
                    progress = true;
                }
            }
            if !connection.output.is_empty() {
                if let Some(written) = connection.stream.try_write_buf(&mut connection.output)? {
                    progress |= written > 0;
                }
            }
            if connection.phase == Phase::Closing && connection.output.is_empty() {
                if connection.peer_done {
                    return Ok(false);
                }
                connection.stream.shutdown(Shutdown::Write)?;
                connection.phase = Phase::Lingering;
                connection.input.clear();
                connection.deadline = connection.deadline.min(Instant::now() + LINGER);
                progress = true;
            }
            if connection.may_read && !connection.peer_done && !connection.input.is_full() {
                let room = connection.input.capacity() - connection.input.len();
                match connection.stream.try_read_buf_vectored(&mut connection.input)? {
                    Some(0) => {
                        connection.peer_done = true;
                        progress = true;
                    }
                    Some(n) => {
                        connection.may_read = n == room || connection.peer_closing;
                        progress = true;
                    }
                    None => connection.may_read = false,
                }
                if connection.phase == Phase::Lingering {
                    connection.input.clear();
                    if connection.peer_done {
                        return Ok(false);
                    }
                }
            }
            if !progress {
                break;
            }
        }
        if connection.phase != Phase::Lingering {
            connection.deadline = Instant::now() + self.idle_timeout;
        }
        Ok(true)
    }

    /// A connection's timer fired: close it if its deadline has passed, else re-arm.
    fn deadline_reached(&mut self, event_loop: &mut EventLoop<HttpLoop>, token: Token) {
        let Some(connection) = self.connections.get_mut(token) else { return };
        connection.timer = None;
        let now = Instant::now();
        if now >= connection.deadline {
            return self.close(event_loop, token);
        }
        match event_loop.timeout(Timer::Deadline(token), connection.deadline - now) {
            Ok(timer) => connection.timer = Some(timer),
            Err(_) => self.close(event_loop, token),
        }
    }

    /// Makes sure the timer fires no later than the deadline (which lingering brings forward).
    fn rearm_if_late(&mut self, event_loop: &mut EventLoop<HttpLoop>, token: Token) {
        let Some(connection) = self.connections.get_mut(token) else { return };
        if connection.phase != Phase::Lingering || connection.timer.is_none() {
            return;
        }
        if let Some(old) = connection.timer.take() {
            event_loop.clear_timeout(old);
        }
        let delay = connection.deadline.saturating_duration_since(Instant::now());
        match event_loop.timeout(Timer::Deadline(token), delay) {
            Ok(timer) => connection.timer = Some(timer),
            Err(_) => self.close(event_loop, token),
        }
    }

    fn close(&mut self, event_loop: &mut EventLoop<HttpLoop>, token: Token) {
        if let Some(connection) = self.connections.get_mut(token) {
            if let Some(timer) = connection.timer.take() {
                event_loop.clear_timeout(timer);
            }
            // Closing the fd removes it from the selector too; deregistering first also
            // keeps any event of this iteration from reaching a reused token.
            let _ = event_loop.deregister(&connection.stream);
            self.recycle(token);
        }
    }

    fn recycle(&mut self, token: Token) {
        if let Some(mut connection) = self.connections.remove(token) {
            connection.input.clear();
            connection.output.clear();
            self.spare_buffers.push((connection.input, connection.output));
        }
    }
}

impl Handler for HttpLoop {
    type Timeout = Timer;
    type Message = Control;

    fn ready(&mut self, event_loop: &mut EventLoop<HttpLoop>, token: Token, events: EventSet) {
        if token == LISTENER {
            return self.accept_all(event_loop);
        }
        if events.is_readable() || events.is_hup() || events.is_error() {
            if let Some(connection) = self.connections.get_mut(token) {
                connection.may_read = true;
                connection.peer_closing |= events.is_hup() || events.is_error();
            }
        }
        let was_lingering = self.connections.get(token).is_some_and(|c| c.phase == Phase::Lingering);
        match self.drive(token) {
            Ok(true) if !was_lingering => self.rearm_if_late(event_loop, token),
            Ok(true) => {}
            // Ok(false): done; Err: the client reset or vanished. Either way, close.
            Ok(false) | Err(_) => self.close(event_loop, token),
        }
    }

    fn timeout(&mut self, event_loop: &mut EventLoop<HttpLoop>, timer: Timer) {
        match timer {
            Timer::Deadline(token) => self.deadline_reached(event_loop, token),
            Timer::AcceptRetry => {
                self.accept_retry_pending = false;
                self.accept_all(event_loop);
            }
        }
    }

    fn notify(&mut self, event_loop: &mut EventLoop<HttpLoop>, control: Control) {
        match control {
            Control::Shutdown => event_loop.shutdown(),
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: http_server [--addr IP:PORT] [--threads N] [--idle-ms MS] [--max-connections N]");
    std::process::exit(2)
}

fn parse_arguments() -> Config {
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--addr" => config.addr = value.parse().unwrap_or_else(|_| usage()),
            "--threads" => config.threads = value.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage()),
            "--idle-ms" => config.idle_timeout = Duration::from_millis(value.parse().unwrap_or_else(|_| usage())),
            "--max-connections" => {
                config.max_connections = value.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    config
}

fn main() -> io::Result<()> {
    let config = parse_arguments();
    let server = start(&config)?;
    let loops = config.threads.max(1);
    println!("listening on http://{} ({loops} loop{})", server.local_addr(), if loops == 1 { "" } else { "s" });
    server.wait()
}
