//! The readiness semantics of `Poll` that users trip over, pinned on the real kernel with
//! real sockets: level vs edge vs oneshot, hang-ups, registration errors, and events of
//! handles deregistered after the poll that fetched them.

use readyio::{EventSet, Io, IoEvent, Poll, PollOpt, Token};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A connected, non-blocking socket pair wrapped as readyio `Io`s.
fn pair() -> (Io, Io) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (Io::from(OwnedFd::from(a)), Io::from(OwnedFd::from(b)))
}

/// Polls once with a short timeout and returns what was reported.
fn poll_events(poll: &mut Poll) -> Vec<IoEvent> {
    poll.poll_timeout(Some(Duration::from_millis(50))).expect("poll");
    poll.events().collect()
}

fn readable_for(events: &[IoEvent], token: Token) -> bool {
    events.iter().any(|e| e.token == token && e.kind.is_readable())
}

#[test]
fn level_triggered_readiness_repeats_until_drained() {
    let (mut a, mut b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(1), EventSet::readable(), PollOpt::level()).unwrap();
    a.write_all(b"ping").unwrap();
    assert!(readable_for(&poll_events(&mut poll), Token(1)));
    assert!(readable_for(&poll_events(&mut poll), Token(1)), "level-triggered event must repeat");
    let mut buf = [0u8; 16];
    assert_eq!(b.read(&mut buf).unwrap(), 4);
    assert!(poll_events(&mut poll).is_empty(), "no event once drained");
}

#[test]
fn edge_triggered_readiness_is_reported_once_per_change() {
    let (mut a, b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(1), EventSet::readable(), PollOpt::edge()).unwrap();
    a.write_all(b"ping").unwrap();
    assert!(readable_for(&poll_events(&mut poll), Token(1)));
    assert!(poll_events(&mut poll).is_empty(), "edge-triggered event must not repeat without new data");
    a.write_all(b"more").unwrap();
    assert!(readable_for(&poll_events(&mut poll), Token(1)), "new data is a new edge");
}

#[test]
fn level_wins_over_edge_when_both_are_given() {
    let (_c, d) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&d, Token(4), EventSet::writable(), PollOpt::edge() | PollOpt::level()).unwrap();
    assert!(poll_events(&mut poll).iter().any(|e| e.token == Token(4) && e.kind.is_writable()));
    assert!(poll_events(&mut poll).iter().any(|e| e.token == Token(4)), "level semantics: repeats");
}

#[test]
fn oneshot_registration_is_silent_until_reregistered() {
    let (mut a, b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(2), EventSet::readable(), PollOpt::level() | PollOpt::oneshot()).unwrap();
    a.write_all(b"x").unwrap();
    assert!(readable_for(&poll_events(&mut poll), Token(2)));
    assert!(poll_events(&mut poll).is_empty(), "oneshot fired once and is now disabled");
    poll.reregister(&b, Token(3), EventSet::readable(), PollOpt::level() | PollOpt::oneshot()).unwrap();
    assert!(readable_for(&poll_events(&mut poll), Token(3)), "re-armed, with the new token");
}

#[test]
fn peer_close_is_reported_as_hup() {
    let (a, b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(5), EventSet::readable(), PollOpt::edge()).unwrap();
    drop(a);
    let events = poll_events(&mut poll);
    assert!(events.iter().any(|e| e.token == Token(5) && e.kind.is_hup() && e.is_read_closed()), "{events:?}");
}

#[test]
fn hup_interest_alone_reports_peer_close() {
    let (a, b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(6), EventSet::hup(), PollOpt::edge()).unwrap();
    assert!(poll_events(&mut poll).is_empty());
    drop(a);
    assert!(poll_events(&mut poll).iter().any(|e| e.token == Token(6) && e.kind.is_hup()));
}

