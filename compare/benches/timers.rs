//! Timers: the event loop's timing wheel against a `std::collections::BinaryHeap` and the
//! `hierarchical_hash_wheel_timer` crate (and beside the wheel as it was before its cascades
//! were spread out, to show what spreading costs), plus the lateness of timeouts on an idle
//! loop. Lateness under a million timers: the `timer_lateness` benchmark.
//!
//! Part 1 (data structures, simulated time): insert N timeouts with random deadlines within
//! 10 s, cancel every other one, then advance time in 1 ms steps to 10 s firing the rest.
//! Reports ns per timer for each phase, the total per timer, and allocations per timer, for
//! the second of two rounds on the same structure (steady state, memory already touched).
//! Samples are interleaved (each starting with a different contender); the table gives
//! medians, the ratio of medians, and the median of per-sample ratios to the BinaryHeap.
//! Part 2 (real clock): 10k timeouts with random delays on an otherwise idle `EventLoop`
//! (1 ms timer tick); lateness = time of the `timeout` call minus the deadline.
//!
//! `READYIO_BENCH_QUICK=1` shrinks both parts to a few seconds.

mod support;
#[path = "../../src/event_loop/timer_wheel.rs"]
#[allow(dead_code)]
mod timer_wheel;
#[path = "support/timer_wheel_whole_slot_cascades.rs"]
#[allow(dead_code)]
mod timer_wheel_whole_slot_cascades;

use hierarchical_hash_wheel_timer::wheels::cancellable::{CancellableTimerEntry, QuadWheelWithOverflow};
use readyio::{EventLoop, Handler};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};
use support::counting_alloc::{allocations, CountingAlloc};
use support::median;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const MS: u64 = 1_000_000;
const SPAN_MS: u64 = 10_000;
/// Each contender runs the whole cycle twice on the same structure and the second round is
/// measured: the steady state of a long-running loop, without first-touch page faults.
const ROUNDS: u64 = 2;

fn quick() -> bool {
    std::env::var_os("READYIO_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// Deterministic random deadlines in [0, 10 s), nanoseconds.
fn deadlines(n: usize) -> Vec<u64> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % (SPAN_MS * MS)
        })
        .collect()
}

/// Nanoseconds spent in each phase of one run, and the allocations it made.
#[derive(Default, Clone, Copy)]
struct Phases {
    insert: f64,
    cancel: f64,
    expire: f64,
    allocations: u64,
}

fn timed(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as f64
}

/// Defines `$run`, which drives readyio's wheel type `$wheel`: 1 ms ticks, 1024 slots per
/// level, preallocated for all timers.
macro_rules! wheel_runner {
    ($run:ident, $wheel:ty) => {
        fn $run(deadlines: &[u64]) -> Phases {
            let mut wheel = <$wheel>::new(deadlines.len(), MS, 1024);
            let mut keys = Vec::with_capacity(deadlines.len());
            let mut measured = Phases::default();
            for round in 0..ROUNDS {
                let base = round * SPAN_MS * MS;
                keys.clear();
                let before = allocations();
                let mut fired = 0u64;
                let insert = timed(|| {
                    for (i, &d) in deadlines.iter().enumerate() {
                        keys.push(wheel.insert(base + d, i as u32).unwrap_or_else(|_| panic!("full")));
                    }
                });
                let cancel = timed(|| {
                    for key in keys.iter().step_by(2) {
                        black_box(wheel.cancel(*key));
                    }
                });
                let expire = timed(|| {
                    for ms in 1..=SPAN_MS {
                        while let Some(v) = wheel.poll(base + ms * MS) {
                            fired += u64::from(black_box(v)) & 1;
                        }
                    }
                });
                assert!(wheel.is_empty());
                black_box(fired);
                measured = Phases { insert, cancel, expire, allocations: allocations() - before };
            }
            measured
        }
    };
}
wheel_runner!(run_readyio, timer_wheel::TimerWheel<u32>);
wheel_runner!(run_readyio_whole_slot_cascades, timer_wheel_whole_slot_cascades::TimerWheel<u32>);

