//! Poll benchmark: readyio's `Poll` beside raw epoll (the floor, through the `libc` crate),
//! mio 1.x and polling 3.x, all in one process with interleaved samples.
//!
//! Workloads:
//! * `empty poll`: one poll with timeout 0 on a poller with nothing registered (ns per poll);
//! * `ping-pong K=1` and `K=256`: K connected TCP pairs on 127.0.0.1, one thread. In each
//!   round every client writes 64 bytes, its server reads them and echoes them back, the
//!   client reads the echo (ns per round trip = round time / K).
//!
//! Every contender makes the same syscalls per round trip: `recv` and `send(MSG_NOSIGNAL)`
//! (what readyio's `TcpStream`, std's and so mio's and polling's streams call; raw epoll
//! calls them through libc) and one wait per batch. Sockets are registered edge-triggered
//! (mio has no other mode) for reading only, and one read per event drains the socket
//! because a stream read that returns less than the buffer size has emptied it (epoll(7)).
//!
//! Run: `cargo bench --bench poll` (add `READYIO_BENCH_QUICK=1` for a smoke run).
//!
//! Environment:
//! * `READYIO_BENCH_QUICK=1`: few, short samples (a smoke run of a few seconds);
//! * `READYIO_BENCH_ONLY=NAME`: run only the contender `NAME` (`raw-epoll`, `readyio`,
//!   `mio`, `polling`) beside nothing else;
//! * `READYIO_BENCH_STRACE_ROUNDS=N` (with `READYIO_BENCH_PAIRS=K`, default 1): run exactly N
//!   ping-pong rounds of K pairs for each selected contender and exit;
//!   `READYIO_BENCH_STRACE_POLLS=N`: run exactly N empty polls and exit. Both are used by
//!   `ci/syscalls-per-roundtrip.sh` under `strace -c`.
// Its floor is raw epoll, so it measures on Linux only; elsewhere it compiles to a stub.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

mod support;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use support::counting_alloc::{allocations, CountingAlloc};
use support::{median, print_table, Row};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Bytes each client sends per round trip.
const MESSAGE_LEN: usize = 64;
/// Events fetched per poll, the same for every contender.
const EVENTS_CAPACITY: usize = 1024;
/// How long one wait in the ping-pong may block before the run is declared stalled.
const STALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The contenders' names, in table order; the first is the baseline.
const CONTENDERS: [&str; 4] = ["raw-epoll", "readyio", "mio", "polling"];

/// A workload one contender runs: `run(ops)` performs `ops` operations.
trait Workload {
    fn run(&mut self, ops: u64);
}

// ---------------------------------------------------------------------------------------
// Ping-pong state shared by every contender: the pairs and the per-round bookkeeping.
// ---------------------------------------------------------------------------------------

/// A non-blocking stream as one contender reads and writes it.
trait Stream {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write_some(&self, buf: &[u8]) -> io::Result<usize>;
}

/// K client/server pairs. Token `i` is server `i`, token `K + i` is client `i`.
struct Pairs<S> {
    clients: Vec<S>,
    servers: Vec<S>,
    /// Echo bytes each client still waits for in this round.
    awaited: Vec<usize>,
    /// Clients whose echo has not fully arrived in this round.
    incomplete: usize,
    buf: Box<[u8; 4096]>,
}

impl<S: Stream> Pairs<S> {
    fn new(pairs: Vec<(TcpStream, TcpStream)>, wrap: impl Fn(TcpStream) -> S) -> Pairs<S> {
        let k = pairs.len();
        let (clients, servers) = pairs.into_iter().map(|(c, s)| (wrap(c), wrap(s))).unzip();
        Pairs { clients, servers, awaited: vec![0; k], incomplete: 0, buf: Box::new([0; 4096]) }
    }

    fn len(&self) -> usize {
        self.clients.len()
    }

    /// Every client sends its message.
    fn start_round(&mut self) {
        let message = [0x5a_u8; MESSAGE_LEN];
        for (client, awaited) in self.clients.iter().zip(&mut self.awaited) {
            let n = client.write_some(&message).expect("client write");
            assert_eq!(n, MESSAGE_LEN, "a 64-byte write to an idle loopback socket is whole");
            *awaited = MESSAGE_LEN;
        }
        self.incomplete = self.clients.len();
    }

