//! Shared by the benchmark binaries: the counting allocator, timing of repeated samples,
//! medians, and a table that puts every contender beside the baseline as a ratio.
//!
//! Each benchmark runs its contenders interleaved in one process (sample 1 of each, then
//! sample 2 of each, ...) so that noise from the shared machine hits them alike.

#![allow(dead_code)]

#[path = "../../../tests/support/counting_alloc.rs"]
pub mod counting_alloc;

use std::time::{Duration, Instant};

/// The median of `samples` (sorted in place).
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN samples"));
    let n = samples.len();
    assert!(n > 0, "median of no samples");
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    }
}

/// Nanoseconds per operation of one sample that ran `ops` operations in `elapsed`.
pub fn ns_per_op(elapsed: Duration, ops: u64) -> f64 {
    elapsed.as_nanos() as f64 / ops as f64
}

/// Times `f`, which performs `ops` operations, and returns ns per operation.
pub fn time_ns_per_op(ops: u64, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    ns_per_op(start.elapsed(), ops)
}

/// One row of a comparison: a contender's median and its allocations per operation.
pub struct Row {
    pub name: String,
    pub median_ns: f64,
    pub allocs_per_op: f64,
}

/// Prints a markdown table of `rows` with each median's ratio to the row named `baseline`.
pub fn print_table(title: &str, unit: &str, baseline: &str, rows: &[Row]) {
    let base = rows.iter().find(|r| r.name == baseline).map(|r| r.median_ns).unwrap_or(f64::NAN);
    println!("\n### {title}\n");
    println!("| contender | median {unit} | ratio to {baseline} | allocations/op |");
    println!("|---|---:|---:|---:|");
    for row in rows {
        println!("| {} | {:.1} | {:.3} | {:.3} |", row.name, row.median_ns, row.median_ns / base, row.allocs_per_op);
    }
}
