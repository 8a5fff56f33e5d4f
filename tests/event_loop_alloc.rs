//! Zero allocations per iteration: once warmed up, a loop serving TCP sockets, setting,
//! clearing and firing timeouts and receiving messages from another thread allocates
//! nothing. Counted by a global allocator; its own binary without libtest harness (see
//! Cargo.toml), so nothing else allocates.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use readyio::unix::EventedFd;
use readyio::{EventLoop, EventSet, Handler, PollOpt, Timeout, Token};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

#[global_allocator]
static ALLOC: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc;

const PAIRS: usize = 4;
/// The value of timers that are never cleared.
const FIRE_ONLY: usize = usize::MAX;

/// Ping-pong over `PAIRS` loopback connections: client `2i` writes, server `2i + 1` echoes.
struct Busy {
    streams: Vec<TcpStream>,
    buf: [u8; 64],
    pending: [Option<Timeout>; 8],
    next_timer: usize,
    ready: u64,
    messages: u64,
    timers_fired: u64,
    timers_cleared: u64,
}

impl Handler for Busy {
    type Timeout = usize;
    type Message = u64;

    fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, _: EventSet) {
        self.ready += 1;
        let stream = &mut self.streams[token.0];
        loop {
            match stream.read(&mut self.buf) {
                Ok(0) => return,
                Ok(n) => stream.write_all(&self.buf[..n]).unwrap(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        // Keep timers moving: replace one pending timer per event, clearing the old one.
        let slot = self.next_timer % self.pending.len();
        self.next_timer += 1;
        if let Some(old) = self.pending[slot].take() {
            if event_loop.clear_timeout(old) {
                self.timers_cleared += 1;
            }
        }
        let delay = Duration::from_micros(200 + (self.next_timer as u64 % 7) * 100);
        self.pending[slot] = Some(event_loop.timeout(slot, delay).unwrap());
        // And, whatever the machine's speed, some that surely fire and some surely cleared.
        if self.next_timer % 16 == 0 {
            event_loop.timeout(FIRE_ONLY, Duration::from_micros(50)).unwrap();
            let far = event_loop.timeout(FIRE_ONLY, Duration::from_secs(60)).unwrap();
            if event_loop.clear_timeout(far) {
                self.timers_cleared += 1;
            }
        }
    }

    fn notify(&mut self, _: &mut EventLoop<Self>, _: u64) {
        self.messages += 1;
    }

    fn timeout(&mut self, _: &mut EventLoop<Self>, slot: usize) {
        self.timers_fired += 1;
        if slot != FIRE_ONLY {
            self.pending[slot] = None;
        }
    }
}

fn a_warmed_up_loop_allocates_nothing_per_iteration() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut event_loop = EventLoop::new().unwrap();
    let mut streams = Vec::new();
    for _ in 0..PAIRS {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        for stream in [client, server] {
            stream.set_nonblocking(true).unwrap();
            stream.set_nodelay(true).unwrap();
            streams.push(stream);
        }
    }
    for (i, stream) in streams.iter().enumerate() {
        event_loop.register(&EventedFd(&stream.as_raw_fd()), Token(i), EventSet::readable(), PollOpt::edge()).unwrap();
    }
    for pair in 0..PAIRS {
        streams[2 * pair].write_all(&[pair as u8; 64]).unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let sender = event_loop.channel();
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Full is fine: the point is a steady trickle of cross-thread sends.
                let _ = sender.send(i);
                i += 1;
                thread::sleep(Duration::from_micros(50));
            }
        })
    };

    let mut handler = Busy {
        streams,
        buf: [0; 64],
        pending: [None; 8],
        next_timer: 0,
        ready: 0,
        messages: 0,
        timers_fired: 0,
        timers_cleared: 0,
    };
    for _ in 0..500 {
        event_loop.run_once(&mut handler, Some(100)).unwrap();
    }
    let (ready, messages, fired, cleared) =
        (handler.ready, handler.messages, handler.timers_fired, handler.timers_cleared);
    let before = counting_alloc::allocations();
    const ITERATIONS: u64 = 5_000;
    for _ in 0..ITERATIONS {
        event_loop.run_once(&mut handler, Some(100)).unwrap();
    }
    let allocations = counting_alloc::allocations() - before;
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();

    assert!(handler.ready - ready > 1000, "sockets were served");
    assert!(handler.messages - messages > 10, "messages arrived from another thread");
    assert!(handler.timers_fired - fired > 0, "timers fired");
    assert!(handler.timers_cleared - cleared > 0, "timers were cleared");
    assert_eq!(allocations, 0, "{allocations} allocations in {ITERATIONS} iterations");
}

/// Runs without libtest (see Cargo.toml): nothing but this test may allocate meanwhile.
fn main() {
    a_warmed_up_loop_allocates_nothing_per_iteration();
    println!("test a_warmed_up_loop_allocates_nothing_per_iteration ... ok");
}
