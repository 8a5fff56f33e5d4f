//! Fd numbers closed while registered and reused. Above all, a registered handle dropped
//! while a `try_clone` of it lives: epoll keeps its registration
//! (the open file is alive) where nobody can reach it. Level-triggered, it once made the
//! loop spin (~900k wake-ups per 500 ms) on events readyio's stale-event filter hid. Now
//! readyio notices such an event and purges the orphan before the next poll; these tests
//! count wake-ups, check the purge keeps every live registration, and that it never
//! registers a file nobody registered.
//!
//! kqueue removes a descriptor's registrations when it closes, so there the orphan never
//! exists: the same tests expect no spin and no purge.
//!
//! Every test reuses fd numbers on purpose, so they run one at a time (`SERIAL`): a test
//! on another thread taking the number would spoil the scenario.

use readyio::unix::{EventedFd, UnixStream};
use readyio::{EventLoop, EventSet, Handler, Poll, PollOpt, Token};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether this system's selector keeps a registration alive after its fd closes.
const EPOLL: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Over 300 ms of 50 ms polls, a loop that sleeps wakes about 6 times; a spinning one
/// hundreds of thousands of times. The bound leaves room for a slow machine.
const MAX_WAKE_UPS: u32 = 40;

/// Counts the polls that returned any kernel event over 300 ms of 50 ms polls, reading
/// their events as a program would (readyio looks at an event when it is read).
fn wake_ups_over_300ms(poll: &mut Poll) -> u32 {
    let start = Instant::now();
    let mut woken = 0;
    while start.elapsed() < Duration::from_millis(300) {
        if poll_and_read(poll, 50) > 0 {
            woken += 1;
        }
        assert!(woken <= MAX_WAKE_UPS * 100, "the poll spins");
    }
    woken
}

/// One poll whose events are read; returns how many the kernel reported.
fn poll_and_read(poll: &mut Poll, timeout_ms: usize) -> usize {
    let fetched = poll.poll(Some(timeout_ms)).unwrap();
    poll.events().count();
    fetched
}

fn tokens(poll: &Poll) -> Vec<Token> {
    poll.events().map(|e| e.token).collect()
}

/// Registers a level-triggered stream as `token`, makes it readable, clones it and drops
/// the registered handle: the orphan. Returns the clone (which keeps the file open), the
/// peer, and the fd number the dropped handle had.
fn orphan(poll: &mut Poll, token: Token) -> (UnixStream, UnixStream, i32) {
    let (registered, mut peer) = UnixStream::pair().unwrap();
    poll.register(&registered, token, EventSet::readable(), PollOpt::level()).unwrap();
    let clone = registered.try_clone().unwrap();
    peer.write_all(b"unread").unwrap();
    let number = registered.as_raw_fd();
    drop(registered);
    (clone, peer, number)
}

/// A stream pair whose first end has the fd number `number` (just freed, so the lowest).
fn pair_at(number: i32) -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    assert_eq!(a.as_raw_fd(), number, "the freed number is the lowest free one");
    (a, b)
}

#[test]
fn an_orphan_hidden_behind_a_reused_fd_number_is_purged_and_the_poll_sleeps() {
    let _serial = serial();
    let mut poll = Poll::new().unwrap();
    let (_clone, _peer, number) = orphan(&mut poll, Token(1));
    // The next registration takes the number: the orphan's events now carry a generation
    // the table does not have, and are hidden.
    let (reused, mut reused_peer) = pair_at(number);
    poll.register(&reused, Token(2), EventSet::readable(), PollOpt::level()).unwrap();

    let wake_ups = wake_ups_over_300ms(&mut poll);
    assert!(wake_ups <= MAX_WAKE_UPS, "{wake_ups} wake-ups in 300 ms: the orphan keeps the poll spinning");
    println!("{wake_ups} wake-ups in 300 ms of 50 ms polls with a level-triggered orphan");
    assert_eq!(poll.orphan_purges(), u64::from(EPOLL), "one purge on epoll, none on kqueue");

    // The registration that took the number survived the purge.
    reused_peer.write_all(b"x").unwrap();
    poll.poll(Some(1000)).unwrap();
    assert_eq!(tokens(&poll), [Token(2)]);
}

