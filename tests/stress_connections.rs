//! Many concurrent TCP connections on one `EventLoop`, every byte verified: an edge-triggered
//! echo server on its own thread, and on the test thread a client driving every connection
//! through one `Poll`. Every connection stays open until every echo is checked, so the
//! server holds them all at once. One client in a hundred resets its connection
//! (`SO_LINGER` 0) halfway through, so the server also meets peer resets under load, and
//! they must not disturb anyone else.
//!
//! How many: `READYIO_STRESS_CONNECTIONS` (see tests/support/stress.rs): 128 by default,
//! `max` for as many as the fd limit allows once the soft limit is raised to the hard one
//! (what `ci/stress.sh` runs), or a number (10,000 on a developer run).

#[path = "support/stress.rs"]
mod stress;

use readyio::tcp::{TcpListener, TcpStream};
use readyio::util::Slab;
use readyio::{EventLoop, EventLoopConfig, EventSet, Handler, Poll, PollOpt, Token, TryRead, TryWrite};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);
/// Bytes each client sends and expects back.
const BYTES_PER_CONNECTION: usize = 32 * 1024;
/// One client in this many resets its connection halfway.
const RESET_EVERY: usize = 100;
/// Connections opened before the client waits for them to be established.
const CONNECT_BATCH: usize = 512;
/// Fds kept for everything else the process has open.
const FDS_SPARED: usize = 64;

fn pattern(connection: usize, offset: usize) -> u8 {
    (offset.wrapping_mul(31) ^ connection.wrapping_mul(7919)) as u8
}

struct Connection {
    stream: TcpStream,
    /// Read but not yet written back (the client was slow to read).
    pending: Vec<u8>,
}

struct EchoServer {
    listener: TcpListener,
    connections: Slab<Connection>,
    expected: usize,
    closed: usize,
    reset: usize,
    peak_open: usize,
    bytes_echoed: u64,
}

impl EchoServer {
    fn accept_all(&mut self, event_loop: &mut EventLoop<Self>) {
        while let Some((stream, _)) = self.listener.accept().expect("accept") {
            let connection = Connection { stream, pending: Vec::new() };
            let token =
                self.connections.insert(connection).unwrap_or_else(|_| panic!("more connections than expected"));
            let stream = &self.connections[token].stream;
            event_loop.register(stream, token, EventSet::readable() | EventSet::writable(), PollOpt::edge()).unwrap();
            self.peak_open = self.peak_open.max(self.connections.len());
        }
    }

    /// Echoes until the socket would block; `Ok(false)` once the client has closed.
    fn serve(&mut self, token: Token) -> io::Result<bool> {
        let connection = &mut self.connections[token];
        let mut buf = [0u8; 16 * 1024];
        loop {
            while !connection.pending.is_empty() {
                match connection.stream.try_write(&connection.pending)? {
                    Some(n) => {
                        connection.pending.drain(..n);
                        self.bytes_echoed += n as u64;
                    }
                    None => return Ok(true),
                }
            }
            match connection.stream.try_read(&mut buf)? {
                Some(0) => return Ok(false),
                Some(n) => connection.pending.extend_from_slice(&buf[..n]),
                None => return Ok(true),
            }
        }
    }

    fn close(&mut self, event_loop: &mut EventLoop<Self>, token: Token) {
        let connection = self.connections.remove(token).expect("an open connection");
        event_loop.deregister(&connection.stream).unwrap();
        self.closed += 1;
        if self.closed == self.expected {
            event_loop.shutdown();
        }
    }
}

impl Handler for EchoServer {
    type Timeout = ();
    type Message = ();

    fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, _: EventSet) {
        if token == LISTENER {
            return self.accept_all(event_loop);
        }
        match self.serve(token) {
            Ok(true) => {}
            Ok(false) => self.close(event_loop, token),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                self.reset += 1;
                self.close(event_loop, token);
            }
            Err(e) => panic!("server connection {token:?}: {e}"),
        }
    }
}

struct Client {
    stream: TcpStream,
    sent: usize,
    received: usize,
    resets_halfway: bool,
    finished: bool,
}

/// Sends SO_LINGER {on, 0}: closing then resets the connection instead of ending it.
fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket and a `linger` struct of the size passed.
    let ret = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(ret, 0, "setsockopt(SO_LINGER)");
}

