//! The HTTP benchmark's mio 1.x contender: the example server's HTTP handling
//! (`examples/http/`, through `readyio_compare::http_contender`: the same parser, session,
//! `RingBuf`s, pump and response bytes) on mio's `Poll`, one thread, the way a mio user
//! writes it: a `slab::Slab` of connections, edge-triggered registrations, and idle
//! deadlines checked by a sweep once a second (mio has no timers).
//!
//! ```sh
//! cargo run --release -p readyio-compare --bin http_mio -- --addr 127.0.0.1:0
//! ```
//!
//! It prints `listening on http://ADDR`. `ci/bench-http.sh` runs it beside
//! `examples/http_server.rs` (readyio) and `http_tokio`.

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use readyio::buf::RingBuf;
use readyio::TryWrite;
use readyio_compare::http_contender::session::{CommonHeaders, SERVICE_UNAVAILABLE};
use readyio_compare::http_contender::{listen_backlog, parse_arguments, Connection, ACCEPT_RETRY};
use std::io;
use std::net::Shutdown;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(usize::MAX - 1);
/// How often idle deadlines are checked.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

struct Client {
    stream: TcpStream,
    connection: Connection,
}

/// Closes a connection and keeps its buffers for the next one.
fn close(clients: &mut slab::Slab<Client>, poll: &Poll, spare_buffers: &mut Vec<(RingBuf, RingBuf)>, key: usize) {
    if let Some(mut client) = clients.try_remove(key) {
        let _ = poll.registry().deregister(&mut client.stream);
        spare_buffers.push(client.connection.into_buffers());
    }
}

fn main() -> io::Result<()> {
    let args = parse_arguments("http_mio");
    let mut listener = TcpListener::bind(args.addr)?;
    listen_backlog(&listener)?;
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on http://{} (mio)", listener.local_addr()?);

    let mut clients: slab::Slab<Client> = slab::Slab::with_capacity(args.max_connections);
    let mut spare_buffers: Vec<(RingBuf, RingBuf)> = Vec::new();
    let mut common = CommonHeaders::new(None);
    let mut next_sweep = Instant::now() + SWEEP_EVERY;
    let mut accept_retry_at: Option<Instant> = None;
    let mut to_close: Vec<usize> = Vec::new();
    let shutdown = |stream: &&TcpStream| stream.shutdown(Shutdown::Write);
    loop {
        let wake_at = accept_retry_at.map_or(next_sweep, |retry| retry.min(next_sweep));
        match poll.poll(&mut events, Some(wake_at.saturating_duration_since(Instant::now()))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let mut accept_now = accept_retry_at.is_some_and(|retry| Instant::now() >= retry);
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_now = true;
                continue;
            }
            let key = event.token().0;
            let Some(client) = clients.get_mut(key) else { continue };
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                client.connection.mark_readable(event.is_read_closed() || event.is_error());
            }
            common.refresh();
            match client.connection.drive(&client.stream, shutdown, &common, args.idle_timeout) {
                Ok(true) => {}
                Ok(false) | Err(_) => to_close.push(key),
            }
        }
        for key in to_close.drain(..) {
            close(&mut clients, &poll, &mut spare_buffers, key);
        }
        if accept_now {
            accept_retry_at = None;
            loop {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        if clients.len() >= args.max_connections {
                            let _ = stream.try_write(SERVICE_UNAVAILABLE);
                            continue;
                        }
                        let _ = stream.set_nodelay(true);
                        let entry = clients.vacant_entry();
                        let token = Token(entry.key());
                        if poll
                            .registry()
                            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                            .is_err()
                        {
                            continue;
                        }
                        let connection = Connection::new(spare_buffers.pop(), args.idle_timeout);
                        entry.insert(Client { stream, connection });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) => {
                    }
                    Err(e) => {
                        eprintln!("http_mio: accept failed ({e}); retrying in {ACCEPT_RETRY:?}");
                        accept_retry_at = Some(Instant::now() + ACCEPT_RETRY);
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        if now >= next_sweep {
            next_sweep = now + SWEEP_EVERY;
            to_close.extend(clients.iter().filter(|(_, c)| now >= c.connection.deadline).map(|(key, _)| key));
            for key in to_close.drain(..) {
                close(&mut clients, &poll, &mut spare_buffers, key);
            }
        }
    }
}