/// The usual heap timer: `(deadline, id)` in a min-heap, cancellation by a flag per id
/// (lazy deletion), expiry by popping everything due.
fn run_binary_heap(deadlines: &[u64]) -> Phases {
    let mut heap = BinaryHeap::with_capacity(deadlines.len());
    let mut cancelled = vec![false; deadlines.len()];
    let mut measured = Phases::default();
    for round in 0..ROUNDS {
        let base = round * SPAN_MS * MS;
        cancelled.fill(false);
        let before = allocations();
        let mut fired = 0u64;
        let insert = timed(|| {
            for (i, &d) in deadlines.iter().enumerate() {
                heap.push(Reverse((base + d, i as u32)));
            }
        });
        let cancel = timed(|| {
            for i in (0..deadlines.len()).step_by(2) {
                cancelled[i] = true;
            }
        });
        let expire = timed(|| {
            for ms in 1..=SPAN_MS {
                while let Some(&Reverse((d, id))) = heap.peek() {
                    if d > base + ms * MS {
                        break;
                    }
                    heap.pop();
                    if !cancelled[id as usize] {
                        fired += u64::from(black_box(id)) & 1;
                    }
                }
            }
        });
        assert!(heap.is_empty());
        black_box(fired);
        measured = Phases { insert, cancel, expire, allocations: allocations() - before };
    }
    measured
}

#[derive(Debug)]
struct HhwtEntry {
    id: u32,
}

impl CancellableTimerEntry for HhwtEntry {
    type Id = u32;
    fn id(&self) -> &u32 {
        &self.id
    }
}

/// `hierarchical_hash_wheel_timer`'s cancellable quad wheel (1 ms per `tick`).
fn run_hhwt(deadlines: &[u64]) -> Phases {
    let mut wheel: QuadWheelWithOverflow<HhwtEntry> = QuadWheelWithOverflow::new();
    let mut measured = Phases::default();
    for _ in 0..ROUNDS {
        let before = allocations();
        let mut fired = 0u64;
        let insert = timed(|| {
            for (i, &d) in deadlines.iter().enumerate() {
                // Its delays are whole ticks; round up so nothing fires early.
                let delay = Duration::from_millis(d.div_ceil(MS).max(1));
                wheel.insert_ref_with_delay(Rc::new(HhwtEntry { id: i as u32 }), delay).unwrap();
            }
        });
        let cancel = timed(|| {
            for i in (0..deadlines.len()).step_by(2) {
                black_box(wheel.cancel(&(i as u32)).is_ok());
            }
        });
        let expire = timed(|| {
            for _ in 0..=SPAN_MS {
                for e in wheel.tick() {
                    fired += u64::from(black_box(e.id)) & 1;
                }
            }
        });
        black_box(fired);
        measured = Phases { insert, cancel, expire, allocations: allocations() - before };
    }
    measured
}

fn data_structures() {
    let n = if quick() { 100_000 } else { 1_000_000 };
    let samples = if quick() { 3 } else { 7 };
    let deadlines = deadlines(n);
    type Run = fn(&[u64]) -> Phases;
    let contenders: [(&str, Run); 4] = [
        ("readyio TimerWheel", run_readyio),
        ("std BinaryHeap", run_binary_heap),
        ("hierarchical_hash_wheel_timer", run_hhwt),
        ("readyio TimerWheel before issue 10 (whole-slot cascades)", run_readyio_whole_slot_cascades),
    ];
    let mut results: Vec<Vec<Phases>> = vec![Vec::new(); contenders.len()];
    // Interleaved, and each sample starts with a different contender, so neither drift on
    // the shared machine nor the memory a predecessor left behind favours one of them.
    for sample in 0..samples {
        for k in 0..contenders.len() {
            let i = (sample + k) % contenders.len();
            results[i].push((contenders[i].1)(&deadlines));
        }
    }
    let n_f = n as f64;
    let half = (n / 2) as f64;
    println!("\n### Timers: {n} timeouts within 10 s, cancel half, fire the rest (2nd round, median of {samples})\n");
    println!("| contender | insert ns/timer | cancel ns/timer | expire ns/timer | total ns/timer | ratio to BinaryHeap | paired ratio | allocations/timer |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let total = |p: &Phases| (p.insert + p.cancel + p.expire) / n_f;
    let mut base_totals: Vec<f64> = results[1].iter().map(total).collect();
    let base = median(&mut base_totals);
    for (i, (name, _)) in contenders.iter().enumerate() {
        let r = &results[i];
        let mut ins: Vec<f64> = r.iter().map(|p| p.insert / n_f).collect();
        let mut can: Vec<f64> = r.iter().map(|p| p.cancel / half).collect();
        let mut exp: Vec<f64> = r.iter().map(|p| p.expire / half).collect();
        let mut tot: Vec<f64> = r.iter().map(total).collect();
        let t = median(&mut tot);
        let mut paired: Vec<f64> = r.iter().zip(&results[1]).map(|(p, b)| total(p) / total(b)).collect();
        let allocs = r.iter().map(|p| p.allocations).max().unwrap() as f64 / n_f;
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.3} | {:.3} | {:.3} |",
            median(&mut ins),
            median(&mut can),
            median(&mut exp),
            t,
            t / base,
            median(&mut paired),
            allocs
        );
    }
    println!(
        "\n(total = all three phases / {n}; cancel and expire are per cancelled / fired timer; ratio = median \
         total / BinaryHeap's median total; paired ratio = median over samples of total / BinaryHeap's total in \
         the same sample)"
    );
}

