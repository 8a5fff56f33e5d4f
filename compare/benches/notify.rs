//! The notify channel: throughput from 1 and 4 producer threads, wake-up latency of a
//! sleeping loop, and write syscalls per message, against mio 1.x's `Waker` plus a
//! `crossbeam-channel` and a raw eventfd. mio + crossbeam runs twice: waking the loop after
//! every send (the usual way to feed a mio loop), and with readyio's own wake/sleep protocol
//! (a sender wakes the loop only when it is asleep, see `SleepAwareChannel`), so the table
//! shows how much of readyio's lead is the protocol and how much the implementation.
//! Contenders run interleaved, in an order rotated every sample.
//!
//! `READYIO_BENCH_QUICK=1` runs a few seconds. `READYIO_BENCH_NOTIFY=self-send` runs only
//! a loop sending 1M messages to itself (awake), for `strace -c -f`;
//! `READYIO_BENCH_NOTIFY=producer` only the 1-producer throughput run.
// Its floor is eventfd and epoll, so it measures on Linux only; elsewhere it compiles to a stub.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

mod support;

use readyio::{EventLoop, Handler, NotifyError, Sender};
use std::hint::spin_loop;
use std::sync::atomic::{fence, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};
use support::median;

fn quick() -> bool {
    std::env::var_os("READYIO_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// The process's write-type syscalls so far (`syscw` in /proc/self/io).
fn write_syscalls() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines().find_map(|l| l.strip_prefix("syscw: ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

const CAPACITY: usize = 4096;
/// Messages a loop delivers per poll: `EventLoopConfig`'s default `messages_per_tick`, which
/// the sleep-aware mio loop copies.
const MESSAGES_PER_TICK: usize = 256;

// ---- readyio's wake/sleep protocol on mio + crossbeam ----------------------------------

const AWAKE: u8 = 0;
const SLEEPING: u8 = 1;

/// readyio's wake/sleep protocol (`src/event_loop/notify.rs`: the same atomics and fences)
/// on mio's `Waker` and a bounded crossbeam channel: a sender writes to the eventfd only
/// when the loop has announced it is about to block, and then only the first such sender.
/// Its loop is `EventLoop`'s: poll (without blocking if messages wait), then deliver up to
/// `MESSAGES_PER_TICK` messages. Against wake-every-send it measures the protocol; readyio
/// against it measures the implementation.
struct SleepAwareChannel {
    state: AtomicU8,
    waker: mio::Waker,
    tx: crossbeam_channel::Sender<u64>,
    rx: crossbeam_channel::Receiver<u64>,
}

impl SleepAwareChannel {
    fn new(poll: &mio::Poll) -> Arc<SleepAwareChannel> {
        let (tx, rx) = crossbeam_channel::bounded(CAPACITY);
        let waker = mio::Waker::new(poll.registry(), mio::Token(0)).unwrap();
        Arc::new(SleepAwareChannel { state: AtomicU8::new(AWAKE), waker, tx, rx })
    }

    /// `Sender::send`: queue, then wake the loop only if it is asleep.
    fn try_send(&self, msg: u64) -> Result<(), u64> {
        self.tx.try_send(msg).map_err(crossbeam_channel::TrySendError::into_inner)?;
        fence(Ordering::SeqCst);
        if self.state.load(Ordering::Relaxed) == SLEEPING
            && self.state.compare_exchange(SLEEPING, AWAKE, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            self.waker.wake().unwrap();
        }
        Ok(())
    }

    fn send_retrying(&self, mut msg: u64) {
        while let Err(back) = self.try_send(msg) {
            msg = back;
            spin_loop();
        }
    }

    /// One iteration of the loop's polling: it may block only if no message waits.
    fn poll(&self, poll: &mut mio::Poll, events: &mut mio::Events) {
        self.state.store(SLEEPING, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let timeout = if self.rx.is_empty() {
            None
        } else {
            self.state.store(AWAKE, Ordering::Relaxed);
            Some(Duration::ZERO)
        };
        poll.poll(events, timeout).unwrap();
        self.state.store(AWAKE, Ordering::Release);
    }
}

// ---- throughput ------------------------------------------------------------------------

struct Count {
    received: u64,
    want: u64,
}

impl Handler for Count {
    type Timeout = ();
    type Message = u64;
    fn notify(&mut self, event_loop: &mut EventLoop<Self>, _: u64) {
        self.received += 1;
        if self.received == self.want {
            event_loop.shutdown();
        }
    }
}

fn send_retrying(sender: &Sender<u64>, mut msg: u64) {
    loop {
        match sender.send(msg) {
            Ok(()) => return,
            Err(NotifyError::Full(back)) => {
                msg = back;
                spin_loop();
            }
            Err(e) => panic!("send: {e}"),
        }
    }
}

/// Messages per second through readyio's channel, and write syscalls per message.
fn readyio_throughput(producers: usize, total: u64) -> (f64, f64) {
    let mut config = readyio::EventLoopConfig::new();
    config.notify_capacity(CAPACITY);
    let mut event_loop = EventLoop::configured(config).unwrap();
    let barrier = Arc::new(Barrier::new(producers + 1));
    let handles: Vec<_> = (0..producers)
        .map(|_| {
            let sender = event_loop.channel();
            let barrier = Arc::clone(&barrier);
            let per = total / producers as u64;
            thread::spawn(move || {
                barrier.wait();
                for i in 0..per {
                    send_retrying(&sender, i);
                }
            })
        })
        .collect();
    let mut handler = Count { received: 0, want: total };
    let writes = write_syscalls();
    barrier.wait();
    let start = Instant::now();
    event_loop.run(&mut handler).unwrap();
    let elapsed = start.elapsed();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let writes = write_syscalls() - writes;
    (total as f64 / elapsed.as_secs_f64(), writes as f64 / total as f64)
}

/// The same through a bounded crossbeam channel, waking a mio `Poll` after every send.
fn mio_crossbeam_throughput(producers: usize, total: u64) -> (f64, f64) {
    const WAKE: mio::Token = mio::Token(0);
    let mut poll = mio::Poll::new().unwrap();
    let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).unwrap());
    let (tx, rx) = crossbeam_channel::bounded::<u64>(CAPACITY);
    let barrier = Arc::new(Barrier::new(producers + 1));
    let handles: Vec<_> = (0..producers)
        .map(|_| {
            let tx = tx.clone();
            let waker = Arc::clone(&waker);
            let barrier = Arc::clone(&barrier);
            let per = total / producers as u64;
            thread::spawn(move || {
                barrier.wait();
                for i in 0..per {
                    let mut msg = i;
                    loop {
                        match tx.try_send(msg) {
                            Ok(()) => break,
                            Err(crossbeam_channel::TrySendError::Full(back)) => {
                                msg = back;
                                spin_loop();
                            }
                            Err(e) => panic!("send: {e}"),
                        }
                    }
                    waker.wake().unwrap();
                }
            })
        })
        .collect();
    let mut events = mio::Events::with_capacity(1024);
    let mut received = 0u64;
    let writes = write_syscalls();
    barrier.wait();
    let start = Instant::now();
    while received < total {
        poll.poll(&mut events, None).unwrap();
        while rx.try_recv().is_ok() {
            received += 1;
        }
    }
    let elapsed = start.elapsed();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let writes = write_syscalls() - writes;
    (total as f64 / elapsed.as_secs_f64(), writes as f64 / total as f64)
}

/// The same, with readyio's wake/sleep protocol on mio + crossbeam (`SleepAwareChannel`).
fn mio_crossbeam_sleep_aware_throughput(producers: usize, total: u64) -> (f64, f64) {
    let mut poll = mio::Poll::new().unwrap();
    let channel = SleepAwareChannel::new(&poll);
    let barrier = Arc::new(Barrier::new(producers + 1));
    let handles: Vec<_> = (0..producers)
        .map(|_| {
            let channel = Arc::clone(&channel);
            let barrier = Arc::clone(&barrier);
            let per = total / producers as u64;
            thread::spawn(move || {
                barrier.wait();
                for i in 0..per {
                    channel.send_retrying(i);
                }
            })
        })
        .collect();
    let mut events = mio::Events::with_capacity(1024);
    let mut received = 0u64;
    let writes = write_syscalls();
    barrier.wait();
    let start = Instant::now();
    while received < total {
        channel.poll(&mut poll, &mut events);
        for _ in 0..MESSAGES_PER_TICK {
            if channel.rx.try_recv().is_err() {
                break;
            }
            received += 1;
        }
    }
    let elapsed = start.elapsed();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let writes = write_syscalls() - writes;
    (total as f64 / elapsed.as_secs_f64(), writes as f64 / total as f64)
}

const WAKE_EVERY_SEND: &str = "mio Waker + crossbeam, wake every send";
const WAKE_SLEEPING_ONLY: &str = "mio Waker + crossbeam, wake only a sleeping loop";

fn throughput() {
    let total: u64 = if quick() { 200_000 } else { 2_000_000 };
    let samples = if quick() { 3 } else { 7 };
    type Run = fn(usize, u64) -> (f64, f64);
    let contenders: [(&str, Run); 3] = [
        ("readyio Sender", readyio_throughput),
        (WAKE_EVERY_SEND, mio_crossbeam_throughput),
        (WAKE_SLEEPING_ONLY, mio_crossbeam_sleep_aware_throughput),
    ];
    let table = support::Table::new(
        &format!("Notify throughput: {total} u64 messages, queue capacity {CAPACITY} (median of {samples}, order rotated per sample)"),
        "| producers | contender | Mmsg/s | ratio to wake every send | ratio to wake only a sleeping loop | write syscalls/msg |",
        "|---:|---|---:|---:|---:|---:|",
    );
    for producers in [1usize, 4] {
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
        let mut writes: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
        for sample in 0..samples {
            for turn in 0..contenders.len() {
                let i = (sample + turn) % contenders.len();
                let (rate, w) = (contenders[i].1)(producers, total);
                rates[i].push(rate);
                writes[i].push(w);
            }
        }
        let medians: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
        for (i, (name, _)) in contenders.iter().enumerate() {
            table.row(&[
                producers.to_string(),
                name.to_string(),
                format!("{:.2}", medians[i] / 1e6),
                format!("{:.2}", medians[i] / medians[1]),
                format!("{:.2}", medians[i] / medians[2]),
                format!("{:.4}", median(&mut writes[i])),
            ]);
        }
    }
}

// ---- wake-up latency -------------------------------------------------------------------

/// Nanoseconds since `base`, as a message.
fn stamp(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

struct Latency {
    base: Instant,
    latencies: Vec<f64>,
    delivered: Arc<AtomicU64>,
    want: usize,
}

impl Handler for Latency {
    type Timeout = ();
    type Message = u64;
    fn notify(&mut self, event_loop: &mut EventLoop<Self>, sent_ns: u64) {
        self.latencies.push((stamp(self.base) - sent_ns) as f64 / 1000.0);
        self.delivered.fetch_add(1, Ordering::Release);
        if self.latencies.len() == self.want {
            event_loop.shutdown();
        }
    }
}

/// The sender side of every latency run: waits until the previous wake-up was seen, lets
/// the loop fall asleep, then stamps and wakes.
fn wake_rounds(rounds: usize, delivered: &AtomicU64, mut wake: impl FnMut()) {
    for round in 0..rounds as u64 {
        while delivered.load(Ordering::Acquire) < round {
            spin_loop();
        }
        thread::sleep(Duration::from_micros(200));
        wake();
    }
}

fn readyio_latency(rounds: usize) -> Vec<f64> {
    let base = Instant::now();
    let mut event_loop = EventLoop::new().unwrap();
    let sender = event_loop.channel();
    let delivered = Arc::new(AtomicU64::new(0));
    let waker = {
        let delivered = Arc::clone(&delivered);
        thread::spawn(move || wake_rounds(rounds, &delivered, || sender.send(stamp(base)).unwrap()))
    };
    let mut handler = Latency { base, latencies: Vec::with_capacity(rounds), delivered, want: rounds };
    event_loop.run(&mut handler).unwrap();
    waker.join().unwrap();
    handler.latencies
}

fn mio_latency(rounds: usize) -> Vec<f64> {
    let base = Instant::now();
    let mut poll = mio::Poll::new().unwrap();
    // Shared, so the eventfd outlives the sender thread: closing it would drop an event
    // the poll has not collected yet.
    let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).unwrap());
    let (tx, rx) = crossbeam_channel::bounded::<u64>(CAPACITY);
    let delivered = Arc::new(AtomicU64::new(0));
    let sender = {
        let delivered = Arc::clone(&delivered);
        let waker = Arc::clone(&waker);
        thread::spawn(move || {
            wake_rounds(rounds, &delivered, || {
                tx.send(stamp(base)).unwrap();
                waker.wake().unwrap();
            })
        })
    };
    let mut events = mio::Events::with_capacity(64);
    let mut latencies = Vec::with_capacity(rounds);
    while latencies.len() < rounds {
        poll.poll(&mut events, None).unwrap();
        while let Ok(sent) = rx.try_recv() {
            latencies.push((stamp(base) - sent) as f64 / 1000.0);
            delivered.fetch_add(1, Ordering::Release);
        }
    }
    sender.join().unwrap();
    latencies
}

fn mio_sleep_aware_latency(rounds: usize) -> Vec<f64> {
    let base = Instant::now();
    let mut poll = mio::Poll::new().unwrap();
    let channel = SleepAwareChannel::new(&poll);
    let delivered = Arc::new(AtomicU64::new(0));
    let sender = {
        let (channel, delivered) = (Arc::clone(&channel), Arc::clone(&delivered));
        thread::spawn(move || wake_rounds(rounds, &delivered, || channel.send_retrying(stamp(base))))
    };
    let mut events = mio::Events::with_capacity(64);
    let mut latencies = Vec::with_capacity(rounds);
    while latencies.len() < rounds {
        channel.poll(&mut poll, &mut events);
        while let Ok(sent) = channel.rx.try_recv() {
            latencies.push((stamp(base) - sent) as f64 / 1000.0);
            delivered.fetch_add(1, Ordering::Release);
        }
    }
    sender.join().unwrap();
    latencies
}

/// The floor: a thread in `epoll_wait` on an edge-triggered eventfd, woken by one `write`.
/// It registers the eventfd as readyio (and mio) register their wakers: readable,
/// edge-triggered, which epoll.rs turns into `EPOLLIN | EPOLLRDHUP | EPOLLET`.
#[cfg(target_os = "linux")]
fn raw_eventfd_latency(rounds: usize) -> Vec<f64> {
    let base = Instant::now();
    // SAFETY: plain libc calls on fds this function owns and closes.
    let (epfd, efd) = unsafe {
        let epfd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        let efd = libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC);
        let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32, u64: 0 };
        assert_eq!(libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, efd, &mut ev), 0);
        (epfd, efd)
    };
    let sent_at = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let sender = {
        let (sent_at, delivered) = (Arc::clone(&sent_at), Arc::clone(&delivered));
        thread::spawn(move || {
            wake_rounds(rounds, &delivered, || {
                sent_at.store(stamp(base), Ordering::Release);
                let one = 1u64;
                // SAFETY: writes 8 bytes from a live u64 to an open eventfd.
                unsafe { libc::write(efd, (&one as *const u64).cast(), 8) };
            })
        })
    };
    let mut latencies = Vec::with_capacity(rounds);
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
    while latencies.len() < rounds {
        // SAFETY: `events` has room for 8 entries.
        let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), 8, -1) };
        if n > 0 {
            latencies.push((stamp(base) - sent_at.load(Ordering::Acquire)) as f64 / 1000.0);
            delivered.fetch_add(1, Ordering::Release);
        }
    }
    sender.join().unwrap();
    // SAFETY: closing fds opened above, used by no one any more.
    unsafe {
        libc::close(efd);
        libc::close(epfd);
    }
    latencies
}

