//! readyio's main demonstration: TCP ping-pong over 127.0.0.1 on one thread.
//!
//! `PAIRS` client/server connection pairs bounce a 64-byte message back and forth through
//! one `Poll` (edge-triggered) for a fixed time, then the program prints round trips per
//! second and checks every byte that came back.
//!
//! ```sh
//! cargo run --release --example ping_pong            # 1 pair, 2 seconds
//! cargo run --release --example ping_pong -- 64 5    # 64 pairs, 5 seconds
//! ```

use readyio::tcp::{TcpListener, TcpStream};
use readyio::{EventSet, Poll, PollOpt, Token, TryRead, TryWrite};
use std::io;
use std::time::{Duration, Instant};

const MESSAGE_LEN: usize = 64;

/// One end of a connection and how much of the current message it has seen.
struct Endpoint {
    stream: TcpStream,
    received: usize,
    buf: [u8; MESSAGE_LEN],
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let pairs: usize = args.next().map(|a| a.parse().expect("PAIRS must be a number")).unwrap_or(1);
    let seconds: u64 = args.next().map(|a| a.parse().expect("SECONDS must be a number")).unwrap_or(2);

    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap())?;
    let addr = listener.local_addr()?;
    let mut poll = Poll::with_capacity(2 * pairs + 1)?;

    // Endpoint 2i is pair i's client, 2i + 1 its server side; the token is the index.
    let mut endpoints = Vec::with_capacity(2 * pairs);
    for _ in 0..pairs {
        let client = TcpStream::connect(&addr)?;
        let server = loop {
            if let Some((stream, _)) = listener.accept()? {
                break stream;
            }
            std::thread::yield_now();
        };
        for stream in [client, server] {
            stream.set_nodelay(true)?;
            let token = Token(endpoints.len());
            poll.register(&stream, token, EventSet::readable(), PollOpt::edge())?;
            endpoints.push(Endpoint { stream, received: 0, buf: [0; MESSAGE_LEN] });
        }
    }

    let message: [u8; MESSAGE_LEN] = std::array::from_fn(|i| i as u8);
    for pair in 0..pairs {
        write_all(&mut endpoints[2 * pair].stream, &message)?;
    }

    let mut round_trips: u64 = 0;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        poll.poll(Some(1000))?;
        for event in poll.events() {
            let index = event.token.0;
            let endpoint = &mut endpoints[index];
            // Edge-triggered: read until WouldBlock.
            while let Some(n) = endpoint.stream.try_read(&mut endpoint.buf[endpoint.received..])? {
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed mid-benchmark"));
                }
                endpoint.received += n;
                if endpoint.received < MESSAGE_LEN {
                    continue;
                }
                endpoint.received = 0;
                if endpoint.buf != message {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "message corrupted in transit"));
                }
                if index % 2 == 0 {
                    round_trips += 1;
                }
                write_all(&mut endpoint.stream, &message)?;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{pairs} pair(s), {MESSAGE_LEN}-byte messages, {elapsed:.1} s: {round_trips} round trips, {:.0} round trips/s",
        round_trips as f64 / elapsed
    );
    Ok(())
}

/// A 64-byte write to an idle loopback socket completes at once; anything else is a bug here.
fn write_all(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    match stream.try_write(bytes)? {
        Some(n) if n == bytes.len() => Ok(()),
        _ => Err(io::Error::new(io::ErrorKind::WriteZero, "short write of a 64-byte message")),
    }
}
