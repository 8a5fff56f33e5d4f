//! Timers under pressure: how late do timeouts fire when a million of them are due within
//! two seconds? (Issue 10: the wheel used to re-file a whole higher-level slot in one
//! poll, 23 ms at the ~1024 ms cascade, and every timer due meanwhile was that late.)
//!
//! N timers (1M; 100k with `READYIO_BENCH_QUICK=1`) get deadlines spread evenly over
//! SPAN (2 s; 1 s quick) starting LEAD (500 ms) after the program's clock starts, so that
//! inserting them all is over before the first is due. Lateness = the time the timer's
//! callback ran minus its deadline, per timer, measured with `Instant`. Four runs, the
//! first three on the same deadlines:
//!
//! 1. readyio's `EventLoop` (default 1 ms tick, 1024 slots), idle but for its timers;
//! 2. a bare loop over today's `TimerWheel` (`src/event_loop/timer_wheel.rs`): sleep until
//!    `next_deadline`, fire what is due, repeat;
//! 3. the same bare loop over the wheel before issue 10, whose cascades re-file a whole
//!    slot at once (`support/timer_wheel_whole_slot_cascades.rs`);
//! 4. the floor: no timers, one thread sleeping to each 1 ms tick of the span in turn. Its
//!    tail is the machine's own wake-up jitter (a virtual CPU descheduled by its host, an
//!    interrupt), which bounds from below what any timer structure can show here.
//!
//! Wall-clock lateness includes everything else the machine does: it is a report, not a
//! check (the bound that makes it small is pinned by `tests/timer_wheel.rs` on the wheel's
//! own clock). The program does fail if any timer fires early or not exactly once.

mod support;
#[path = "../../src/event_loop/timer_wheel.rs"]
#[allow(dead_code)]
mod timer_wheel;
#[path = "support/timer_wheel_whole_slot_cascades.rs"]
#[allow(dead_code)]
mod timer_wheel_whole_slot_cascades;

use readyio::{EventLoop, EventLoopConfig, Handler};
use std::time::{Duration, Instant};

const MS: u64 = 1_000_000;
/// Time for the inserts before the first deadline (a row says if inserting took longer).
const LEAD: Duration = Duration::from_millis(500);

fn quick() -> bool {
    std::env::var_os("READYIO_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// Offsets from the start of the span, nanoseconds: evenly spread by a fixed generator.
fn offsets(n: usize, span: Duration) -> Vec<u64> {
    let span_ns = span.as_nanos() as u64;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % span_ns
        })
        .collect()
}

/// Records, per timer, how late its callback ran (ns; negative = early), and how often.
struct Lateness {
    deadlines: Vec<Instant>,
    /// `NOT_FIRED` until the timer fires.
    late_ns: Vec<i64>,
    fired_twice: usize,
    pending: usize,
}

const NOT_FIRED: i64 = i64::MIN;

impl Lateness {
    fn new(start: Instant, offsets: &[u64]) -> Lateness {
        Lateness {
            deadlines: offsets.iter().map(|&o| start + LEAD + Duration::from_nanos(o)).collect(),
            // Written in full here (not calloc's untouched zero pages), so that recording a
            // timer never costs the run a page fault.
            late_ns: vec![NOT_FIRED; offsets.len()],
            fired_twice: 0,
            pending: offsets.len(),
        }
    }

    fn record(&mut self, i: u32, now: Instant) {
        let deadline = self.deadlines[i as usize];
        let late =
            if now >= deadline { (now - deadline).as_nanos() as i64 } else { -((deadline - now).as_nanos() as i64) };
        if std::mem::replace(&mut self.late_ns[i as usize], late) != NOT_FIRED {
            self.fired_twice += 1;
        }
        self.pending = self.pending.saturating_sub(1);
    }

