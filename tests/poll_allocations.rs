//! "Zero heap allocations once running", pinned with a counting global allocator: a poll
//! (empty or with events), iterating its events, a ping-pong round trip through
//! `tcp::TcpStream`,
//! and register/reregister/deregister of an fd the selector has seen before.
//!
//! The counter is process-wide and the test harness runs tests on several threads, so
//! each measurement holds one lock (no other test measures or sets up meanwhile) and
//! is tried up to three times: the harness's own bookkeeping can land in one attempt, but
//! an allocation made by the measured code shows up in every attempt (at least once per
//! iteration), so requiring one clean attempt still catches it.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{allocations, CountingAlloc};
use readyio::tcp::TcpStream;
use readyio::{EventSet, Poll, PollOpt, Token};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::Duration;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Serialises the tests of this file: one measures at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const ITERATIONS: usize = 1_000;
const ATTEMPTS: usize = 3;

/// Runs `op` once to warm up, then `ITERATIONS` times per attempt, and fails unless some
/// attempt allocated nothing.
fn assert_allocation_free(what: &str, mut op: impl FnMut()) {
    op();
    let mut counts = Vec::with_capacity(ATTEMPTS);
    for _ in 0..ATTEMPTS {
        let before = allocations();
        for _ in 0..ITERATIONS {
            op();
        }
        let allocated = allocations() - before;
        if allocated == 0 {
            return;
        }
        counts.push(allocated);
    }
    panic!("{what} allocated in every attempt: {counts:?} allocations per {ITERATIONS} iterations");
}

/// `k` connected loopback TCP pairs (client, server) as readyio `TcpStream`s.
fn tcp_pairs(k: usize) -> Vec<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    (0..k)
        .map(|_| {
            let client = std::net::TcpStream::connect(addr).expect("connect");
            let (server, _) = listener.accept().expect("accept");
            for s in [&client, &server] {
                s.set_nodelay(true).expect("TCP_NODELAY");
            }
            (TcpStream::from_std(client).expect("from_std"), TcpStream::from_std(server).expect("from_std"))
        })
        .collect()
}

#[test]
fn empty_polls_allocate_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pairs = tcp_pairs(1);
    let mut poll = Poll::new().expect("Poll::new");
    poll.register(&pairs[0].1, Token(0), EventSet::readable(), PollOpt::edge()).expect("register");
    assert_allocation_free("an empty poll", || {
        assert_eq!(poll.poll(Some(0)).expect("poll"), 0);
        assert_eq!(poll.events().count(), 0);
        assert_eq!(poll.poll_timeout(Some(Duration::ZERO)).expect("poll_timeout"), 0);
    });
}

#[test]
fn sub_millisecond_polls_allocate_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut poll = Poll::new().expect("Poll::new");
    assert_allocation_free("a 1 µs poll", || {
        assert_eq!(poll.poll_timeout(Some(Duration::from_micros(1))).expect("poll_timeout"), 0);
    });
}

#[test]
fn polls_with_events_and_iterating_them_allocate_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const K: usize = 16;
    let pairs = tcp_pairs(K);
    let mut poll = Poll::new().expect("Poll::new");
    for (i, (client, server)) in pairs.iter().enumerate() {
        // Level-triggered with data left unread: every poll reports all K servers.
        poll.register(server, Token(i), EventSet::readable(), PollOpt::level()).expect("register");
        (&*client).write_all(&[7; 64]).expect("write");
    }
    // Wait until every server's data has arrived.
    for _ in 0..100 {
        if poll.poll(Some(100)).expect("poll") == K {
            break;
        }
    }
    assert_allocation_free("a poll with events and their iteration", || {
        assert_eq!(poll.poll(Some(1000)).expect("poll"), K);
        let mut tokens = 0;
        for event in poll.events() {
            assert!(event.kind.is_readable());
            tokens += event.token.0;
        }
        assert_eq!(tokens, (0..K).sum::<usize>());
        for idx in 0..poll.events_len() {
            assert!(poll.event(idx).kind.is_readable());
            assert!(poll.get_event(idx).is_some());
        }
    });
}

#[test]
fn ping_pong_round_trips_allocate_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pairs = tcp_pairs(1);
    let (client, server) = &pairs[0];
    let mut poll = Poll::new().expect("Poll::new");
    poll.register(server, Token(0), EventSet::readable(), PollOpt::edge()).expect("register");
    poll.register(client, Token(1), EventSet::readable(), PollOpt::edge()).expect("register");
    let mut buf = [0u8; 4096];
    let wait_for = |poll: &mut Poll, token: Token| {
        for _ in 0..50 {
            poll.poll(Some(100)).expect("poll");
            if poll.events().any(|e| e.token == token && e.kind.is_readable()) {
                return;
            }
        }
        panic!("no readable event for {token:?}");
    };
    assert_allocation_free("a ping-pong round trip", || {
        assert_eq!((&*client).write(&[1; 64]).expect("client write"), 64);
        wait_for(&mut poll, Token(0));
        let n = (&*server).read(&mut buf).expect("server read");
        assert_eq!((&*server).write(&buf[..n]).expect("server write"), n);
        wait_for(&mut poll, Token(1));
        assert_eq!((&*client).read(&mut buf).expect("client read"), 64);
    });
}

#[test]
fn register_reregister_deregister_allocate_nothing_once_the_fd_was_seen() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pairs = tcp_pairs(1);
    let server = &pairs[0].1;
    let mut poll = Poll::new().expect("Poll::new");
    assert_allocation_free("register + reregister + deregister", || {
        poll.register(server, Token(3), EventSet::readable(), PollOpt::edge()).expect("register");
        poll.reregister(server, Token(4), EventSet::readable() | EventSet::writable(), PollOpt::level())
            .expect("reregister");
        poll.deregister(server).expect("deregister");
    });
}
