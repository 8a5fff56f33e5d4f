//! A signal that interrupts the loop's poll (EINTR) calls `Handler::interrupted`, and the
//! loop carries on (its own binary, because it installs a process-wide signal handler).
//! Under a storm of signals aimed at the loop's thread, nothing is lost: every message,
//! every byte and every timer arrives.

#[path = "support/stress.rs"]
mod stress;

use readyio::unix::UnixStream;
use readyio::{EventLoop, EventLoopConfig, EventSet, Handler, PollOpt, Token, TryRead, TryWrite};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

extern "C" fn on_sigusr1(_: libc::c_int) {}

/// Installs a handler that does nothing, without `SA_RESTART`, for SIGUSR1, which nothing
/// else in this binary uses: a blocking call it interrupts fails with EINTR.
fn install_sigusr1_handler() {
    // SAFETY: a zeroed sigaction with a handler of the right type and an empty mask.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigusr1 as *const () as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()), 0);
    }
}

fn this_thread() -> usize {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as usize }
}

struct CountInterrupts {
    interrupted: u32,
    ticks_after_interrupt: u32,
}

impl Handler for CountInterrupts {
    type Timeout = ();
    type Message = ();
    fn interrupted(&mut self, _: &mut EventLoop<Self>) {
        self.interrupted += 1;
    }
    fn tick(&mut self, event_loop: &mut EventLoop<Self>) {
        if self.interrupted > 0 {
            self.ticks_after_interrupt += 1;
            event_loop.shutdown();
        }
    }
}

#[test]
fn a_signal_during_poll_calls_interrupted_and_the_loop_goes_on() {
    install_sigusr1_handler();
    let loop_thread = this_thread();
    let done = Arc::new(AtomicBool::new(false));
    let signaller = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            // The signal may land before the loop is inside its poll; repeat until it lands
            // inside one.
            while !done.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(20));
                // SAFETY: the loop thread outlives this one (it joins it below).
                unsafe { libc::pthread_kill(loop_thread as libc::pthread_t, libc::SIGUSR1) };
            }
        })
    };
    let mut event_loop = EventLoop::new().unwrap();
    let mut handler = CountInterrupts { interrupted: 0, ticks_after_interrupt: 0 };
    let start = Instant::now();
    // `run` polls without a timeout: only EINTR can end this poll, and it must not end `run`.
    event_loop.run(&mut handler).unwrap();
    done.store(true, Ordering::Relaxed);
    signaller.join().unwrap();
    assert!(handler.interrupted >= 1);
    assert_eq!(handler.ticks_after_interrupt, 1, "the iteration went on to its tick");
    assert!(start.elapsed() < Duration::from_secs(10));
}

const ECHO: Token = Token(1);

/// Echoes a stream, counts messages (checking their order) and timers (checking they are
/// never early), all while signals keep interrupting its polls.
struct UnderFire {
    stream: UnixStream,
    pending: Vec<u8>,
    next_message: u64,
    messages_expected: u64,
    timer_deadlines: Vec<Instant>,
    timers_fired: Vec<bool>,
    timers_count: usize,
    bytes_echoed: usize,
    bytes_expected: usize,
    interrupted: u64,
}

impl UnderFire {
    fn done(&self) -> bool {
        self.next_message == self.messages_expected
            && self.timers_count == self.timers_fired.len()
            && self.bytes_echoed == self.bytes_expected
    }
}

impl Handler for UnderFire {
    type Timeout = usize;
    type Message = u64;

    fn ready(&mut self, _: &mut EventLoop<Self>, token: Token, _: EventSet) {
        assert_eq!(token, ECHO);
        let mut buf = [0u8; 4096];
        loop {
            while !self.pending.is_empty() {
                match self.stream.try_write(&self.pending).expect("echo write") {
                    Some(n) => {
                        self.pending.drain(..n);
                        self.bytes_echoed += n;
                    }
                    None => return,
                }
            }
            match self.stream.try_read(&mut buf).expect("echo read") {
                Some(0) => return,
                Some(n) => self.pending.extend_from_slice(&buf[..n]),
                None => return,
            }
        }
    }

    fn notify(&mut self, _: &mut EventLoop<Self>, msg: u64) {
        assert_eq!(msg, self.next_message, "a message lost, duplicated or reordered");
        self.next_message += 1;
    }

    fn timeout(&mut self, _: &mut EventLoop<Self>, index: usize) {
        assert!(Instant::now() >= self.timer_deadlines[index], "timer {index} fired early");
        assert!(!self.timers_fired[index], "timer {index} fired twice");
        self.timers_fired[index] = true;
        self.timers_count += 1;
    }

    fn interrupted(&mut self, _: &mut EventLoop<Self>) {
        self.interrupted += 1;
    }

    fn tick(&mut self, event_loop: &mut EventLoop<Self>) {
        if self.done() {
            event_loop.shutdown();
        }
    }
}

