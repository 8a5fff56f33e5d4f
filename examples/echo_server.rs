//! An echo server on one `EventLoop`, using every part of readyio together:
//!
//! * connections live in a `util::Slab` keyed by their `Token` (token 0 is the listener);
//! * each connection echoes through a fixed `buf::RingBuf`: one `readv` fills it even
//!   when its free space wraps, one `sendmsg` empties it even when its data wraps;
//! * an idle timer per connection (reset on activity) closes clients that go quiet;
//! * running out of file descriptors neither strands the edge-triggered listener nor makes
//!   the loop spin: accepts go through an `FdReserve`, which sheds the backlog on `EMFILE`,
//!   and if even that fails the listener is paused and re-armed from a timer;
//! * client threads report through a `Sender` when they are done, and the last report
//!   shuts the loop down.
//!
//! The clients are plain blocking `std::net` sockets on other threads; each sends
//! `BYTES_PER_CLIENT` bytes of a known pattern and checks every byte that comes back.
//!
//! ```sh
//! cargo run --release --example echo_server            # 16 clients
//! cargo run --release --example echo_server -- 100     # 100 clients
//! ```

use readyio::buf::RingBuf;
use readyio::tcp::{TcpListener, TcpStream};
use readyio::util::Slab;
use readyio::{EventLoop, EventLoopConfig, EventSet, FdReserve, Handler, PollOpt, Timeout, Token, TryRead, TryWrite};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);
const MAX_CONNECTIONS: usize = 1024;
const RING_CAPACITY: usize = 16 * 1024;
const BYTES_PER_CLIENT: usize = 4 * 1024 * 1024;
const IDLE: Duration = Duration::from_secs(5);
/// How long the listener pauses when accepting fails even after shedding.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

struct Connection {
    stream: TcpStream,
    ring: RingBuf,
    idle_timer: Option<Timeout>,
    peer_finished: bool,
}

struct EchoServer {
    listener: TcpListener,
    /// A spare fd, given up to shed the backlog when the process runs out of fds.
    fd_reserve: FdReserve,
    connections: Slab<Connection>,
    clients_left: usize,
    bytes_echoed: u64,
    closed_idle: usize,
}

/// What client threads tell the loop.
enum Report {
    ClientDone(io::Result<()>),
}

impl Handler for EchoServer {
    /// A connection's idle timer, or `LISTENER`: resume accepting after a pause.
    type Timeout = Token;
    type Message = Report;

    fn ready(&mut self, event_loop: &mut EventLoop<EchoServer>, token: Token, _events: EventSet) {
        if token == LISTENER {
            self.accept_all(event_loop);
        } else if let Err(e) = self.pump(event_loop, token) {
            eprintln!("connection {token:?}: {e}");
            self.close(event_loop, token);
        }
    }

    fn timeout(&mut self, event_loop: &mut EventLoop<EchoServer>, token: Token) {
        if token == LISTENER {
            // Re-registering re-arms the edge-triggered listener: clients that waited
            // through the pause are reported now.
            if let Err(e) = event_loop.reregister(&self.listener, LISTENER, EventSet::readable(), PollOpt::edge()) {
                eprintln!("resuming the listener: {e}");
            }
            return;
        }
        if let Some(connection) = self.connections.get_mut(token) {
            connection.idle_timer = None;
            self.closed_idle += 1;
            self.close(event_loop, token);
        }
    }

    fn notify(&mut self, event_loop: &mut EventLoop<EchoServer>, report: Report) {
        let Report::ClientDone(result) = report;
        if let Err(e) = result {
            eprintln!("a client failed: {e}");
        }
        self.clients_left -= 1;
        if self.clients_left == 0 {
            event_loop.shutdown();
        }
    }
}

impl EchoServer {
    fn accept_all(&mut self, event_loop: &mut EventLoop<EchoServer>) {
        loop {
            // Edge-triggered: accept until nothing is pending. Out of fds, the reserve
            // sheds the backlog (those clients see their connection closed) and says
            // nothing is pending, so the next connection raises a new edge.
            let stream = match self.listener.accept_or_shed(&mut self.fd_reserve) {
                Ok(Some((stream, _peer))) => stream,
                Ok(None) => return,
                Err(e) => return self.pause_accepting(event_loop, e),
            };
            let connection = Connection {
                stream,
                ring: RingBuf::with_capacity(RING_CAPACITY),
                idle_timer: None,
                peer_finished: false,
            };
            let token = match self.connections.insert(connection) {
                Ok(token) => token,
                Err(_refused) => {
                    eprintln!("connection limit reached; refusing a client");
                    continue;
                }
            };
            let connection = &self.connections[token];
            // Edge-triggered on both sides: `pump` moves data until the kernel says WouldBlock.
            let registered = event_loop.register(
                &connection.stream,
                token,
                EventSet::readable() | EventSet::writable(),
                PollOpt::edge(),
            );
            if let Err(e) = registered {
                eprintln!("register: {e}");
                self.connections.remove(token);
                continue;
            }
            self.reset_idle_timer(event_loop, token);
        }
    }