#[test]
fn registering_the_same_fd_twice_is_already_exists() {
    let (_a, b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(1), EventSet::readable(), PollOpt::edge()).unwrap();
    let err = poll.register(&b, Token(2), EventSet::readable(), PollOpt::edge()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
}

/// A refused second `register` leaves the first registration exactly as it was: no extra
/// event, same token. On FreeBSD, macOS and NetBSD any change that names a live knote
/// without `EV_DELETE` runs the kernel's modify path, which re-queues an `EV_CLEAR` knote
/// whose condition still holds: readyio must learn "already registered" without one.
#[test]
fn a_refused_second_register_delivers_no_extra_event_and_keeps_the_first() {
    let (mut a, b) = pair();
    let mut poll = Poll::new().unwrap();
    let both = EventSet::readable() | EventSet::writable();
    poll.register(&b, Token(1), both, PollOpt::edge()).unwrap();
    a.write_all(b"unread").unwrap();
    let first = poll_events(&mut poll);
    assert!(first.iter().any(|e| e.token == Token(1) && e.kind.is_readable() && e.kind.is_writable()), "{first:?}");

    // The data stays unread and the send buffer empty: both conditions still hold.
    for (interest, opts) in [(both, PollOpt::edge()), (EventSet::readable(), PollOpt::level())] {
        let err = poll.register(&b, Token(2), interest, opts).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    }
    poll.poll_timeout(Some(Duration::ZERO)).unwrap();
    let extra: Vec<IoEvent> = poll.events().collect();
    assert!(extra.is_empty(), "a refused register raised {extra:?}");

    a.write_all(b"more").unwrap();
    let next = poll_events(&mut poll);
    assert!(!next.is_empty() && next.iter().all(|e| e.token == Token(1)), "the first registration goes on: {next:?}");
}

/// As with epoll, a fd stays registered until it is deregistered, even when its oneshot
/// event has fired (kqueue then holds no knote for it) or when its interest is empty (kqueue
/// never held one).
#[test]
fn an_fd_stays_registered_after_its_oneshot_event_and_with_an_empty_interest() {
    let (mut a, b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(1), EventSet::readable(), PollOpt::edge() | PollOpt::oneshot()).unwrap();
    a.write_all(b"x").unwrap();
    assert!(readable_for(&poll_events(&mut poll), Token(1)));
    let err = poll.register(&b, Token(2), EventSet::readable(), PollOpt::edge()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "after the oneshot event");

    poll.reregister(&b, Token(3), EventSet::none(), PollOpt::edge()).unwrap();
    let err = poll.register(&b, Token(4), EventSet::readable(), PollOpt::edge()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "with an empty interest");
    poll.deregister(&b).unwrap();
    // A failed call leaves errno set on this thread: registering anew must not depend on it.
    let mut b = b;
    assert_eq!(b.read(&mut [0u8; 8]).unwrap(), 1);
    assert_eq!(b.read(&mut [0u8; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
    poll.register(&b, Token(5), EventSet::readable(), PollOpt::level()).unwrap();
    a.write_all(b"y").unwrap();
    assert!(readable_for(&poll_events(&mut poll), Token(5)), "registered anew after deregister");
}

/// An fd closed while registered (here replaced in place by `dup2`, so that no other thread
/// can take its number in between) is forgotten by the kernel: its number, now another open
/// file, registers again without `AlreadyExists`, and only the new file's events arrive.
#[test]
fn an_fd_number_closed_while_registered_registers_again_for_its_new_file() {
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
    let (_a, b) = pair();
    let (mut c, d) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(1), EventSet::readable(), PollOpt::edge()).unwrap();
    let number = b.into_raw_fd();
    // SAFETY: `number` is owned here (taken from `b`); dup2 closes its file and puts d's
    // socket in its place, atomically; `reused` then owns it.
    let reused = unsafe {
        assert_eq!(libc::dup2(d.as_raw_fd(), number), number);
        Io::from_raw_fd(number)
    };
    drop(d);
    poll.register(&reused, Token(2), EventSet::readable(), PollOpt::edge()).unwrap();
    c.write_all(b"new").unwrap();
    let events = poll_events(&mut poll);
    assert!(readable_for(&events, Token(2)), "{events:?}");
    assert!(events.iter().all(|e| e.token == Token(2)), "{events:?}");
}

#[test]
fn reregistering_an_unregistered_fd_is_not_found() {
    let (_a, b) = pair();
    let mut poll = Poll::new().unwrap();
    let err = poll.reregister(&b, Token(1), EventSet::readable(), PollOpt::edge()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn deregistering_an_unregistered_fd_is_not_found() {
    let (_a, b) = pair();
    let mut poll = Poll::new().unwrap();
    assert_eq!(poll.deregister(&b).unwrap_err().kind(), ErrorKind::NotFound);
    poll.register(&b, Token(1), EventSet::readable(), PollOpt::edge()).unwrap();
    poll.deregister(&b).unwrap();
    assert_eq!(poll.deregister(&b).unwrap_err().kind(), ErrorKind::NotFound, "second deregister");
}

#[test]
fn reserved_token_is_rejected_with_invalid_input() {
    let (_a, b) = pair();
    let mut poll = Poll::new().unwrap();
    let err = poll.register(&b, Token(usize::MAX), EventSet::readable(), PollOpt::edge()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    poll.register(&b, Token(1), EventSet::readable(), PollOpt::edge()).unwrap();
    let err = poll.reregister(&b, Token(usize::MAX), EventSet::readable(), PollOpt::edge()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

/// Tokens are `usize`-wide on every target: only `Token(usize::MAX)` is reserved (on 32-bit
/// targets, `Token(u32::MAX as usize)`), and the largest tokens below it come back intact
/// with their events, as do tokens past 32 bits on 64-bit targets (the kernel is handed the
/// fd and a generation, never the token, so nothing narrows it).
#[test]
fn only_the_largest_token_is_reserved_and_every_other_comes_back_intact() {
    let (mut a, b) = pair();
    let mut poll = Poll::new().unwrap();
    #[cfg(target_pointer_width = "32")]
    {
        let err = poll.register(&b, Token(u32::MAX as usize), EventSet::readable(), PollOpt::level()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "Token(u32::MAX) is usize::MAX here: reserved");
    }
    let mut tokens = vec![Token(usize::MAX - 1), Token(u32::MAX as usize - 1), Token(usize::MAX >> 1), Token(0)];
    if cfg!(target_pointer_width = "64") {
        tokens.extend([Token(u32::MAX as usize), Token((u32::MAX as usize).wrapping_add(1))]);
    }
    a.write_all(b"x").unwrap();
    for token in tokens {
        poll.register(&b, token, EventSet::readable(), PollOpt::level()).unwrap();
        let events = poll_events(&mut poll);
        assert_eq!(events.iter().map(|e| e.token).collect::<Vec<_>>(), vec![token]);
        poll.deregister(&b).unwrap();
    }
}

#[test]
fn registering_a_closed_fd_is_an_error_not_a_panic() {
    let mut poll = Poll::new().unwrap();
    let fd: std::os::fd::RawFd = 1_000_000;
    let err = poll.selector().register(fd, Token(1), EventSet::readable(), PollOpt::edge()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(9), "EBADF: {err}");
    let err = poll.selector().register(-1, Token(1), EventSet::readable(), PollOpt::edge()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn deregistered_fd_yields_no_event_from_the_current_batch() {
    let (mut a, b) = pair();
    let (mut c, d) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(1), EventSet::readable(), PollOpt::level()).unwrap();
    poll.register(&d, Token(2), EventSet::readable(), PollOpt::level()).unwrap();
    a.write_all(b"1").unwrap();
    c.write_all(b"2").unwrap();
    assert_eq!(poll.poll(Some(1000)).unwrap(), 2);
    poll.deregister(&d).unwrap();
    let tokens: Vec<Token> = poll.events().map(|e| e.token).collect();
    assert_eq!(tokens, vec![Token(1)], "the deregistered fd's fetched event is dropped");
    let dropped = (0..2).map(|i| poll.event(i)).find(|e| e.kind.is_empty());
    assert!(dropped.is_some(), "event(i) of a deregistered fd has an empty kind");
    assert!((0..2).filter_map(|i| poll.get_event(i)).all(|e| e.token == Token(1)));
}

#[test]
fn fd_deregistered_and_registered_again_gets_no_stale_event() {
    let (mut a, b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(1), EventSet::readable(), PollOpt::level()).unwrap();
    a.write_all(b"1").unwrap();
    assert_eq!(poll.poll(Some(1000)).unwrap(), 1);
    poll.deregister(&b).unwrap();
    poll.register(&b, Token(9), EventSet::writable(), PollOpt::edge()).unwrap();
    assert_eq!(poll.events().count(), 0, "the old registration's event belongs to no one");
}

#[test]
fn event_index_past_the_batch_is_empty_not_a_panic() {
    let mut poll = Poll::new().unwrap();
    assert_eq!(poll.poll(Some(0)).unwrap(), 0);
    assert!(poll.event(5).kind.is_empty());
    assert!(poll.get_event(5).is_none());
}

#[test]
fn events_capacity_bounds_one_poll_and_the_rest_come_next() {
    let mut poll = Poll::with_capacity(1).unwrap();
    let pairs: Vec<(Io, Io)> = (0..3).map(|_| pair()).collect();
    for (i, (a, b)) in pairs.iter().enumerate() {
        (&*a).write_all(b"x").unwrap();
        poll.register(b, Token(i), EventSet::readable(), PollOpt::edge()).unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        assert_eq!(poll.poll(Some(1000)).unwrap(), 1);
        seen.extend(poll.events().map(|e| e.token));
    }
    seen.sort();
    assert_eq!(seen, vec![Token(0), Token(1), Token(2)]);
}

#[test]
fn writable_interest_reports_an_empty_send_buffer() {
    let (_a, b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(3), EventSet::writable(), PollOpt::edge()).unwrap();
    let events = poll_events(&mut poll);
    assert!(events.iter().any(|e| e.token == Token(3) && e.kind.is_writable() && !e.kind.is_readable()));
}

#[test]
fn poll_timeout_never_returns_early() {
    let mut poll = Poll::new().unwrap();
    for timeout in [Duration::from_micros(300), Duration::from_micros(1500), Duration::from_millis(3)] {
        let start = Instant::now();
        assert_eq!(poll.poll_timeout(Some(timeout)).unwrap(), 0);
        assert!(start.elapsed() >= timeout, "returned after {:?}, before {timeout:?}", start.elapsed());
    }
    let start = Instant::now();
    poll.poll(Some(2)).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(2));
}

#[test]
fn poll_wakes_for_data_from_another_thread() {
    let (a, b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(8), EventSet::readable(), PollOpt::edge()).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        (&a).write_all(b"hello").unwrap();
        a
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut woke = false;
    while !woke && Instant::now() < deadline {
        poll.poll(Some(1000)).unwrap();
        woke = poll.events().any(|e| e.token == Token(8) && e.kind.is_readable());
    }
    assert!(woke, "no readable event within 5 s");
    writer.join().unwrap();
}

/// A timeout of more than 2^31 seconds reaches the kernel whole. 2^32 + 1 s, which a 32-bit
/// `time_t` (or `epoll_wait`'s `int` milliseconds, unclamped) would cut to about 1 s, must
/// neither fail (`EINVAL`) nor expire before an event another thread sends 3 s later. On
/// i686 and armv7 this is what proves the 64-bit seconds of `epoll_pwait2`'s timespec.
#[test]
fn a_timeout_beyond_two_to_the_31_seconds_is_neither_truncated_nor_an_error() {
    let (a, b) = pair();
    let mut poll = Poll::new().unwrap();
    poll.register(&b, Token(8), EventSet::readable(), PollOpt::edge()).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        (&a).write_all(b"late").unwrap();
        a
    });
    let timeout = Duration::from_secs((1 << 32) + 1);
    let n = poll.poll_timeout(Some(timeout)).expect("a long timeout is not an error");
    let events: Vec<IoEvent> = poll.events().collect();
    assert!(
        n == 1 && readable_for(&events, Token(8)),
        "the wait ended before the event ({events:?}): the timeout was cut"
    );
    writer.join().unwrap();
}

#[test]
fn poll_and_event_loop_can_move_to_another_thread() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    struct Nothing;
    impl readyio::Handler for Nothing {
        type Timeout = ();
        type Message = ();
    }
    assert_send_sync::<Poll>();
    assert_send::<readyio::EventLoop<Nothing>>();
    let poll = Poll::new().unwrap();
    std::thread::spawn(move || drop(poll)).join().unwrap();
}