/// Drives one client connection as far as it goes without blocking.
fn drive(id: usize, client: &mut Client) {
    let mut buf = [0u8; 16 * 1024];
    while client.sent < BYTES_PER_CONNECTION {
        let chunk: Vec<u8> =
            (client.sent..BYTES_PER_CONNECTION.min(client.sent + 8192)).map(|i| pattern(id, i)).collect();
        match client.stream.try_write(&chunk).expect("client write") {
            Some(n) => client.sent += n,
            None => break,
        }
        if client.resets_halfway && client.sent >= BYTES_PER_CONNECTION / 2 {
            set_linger_zero(&client.stream);
            client.finished = true;
            return;
        }
    }
    while client.received < BYTES_PER_CONNECTION {
        match client.stream.try_read(&mut buf).expect("client read") {
            Some(0) => panic!("connection {id}: the server closed after {} bytes", client.received),
            Some(n) => {
                for (i, &byte) in buf[..n].iter().enumerate() {
                    let offset = client.received + i;
                    assert_eq!(byte, pattern(id, offset), "connection {id}: wrong byte at {offset}");
                }
                client.received += n;
            }
            None => break,
        }
    }
    client.finished = client.received == BYTES_PER_CONNECTION;
}

fn run_clients(addr: SocketAddr, count: usize) -> usize {
    let mut poll = Poll::new().unwrap();
    let mut clients: Vec<Client> = Vec::with_capacity(count);
    let mut finished = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while finished < count {
        // Open the next batch once the previous one is under way, so that the server's
        // accept queue never overflows (a dropped SYN costs a 1 s retransmission).
        let opened = clients.len();
        let under_way = clients.iter().filter(|c| c.sent > 0 || c.finished).count();
        if opened < count && under_way + CONNECT_BATCH / 2 >= opened {
            for id in opened..count.min(opened + CONNECT_BATCH) {
                let stream = TcpStream::connect(&addr).expect("connect");
                poll.register(&stream, Token(id), EventSet::readable() | EventSet::writable(), PollOpt::edge())
                    .unwrap();
                let resets_halfway = id % RESET_EVERY == RESET_EVERY - 1;
                clients.push(Client { stream, sent: 0, received: 0, resets_halfway, finished: false });
            }
        }
        poll.poll(Some(100)).unwrap();
        let ready: Vec<Token> = poll.events().map(|e| e.token).collect();
        for Token(id) in ready {
            let client = &mut clients[id];
            if !client.finished {
                drive(id, client);
                if client.finished {
                    finished += 1;
                    if client.resets_halfway {
                        poll.deregister(&client.stream).unwrap();
                    }
                }
            }
        }
        assert!(Instant::now() < deadline, "{finished} of {count} connections done after 120 s");
    }
    let resets = clients.iter().filter(|c| c.resets_halfway).count();
    // Close everything at once: the server sees every end of stream (or reset) now.
    drop(clients);
    resets
}

#[test]
fn many_concurrent_connections_echo_every_byte() {
    let fd_limit = stress::raise_fd_limit();
    // Each connection costs two fds here: the client's and the server's.
    let most = fd_limit.saturating_sub(FDS_SPARED) / 2;
    let count = stress::size("CONNECTIONS", 128, most);
    assert!(count <= most, "{count} connections need {} fds; the limit is {fd_limit}", 2 * count + FDS_SPARED);

    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let mut config = EventLoopConfig::new();
        config.timer_capacity(0);
        let mut event_loop = EventLoop::configured(config).unwrap();
        event_loop.register(&listener, LISTENER, EventSet::readable(), PollOpt::edge()).unwrap();
        let mut server = EchoServer {
            listener,
            connections: Slab::new_starting_at(Token(1), count),
            expected: count,
            closed: 0,
            reset: 0,
            peak_open: 0,
            bytes_echoed: 0,
        };
        event_loop.run(&mut server).unwrap();
        server
    });

    let start = Instant::now();
    let resets = run_clients(addr, count);
    let server = server.join().expect("the server failed");
    let elapsed = start.elapsed();
    assert_eq!(server.closed, count);
    assert!(server.connections.is_empty());
    assert_eq!(server.peak_open, count, "every connection was open at once");
    assert!(server.reset <= resets, "only the clients that reset did");
    let whole = (count - resets) * BYTES_PER_CONNECTION;
    assert!(server.bytes_echoed >= whole as u64, "every byte of the whole connections echoed");
    println!(
        "{count} concurrent connections ({resets} reset halfway), {:.0} MiB echoed and verified in {:.2} s",
        server.bytes_echoed as f64 / (1024.0 * 1024.0),
        elapsed.as_secs_f64()
    );
}
