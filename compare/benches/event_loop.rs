//! TCP ping-pong through `EventLoop` against raw epoll (libc), mio 1.x, and readyio's bare
//! `Poll`: K loopback connections, both ends served by the one poller under test, one
//! 64-byte message in flight per connection; each received message is echoed back.
//! Reports ns per message (one read of 64 bytes plus one write) and the ratio to raw epoll.
//!
//! Every contender uses std's `TcpStream` for the reads and writes, edge-triggered read
//! interest (raw epoll requests `EPOLLIN | EPOLLRDHUP | EPOLLET`, exactly what readyio and
//! mio request for it), and reads until it has the 64 bytes or `WouldBlock`, so only the
//! polling layer differs. Contenders run interleaved, in an order rotated every sample.
//! `READYIO_BENCH_QUICK=1` runs a few seconds.
// Its floor is raw epoll, so it measures on Linux only; elsewhere it compiles to a stub.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

mod support;

use readyio::unix::EventedFd;
use readyio::{EventLoop, EventSet, Handler, Poll, PollOpt, Token};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Instant;
use support::counting_alloc::{allocations, CountingAlloc};
use support::{median, print_table, Row};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const MSG: usize = 64;

fn quick() -> bool {
    std::env::var_os("READYIO_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// `2 * k` connected, non-blocking, no-delay streams: `2i` and `2i + 1` are the two ends.
fn pairs(k: usize) -> Vec<TcpStream> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut streams = Vec::with_capacity(2 * k);
    for _ in 0..k {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        for s in [client, server] {
            s.set_nodelay(true).unwrap();
            s.set_nonblocking(true).unwrap();
            streams.push(s);
        }
    }
    streams
}

/// The per-connection work every contender does on a readable event.
struct PingPong {
    streams: Vec<TcpStream>,
    have: Vec<usize>,
    buf: [u8; MSG],
    messages: u64,
}

impl PingPong {
    fn new(k: usize) -> PingPong {
        let streams = pairs(k);
        let have = vec![0; streams.len()];
        PingPong { streams, have, buf: [7; MSG], messages: 0 }
    }

    fn start(&mut self) {
        for i in (0..self.streams.len()).step_by(2) {
            self.streams[i].write_all(&self.buf).unwrap();
        }
    }

    /// Reads what is there (up to one message) and echoes a complete message.
    fn on_readable(&mut self, i: usize) {
        while self.have[i] < MSG {
            let want = MSG - self.have[i];
            match self.streams[i].read(&mut self.buf[..want]) {
                Ok(0) => panic!("peer closed"),
                Ok(n) => self.have[i] += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => panic!("read: {e}"),
            }
        }
        self.have[i] = 0;
        self.messages += 1;
        self.streams[i].write_all(&self.buf).unwrap();
    }
}

/// Nanoseconds per message and allocations per message of one run.
type Sample = (f64, f64);

fn finish(start: Instant, allocs_before: u64, messages: u64) -> Sample {
    let ns = start.elapsed().as_nanos() as f64 / messages as f64;
    (ns, (allocations() - allocs_before) as f64 / messages as f64)
}

#[cfg(target_os = "linux")]
fn raw_epoll(k: usize, messages: u64) -> Sample {
    let mut pp = PingPong::new(k);
    // SAFETY: plain libc calls on fds owned here (the epoll fd is closed at the end).
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    for (i, s) in pp.streams.iter().enumerate() {
        // What readyio (src/sys/epoll.rs) and mio request for edge-triggered read interest.
        let mut ev =
            libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32, u64: i as u64 };
        // SAFETY: `ev` outlives the call; the fd is open.
        assert_eq!(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, s.as_raw_fd(), &mut ev) }, 0);
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    pp.start();
    let (start, allocs) = (Instant::now(), allocations());
    while pp.messages < messages {
        // SAFETY: `events` has room for 1024 entries.
        let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), 1024, -1) };
        for ev in &events[..n.max(0) as usize] {
            pp.on_readable(ev.u64 as usize);
        }
    }
    let sample = finish(start, allocs, pp.messages);
    // SAFETY: closing the epoll fd created above.
    unsafe { libc::close(epfd) };
    sample
}

