//! Echo of 1 GiB over a loopback TCP connection, the server side buffering through one of:
//!
//! * `RingBuf`: `try_read_buf_vectored` (one `recv`/`readv` even when the free space
//!   wraps) and `try_write_buf` (one `sendmsg` even when the data wraps); never copies.
//! * `Vec<u8> copy loop`: a plain array, `read` appends at the end, `write` from the
//!   start, compacted (`copy_within`) when the end is reached with data still unsent.
//! * `BytesMut`: `try_read_buf` (the generic `BufMut` path, which zero-fills the chunk it
//!   reads into) into its spare tail, and `try_write_buf`; the front of its storage comes
//!   back (`clear` + `reserve`: no copy, no allocation) once it is drained.
//!
//! All three use a 64 KiB buffer, readyio's `tcp::TcpStream` and `Poll` (edge-triggered)
//! and the same client: one thread that sends and receives through non-blocking sockets. Contenders run
//! interleaved in one process, a different order each round; round 0 is a warm-up that
//! also checks every echoed byte. Reported: median throughput, ratio to the best other
//! contender, the server's syscalls per MiB echoed (it counts its read, write and poll
//! calls, each exactly one syscall: `recv`/`readv`, `send`/`sendmsg`, `epoll_wait`; check
//! with `strace -c -f` and `READYIO_ECHO_ONLY`), and heap allocations during the transfers
//! (process-wide, counting allocator).
//!
//! `READYIO_BENCH_QUICK=1`: 64 MiB per echo, 3 rounds. `READYIO_ECHO_ONLY=ring|vec|bytesmut`
//! runs one contender, e.g. under `strace -c -f` to count syscalls independently.

#[path = "support/mod.rs"]
mod support;

use readyio::buf::{BytesMut, RingBuf};
use readyio::tcp::TcpStream as Stream;
use readyio::{EventSet, Poll, PollOpt, Token, TryRead, TryWrite};
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use support::counting_alloc::{allocations, CountingAlloc};
use support::{median, print_table, Row};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const BUFFER: usize = 64 * 1024;
const MIB: f64 = 1024.0 * 1024.0;
/// Longest a poll may wait: a stalled echo fails the run instead of hanging it.
const STALL: Duration = Duration::from_secs(10);

/// A server-side echo buffer: fill from the socket, drain to it; `Ok(None)` = WouldBlock.
trait EchoBuffer {
    fn name(&self) -> &'static str;
    fn has_room(&self) -> bool;
    fn has_data(&self) -> bool;
    fn fill(&mut self, socket: &mut Stream) -> io::Result<Option<usize>>;
    fn drain(&mut self, socket: &mut Stream) -> io::Result<Option<usize>>;
}

struct Ring(RingBuf);

impl EchoBuffer for Ring {
    fn name(&self) -> &'static str {
        "RingBuf (vectored)"
    }
    fn has_room(&self) -> bool {
        !self.0.is_full()
    }
    fn has_data(&self) -> bool {
        !self.0.is_empty()
    }
    fn fill(&mut self, socket: &mut Stream) -> io::Result<Option<usize>> {
        socket.try_read_buf_vectored(&mut self.0)
    }
    fn drain(&mut self, socket: &mut Stream) -> io::Result<Option<usize>> {
        socket.try_write_buf(&mut self.0)
    }
}

struct CopyLoop {
    storage: Vec<u8>,
    start: usize,
    end: usize,
}

impl EchoBuffer for CopyLoop {
    fn name(&self) -> &'static str {
        "Vec<u8> copy loop"
    }
    fn has_room(&self) -> bool {
        self.end < self.storage.len() || self.start > 0
    }
    fn has_data(&self) -> bool {
        self.start < self.end
    }
    fn fill(&mut self, socket: &mut Stream) -> io::Result<Option<usize>> {
        if self.end == self.storage.len() {
            self.storage.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let read = socket.try_read(&mut self.storage[self.end..])?;
        self.end += read.unwrap_or(0);
        Ok(read)
    }
    fn drain(&mut self, socket: &mut Stream) -> io::Result<Option<usize>> {
        let written = socket.try_write(&self.storage[self.start..self.end])?;
        self.start += written.unwrap_or(0);
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        Ok(written)
    }
}