/// Signals hammer the loop's thread while messages, bytes and timers flow through it.
/// `READYIO_STRESS_SIGNALS` (tests/support/stress.rs): 2,000 by default, 100,000 in
/// `ci/stress.sh`.
#[test]
fn a_storm_of_signals_loses_no_message_byte_or_timer() {
    const MESSAGES: u64 = 20_000;
    const BYTES: usize = 4 * 1024 * 1024;
    const TIMERS: usize = 2_000;
    let signals = stress::size("SIGNALS", 2_000, usize::MAX) as u64;
    install_sigusr1_handler();
    let loop_thread = this_thread();

    let mut config = EventLoopConfig::new();
    config.timer_capacity(TIMERS);
    let mut event_loop = EventLoop::configured(config).unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    event_loop.register(&ours, ECHO, EventSet::readable() | EventSet::writable(), PollOpt::edge()).unwrap();
    let mut deadlines = Vec::with_capacity(TIMERS);
    for index in 0..TIMERS {
        let delay = Duration::from_micros((index as u64 * 7919) % 300_000);
        deadlines.push(Instant::now() + delay);
        event_loop.timeout(index, delay).unwrap();
    }

    let done = Arc::new(AtomicBool::new(false));
    let sent_signals = Arc::new(AtomicU64::new(0));
    let signaller = {
        let (done, sent_signals) = (Arc::clone(&done), Arc::clone(&sent_signals));
        thread::spawn(move || {
            // Keeps firing until the loop is done, and at least `signals` times.
            while !done.load(Ordering::Relaxed) || sent_signals.load(Ordering::Relaxed) < signals {
                // SAFETY: the loop thread outlives this one (it joins it below).
                let sent = unsafe { libc::pthread_kill(loop_thread as libc::pthread_t, libc::SIGUSR1) };
                assert_eq!(sent, 0);
                sent_signals.fetch_add(1, Ordering::Relaxed);
                for _ in 0..200 {
                    std::hint::spin_loop();
                }
                if done.load(Ordering::Relaxed) && sent_signals.load(Ordering::Relaxed) >= signals {
                    break;
                }
                if sent_signals.load(Ordering::Relaxed) % 64 == 0 {
                    thread::yield_now();
                }
            }
        })
    };
    let producer = {
        let sender = event_loop.channel();
        thread::spawn(move || {
            for seq in 0..MESSAGES {
                let mut msg = seq;
                loop {
                    match sender.send(msg) {
                        Ok(()) => break,
                        Err(readyio::NotifyError::Full(back)) => {
                            msg = back;
                            thread::yield_now();
                        }
                        Err(e) => panic!("send: {e}"),
                    }
                }
            }
        })
    };
    let peer = thread::spawn(move || {
        // A blocking peer on another thread: writes the pattern, reads the echo back.
        let mut theirs = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(theirs));
        theirs.set_nonblocking(false).unwrap();
        let mut reader = theirs.try_clone().unwrap();
        let checker = thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut seen = 0;
            while seen < BYTES {
                let n = reader.read(&mut buf).expect("peer read");
                assert!(n > 0, "the echo ended early");
                for (i, &b) in buf[..n].iter().enumerate() {
                    assert_eq!(b, ((seen + i) * 13) as u8, "wrong byte at {}", seen + i);
                }
                seen += n;
            }
        });
        let data: Vec<u8> = (0..BYTES).map(|i| (i * 13) as u8).collect();
        theirs.write_all(&data).unwrap();
        checker.join().unwrap();
    });

    let mut handler = UnderFire {
        stream: ours,
        pending: Vec::new(),
        next_message: 0,
        messages_expected: MESSAGES,
        timer_deadlines: deadlines,
        timers_fired: vec![false; TIMERS],
        timers_count: 0,
        bytes_echoed: 0,
        bytes_expected: BYTES,
        interrupted: 0,
    };
    let start = Instant::now();
    while !handler.done() || sent_signals.load(Ordering::Relaxed) < signals {
        event_loop.run_once(&mut handler, Some(100)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(120), "not done after 120 s");
    }
    done.store(true, Ordering::Relaxed);
    signaller.join().unwrap();
    producer.join().unwrap();
    peer.join().expect("the peer saw a wrong or missing byte");
    assert!(handler.interrupted > 0, "no signal landed in a poll");
    println!(
        "{} signals: {} polls interrupted; {MESSAGES} messages, {BYTES} bytes and {TIMERS} timers, none lost, in {:.2} s",
        sent_signals.load(Ordering::Relaxed),
        handler.interrupted,
        start.elapsed().as_secs_f64()
    );
}

/// readyio's own read and write calls retry when a signal interrupts them (`EINTR`): on a
/// descriptor made blocking, with signals hammering the reading thread while it waits
/// for data that comes later, the read returns the data, not `Interrupted`.
#[test]
fn blocking_reads_through_readyio_retry_after_signals() {
    install_sigusr1_handler();
    let (reader, writer) = readyio::unix::pipe().unwrap();
    let reader = readyio::Io::from(std::os::fd::OwnedFd::from(reader));
    reader.set_nonblocking(false).unwrap();
    let reading_thread = this_thread();
    let done = Arc::new(AtomicBool::new(false));
    let signaller = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let start = Instant::now();
            let mut writer = writer;
            let mut written = false;
            while !done.load(Ordering::Relaxed) {
                // SAFETY: the reading thread outlives this one (it joins it below).
                unsafe { libc::pthread_kill(reading_thread as libc::pthread_t, libc::SIGUSR1) };
                thread::sleep(Duration::from_millis(1));
                if !written && start.elapsed() > Duration::from_millis(200) {
                    writer.write_all(b"late").unwrap();
                    written = true;
                }
            }
        })
    };
    let mut buf = [0u8; 4];
    let result = (&reader).read(&mut buf);
    done.store(true, Ordering::Relaxed);
    signaller.join().unwrap();
    assert_eq!(result.unwrap(), 4, "the read waited through the signals");
    assert_eq!(&buf, b"late");
}
