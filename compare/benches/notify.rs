//! The notify channel: throughput from 1 and 4 producer threads, wake-up latency of a
//! sleeping loop, and write syscalls per message, against mio 1.x's `Waker` plus a
//! `crossbeam-channel` (the usual way to feed a mio loop) and a raw eventfd.
//!
//! `READYIO_BENCH_QUICK=1` runs a few seconds. `READYIO_BENCH_NOTIFY=self-send` runs only
//! a loop sending 1M messages to itself (awake), for `strace -c -f`;
//! `READYIO_BENCH_NOTIFY=producer` only the 1-producer throughput run.
// Its floor is eventfd and epoll, so it measures on Linux only; elsewhere it compiles to a stub.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

mod support;

use readyio::{EventLoop, Handler, NotifyError, Sender};
use std::hint::spin_loop;
use std::sync::atomic::{AtomicU64, Ordering};
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

fn throughput() {
    let total: u64 = if quick() { 200_000 } else { 2_000_000 };
    let samples = if quick() { 3 } else { 7 };
    let table = support::Table::new(
        &format!("Notify throughput: {total} u64 messages, queue capacity {CAPACITY} (median of {samples})"),
        "| producers | contender | Mmsg/s | ratio to mio+crossbeam | write syscalls/msg |",
        "|---:|---|---:|---:|---:|",
    );
    for producers in [1usize, 4] {
        let (mut ours, mut theirs, mut our_w, mut their_w) = (vec![], vec![], vec![], vec![]);
        for _ in 0..samples {
            let (rate, w) = readyio_throughput(producers, total);
            ours.push(rate);
            our_w.push(w);
            let (rate, w) = mio_crossbeam_throughput(producers, total);
            theirs.push(rate);
            their_w.push(w);
        }
        let (o, t) = (median(&mut ours), median(&mut theirs));
        let (our_w, their_w) = (median(&mut our_w), median(&mut their_w));
        let p = producers.to_string();
        table.row(&[
            p.clone(),
            "readyio Sender".into(),
            format!("{:.2}", o / 1e6),
            format!("{:.2}", o / t),
            format!("{our_w:.4}"),
        ]);
        table.row(&[
            p,
            "mio Waker + crossbeam".into(),
            format!("{:.2}", t / 1e6),
            "1.00".into(),
            format!("{their_w:.4}"),
        ]);
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

/// The floor: a thread in `epoll_wait` on an edge-triggered eventfd, woken by one `write`.
#[cfg(target_os = "linux")]
fn raw_eventfd_latency(rounds: usize) -> Vec<f64> {
    let base = Instant::now();
    // SAFETY: plain libc calls on fds this function owns and closes.
    let (epfd, efd) = unsafe {
        let epfd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        let efd = libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC);
        let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLET) as u32, u64: 0 };
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
    let contenders: [(&str, Run); 3] = [
        ("raw eventfd + epoll_wait", raw_eventfd_latency),
        ("readyio Sender", readyio_latency),
        ("mio Waker + crossbeam", mio_latency),
    ];
    let mut all: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    let mut medians: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for _ in 0..samples {
        for (i, (_, run)) in contenders.iter().enumerate() {
            let mut l = run(rounds);
            medians[i].push(median(&mut l));
            all[i].extend(l);
        }
    }
    println!("\n### Wake-up latency of a sleeping loop: send to delivery, {samples} x {rounds} wake-ups\n");
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