    fn round_done(&self) -> bool {
        self.incomplete == 0
    }

    /// Handles a readable event for `token`: a server echoes, a client takes its echo.
    fn on_readable(&mut self, token: usize) {
        let k = self.len();
        if token < k {
            let server = &self.servers[token];
            if let Some(n) = read_nonblocking(server, &mut self.buf[..]) {
                let written = server.write_some(&self.buf[..n]).expect("server write");
                assert_eq!(written, n, "echo fits the idle loopback socket");
            }
        } else {
            let i = token - k;
            if let Some(n) = read_nonblocking(&self.clients[i], &mut self.buf[..]) {
                self.awaited[i] -= n;
                if self.awaited[i] == 0 {
                    self.incomplete -= 1;
                }
            }
        }
    }
}

/// One read; `None` for a spurious event. A full buffer would need another read to
/// drain an edge-triggered socket, which 64-byte messages never fill.
fn read_nonblocking<S: Stream>(stream: &S, buf: &mut [u8]) -> Option<usize> {
    match stream.read_some(buf) {
        Ok(0) => panic!("peer closed during the benchmark"),
        Ok(n) => {
            assert!(n < buf.len(), "64-byte messages never fill the read buffer");
            Some(n)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        Err(e) => panic!("read failed: {e}"),
    }
}

/// `k` connected loopback pairs (client, server), non-blocking, Nagle off.
fn connected_pairs(k: usize) -> Vec<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    (0..k)
        .map(|_| {
            let client = TcpStream::connect(addr).expect("connect");
            let (server, _) = listener.accept().expect("accept");
            for s in [&client, &server] {
                s.set_nodelay(true).expect("TCP_NODELAY");
                s.set_nonblocking(true).expect("O_NONBLOCK");
            }
            (client, server)
        })
        .collect()
}

fn stalled() -> ! {
    panic!("no event within {STALL_TIMEOUT:?}: the ping-pong stalled")
}

// ---------------------------------------------------------------------------------------
// Raw epoll through the libc crate: the floor.
// ---------------------------------------------------------------------------------------

#[cfg(target_os = "linux")]
struct RawEpoll {
    epfd: OwnedFd,
    events: Vec<libc::epoll_event>,
}

#[cfg(target_os = "linux")]
impl RawEpoll {
    fn new() -> RawEpoll {
        // SAFETY: plain syscall; a non-negative result is a new fd that we own.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(fd >= 0, "epoll_create1: {}", io::Error::last_os_error());
        // SAFETY: `fd` was just returned by epoll_create1 and is owned by nobody else.
        let epfd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        RawEpoll { epfd, events: Vec::with_capacity(EVENTS_CAPACITY) }
    }

    fn add_readable_edge(&self, fd: RawFd, data: u64) {
        let mut event =
            libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32, u64: data };
        // SAFETY: `event` outlives the call, which only reads it.
        let rc = unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) };
        assert_eq!(rc, 0, "epoll_ctl: {}", io::Error::last_os_error());
    }

    /// One `epoll_wait`; the fetched events are then in `self.events`.
    fn wait(&mut self, timeout_ms: i32) -> usize {
        self.events.clear();
        // SAFETY: the buffer has room for `capacity` events.
        let n = unsafe {
            libc::epoll_wait(self.epfd.as_raw_fd(), self.events.as_mut_ptr(), self.events.capacity() as i32, timeout_ms)
        };
        assert!(n >= 0, "epoll_wait: {}", io::Error::last_os_error());
        // SAFETY: the kernel initialised the first `n` (<= capacity) entries.
        unsafe { self.events.set_len(n as usize) };
        n as usize
    }
}

/// A socket read with `libc::recv` and written with `libc::send(MSG_NOSIGNAL)` on its raw
/// fd: the calls std (and so mio and polling here) make, and readyio's `TcpStream` too.
struct RawSocket(TcpStream);

