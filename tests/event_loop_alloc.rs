//! "Every buffer is allocated when the loop is created", tested as such: from the FIRST
//! iteration on, with no warm-up, an event loop allocates nothing, even when each of its
//! buffers reaches its working size at once (every token of a full events buffer ready in
//! one poll, thousands of timers due in one tick, a full notify queue), and while it serves
//! TCP sockets, sets, clears and fires timeouts and receives messages from other threads.
//!
//! Counted by a global allocator over the whole process; its own binary without libtest's
//! harness (see Cargo.toml), so nothing else allocates. The selector's fd table is sized by
//! `EventLoopConfig::fd_capacity`: connections accepted and registered while the loop runs
//! allocate nothing either (`connections_accepted_while_running_allocate_nothing`).

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use readyio::unix::EventedFd;
use readyio::{
    EventLoop, EventLoopConfig, EventSet, Handler, NotifyError, PollOpt, Timeout, Token, DEFAULT_EVENTS_CAPACITY,
};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

fn a_busy_loop_allocates_nothing_from_its_first_iteration() {
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
        spawn_started(move || {
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
    let before = counting_alloc::allocations();
    const ITERATIONS: u64 = 5_000;
    for _ in 0..ITERATIONS {
        event_loop.run_once(&mut handler, Some(100)).unwrap();
    }
    let allocations = counting_alloc::allocations() - before;
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();

    assert!(handler.ready > 1000, "sockets were served");
    assert!(handler.messages > 10, "messages arrived from another thread");
    assert!(handler.timers_fired > 0, "timers fired");
    assert!(handler.timers_cleared > 0, "timers were cleared");
    assert_eq!(allocations, 0, "{allocations} allocations in the first {ITERATIONS} iterations");
}

/// Ready tokens (all fds of a full events buffer at once).
const READY_AT_ONCE: usize = DEFAULT_EVENTS_CAPACITY;
/// How many of them one poll delivers: all, where the kernel fills the whole events buffer
/// (epoll, and the BSD and macOS kqueues, which return up to `nevents` results).
#[cfg(not(readyio_libkqueue))]
const READY_IN_ONE_POLL: usize = READY_AT_ONCE;
/// libkqueue returns at most 512 results per `kevent` call (`MAX_KEVENT`,
/// src/common/private.h; `kevent` in src/common/kevent.c caps `nevents` to it), so over it
/// the first iteration gets 512 of the 1024 ready tokens; the buffers are still full-sized
/// from construction, which is what the allocation count below checks.
#[cfg(readyio_libkqueue)]
const READY_IN_ONE_POLL: usize = 512;
/// Timers due in the same tick, set before the first iteration.
const DUE_AT_ONCE: usize = 10_000;
const TIMER_TICK: Duration = Duration::from_millis(200);
/// The notify queue's capacity, filled before the first iteration.
const QUEUE: usize = 1024;
const MESSAGES_PER_TICK: usize = 256;
/// Messages sent by another thread to the sleeping loop, one wake-up each.
const WAKE_UPS: usize = 50;

/// Counts what each iteration dispatched.
#[derive(Default)]
struct AtWorkingSize {
    ready_this_iteration: usize,
    timers_this_iteration: usize,
    messages_this_iteration: usize,
    /// (ready, timers, messages) per iteration.
    iterations: Vec<(usize, usize, usize)>,
    messages: usize,
    timers_fired: usize,
    rearmed: Option<Timeout>,
}

impl Handler for AtWorkingSize {
    type Timeout = u32;
    type Message = usize;

    fn ready(&mut self, _: &mut EventLoop<Self>, _: Token, _: EventSet) {
        self.ready_this_iteration += 1;
    }

    fn notify(&mut self, _: &mut EventLoop<Self>, _: usize) {
        self.messages_this_iteration += 1;
        self.messages += 1;
    }

    fn timeout(&mut self, event_loop: &mut EventLoop<Self>, _: u32) {
        self.timers_this_iteration += 1;
        self.timers_fired += 1;
        // Timers set and cleared from inside timer callbacks, while the due queue is full.
        if let Some(old) = self.rearmed.take() {
            event_loop.clear_timeout(old);
        }
        self.rearmed = Some(event_loop.timeout(1, Duration::from_secs(60)).unwrap());
    }

    fn tick(&mut self, _: &mut EventLoop<Self>) {
        // `iterations` has room for every iteration (reserved before counting starts).
        assert!(self.iterations.len() < self.iterations.capacity(), "more iterations than reserved");
        self.iterations.push((self.ready_this_iteration, self.timers_this_iteration, self.messages_this_iteration));
        self.ready_this_iteration = 0;
        self.timers_this_iteration = 0;
        self.messages_this_iteration = 0;
    }
}

/// Spawns a thread running `body` and returns once `body` has started, so that what starting
/// a thread allocates (std's thread-local bookkeeping; on musl, its TLS destructor list) is
/// done before counting starts. A counted thread must likewise not exit (see `wait_for`)
/// until the count is read.
fn spawn_started(body: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    let started = Arc::new(AtomicBool::new(false));
    let handle = {
        let started = Arc::clone(&started);
        thread::spawn(move || {
            started.store(true, Ordering::Release);
            body();
        })
    };
    wait_for(&started);
    handle
}

fn wait_for(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        thread::sleep(Duration::from_micros(100));
    }
}

/// Raises this process's open-file soft limit to at least `fds` (the hard limit allowing).
fn raise_fd_limit(fds: libc::rlim_t) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid rlimit for getrlimit to fill and setrlimit to read.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0, "getrlimit");
        if limit.rlim_cur < fds {
            assert!(limit.rlim_max >= fds, "this test needs {fds} open files; the hard limit is {}", limit.rlim_max);
            limit.rlim_cur = fds;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0, "setrlimit");
        }
    }
}