#[test]
fn an_orphan_the_table_let_go_of_is_purged() {
    let _serial = serial();
    let mut poll = Poll::new().unwrap();
    let (_clone, _peer, number) = orphan(&mut poll, Token(1));
    if EPOLL {
        // While the table holds it, the orphan is visible: `ready` for a dropped handle.
        poll.poll(Some(1000)).unwrap();
        assert_eq!(tokens(&poll), [Token(1)]);
    }
    // The documented remedy: deregistering the old number fails (it is closed), and that
    // failure makes the table let go.
    let error = poll.deregister(&EventedFd(&number)).unwrap_err();
    assert!(error.raw_os_error() == Some(libc::EBADF) || error.kind() == io::ErrorKind::NotFound, "{error:?}");

    let wake_ups = wake_ups_over_300ms(&mut poll);
    assert!(wake_ups <= MAX_WAKE_UPS, "{wake_ups} wake-ups in 300 ms");
    assert_eq!(poll.orphan_purges(), u64::from(EPOLL));
}

#[test]
fn a_purge_keeps_edge_level_and_oneshot_registrations() {
    let _serial = serial();
    let mut poll = Poll::new().unwrap();
    let (edge, mut edge_peer) = UnixStream::pair().unwrap();
    let (level, mut level_peer) = UnixStream::pair().unwrap();
    let (oneshot, mut oneshot_peer) = UnixStream::pair().unwrap();
    poll.register(&edge, Token(10), EventSet::readable(), PollOpt::edge()).unwrap();
    poll.register(&level, Token(11), EventSet::readable(), PollOpt::level()).unwrap();
    poll.register(&oneshot, Token(12), EventSet::readable(), PollOpt::edge() | PollOpt::oneshot()).unwrap();
    let (_clone, _peer, number) = orphan(&mut poll, Token(1));
    let (reused, _reused_peer) = pair_at(number);
    poll.register(&reused, Token(2), EventSet::readable(), PollOpt::level()).unwrap();
    poll_and_read(&mut poll, 0); // fetches and reads the orphan's event
    poll_and_read(&mut poll, 0); // purges first (epoll)
    assert_eq!(poll.orphan_purges(), u64::from(EPOLL));

    edge_peer.write_all(b"e").unwrap();
    level_peer.write_all(b"l").unwrap();
    oneshot_peer.write_all(b"o").unwrap();
    poll.poll(Some(1000)).unwrap();
    let mut seen = tokens(&poll);
    seen.sort();
    assert_eq!(seen, [Token(10), Token(11), Token(12)], "every live registration reports after the purge");
    poll.poll(Some(0)).unwrap();
    assert_eq!(tokens(&poll), [Token(11)], "edge and oneshot report once, level again");
}

#[test]
fn a_purge_never_registers_a_file_that_took_a_stale_entrys_number() {
    let _serial = serial();
    let mut poll = Poll::new().unwrap();
    // Dropped while registered, with no clone: the kernel forgets it, the table does not.
    let (dropped, _dropped_peer) = UnixStream::pair().unwrap();
    poll.register(&dropped, Token(3), EventSet::readable(), PollOpt::level()).unwrap();
    let stale_number = dropped.as_raw_fd();
    drop(dropped);
    // A file nobody registers takes the number, and is readable.
    let (unregistered, mut unregistered_peer) = pair_at(stale_number);
    unregistered_peer.write_all(b"not for readyio").unwrap();

    let (_clone, _peer, number) = orphan(&mut poll, Token(1));
    let (reused, _reused_peer) = pair_at(number);
    poll.register(&reused, Token(2), EventSet::readable(), PollOpt::level()).unwrap();
    poll_and_read(&mut poll, 0);
    poll.poll(Some(100)).unwrap();
    assert_eq!(poll.orphan_purges(), u64::from(EPOLL));
    assert!(!tokens(&poll).contains(&Token(3)), "the purge registered a file nobody registered");
    drop(unregistered);
}