#[cfg(target_os = "linux")]
fn latency() {
    let rounds = if quick() { 200 } else { 1000 };
    let samples = if quick() { 3 } else { 7 };
    type Run = fn(usize) -> Vec<f64>;
    let contenders: [(&str, Run); 4] = [
        ("raw eventfd + epoll_wait", raw_eventfd_latency),
        ("readyio Sender", readyio_latency),
        (WAKE_EVERY_SEND, mio_latency),
        (WAKE_SLEEPING_ONLY, mio_sleep_aware_latency),
    ];
    let mut all: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    let mut medians: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for sample in 0..samples {
        for turn in 0..contenders.len() {
            let i = (sample + turn) % contenders.len();
            let mut l = (contenders[i].1)(rounds);
            medians[i].push(median(&mut l));
            all[i].extend(l);
        }
    }
    println!(
        "\n### Wake-up latency of a sleeping loop: send to delivery, {samples} x {rounds} wake-ups (order rotated per sample)\n"
    );
    println!("| contender | median µs | p99 µs | ratio of medians to raw eventfd |");
    println!("|---|---:|---:|---:|");
    let base = median(&mut medians[0].clone());
    for (i, (name, _)) in contenders.iter().enumerate() {
        let m = median(&mut medians[i]);
        all[i].sort_by(|a, b| a.partial_cmp(b).unwrap());
        let p99 = all[i][(all[i].len() - 1) * 99 / 100];
        println!("| {name} | {m:.1} | {p99:.1} | {:.3} |", m / base);
    }
}