/// Records how late each timeout fired.
struct Lateness {
    deadlines: Vec<Instant>,
    late_ns: Vec<i128>,
}

impl Handler for Lateness {
    type Timeout = u32;
    type Message = ();
    fn timeout(&mut self, event_loop: &mut EventLoop<Self>, i: u32) {
        let now = Instant::now();
        let deadline = self.deadlines[i as usize];
        let late =
            if now >= deadline { (now - deadline).as_nanos() as i128 } else { -((deadline - now).as_nanos() as i128) };
        self.late_ns.push(late);
        if self.late_ns.len() == self.deadlines.len() {
            event_loop.shutdown();
        }
    }
}

/// p50, p99 and max of `late_ns` in µs, and how many were negative (early); the whole
/// distribution (as quantiles) goes to the JSON output only.
fn lateness_row(table: &support::Table, name: &str, n: u32, late_ns: &[i128]) {
    let early = late_ns.iter().filter(|&&l| l < 0).count();
    let mut late: Vec<f64> = late_ns.iter().map(|&l| l as f64 / 1000.0).collect();
    late.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| late[((late.len() - 1) as f64 * p).round() as usize];
    let (p50, p99, max) = (pct(0.5), pct(0.99), late[late.len() - 1]);
    table.row(&[
        name.into(),
        n.to_string(),
        format!("{p50:.1}"),
        format!("{p99:.1}"),
        format!("{max:.1}"),
        early.to_string(),
    ]);
    let quantiles: Vec<f64> = (0..=1000).map(|q| q as f64 / 1000.0).collect();
    support::json_record(
        "Timer lateness distribution",
        &[
            ("run", support::Json::Str(name.into())),
            ("quantiles", support::Json::Nums(quantiles.clone())),
            ("late_us", support::Json::Nums(quantiles.iter().map(|&q| pct(q)).collect())),
        ],
    );
}

fn signed_ns(now: Instant, deadline: Instant) -> i128 {
    if now >= deadline {
        (now - deadline).as_nanos() as i128
    } else {
        -((deadline - now).as_nanos() as i128)
    }
}

fn lateness_on_idle_loop() {
    let (n, span_ms) = if quick() { (1_000u32, 500u64) } else { (10_000, 5_000) };
    let mut event_loop = EventLoop::new().unwrap();
    let mut handler = Lateness { deadlines: Vec::with_capacity(n as usize), late_ns: Vec::with_capacity(n as usize) };
    let mut x = 88172645463325252u64;
    let mut delays = Vec::with_capacity(n as usize);
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = Duration::from_nanos(MS + x % (span_ms * MS));
        delays.push(delay);
        handler.deadlines.push(Instant::now() + delay);
        event_loop.timeout(i, delay).unwrap();
    }
    event_loop.run(&mut handler).unwrap();

    // The floor the OS gives on this machine: one thread sleeping to each deadline in turn.
    delays.sort();
    let start = Instant::now();
    let floor: Vec<i128> = delays
        .iter()
        .map(|&delay| {
            let deadline = start + delay;
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
            signed_ns(Instant::now(), deadline)
        })
        .collect();

    let table = support::Table::new(
        &format!("Timer lateness: {n} timeouts, random delays 1 ms ..= {span_ms} ms, 1 ms tick"),
        "| run | timers | p50 µs | p99 µs | max µs | fired early |",
        "|---|---:|---:|---:|---:|---:|",
    );
    lateness_row(&table, "readyio EventLoop (idle but for its timers)", n, &handler.late_ns);
    lateness_row(&table, "floor: std::thread::sleep to each deadline", n, &floor);
}

fn main() {
    data_structures();
    lateness_on_idle_loop();
}