fn mio_poll(k: usize, messages: u64) -> Sample {
    let mut pp = PingPong::new(k);
    let mut poll = mio::Poll::new().unwrap();
    for (i, s) in pp.streams.iter().enumerate() {
        let fd = s.as_raw_fd();
        poll.registry().register(&mut mio::unix::SourceFd(&fd), mio::Token(i), mio::Interest::READABLE).unwrap();
    }
    let mut events = mio::Events::with_capacity(1024);
    pp.start();
    let (start, allocs) = (Instant::now(), allocations());
    while pp.messages < messages {
        poll.poll(&mut events, None).unwrap();
        for ev in events.iter() {
            pp.on_readable(ev.token().0);
        }
    }
    finish(start, allocs, pp.messages)
}

fn readyio_poll(k: usize, messages: u64) -> Sample {
    let mut pp = PingPong::new(k);
    let mut poll = Poll::new().unwrap();
    for (i, s) in pp.streams.iter().enumerate() {
        poll.register(&EventedFd(&s.as_raw_fd()), Token(i), EventSet::readable(), PollOpt::edge()).unwrap();
    }
    pp.start();
    let (start, allocs) = (Instant::now(), allocations());
    while pp.messages < messages {
        let n = poll.poll(None).unwrap();
        for i in 0..n {
            if let Some(ev) = poll.get_event(i) {
                pp.on_readable(ev.token.0);
            }
        }
    }
    finish(start, allocs, pp.messages)
}

struct LoopPingPong {
    pp: PingPong,
    want: u64,
}

impl Handler for LoopPingPong {
    type Timeout = ();
    type Message = ();
    fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, _: EventSet) {
        self.pp.on_readable(token.0);
        if self.pp.messages >= self.want {
            event_loop.shutdown();
        }
    }
}

fn readyio_event_loop(k: usize, messages: u64) -> Sample {
    let mut handler = LoopPingPong { pp: PingPong::new(k), want: messages };
    let mut event_loop = EventLoop::new().unwrap();
    for (i, s) in handler.pp.streams.iter().enumerate() {
        event_loop.register(&EventedFd(&s.as_raw_fd()), Token(i), EventSet::readable(), PollOpt::edge()).unwrap();
    }
    handler.pp.start();
    let (start, allocs) = (Instant::now(), allocations());
    event_loop.run(&mut handler).unwrap();
    finish(start, allocs, handler.pp.messages)
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("benches/event_loop.rs compares against raw epoll and runs on Linux only");
}

#[cfg(target_os = "linux")]
fn main() {
    let samples = if quick() { 3 } else { 7 };
    type Run = fn(usize, u64) -> Sample;
    let contenders: [(&str, Run); 4] = [
        ("raw epoll (libc)", raw_epoll),
        ("readyio EventLoop", readyio_event_loop),
        ("readyio Poll", readyio_poll),
        ("mio 1.x Poll", mio_poll),
    ];
    for (k, messages) in
        [(1usize, if quick() { 10_000u64 } else { 100_000 }), (256, if quick() { 50_000 } else { 400_000 })]
    {
        let mut ns: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
        let mut allocs: Vec<f64> = vec![0.0; contenders.len()];
        for sample in 0..samples {
            // A different contender goes first each sample, so none keeps a position that
            // periodic noise could favour.
            for turn in 0..contenders.len() {
                let i = (sample + turn) % contenders.len();
                let (t, a) = (contenders[i].1)(k, messages);
                ns[i].push(t);
                allocs[i] = allocs[i].max(a);
            }
        }
        let rows: Vec<Row> = contenders
            .iter()
            .enumerate()
            .map(|(i, (name, _))| Row {
                name: name.to_string(),
                median_ns: median(&mut ns[i]),
                allocs_per_op: allocs[i],
            })
            .collect();
        print_table(
            &format!("TCP ping-pong, K = {k} connections, {MSG}-byte messages, {messages} messages per run (median of {samples}, order rotated per sample)"),
            "ns/message",
            "raw epoll (libc)",
            &rows,
        );
    }
}