struct Bytes(BytesMut);

impl EchoBuffer for Bytes {
    fn name(&self) -> &'static str {
        "BytesMut"
    }
    fn has_room(&self) -> bool {
        // `advance` gives up the front of the storage; it comes back (without a copy or an
        // allocation) only once drained, so a BytesMut reads only into the spare tail.
        self.0.capacity() > self.0.len()
    }
    fn has_data(&self) -> bool {
        !self.0.is_empty()
    }
    fn fill(&mut self, socket: &mut Stream) -> io::Result<Option<usize>> {
        socket.try_read_buf(&mut self.0)
    }
    fn drain(&mut self, socket: &mut Stream) -> io::Result<Option<usize>> {
        let written = socket.try_write_buf(&mut self.0)?;
        if self.0.is_empty() {
            // Reclaims the whole original allocation: no data to move, nothing allocated.
            self.0.clear();
            self.0.reserve(BUFFER);
        }
        Ok(written)
    }
}

/// What one echo measured.
struct Sample {
    seconds: f64,
    reads: u64,
    writes: u64,
    polls: u64,
    allocations: u64,
}

/// `(offset % 251)`-patterned bytes, so misordering or loss shows when verifying.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn nonblocking_stream(stream: TcpStream) -> Stream {
    let stream = Stream::from_std(stream).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// The client: sends `total` bytes and receives the echo, in one thread with its own Poll.
fn client(stream: TcpStream, total: usize, verify: bool, start: Arc<Barrier>, done: Arc<Barrier>) {
    let mut socket = nonblocking_stream(stream);
    let mut poll = Poll::new().unwrap();
    poll.register(&socket, Token(0), EventSet::readable() | EventSet::writable(), PollOpt::edge()).unwrap();
    // 251 extra bytes let every send start at the pattern phase of its stream offset.
    let outgoing = pattern(BUFFER + 251);
    let mut incoming = vec![0u8; BUFFER];
    let (mut sent, mut received) = (0usize, 0usize);
    start.wait();
    while received < total {
        let mut progressed = true;
        while progressed {
            progressed = false;
            if sent < total {
                let phase = sent % 251;
                let len = (total - sent).min(BUFFER);
                if let Some(n) = socket.try_write(&outgoing[phase..phase + len]).unwrap() {
                    sent += n;
                    progressed = true;
                }
            }
            if let Some(n) = socket.try_read(&mut incoming).unwrap() {
                assert!(n > 0, "server closed early");
                if verify {
                    let phase = received % 251;
                    assert!(incoming[..n] == outgoing[phase..phase + n], "echo corrupted at {received}");
                }
                received += n;
                progressed = true;
            }
        }
        if received < total {
            assert!(poll.poll_timeout(Some(STALL)).unwrap() > 0, "client stalled");
        }
    }
    done.wait();
}

/// Echoes `total` bytes through `buffer` on the calling thread; returns what it measured.
fn echo<B: EchoBuffer>(buffer: &mut B, total: usize, verify: bool) -> Sample {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (start, done) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let client_stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let client = {
        let (start, done) = (start.clone(), done.clone());
        std::thread::spawn(move || client(client_stream, total, verify, start, done))
    };
    let mut socket = nonblocking_stream(listener.accept().unwrap().0);
    let mut poll = Poll::new().unwrap();
    poll.register(&socket, Token(0), EventSet::readable() | EventSet::writable(), PollOpt::edge()).unwrap();

    start.wait();
    let allocations_before = allocations();
    let began = Instant::now();
    let (mut echoed, mut reads, mut writes, mut polls) = (0usize, 0u64, 0u64, 0u64);
    while echoed < total {
        let mut progressed = true;
        while progressed {
            progressed = false;
            if buffer.has_room() {
                reads += 1;
                match buffer.fill(&mut socket).unwrap() {
                    Some(0) => panic!("client closed early"),
                    Some(_) => progressed = true,
                    None => {}
                }
            }
            if buffer.has_data() {
                writes += 1;
                if let Some(n) = buffer.drain(&mut socket).unwrap() {
                    echoed += n;
                    progressed = n > 0;
                }
            }
        }
        if echoed < total {
            polls += 1;
            assert!(poll.poll_timeout(Some(STALL)).unwrap() > 0, "server stalled");
        }
    }
    done.wait();
    let seconds = began.elapsed().as_secs_f64();
    let allocations = allocations() - allocations_before;
    client.join().unwrap();
    Sample { seconds, reads, writes, polls, allocations }
}

