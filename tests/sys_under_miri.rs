//! The syscall layer through the public API, on the kernel interfaces Miri emulates, so
//! that `ci/miri.sh` can check the `unsafe` of `src/sys` (pointers and lengths handed to
//! `read`/`write`/`readv`/`writev`, the `epoll_event` buffer `epoll_wait` fills, the
//! eventfd counter) for undefined behaviour. The same tests run natively with `cargo test`.
//!
//! Miri emulates edge-triggered epoll, eventfd, pipes and their vectored reads and
//! writes; it has no level-triggered epoll, no `EPOLLONESHOT` and no socket `send`, so
//! everything here is edge-triggered and over pipes.

use readyio::buf::{Buf, BufMut, RingBuf};
use readyio::unix::{pipe, PipeReader};
use readyio::{EventLoop, EventSet, Handler, Poll, PollOpt, Token, TryRead, TryWrite};
use std::io::{self, Read, Write};
use std::time::Duration;

const READER: Token = Token(1);
const WRITER: Token = Token(2);

/// The tokens and kinds of the next poll's events.
fn poll_once(poll: &mut Poll, timeout: Duration) -> Vec<(Token, EventSet)> {
    poll.poll_timeout(Some(timeout)).expect("poll");
    poll.events().map(|event| (event.token, event.kind)).collect()
}

#[test]
fn an_edge_triggered_pipe_reports_each_write_once_and_hands_back_the_bytes() {
    let (mut reader, mut writer) = pipe().expect("pipe2");
    let mut poll = Poll::new().expect("epoll_create1");
    poll.register(&reader, READER, EventSet::readable(), PollOpt::edge()).expect("register reader");
    poll.register(&writer, WRITER, EventSet::writable(), PollOpt::edge()).expect("register writer");

    let first = poll_once(&mut poll, Duration::from_millis(100));
    assert_eq!(first.len(), 1, "only the writer is ready at first: {first:?}");
    assert_eq!(first[0].0, WRITER);
    assert!(first[0].1.is_writable());
    assert!(poll_once(&mut poll, Duration::ZERO).is_empty(), "an edge is reported once");

    assert_eq!(writer.try_write(b"ping").expect("write"), Some(4));
    let ready = poll_once(&mut poll, Duration::from_millis(100));
    assert!(ready.iter().any(|&(token, kind)| token == READER && kind.is_readable()), "{ready:?}");
    let mut buf = [0u8; 16];
    assert_eq!(reader.try_read(&mut buf).expect("read"), Some(4));
    assert_eq!(&buf[..4], b"ping");
    assert_eq!(reader.try_read(&mut buf).expect("read"), None, "drained: would block");

    poll.deregister(&reader).expect("deregister");
    assert_eq!(writer.try_write(b"more").expect("write"), Some(4));
    let after = poll_once(&mut poll, Duration::ZERO);
    assert!(after.iter().all(|&(token, _)| token != READER), "deregistered reader reported: {after:?}");
}

/// A ring of 16 bytes holding 4 bytes of filler at offsets 8..12, so that its free space
/// wraps: 4 bytes at the end, 8 at the start.
fn ring_with_wrapped_free_space() -> RingBuf {
    let mut ring = RingBuf::with_capacity(16);
    ring.put_slice(&[0xEE; 12]);
    ring.advance(8);
    ring
}

#[test]
fn wrapped_rings_cross_a_pipe_with_one_writev_and_one_readv() {
    let (mut reader, mut writer) = pipe().expect("pipe2");
    let message = b"0123456789ab";
    let mut outgoing = ring_with_wrapped_free_space();
    outgoing.put_slice(message);
    outgoing.advance(4);
    assert_eq!(outgoing.as_slices().1.len(), 8, "the message wraps");
    assert_eq!(writer.try_write_buf(&mut outgoing).expect("writev"), Some(message.len()));
    assert!(outgoing.is_empty());

    let mut incoming = ring_with_wrapped_free_space();
    assert_eq!(reader.try_read_buf_vectored(&mut incoming).expect("readv"), Some(message.len()));
    assert!(incoming.is_full(), "the read filled both free regions");
    incoming.advance(4);
    let (first, second) = incoming.as_slices();
    assert_eq!((first.len(), second.len()), (4, 8));
    assert_eq!([first, second].concat(), message);
    assert_eq!(reader.try_read_buf_vectored(&mut incoming).expect("readv"), None, "drained: would block");

    drop(writer);
    let mut rest = Vec::new();
    assert_eq!(reader.read_to_end(&mut rest).expect("read to end"), 0, "end of stream once the writer is gone");
}

/// Counts messages and timeouts; stops the loop after `stop_after` events.
struct Counter {
    messages: Vec<u32>,
    timeouts: Vec<&'static str>,
    reader_ready: usize,
    stop_after: usize,
}

impl Counter {
    fn seen(&self) -> usize {
        self.messages.len() + self.timeouts.len() + self.reader_ready
    }
}

impl Handler for Counter {
    type Timeout = &'static str;
    type Message = u32;
    fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, events: EventSet) {
        assert_eq!(token, READER);
        assert!(events.is_readable());
        self.reader_ready += 1;
        if self.seen() >= self.stop_after {
            event_loop.shutdown();
        }
    }
    fn notify(&mut self, event_loop: &mut EventLoop<Self>, msg: u32) {
        self.messages.push(msg);
        if self.seen() >= self.stop_after {
            event_loop.shutdown();
        }
    }
    fn timeout(&mut self, event_loop: &mut EventLoop<Self>, timeout: &'static str) {
        self.timeouts.push(timeout);
        if self.seen() >= self.stop_after {
            event_loop.shutdown();
        }
    }
}

#[test]
fn the_event_loop_wakes_for_messages_from_another_thread_timers_and_a_pipe() {
    let mut event_loop: EventLoop<Counter> = EventLoop::new().expect("event loop");
    let (reader, mut writer): (PipeReader, _) = pipe().expect("pipe2");
    event_loop.register(&reader, READER, EventSet::readable(), PollOpt::edge()).expect("register");
    let sender = event_loop.channel();
    // Messages sent from another thread wake the loop through the eventfd.
    let producer = std::thread::spawn(move || {
        for i in 0..3 {
            sender.send(i).expect("send");
        }
    });
    // Set in deadline order: under Miri the clock runs with the interpreted code, so the
    // time between two calls can outweigh a small difference of delays.
    event_loop.timeout("sooner", Duration::from_millis(1)).expect("timeout");
    event_loop.timeout("later", Duration::from_millis(5)).expect("timeout");
    writer.write_all(b"x").expect("write");
    let mut counter = Counter { messages: Vec::new(), timeouts: Vec::new(), reader_ready: 0, stop_after: 6 };
    event_loop.run(&mut counter).expect("run");
    producer.join().expect("producer");
    assert_eq!(counter.messages, vec![0, 1, 2], "every message, once, in order");
    assert_eq!(counter.timeouts, vec!["sooner", "later"], "timeouts in deadline order");
    assert_eq!(counter.reader_ready, 1);
}

#[test]
fn writing_to_a_pipe_whose_reader_is_gone_is_an_error_not_a_signal() {
    let (reader, mut writer) = pipe().expect("pipe2");
    drop(reader);
    let err = writer.try_write(b"lost").expect_err("EPIPE");
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    let _ = writer.flush();
}