impl Stream for RawSocket {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
        let n = unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
        let n = unsafe { libc::send(self.0.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

#[cfg(target_os = "linux")]
struct RawEpollEmpty(RawEpoll);

#[cfg(target_os = "linux")]
impl Workload for RawEpollEmpty {
    fn run(&mut self, ops: u64) {
        for _ in 0..ops {
            let n = self.0.wait(0);
            std::hint::black_box(self.0.events.iter().map(|e| e.u64).sum::<u64>() + n as u64);
        }
    }
}

#[cfg(target_os = "linux")]
struct RawEpollPingPong {
    epoll: RawEpoll,
    pairs: Pairs<RawSocket>,
}

#[cfg(target_os = "linux")]
impl RawEpollPingPong {
    fn new(pairs: Vec<(TcpStream, TcpStream)>) -> RawEpollPingPong {
        let epoll = RawEpoll::new();
        let pairs = Pairs::new(pairs, RawSocket);
        let k = pairs.len();
        for i in 0..k {
            epoll.add_readable_edge(pairs.servers[i].0.as_raw_fd(), i as u64);
            epoll.add_readable_edge(pairs.clients[i].0.as_raw_fd(), (k + i) as u64);
        }
        RawEpollPingPong { epoll, pairs }
    }
}

#[cfg(target_os = "linux")]
impl Workload for RawEpollPingPong {
    fn run(&mut self, rounds: u64) {
        for _ in 0..rounds {
            self.pairs.start_round();
            while !self.pairs.round_done() {
                if self.epoll.wait(STALL_TIMEOUT.as_millis() as i32) == 0 {
                    stalled();
                }
                for event in &self.epoll.events {
                    // Copy out of the packed struct before use.
                    let token = event.u64;
                    self.pairs.on_readable(token as usize);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// readyio.
// ---------------------------------------------------------------------------------------

/// A socket as readyio's `TcpStream`: `recv` and `send(MSG_NOSIGNAL)` through readyio's
/// sys layer.
struct ReadyioSocket(readyio::tcp::TcpStream);

impl Stream for ReadyioSocket {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }
}

fn readyio_socket(stream: TcpStream) -> ReadyioSocket {
    ReadyioSocket(readyio::tcp::TcpStream::from_std(stream).expect("TcpStream::from_std"))
}

struct ReadyioEmpty(readyio::Poll);

impl Workload for ReadyioEmpty {
    fn run(&mut self, ops: u64) {
        for _ in 0..ops {
            let n = self.0.poll(Some(0)).expect("poll");
            std::hint::black_box(self.0.events().map(|e| e.token.0).sum::<usize>() + n);
        }
    }
}

struct ReadyioPingPong {
    poll: readyio::Poll,
    pairs: Pairs<ReadyioSocket>,
}

impl ReadyioPingPong {
    fn new(pairs: Vec<(TcpStream, TcpStream)>) -> ReadyioPingPong {
        use readyio::{EventSet, PollOpt, Token};
        let mut poll = readyio::Poll::with_capacity(EVENTS_CAPACITY).expect("Poll::new");
        let pairs = Pairs::new(pairs, readyio_socket);
        let k = pairs.len();
        for i in 0..k {
            poll.register(&pairs.servers[i].0, Token(i), EventSet::readable(), PollOpt::edge()).expect("register");
            poll.register(&pairs.clients[i].0, Token(k + i), EventSet::readable(), PollOpt::edge()).expect("register");
        }
        ReadyioPingPong { poll, pairs }
    }
}

impl Workload for ReadyioPingPong {
    fn run(&mut self, rounds: u64) {
        for _ in 0..rounds {
            self.pairs.start_round();
            while !self.pairs.round_done() {
                if self.poll.poll_timeout(Some(STALL_TIMEOUT)).expect("poll") == 0 {
                    stalled();
                }
                for event in self.poll.events() {
                    self.pairs.on_readable(event.token.0);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// mio 1.x.
// ---------------------------------------------------------------------------------------

impl Stream for mio::net::TcpStream {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
}

struct MioEmpty(mio::Poll, mio::Events);

impl Workload for MioEmpty {
    fn run(&mut self, ops: u64) {
        for _ in 0..ops {
            self.0.poll(&mut self.1, Some(Duration::ZERO)).expect("poll");
            std::hint::black_box(self.1.iter().map(|e| e.token().0).sum::<usize>());
        }
    }
}

struct MioPingPong {
    poll: mio::Poll,
    events: mio::Events,
    pairs: Pairs<mio::net::TcpStream>,
}

impl MioPingPong {
    fn new(pairs: Vec<(TcpStream, TcpStream)>) -> MioPingPong {
        use mio::{Interest, Token};
        let poll = mio::Poll::new().expect("mio::Poll::new");
        let mut pairs = Pairs::new(pairs, mio::net::TcpStream::from_std);
        let k = pairs.len();
        for i in 0..k {
            poll.registry().register(&mut pairs.servers[i], Token(i), Interest::READABLE).expect("register");
            poll.registry().register(&mut pairs.clients[i], Token(k + i), Interest::READABLE).expect("register");
        }
        MioPingPong { poll, events: mio::Events::with_capacity(EVENTS_CAPACITY), pairs }
    }
}

impl Workload for MioPingPong {
    fn run(&mut self, rounds: u64) {
        for _ in 0..rounds {
            self.pairs.start_round();
            while !self.pairs.round_done() {
                self.poll.poll(&mut self.events, Some(STALL_TIMEOUT)).expect("poll");
                if self.events.is_empty() {
                    stalled();
                }
                for event in self.events.iter() {
                    self.pairs.on_readable(event.token().0);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// polling 3.x.
// ---------------------------------------------------------------------------------------

impl Stream for TcpStream {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
}

fn polling_events() -> polling::Events {
    polling::Events::with_capacity(NonZeroUsize::new(EVENTS_CAPACITY).expect("non-zero"))
}

struct PollingEmpty(polling::Poller, polling::Events);

impl Workload for PollingEmpty {
    fn run(&mut self, ops: u64) {
        for _ in 0..ops {
            // polling appends to the list: clear it as every caller must.
            self.1.clear();
            self.0.wait(&mut self.1, Some(Duration::ZERO)).expect("wait");
            std::hint::black_box(self.1.iter().map(|e| e.key).sum::<usize>());
        }
    }
}

struct PollingPingPong {
    poller: polling::Poller,
    events: polling::Events,
    pairs: Pairs<TcpStream>,
}

impl PollingPingPong {
    fn new(pairs: Vec<(TcpStream, TcpStream)>) -> PollingPingPong {
        use polling::{Event, PollMode};
        let poller = polling::Poller::new().expect("Poller::new");
        let pairs = Pairs::new(pairs, |s| s);
        let k = pairs.len();
        for i in 0..k {
            // SAFETY: the sockets live in `pairs` beside the poller and are never closed
            // while registered (both are dropped together, the poller first).
            unsafe {
                poller.add_with_mode(&pairs.servers[i], Event::readable(i), PollMode::Edge).expect("add");
                poller.add_with_mode(&pairs.clients[i], Event::readable(k + i), PollMode::Edge).expect("add");
            }
        }
        PollingPingPong { poller, events: polling_events(), pairs }
    }
}

impl Workload for PollingPingPong {
    fn run(&mut self, rounds: u64) {
        for _ in 0..rounds {
            self.pairs.start_round();
            while !self.pairs.round_done() {
                self.events.clear();
                if self.poller.wait(&mut self.events, Some(STALL_TIMEOUT)).expect("wait") == 0 {
                    stalled();
                }
                for event in self.events.iter() {
                    self.pairs.on_readable(event.key);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Driver.
// ---------------------------------------------------------------------------------------

fn empty_poll_contender(name: &str) -> Box<dyn Workload> {
    match name {
        #[cfg(target_os = "linux")]
        "raw-epoll" => Box::new(RawEpollEmpty(RawEpoll::new())),
        "readyio" => Box::new(ReadyioEmpty(readyio::Poll::with_capacity(EVENTS_CAPACITY).expect("Poll::new"))),
        "mio" => {
            Box::new(MioEmpty(mio::Poll::new().expect("mio::Poll::new"), mio::Events::with_capacity(EVENTS_CAPACITY)))
        }
        "polling" => Box::new(PollingEmpty(polling::Poller::new().expect("Poller::new"), polling_events())),
        other => panic!("unknown contender {other}"),
    }
}

fn ping_pong_contender(name: &str, k: usize) -> Box<dyn Workload> {
    let pairs = connected_pairs(k);
    match name {
        #[cfg(target_os = "linux")]
        "raw-epoll" => Box::new(RawEpollPingPong::new(pairs)),
        "readyio" => Box::new(ReadyioPingPong::new(pairs)),
        "mio" => Box::new(MioPingPong::new(pairs)),
        "polling" => Box::new(PollingPingPong::new(pairs)),
        other => panic!("unknown contender {other}"),
    }
}

/// How one workload is sampled.
struct Plan {
    samples: usize,
    /// Calls of `Workload::run` per sample...
    ops_per_sample: u64,
    /// ...each counting as this many operations in the per-op figures (K for ping-pong).
    ops_per_call: u64,
}

/// Runs every contender's workload in interleaved samples (in a fresh random order each
/// sample, so no contender keeps a position that periodic noise could favour) and prints
/// the table.
fn compare(title: &str, unit: &str, names: &[&str], mut contenders: Vec<Box<dyn Workload>>, plan: Plan) {
    // Warm-up: page in code and buffers, let the kernel settle socket state.
    for c in contenders.iter_mut() {
        c.run(plan.ops_per_sample * 5);
    }
    let n = contenders.len();
    let mut samples = vec![Vec::with_capacity(plan.samples); n];
    let mut allocs = vec![0u64; n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..plan.samples {
        rng.shuffle(&mut order);
        for &i in &order {
            let before = allocations();
            let start = Instant::now();
            contenders[i].run(plan.ops_per_sample);
            let elapsed = start.elapsed();
            allocs[i] += allocations() - before;
            samples[i].push(support::ns_per_op(elapsed, plan.ops_per_sample * plan.ops_per_call));
        }
    }
    let total_ops = (plan.samples as u64 * plan.ops_per_sample * plan.ops_per_call) as f64;
    let rows: Vec<Row> = names
        .iter()
        .zip(samples.iter_mut())
        .zip(&allocs)
        .map(|((name, s), a)| Row {
            name: name.to_string(),
            median_ns: median(s),
            allocs_per_op: *a as f64 / total_ops,
        })
        .collect();
    let title =
        format!("{title} ({} samples x {} ops, interleaved)", plan.samples, plan.ops_per_sample * plan.ops_per_call);
    print_table(&title, unit, names[0], &rows);
}

/// A xorshift64 generator: enough to shuffle the contenders' order, seeded so runs repeat.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Fisher-Yates.
    fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.parse().unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")))
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("benches/poll.rs compares against raw epoll and runs on Linux only");
}

#[cfg(target_os = "linux")]
fn main() {
    let quick = std::env::var("READYIO_BENCH_QUICK").is_ok_and(|v| v != "0" && !v.is_empty());
    let only = std::env::var("READYIO_BENCH_ONLY").ok();
    let names: Vec<&str> = CONTENDERS.iter().copied().filter(|n| only.as_deref().is_none_or(|o| o == *n)).collect();
    assert!(!names.is_empty(), "READYIO_BENCH_ONLY must be one of {CONTENDERS:?}");

    if let Some(polls) = env_number("READYIO_BENCH_STRACE_POLLS") {
        for name in &names {
            empty_poll_contender(name).run(polls);
        }
        println!("ran {polls} empty polls for {names:?}");
        return;
    }
    if let Some(rounds) = env_number("READYIO_BENCH_STRACE_ROUNDS") {
        let k = env_number("READYIO_BENCH_PAIRS").unwrap_or(1) as usize;
        for name in &names {
            ping_pong_contender(name, k).run(rounds);
        }
        println!("ran {rounds} ping-pong rounds of {k} pairs for {names:?}");
        return;
    }

    // Many short samples (about a millisecond each): on a shared machine a sample that the
    // scheduler interrupts is an outlier the median drops, and the contenders alternate
    // often enough to see the same machine.
    let samples = if quick { 31 } else { 201 };
    let scale = if quick { 5 } else { 1 };
    println!("readyio poll benchmark: {} mode; contenders {names:?}", if quick { "quick" } else { "full" });

    let contenders = names.iter().map(|n| empty_poll_contender(n)).collect();
    let plan = Plan { samples, ops_per_sample: 10_000 / scale, ops_per_call: 1 };
    compare("empty poll, timeout 0", "ns/poll", &names, contenders, plan);

    for (k, rounds) in [(1usize, 100 / scale), (256, 1)] {
        let contenders = names.iter().map(|n| ping_pong_contender(n, k)).collect();
        let plan = Plan { samples, ops_per_sample: rounds, ops_per_call: k as u64 };
        let title = format!("TCP ping-pong 127.0.0.1, 64 B, K={k}");
        compare(&title, "ns/round trip", &names, contenders, plan);
    }
}