fn main() {
    let quick = std::env::var_os("READYIO_BENCH_QUICK").is_some_and(|v| v == "1");
    let only = std::env::var("READYIO_ECHO_ONLY").ok();
    let (total, rounds) = if quick { (64usize << 20, 3) } else { (1usize << 30, 7) };

    let mut ring = Ring(RingBuf::with_capacity(BUFFER));
    let mut copy_loop = CopyLoop { storage: vec![0; BUFFER], start: 0, end: 0 };
    let mut bytes = Bytes(BytesMut::with_capacity(BUFFER));
    let names = [copy_loop.name(), bytes.name(), ring.name()];
    let keys = ["vec", "bytesmut", "ring"];
    let selected: Vec<usize> = (0..3).filter(|&i| only.as_deref().is_none_or(|o| o == keys[i])).collect();
    let mut samples: Vec<Vec<Sample>> = (0..3).map(|_| Vec::new()).collect();
    // RingBuf's throughput over each other contender's within a round: pairs samples
    // taken seconds apart, so slow drift in the machine's load cancels out.
    let mut round_ratios: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    // Over every round, warm-up included: the buffers must not allocate even while new.
    let mut transfer_allocations = [0u64; 3];

    println!("echo of {} MiB per sample over loopback TCP, {BUFFER}-byte server buffer, {rounds} rounds", total >> 20);
    for round in 0..=rounds {
        let verify = round == 0;
        let mut seconds = [f64::NAN; 3];
        for k in 0..selected.len() {
            let which = selected[(k + round) % selected.len()];
            let sample = match which {
                0 => echo(&mut copy_loop, total, verify),
                1 => echo(&mut bytes, total, verify),
                _ => echo(&mut ring, total, verify),
            };
            transfer_allocations[which] += sample.allocations;
            seconds[which] = sample.seconds;
            if round > 0 {
                samples[which].push(sample);
            }
        }
        if round > 0 && selected.len() == 3 {
            for other in 0..2 {
                round_ratios[other].push(seconds[other] / seconds[2]);
            }
        }
    }

    let mut rows = Vec::new();
    let mut throughput = [f64::NAN; 3];
    println!("\n| contender | median MiB/s | server reads/MiB | server writes/MiB | server epoll_wait/MiB | allocations during all transfers |");
    println!("|---|---:|---:|---:|---:|---:|");
    for &i in &selected {
        let s = &samples[i];
        let mib = total as f64 / MIB;
        let per_mib = |f: fn(&Sample) -> u64| median(&mut s.iter().map(|x| f(x) as f64 / mib).collect::<Vec<_>>());
        throughput[i] = median(&mut s.iter().map(|x| mib / x.seconds).collect::<Vec<_>>());
        let allocs = transfer_allocations[i];
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            names[i],
            throughput[i],
            per_mib(|x| x.reads),
            per_mib(|x| x.writes),
            per_mib(|x| x.polls),
            allocs
        );
        rows.push(Row {
            name: names[i].to_string(),
            median_ns: median(&mut s.iter().map(|x| x.seconds * 1e3).collect::<Vec<_>>()),
            allocs_per_op: allocs as f64 / (s.len() + 1) as f64,
        });
    }
    print_table("Echo time per sample", "ms", names[0], &rows);
    if selected.len() == 3 {
        let best_other = throughput[0].max(throughput[1]);
        println!("\nRingBuf throughput / best other: {:.3}x (ratio of medians)", throughput[2] / best_other);
        // The best of two noisy medians is biased upwards (the larger of two equal
        // noisy values exceeds either on average), so the pairwise ratios are printed too.
        for other in 0..2 {
            let spread: Vec<String> = round_ratios[other].iter().map(|r| format!("{r:.2}")).collect();
            println!(
                "RingBuf / {}, median of per-round ratios: {:.3}x (rounds: {})",
                names[other],
                median(&mut round_ratios[other]),
                spread.join(" ")
            );
        }
    }
    io::stdout().flush().unwrap();
}