#[test]
fn an_event_loop_with_an_orphan_sleeps_and_its_channel_still_wakes_it() {
    struct Count {
        ticks: u32,
        messages: u32,
    }
    impl Handler for Count {
        type Timeout = ();
        type Message = ();
        fn notify(&mut self, _: &mut EventLoop<Self>, _: ()) {
            self.messages += 1;
        }
        fn tick(&mut self, _: &mut EventLoop<Self>) {
            self.ticks += 1;
        }
    }
    let _serial = serial();
    let mut event_loop = EventLoop::new().unwrap();
    let (registered, mut peer) = UnixStream::pair().unwrap();
    event_loop.register(&registered, Token(1), EventSet::readable(), PollOpt::level()).unwrap();
    let _clone = registered.try_clone().unwrap();
    peer.write_all(b"unread").unwrap();
    let number = registered.as_raw_fd();
    drop(registered);
    let (reused, _reused_peer) = pair_at(number);
    event_loop.register(&reused, Token(2), EventSet::readable(), PollOpt::level()).unwrap();

    let mut handler = Count { ticks: 0, messages: 0 };
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(300) {
        event_loop.run_once(&mut handler, Some(50)).unwrap();
        assert!(handler.ticks <= MAX_WAKE_UPS * 100, "the loop spins");
    }
    assert!(handler.ticks <= MAX_WAKE_UPS, "{} iterations in 300 ms: the loop spins", handler.ticks);
    assert_eq!(event_loop.orphan_purges(), u64::from(EPOLL));

    // The waker was moved into the new selector too: a message from another thread still
    // ends a poll that would otherwise sleep for 10 s.
    let sender = event_loop.channel();
    let sending = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        sender.send(()).unwrap();
    });
    let start = Instant::now();
    event_loop.run_once(&mut handler, Some(10_000)).unwrap();
    sending.join().unwrap();
    assert_eq!(handler.messages, 1);
    assert!(start.elapsed() < Duration::from_secs(5), "the message did not wake the loop");
}

/// The stale events readyio always hid (an fd deregistered, or deregistered and registered
/// again, after the poll that fetched its event) are late, not orphaned: no purge.
#[test]
fn an_event_made_stale_within_its_own_poll_causes_no_purge() {
    let _serial = serial();
    let mut poll = Poll::new().unwrap();
    let (first, mut first_peer) = UnixStream::pair().unwrap();
    let (second, mut second_peer) = UnixStream::pair().unwrap();
    poll.register(&first, Token(1), EventSet::readable(), PollOpt::level()).unwrap();
    poll.register(&second, Token(2), EventSet::readable(), PollOpt::level()).unwrap();
    first_peer.write_all(b"x").unwrap();
    second_peer.write_all(b"y").unwrap();
    assert_eq!(poll.poll(Some(1000)).unwrap(), 2);
    poll.deregister(&first).unwrap();
    poll.deregister(&second).unwrap();
    poll.register(&second, Token(3), EventSet::readable(), PollOpt::level()).unwrap();
    assert_eq!(tokens(&poll), [], "both events are stale now");
    poll_and_read(&mut poll, 0);
    poll_and_read(&mut poll, 0);
    assert_eq!(poll.orphan_purges(), 0, "late events are not orphans");
}

/// A registered handle closed by a `ready` callback (dropped, not deregistered) while its
/// event waits in the same iteration, and its fd number taken at once by a new
/// registration: the closed handle's event reaches neither its old token nor the new
/// one, and nothing is purged (the kernel dropped the registration with the file).
#[test]
fn a_handle_closed_mid_iteration_and_its_number_reused_gets_no_stale_event() {
    #[derive(Default)]
    struct Reuse {
        doomed: Option<UnixStream>,
        newcomer: Option<(UnixStream, UnixStream)>,
        calls: Vec<Token>,
    }
    impl Handler for Reuse {
        type Timeout = ();
        type Message = ();
        fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, _: EventSet) {
            self.calls.push(token);
            if let Some(doomed) = self.doomed.take() {
                let number = doomed.as_raw_fd();
                drop(doomed);
                let (newcomer, peer) = pair_at(number);
                event_loop.register(&newcomer, Token(3), EventSet::readable(), PollOpt::level()).unwrap();
                self.newcomer = Some((newcomer, peer));
            }
        }
    }
    let _serial = serial();
    let mut event_loop = EventLoop::new().unwrap();
    let (first, mut first_peer) = UnixStream::pair().unwrap();
    let (doomed, mut doomed_peer) = UnixStream::pair().unwrap();
    event_loop.register(&first, Token(1), EventSet::readable(), PollOpt::level()).unwrap();
    event_loop.register(&doomed, Token(2), EventSet::readable(), PollOpt::level()).unwrap();
    first_peer.write_all(b"1").unwrap();
    doomed_peer.write_all(b"2").unwrap();
    let mut handler = Reuse { doomed: Some(doomed), ..Reuse::default() };
    // Tokens are dispatched in order: token 1's `ready` closes token 2's handle.
    event_loop.run_once(&mut handler, Some(1000)).unwrap();
    assert_eq!(handler.calls, [Token(1)], "the closed handle's event went nowhere");
    event_loop.run_once(&mut handler, Some(50)).unwrap();
    assert_eq!(handler.calls, [Token(1), Token(1)], "level-triggered token 1 again; 2 and 3 silent");
    assert_eq!(event_loop.orphan_purges(), 0);
}
