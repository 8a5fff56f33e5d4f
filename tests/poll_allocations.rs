//! "Zero heap allocations once running", pinned with a counting global allocator: a poll
//! (empty or with events), iterating its events, a ping-pong round trip through
//! `tcp::TcpStream`,
//! and register/reregister/deregister of an fd the selector has seen before.
//!
//! Allocations are counted for the measuring thread only, so the test harness's other
//! threads cannot disturb the count.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{thread_allocations, CountingAlloc};
use readyio::tcp::TcpStream;
use readyio::{EventSet, Poll, PollOpt, Token};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const ITERATIONS: usize = 1_000;

/// Runs `op` once to warm up, then `ITERATIONS` times, and fails if that allocated.
fn assert_allocation_free(what: &str, mut op: impl FnMut()) {
    op();
    let before = thread_allocations();
    for _ in 0..ITERATIONS {
        op();
    }
    let allocated = thread_allocations() - before;
    assert_eq!(allocated, 0, "{what} allocated {allocated} times in {ITERATIONS} iterations");
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
    let mut poll = Poll::new().expect("Poll::new");
    assert_allocation_free("a 1 µs poll", || {
        assert_eq!(poll.poll_timeout(Some(Duration::from_micros(1))).expect("poll_timeout"), 0);
    });
}

#[test]
fn polls_with_events_and_iterating_them_allocate_nothing() {
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