    /// Accepting failed (out of fds even after shedding, or another error): stop listening
    /// for a moment rather than return with the listener still readable, which would
    /// strand the waiting clients (edge-triggered) or spin (level-triggered).
    fn pause_accepting(&mut self, event_loop: &mut EventLoop<EchoServer>, error: io::Error) {
        eprintln!("accept: {error}; pausing the listener for {ACCEPT_BACKOFF:?}");
        // The timer capacity has room for this one timer (see `main`).
        let resume = event_loop.timeout(LISTENER, ACCEPT_BACKOFF).expect("a timer for the listener");
        if let Err(e) = event_loop.reregister(&self.listener, LISTENER, EventSet::none(), PollOpt::edge()) {
            // Still armed, then: its next event retries the accept, no timer needed.
            eprintln!("pausing the listener: {e}");
            event_loop.clear_timeout(resume);
        }
    }

    /// Moves bytes socket -> ring -> socket until neither direction can make progress.
    fn pump(&mut self, event_loop: &mut EventLoop<EchoServer>, token: Token) -> io::Result<()> {
        let Some(connection) = self.connections.get_mut(token) else { return Ok(()) };
        loop {
            let mut progressed = false;
            if !connection.ring.is_empty() {
                if let Some(n) = connection.stream.try_write_buf(&mut connection.ring)? {
                    self.bytes_echoed += n as u64;
                    progressed = n > 0;
                }
            }
            if !connection.ring.is_full() && !connection.peer_finished {
                match connection.stream.try_read_buf_vectored(&mut connection.ring)? {
                    Some(0) => connection.peer_finished = true,
                    Some(_) => progressed = true,
                    None => {}
                }
            }
            if !progressed {
                break;
            }
        }
        if connection.peer_finished && connection.ring.is_empty() {
            self.close(event_loop, token);
        } else {
            self.reset_idle_timer(event_loop, token);
        }
        Ok(())
    }

    fn reset_idle_timer(&mut self, event_loop: &mut EventLoop<EchoServer>, token: Token) {
        let connection = &mut self.connections[token];
        if let Some(old) = connection.idle_timer.take() {
            event_loop.clear_timeout(old);
        }
        connection.idle_timer = event_loop.timeout(token, IDLE).ok();
    }

    fn close(&mut self, event_loop: &mut EventLoop<EchoServer>, token: Token) {
        if let Some(connection) = self.connections.remove(token) {
            if let Some(timer) = connection.idle_timer {
                event_loop.clear_timeout(timer);
            }
            // Dropping the stream closes it, which also removes it from epoll/kqueue; the
            // explicit deregister keeps any event of this iteration from reaching it.
            let _ = event_loop.deregister(&connection.stream);
        }
    }
}

/// A client: sends the pattern in 64 KiB writes while reading the echo back, then checks it.
fn run_client(addr: SocketAddr, seed: u8) -> io::Result<()> {
    let stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let pattern = move |i: usize| (i as u8).wrapping_mul(31).wrapping_add(seed);
    let mut reader = stream.try_clone()?;
    let checker = std::thread::spawn(move || -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut seen = 0;
        while seen < BYTES_PER_CLIENT {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed early"));
            }
            if let Some(bad) = (0..n).find(|&i| buf[i] != pattern(seen + i)) {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("wrong byte at {}", seen + bad)));
            }
            seen += n;
        }
        Ok(())
    });
    let mut writer = &stream;
    let chunk: Vec<u8> = (0..BYTES_PER_CLIENT).map(pattern).collect();
    for piece in chunk.chunks(64 * 1024) {
        writer.write_all(piece)?;
    }
    stream.shutdown(std::net::Shutdown::Write)?;
    checker.join().map_err(|_| io::Error::other("checker thread panicked"))?
}

fn main() -> io::Result<()> {
    let clients: usize = std::env::args().nth(1).map(|a| a.parse().expect("CLIENTS must be a number")).unwrap_or(16);
    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap())?;
    let addr = listener.local_addr()?;

    let mut config = EventLoopConfig::new();
    // An idle timer per connection, and the listener's resume timer.
    config.timer_capacity(MAX_CONNECTIONS + 1);
    let mut event_loop = EventLoop::configured(config)?;
    event_loop.register(&listener, LISTENER, EventSet::readable(), PollOpt::edge())?;

    let reports = event_loop.channel();
    for i in 0..clients {
        let reports = reports.clone();
        std::thread::spawn(move || {
            let result = run_client(addr, i as u8);
            if reports.send(Report::ClientDone(result)).is_err() {
                eprintln!("the loop is gone");
            }
        });
    }

    let mut server = EchoServer {
        listener,
        fd_reserve: FdReserve::new()?,
        connections: Slab::new_starting_at(Token(1), MAX_CONNECTIONS),
        clients_left: clients,
        bytes_echoed: 0,
        closed_idle: 0,
    };
    let start = Instant::now();
    event_loop.run(&mut server)?;
    let elapsed = start.elapsed().as_secs_f64();
    let mib = server.bytes_echoed as f64 / (1024.0 * 1024.0);
    println!(
        "{clients} clients, {mib:.0} MiB echoed in {elapsed:.2} s ({:.0} MiB/s); {} closed for idling, {} still open",
        mib / elapsed,
        server.closed_idle,
        server.connections.len()
    );
    if server.bytes_echoed != (clients * BYTES_PER_CLIENT) as u64 {
        return Err(io::Error::other("not every byte was echoed"));
    }
    Ok(())
}