fn every_buffer_reaches_its_working_size_in_the_first_iteration_without_allocating() {
    raise_fd_limit((READY_AT_ONCE + 64) as libc::rlim_t);
    let mut config = EventLoopConfig::new();
    // Ticks of 200 ms: the timers set below, all 200 ms ahead, share one wheel slot (tick 1
    // unless the setup took longer), which comes due as a whole: one cascade moves them all
    // through the wheel's batch buffers into its due queue.
    config
        .notify_capacity(QUEUE)
        .messages_per_tick(MESSAGES_PER_TICK)
        .timer_capacity(DUE_AT_ONCE + 1)
        .timer_tick(TIMER_TICK);
    let mut event_loop = EventLoop::configured(config).unwrap();
    // Socket pairs registered level-triggered for writability: every poll reports them all,
    // which fills the events buffer and `ready_tokens`.
    let sockets: Vec<UnixStream> = (0..READY_AT_ONCE / 2)
        .flat_map(|_| {
            let (a, b) = UnixStream::pair().unwrap();
            [a, b]
        })
        .collect();
    for (i, socket) in sockets.iter().enumerate() {
        event_loop.register(&EventedFd(&socket.as_raw_fd()), Token(i), EventSet::writable(), PollOpt::level()).unwrap();
    }
    let sender = event_loop.channel();
    let asleep = Arc::new(AtomicBool::new(false));
    let woken = Arc::new(AtomicUsize::new(0));
    let counted = Arc::new(AtomicBool::new(false));
    let waker = {
        let (sender, asleep, woken, counted) =
            (sender.clone(), Arc::clone(&asleep), Arc::clone(&woken), Arc::clone(&counted));
        spawn_started(move || {
            while !asleep.load(Ordering::Acquire) {
                thread::sleep(Duration::from_millis(1));
            }
            for i in 0..WAKE_UPS {
                // Give the loop time to fall asleep again.
                thread::sleep(Duration::from_millis(2));
                sender.send(i).unwrap();
                woken.fetch_add(1, Ordering::Release);
            }
            wait_for(&counted);
        })
    };
    let mut handler = AtWorkingSize { iterations: Vec::with_capacity(1000), ..AtWorkingSize::default() };

    let before = counting_alloc::allocations();
    // A full notify queue...
    let mut queued = 0;
    while let Ok(()) = sender.send(queued) {
        queued += 1;
    }
    assert!(matches!(sender.send(0), Err(NotifyError::Full(0))));
    // ...and thousands of timers due in one tick.
    for i in 0..DUE_AT_ONCE {
        event_loop.timeout(i as u32, TIMER_TICK).unwrap();
    }
    thread::sleep(TIMER_TICK + Duration::from_millis(20));
    // The first iteration dispatches every ready token, every due timer and a tick's
    // worth of messages; the next ones drain the queue.
    for _ in 0..QUEUE.div_ceil(MESSAGES_PER_TICK) {
        event_loop.run_once(&mut handler, Some(1000)).unwrap();
    }
    // Then the loop sleeps and another thread wakes it, again and again.
    for socket in &sockets {
        event_loop
            .reregister(&EventedFd(&socket.as_raw_fd()), Token(0), EventSet::readable(), PollOpt::edge())
            .unwrap();
    }
    asleep.store(true, Ordering::Release);
    while handler.messages < QUEUE + WAKE_UPS {
        event_loop.run_once(&mut handler, Some(1000)).unwrap();
    }
    let allocations = counting_alloc::allocations() - before;
    counted.store(true, Ordering::Release);
    waker.join().unwrap();

    assert_eq!(queued, QUEUE, "the notify queue held its capacity");
    assert_eq!(
        handler.iterations[0],
        (READY_IN_ONE_POLL, DUE_AT_ONCE, MESSAGES_PER_TICK),
        "the first iteration: (tokens ready, timers fired, messages delivered)"
    );
    assert_eq!(handler.timers_fired, DUE_AT_ONCE);
    assert_eq!(woken.load(Ordering::Acquire), WAKE_UPS);
    assert_eq!(allocations, 0, "{allocations} allocations from the first iteration on");
}

