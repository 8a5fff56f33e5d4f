//! The event loop with readyio's own TCP types: an echo server whose connections are kept
//! in a slab keyed by token, serving clients on other threads until they hang up.

use readyio::tcp::{TcpListener, TcpStream};
use readyio::util::Slab;
use readyio::{EventLoop, EventSet, Handler, PollOpt, Token, TryRead, TryWrite};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);

struct Connection {
    stream: TcpStream,
    /// Bytes read but not yet written back (the peer may be slow to read).
    pending: Vec<u8>,
}

struct EchoServer {
    listener: TcpListener,
    /// Connections by token, from `Token(1)` on (`Token(0)` is the listener).
    connections: Slab<Connection>,
    served: usize,
    expected_clients: usize,
}

impl EchoServer {
    fn accept_all(&mut self, event_loop: &mut EventLoop<Self>) {
        while let Some((stream, _)) = self.listener.accept().unwrap() {
            let token = match self.connections.insert(Connection { stream, pending: Vec::new() }) {
                Ok(token) => token,
                Err(_full) => continue, // dropping the connection closes it
            };
            let stream = &self.connections[token].stream;
            event_loop.register(stream, token, EventSet::readable() | EventSet::hup(), PollOpt::edge()).unwrap();
        }
    }

    /// Reads everything available, echoes what it can, and asks for writable while data
    /// is pending. Returns false once the peer has gone.
    fn serve(&mut self, event_loop: &mut EventLoop<Self>, token: Token) -> bool {
        let conn = &mut self.connections[token];
        let mut buf = [0u8; 4096];
        let mut open = true;
        loop {
            match conn.stream.try_read(&mut buf) {
                Ok(Some(0)) => {
                    open = false;
                    break;
                }
                Ok(Some(n)) => conn.pending.extend_from_slice(&buf[..n]),
                Ok(None) => break,
                Err(_) => {
                    open = false;
                    break;
                }
            }
        }
        while !conn.pending.is_empty() {
            match conn.stream.try_write(&conn.pending) {
                Ok(Some(n)) => {
                    conn.pending.drain(..n);
                }
                Ok(None) => break,
                Err(_) => return false,
            }
        }
        let interest =
            if conn.pending.is_empty() { EventSet::readable() } else { EventSet::readable() | EventSet::writable() };
        event_loop.reregister(&conn.stream, token, interest | EventSet::hup(), PollOpt::edge()).unwrap();
        open
    }
}

impl Handler for EchoServer {
    type Timeout = ();
    type Message = ();

    fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, _: EventSet) {
        if token == LISTENER {
            self.accept_all(event_loop);
            return;
        }
        // A hang-up shows as EOF on the read that `serve` makes.
        if !self.serve(event_loop, token) {
            let conn = self.connections.remove(token).unwrap();
            event_loop.deregister(&conn.stream).unwrap();
            self.served += 1;
            if self.served == self.expected_clients {
                event_loop.shutdown();
            }
        }
    }
}

fn client(addr: SocketAddr, id: u8) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for round in 0..50usize {
        // Sizes from 1 byte to 64 KiB, so some echoes need more than one write.
        let len = 1 + (round * 1327 * (id as usize + 1)) % 65_536;
        let msg: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_add(id)).collect();
        stream.write_all(&msg).unwrap();
        let mut echoed = vec![0u8; len];
        stream.read_exact(&mut echoed).unwrap();
        assert_eq!(echoed, msg, "client {id} round {round}");
    }
}

#[test]
fn an_echo_server_keyed_by_a_slab_serves_concurrent_clients_until_they_hang_up() {
    const CLIENTS: usize = 6;
    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.register(&listener, LISTENER, EventSet::readable(), PollOpt::edge()).unwrap();
    let clients: Vec<_> = (0..CLIENTS).map(|id| thread::spawn(move || client(addr, id as u8))).collect();
    let mut server =
        EchoServer { listener, connections: Slab::new_starting_at(Token(1), 16), served: 0, expected_clients: CLIENTS };
    let start = Instant::now();
    while server.served < CLIENTS {
        event_loop.run_once(&mut server, Some(1000)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(30), "echo test took too long");
    }
    clients.into_iter().for_each(|c| c.join().expect("client failed"));
    assert!(server.connections.is_empty(), "every connection was removed after its hang-up");
}

#[test]
fn a_client_sees_hup_after_the_server_drops_the_accepted_socket() {
    struct Watch {
        listener: TcpListener,
        client_events: Option<EventSet>,
    }
    impl Handler for Watch {
        type Timeout = ();
        type Message = ();
        fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, events: EventSet) {
            match token {
                Token(0) => drop(self.listener.accept().unwrap()),
                Token(1) => {
                    self.client_events = Some(events);
                    event_loop.shutdown();
                }
                _ => unreachable!(),
            }
        }
    }
    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.register(&listener, Token(0), EventSet::readable(), PollOpt::edge()).unwrap();
    let client = TcpStream::connect(&addr).unwrap();
    event_loop.register(&client, Token(1), EventSet::readable() | EventSet::hup(), PollOpt::edge()).unwrap();
    let mut handler = Watch { listener, client_events: None };
    let start = Instant::now();
    while handler.client_events.is_none() {
        event_loop.run_once(&mut handler, Some(1000)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(10));
    }
    assert!(handler.client_events.unwrap().is_hup(), "got {:?}", handler.client_events);
}