// ---- syscalls while awake --------------------------------------------------------------

struct SelfSend {
    sender: Sender<u64>,
    received: u64,
    total: u64,
}

impl Handler for SelfSend {
    type Timeout = ();
    type Message = u64;
    fn notify(&mut self, event_loop: &mut EventLoop<Self>, _: u64) {
        self.received += 1;
        if self.received == self.total {
            event_loop.shutdown();
        }
    }
    fn tick(&mut self, _: &mut EventLoop<Self>) {
        // Refill from inside the loop, i.e. while it is awake.
        let mut sent = 0;
        while sent < 256 && self.received + (sent as u64) < self.total {
            let _ = self.sender.send(0);
            sent += 1;
        }
    }
}

/// Sends `total` messages from the loop's own handler (always awake); returns write
/// syscalls per message.
fn self_send(total: u64) -> f64 {
    let mut config = readyio::EventLoopConfig::new();
    config.notify_capacity(1024).messages_per_tick(256);
    let mut event_loop = EventLoop::configured(config).unwrap();
    let sender = event_loop.channel();
    sender.send(0).unwrap();
    let mut handler = SelfSend { sender, received: 0, total };
    let writes = write_syscalls();
    event_loop.run(&mut handler).unwrap();
    (write_syscalls() - writes) as f64 / total as f64
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("benches/notify.rs compares against eventfd and epoll and runs on Linux only");
}

#[cfg(target_os = "linux")]
fn main() {
    match std::env::var("READYIO_BENCH_NOTIFY").as_deref() {
        Ok("self-send") => {
            let per = self_send(1_000_000);
            println!("self-send: 1000000 messages, {per:.6} write syscalls/message");
            return;
        }
        Ok("producer") => {
            let (rate, per) = readyio_throughput(1, 1_000_000);
            println!("1 producer: {:.2} Mmsg/s, {per:.6} write syscalls/message", rate / 1e6);
            return;
        }
        _ => {}
    }
    throughput();
    latency();
    let total = if quick() { 100_000 } else { 1_000_000 };
    println!("\n### Syscalls per message while the loop is awake\n");
    println!("{total} messages sent by the loop's own handler: {:.6} write syscalls/message", self_send(total));
}