/// Accepts every pending connection and registers it; counts what it accepted.
struct Acceptor {
    listener: readyio::tcp::TcpListener,
    accepted: Vec<readyio::tcp::TcpStream>,
}

impl Handler for Acceptor {
    type Timeout = ();
    type Message = ();

    fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, _: EventSet) {
        if token != Token(0) {
            return;
        }
        while let Some((stream, _)) = self.listener.accept().unwrap() {
            let token = Token(1 + self.accepted.len());
            event_loop.register(&stream, token, EventSet::readable(), PollOpt::edge()).unwrap();
            self.accepted.push(stream);
        }
    }
}

/// The registration table is sized when the loop is made (`fd_capacity`), so a server that
/// registers each connection it accepts, inside `ready`, allocates nothing while it runs.
fn connections_accepted_while_running_allocate_nothing() {
    const CONNECTIONS: usize = 256;
    raise_fd_limit((2 * CONNECTIONS + 64) as libc::rlim_t);
    let mut config = EventLoopConfig::new();
    config.fd_capacity(4096);
    let mut event_loop = EventLoop::configured(config).unwrap();
    let listener = readyio::tcp::TcpListener::bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    event_loop.register(&listener, Token(0), EventSet::readable(), PollOpt::edge()).unwrap();
    let mut handler = Acceptor { listener, accepted: Vec::with_capacity(CONNECTIONS) };
    let mut clients = Vec::with_capacity(CONNECTIONS);

    let before = counting_alloc::thread_allocations();
    while handler.accepted.len() < CONNECTIONS {
        // Connect a few, then let the loop accept and register them.
        for _ in 0..8.min(CONNECTIONS - clients.len()) {
            clients.push(TcpStream::connect(addr).unwrap());
        }
        event_loop.run_once(&mut handler, Some(1000)).unwrap();
    }
    let allocations = counting_alloc::thread_allocations() - before;

    assert_eq!(handler.accepted.len(), CONNECTIONS);
    assert_eq!(allocations, 0, "{allocations} allocations accepting and registering {CONNECTIONS} connections");
}

/// Runs without libtest (see Cargo.toml): nothing but these tests may allocate meanwhile.
fn main() {
    every_buffer_reaches_its_working_size_in_the_first_iteration_without_allocating();
    println!("test every_buffer_reaches_its_working_size_in_the_first_iteration_without_allocating ... ok");
    a_busy_loop_allocates_nothing_from_its_first_iteration();
    println!("test a_busy_loop_allocates_nothing_from_its_first_iteration ... ok");
    connections_accepted_while_running_allocate_nothing();
    println!("test connections_accepted_while_running_allocate_nothing ... ok");
}
