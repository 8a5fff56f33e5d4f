//! Shared by the benchmark binaries: the counting allocator, timing of repeated samples,
//! medians, and tables that put every contender beside the baseline as a ratio.
//!
//! Each benchmark runs its contenders interleaved in one process (sample 1 of each, then
//! sample 2 of each, ...) so that noise from the shared machine hits them alike.
//!
//! Machine-readable output: with `READYIO_BENCH_JSON=PATH` set, every row a [`Table`]
//! prints (and every [`json_record`]) is also appended to `PATH` as one JSON object per
//! line: `{"bench": "poll", "table": "<title>", "<column>": value, ...}`, numbers as
//! numbers. `ci/charts.py` draws BENCHMARKS.md's charts from these lines.

#![allow(dead_code)]

#[path = "../../../tests/support/counting_alloc.rs"]
pub mod counting_alloc;

use std::fmt::Write as _;
use std::io::Write as _;
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
    let table = Table::new(
        title,
        &format!("| contender | median {unit} | ratio to {baseline} | allocations/op |"),
        "|---|---:|---:|---:|",
    );
    for row in rows {
        table.row(&[
            row.name.clone(),
            format!("{:.1}", row.median_ns),
            format!("{:.3}", row.median_ns / base),
            format!("{:.3}", row.allocs_per_op),
        ]);
    }
}

/// A markdown table printed row by row, each row also recorded as JSON (see the module
/// docs) with the header's column names as keys; cells that read as numbers are recorded
/// as numbers.
pub struct Table {
    title: String,
    columns: Vec<String>,
}

impl Table {
    /// Prints `### title`, then `header` (a markdown header line such as
    /// `| producers | contender | Mmsg/s |`) and `alignment` (its `|---:|---|---:|` line).
    pub fn new(title: &str, header: &str, alignment: &str) -> Table {
        println!("\n### {title}\n");
        println!("{header}");
        println!("{alignment}");
        let columns: Vec<String> = header.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect();
        Table { title: title.to_string(), columns }
    }

    /// Prints one row (one cell per column, already formatted) and records it.
    pub fn row(&self, cells: &[String]) {
        assert_eq!(cells.len(), self.columns.len(), "a row of table {:?} has the wrong number of cells", self.title);
        println!("| {} |", cells.join(" | "));
        let fields: Vec<(&str, Json)> =
            self.columns.iter().zip(cells).map(|(column, cell)| (column.as_str(), Json::from_cell(cell))).collect();
        json_record(&self.title, &fields);
    }
}

/// A JSON value of a record.
pub enum Json {
    /// A number (NaN and infinities are written as `null`).
    Num(f64),
    /// A string.
    Str(String),
    /// A list of numbers.
    Nums(Vec<f64>),
}

impl Json {
    /// A table cell: a number if it reads as one, else a string.
    fn from_cell(cell: &str) -> Json {
        cell.trim().parse::<f64>().map(Json::Num).unwrap_or_else(|_| Json::Str(cell.to_string()))
    }
}

/// Appends `{"bench": <this benchmark>, "table": table, fields...}` as one line to the file
/// named by `READYIO_BENCH_JSON`; does nothing when it is not set.
pub fn json_record(table: &str, fields: &[(&str, Json)]) {
    let Some(path) = std::env::var_os("READYIO_BENCH_JSON") else { return };
    let mut line = format!("{{\"bench\": {}, \"table\": {}", json_string(&bench_name()), json_string(table));
    for (name, value) in fields {
        let _ = write!(line, ", {}: ", json_string(name));
        match value {
            Json::Num(n) => line.push_str(&json_number(*n)),
            Json::Str(s) => line.push_str(&json_string(s)),
            Json::Nums(list) => {
                let items: Vec<String> = list.iter().map(|&n| json_number(n)).collect();
                let _ = write!(line, "[{}]", items.join(", "));
            }
        }
    }
    line.push_str("}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!("READYIO_BENCH_JSON={}: {e}", path.to_string_lossy());
    }
}

/// This benchmark's name: its executable's, without the hash cargo appends (`poll-1a2b...`).
fn bench_name() -> String {
    let exe = std::env::args().next().unwrap_or_default();
    let file = std::path::Path::new(&exe).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    match file.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => name.to_string(),
        _ => file,
    }
}

fn json_number(n: f64) -> String {
    if n.is_finite() {
        format!("{n}")
    } else {
        "null".to_string()
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