    /// Prints one table row; panics if a timer fired early or other than once.
    /// `longest_drain` is the longest run of polls at one wake-up (wall clock, and CPU time
    /// of the thread, which a preempted thread does not accrue), if measured.
    fn row(&self, name: &str, insert: Duration, longest_drain: Option<(Duration, Duration)>) {
        let not_once = self.fired_twice + self.late_ns.iter().filter(|&&l| l == NOT_FIRED).count();
        let early = self.late_ns.iter().filter(|&&l| l < 0).count();
        let mut late = self.late_ns.clone();
        late.sort_unstable();
        let pct = |p: f64| late[((late.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {:.0}{} | {early} |",
            late.len(),
            pct(0.5),
            pct(0.99),
            pct(0.999),
            pct(1.0),
            longest_drain.map_or("n/a".to_string(), |(wall, _)| format!("{:.1}", wall.as_secs_f64() * 1e6)),
            longest_drain.map_or("n/a".to_string(), |(_, cpu)| format!("{:.1}", cpu.as_secs_f64() * 1e6)),
            insert.as_secs_f64() * 1000.0,
            if insert > LEAD { " (longer than the lead: the first timers were late for it)" } else { "" }
        );
        assert_eq!(not_once, 0, "{name}: {not_once} timers did not fire exactly once");
        assert_eq!(early, 0, "{name}: {early} timers fired early");
    }
}

impl Handler for Lateness {
    type Timeout = u32;
    type Message = ();
    fn timeout(&mut self, event_loop: &mut EventLoop<Self>, i: u32) {
        self.record(i, Instant::now());
        if self.pending == 0 {
            event_loop.shutdown();
        }
    }
}

/// Run 1: the real `EventLoop`.
fn on_event_loop(offsets: &[u64]) {
    let mut config = EventLoopConfig::default();
    config.timer_capacity(offsets.len());
    let mut event_loop = EventLoop::configured(config).unwrap();
    let start = Instant::now();
    let mut handler = Lateness::new(start, offsets);
    for (i, deadline) in handler.deadlines.iter().enumerate() {
        event_loop.timeout(i as u32, deadline.saturating_duration_since(Instant::now())).unwrap();
    }
    let insert = start.elapsed();
    event_loop.run(&mut handler).unwrap();
    handler.row("readyio `EventLoop` (spread moves)", insert, None);
}

/// What the bare loop needs of a wheel.
trait Wheel {
    fn insert(&mut self, deadline_ns: u64, value: u32);
    fn poll(&mut self, now_ns: u64) -> Option<u32>;
    fn next_deadline(&self) -> Option<u64>;
}

macro_rules! impl_wheel {
    ($wheel:ty) => {
        impl Wheel for $wheel {
            fn insert(&mut self, deadline_ns: u64, value: u32) {
                assert!(self.insert(deadline_ns, value).is_ok(), "wheel full");
            }
            fn poll(&mut self, now_ns: u64) -> Option<u32> {
                self.poll(now_ns)
            }
            fn next_deadline(&self) -> Option<u64> {
                self.next_deadline()
            }
        }
    };
}
impl_wheel!(timer_wheel::TimerWheel<u32>);
impl_wheel!(timer_wheel_whole_slot_cascades::TimerWheel<u32>);

/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Run 4, the floor: no wheel, one thread sleeping to each tick boundary of the span in
/// turn (`std::thread::sleep`), recording how late it woke. Its tail is this machine's own
/// wake-up jitter, which no timer structure can beat.
fn sleep_floor(span: Duration) {
    let ticks = span.as_millis() as u64;
    let offsets: Vec<u64> = (0..ticks).map(|k| k * MS).collect();
    let start = Instant::now();
    let mut lateness = Lateness::new(start, &offsets);
    for i in 0..offsets.len() {
        let deadline = lateness.deadlines[i];
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        lateness.record(i as u32, Instant::now());
    }
    lateness.row("floor: one thread sleeping to each 1 ms tick in turn", Duration::ZERO, None);
}

/// Runs 2 and 3: sleep until the wheel's next deadline, fire everything due, repeat.
fn on_bare_loop(name: &str, offsets: &[u64], mut wheel: impl Wheel) {
    let start = Instant::now();
    let mut lateness = Lateness::new(start, offsets);
    let now_ns = |start: Instant| start.elapsed().as_nanos() as u64;
    let lead_ns = LEAD.as_nanos() as u64;
    for (i, &offset) in offsets.iter().enumerate() {
        wheel.insert(lead_ns + offset, i as u32);
    }
    let insert = start.elapsed();
    let mut longest_drain = (Duration::ZERO, Duration::ZERO);
    while lateness.pending > 0 {
        let wake_ns = wheel.next_deadline().expect("timers are pending");
        let now = now_ns(start);
        if wake_ns > now {
            std::thread::sleep(Duration::from_nanos(wake_ns - now));
        }
        let (drain_start, drain_start_cpu) = (Instant::now(), thread_cpu_time());
        let now = now_ns(start);
        while let Some(i) = wheel.poll(now) {
            lateness.record(i, Instant::now());
        }
        longest_drain.0 = longest_drain.0.max(drain_start.elapsed());
        longest_drain.1 = longest_drain.1.max(thread_cpu_time() - drain_start_cpu);
    }
    lateness.row(name, insert, Some(longest_drain));
}

fn main() {
    let (n, span) = if quick() { (100_000, Duration::from_secs(1)) } else { (1_000_000, Duration::from_secs(2)) };
    let offsets = offsets(n, span);
    println!(
        "\n### Timer lateness under pressure: {n} timers due evenly over {} ms, 1 ms tick, 1024 slots\n",
        span.as_millis()
    );
    println!("| run | timers | p50 µs | p99 µs | p99.9 µs | max µs | longest wake µs | its CPU µs | inserting took ms | fired early |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    on_event_loop(&offsets);
    on_bare_loop("bare loop, today's `TimerWheel` (spread moves)", &offsets, timer_wheel::TimerWheel::new(n, MS, 1024));
    on_bare_loop(
        "bare loop, wheel before issue 10 (whole-slot cascades)",
        &offsets,
        timer_wheel_whole_slot_cascades::TimerWheel::new(n, MS, 1024),
    );
    sleep_floor(span);
    println!(
        "\n(deadlines from {} ms to {} ms after each run's start; lateness = callback time - deadline; longest \
         wake = the longest run of polls after one sleep, cascades included, in wall-clock and in thread CPU \
         time)",
        LEAD.as_millis(),
        (LEAD + span).as_millis()
    );
}
