//! Bad input, table-driven: every size, token, timeout, fd and path edge a caller can hand
//! the public API, each beside the result its documentation promises.
//!
//! Each row runs under `catch_unwind`: a row that panics where an error is documented is
//! reported by name, and the table fails once at the end with every wrong row listed. A row
//! that aborted the process (the allocator's `handle_alloc_error`, as
//! `Poll::with_capacity(usize::MAX)` once did) kills this binary, which fails the run too.
//! Rows whose answer would depend on how much memory the machine has are left out: every
//! oversized request here overflows `isize::MAX` bytes or a documented limit.
//!
//! Other files pin several of these edges in depth (tests/poll.rs, net_unix.rs, ...); this
//! table is the one place that lists them all.

use readyio::buf::RingBuf;
use readyio::tcp::TcpStream;
use readyio::udp::UdpSocket;
use readyio::unix::{pipe, EventedFd, UnixListener, UnixSocket, UnixStream};
use readyio::util::Slab;
use readyio::{
    EventLoop, EventLoopConfig, EventSet, Handler, Poll, PollOpt, Token, TryWrite, DEFAULT_EVENTS_CAPACITY,
    MAX_EVENTS_CAPACITY,
};
use std::io::{self, ErrorKind, Write};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What a row did.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    /// An error readyio made itself, by kind.
    Err(ErrorKind),
    /// An error the kernel gave, by errno.
    Os(i32),
    /// A panic (documented only where a `try_` form exists beside the panicking one).
    Panic,
}

use Outcome::{Err as Error, Ok as Fine, Os, Panic};

fn outcome<T>(result: io::Result<T>) -> Outcome {
    match result {
        Ok(_) => Fine,
        Err(e) => match e.raw_os_error() {
            Some(errno) => Os(errno),
            None => Error(e.kind()),
        },
    }
}

/// A handler that records what the loop hands it.
#[derive(Default)]
struct Record {
    timeouts: Vec<u32>,
    messages: Vec<u64>,
}

impl Handler for Record {
    type Timeout = u32;
    type Message = u64;
    fn timeout(&mut self, _: &mut EventLoop<Self>, value: u32) {
        self.timeouts.push(value);
    }
    fn notify(&mut self, _: &mut EventLoop<Self>, msg: u64) {
        self.messages.push(msg);
    }
}

fn configured(set: impl FnOnce(&mut EventLoopConfig)) -> io::Result<EventLoop<Record>> {
    let mut config = EventLoopConfig::new();
    set(&mut config);
    EventLoop::configured(config)
}

/// A loop configured by `set` must fire a 2 ms timer once, and not before its deadline.
fn fires_a_timer_on_time(set: impl FnOnce(&mut EventLoopConfig)) -> Outcome {
    let mut event_loop = match configured(set) {
        Ok(event_loop) => event_loop,
        Err(e) => return outcome::<()>(Err(e)),
    };
    let delay = Duration::from_millis(2);
    let start = Instant::now();
    event_loop.timeout(7, delay).unwrap();
    let mut handler = Record::default();
    while handler.timeouts.is_empty() {
        event_loop.run_once(&mut handler, Some(100)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "the timer never fired");
    }
    assert!(start.elapsed() >= delay, "fired early");
    assert_eq!(handler.timeouts, [7]);
    Fine
}

/// A pipe whose read end is readable, and a poll with it registered as `token`.
fn readable_pipe_registered(token: Token) -> (Poll, readyio::unix::PipeReader, readyio::unix::PipeWriter) {
    let (reader, mut writer) = pipe().unwrap();
    writer.write_all(b"x").unwrap();
    let mut poll = Poll::new().unwrap();
    poll.register(&reader, token, EventSet::readable(), PollOpt::level()).unwrap();
    (poll, reader, writer)
}

/// `sizeof(sockaddr_un.sun_path)`: 108 on Linux, 104 on macOS and the BSDs.
const SUN_PATH_LEN: usize = if cfg!(any(target_os = "linux", target_os = "android")) { 108 } else { 104 };

/// A socket path of exactly `len` bytes in the temp directory (the caller removes it).
fn socket_path_of_len(len: usize) -> PathBuf {
    let prefix = format!("{}/readyio-bad-input-{}-", std::env::temp_dir().display(), std::process::id());
    assert!(prefix.len() < len, "temp dir path too long for this row");
    PathBuf::from(format!("{prefix}{}", "p".repeat(len - prefix.len())))
}

struct Row {
    what: &'static str,
    expect: Outcome,
    run: fn() -> Outcome,
}

fn rows() -> Vec<Row> {
    vec![
        // ---- sizes: Poll ----
        Row {
            what: "Poll::with_capacity(0) holds one event",
            expect: Fine,
            run: || {
                let mut poll = Poll::with_capacity(0).unwrap();
                let (reader, mut writer) = pipe().unwrap();
                writer.write_all(b"x").unwrap();
                poll.register(&reader, Token(1), EventSet::readable(), PollOpt::level()).unwrap();
                assert_eq!(poll.poll(Some(1000)).unwrap(), 1);
                Fine
            },
        },
        Row {
            what: "Poll::with_capacity(MAX_EVENTS_CAPACITY + 1)",
            expect: Error(ErrorKind::InvalidInput),
            run: || outcome(Poll::with_capacity(MAX_EVENTS_CAPACITY + 1)),
        },
        Row {
            what: "Poll::with_capacity(usize::MAX)",
            expect: Error(ErrorKind::InvalidInput),
            run: || outcome(Poll::with_capacity(usize::MAX)),
        },
        Row {
            what: "Poll::with_capacity(DEFAULT_EVENTS_CAPACITY)",
            expect: Fine,
            run: || outcome(Poll::with_capacity(DEFAULT_EVENTS_CAPACITY)),
        },
        // ---- sizes: EventLoopConfig ----
        Row {
            what: "notify_capacity(0) holds one message",
            expect: Fine,
            run: || {
                let event_loop = configured(|c| {
                    c.notify_capacity(0);
                })
                .unwrap();
                let sender = event_loop.channel();
                sender.send(1).unwrap();
                assert!(matches!(sender.send(2), Err(readyio::NotifyError::Full(2))));
                Fine
            },
        },
        Row {
            what: "notify_capacity(usize::MAX)",
            expect: Error(ErrorKind::OutOfMemory),
            run: || {
                outcome(configured(|c| {
                    c.notify_capacity(usize::MAX);
                }))
            },
        },
        Row {
            what: "notify_capacity(usize::MAX / 16): slots overflow isize::MAX bytes",
            expect: Error(ErrorKind::OutOfMemory),
            run: || {
                outcome(configured(|c| {
                    c.notify_capacity(usize::MAX / 16);
                }))
            },
        },
        Row {
            what: "messages_per_tick(0)",
            expect: Error(ErrorKind::InvalidInput),
            run: || {
                outcome(configured(|c| {
                    c.messages_per_tick(0);
                }))
            },
        },
        Row {
            what: "messages_per_tick(usize::MAX) delivers",
            expect: Fine,
            run: || {
                let mut event_loop = configured(|c| {
                    c.messages_per_tick(usize::MAX);
                })
                .unwrap();
                event_loop.channel().send(5).unwrap();
                let mut handler = Record::default();
                event_loop.run_once(&mut handler, Some(1000)).unwrap();
                assert_eq!(handler.messages, [5]);
                Fine
            },
        },
        Row {
            what: "timer_capacity(0): every timeout is TimerError",
            expect: Fine,
            run: || {
                let mut event_loop = configured(|c| {
                    c.timer_capacity(0);
                })
                .unwrap();
                assert_eq!(event_loop.timeout(1, Duration::ZERO), Err(readyio::TimerError));
                Fine
            },
        },
        Row {
            what: "timer_capacity(MAX_TIMER_CAPACITY + 1)",
            expect: Error(ErrorKind::InvalidInput),
            run: || {
                outcome(configured(|c| {
                    c.timer_capacity(EventLoopConfig::MAX_TIMER_CAPACITY + 1);
                }))
            },
        },
        Row {
            what: "fd_capacity(usize::MAX)",
            expect: Error(ErrorKind::OutOfMemory),
            run: || {
                outcome(configured(|c| {
                    c.fd_capacity(usize::MAX);
                }))
            },
        },
        Row {
            what: "fd_capacity(0): the table grows as fds are registered",
            expect: Fine,
            run: || {
                outcome(configured(|c| {
                    c.fd_capacity(0);
                }))
            },
        },
        Row {
            what: "Poll::reserve_fds(usize::MAX)",
            expect: Error(ErrorKind::OutOfMemory),
            run: || outcome(Poll::new().and_then(|mut poll| poll.reserve_fds(usize::MAX))),
        },
        Row {
            what: "timer_capacity(usize::MAX)",
            expect: Error(ErrorKind::InvalidInput),
            run: || {
                outcome(configured(|c| {
                    c.timer_capacity(usize::MAX);
                }))
            },
        },
        Row {
            what: "timer_wheel_size(0) fires timers on time",
            expect: Fine,
            run: || {
                fires_a_timer_on_time(|c| {
                    c.timer_wheel_size(0);
                })
            },
        },
        Row {
            what: "timer_wheel_size(usize::MAX) fires timers on time",
            expect: Fine,
            run: || {
                fires_a_timer_on_time(|c| {
                    c.timer_wheel_size(usize::MAX);
                })
            },
        },
        Row {
            what: "timer_tick(Duration::ZERO) fires timers on time",
            expect: Fine,
            run: || {
                fires_a_timer_on_time(|c| {
                    c.timer_tick(Duration::ZERO);
                })
            },
        },
        Row {
            what: "timer_tick(Duration::MAX) fires timers on time",
            expect: Fine,
            run: || {
                fires_a_timer_on_time(|c| {
                    c.timer_tick(Duration::MAX);
                })
            },
        },
        Row {
            what: "timer_tick_ms(u64::MAX) fires timers on time",
            expect: Fine,
            run: || {
                fires_a_timer_on_time(|c| {
                    c.timer_tick_ms(u64::MAX);
                })
            },
        },
        // ---- sizes: buffers and the slab ----
        Row {
            what: "RingBuf::try_with_capacity(0) holds one byte",
            expect: Fine,
            run: || {
                assert_eq!(RingBuf::try_with_capacity(0).unwrap().capacity(), 1);
                Fine
            },
        },
        Row {
            what: "RingBuf::try_with_capacity(usize::MAX)",
            expect: Error(ErrorKind::OutOfMemory),
            run: || outcome(RingBuf::try_with_capacity(usize::MAX)),
        },
        Row {
            what: "RingBuf::try_with_capacity(usize::MAX / 2 + 1): a power of two past isize::MAX",
            expect: Error(ErrorKind::OutOfMemory),
            run: || outcome(RingBuf::try_with_capacity(usize::MAX / 2 + 1)),
        },
        Row {
            what: "RingBuf::with_capacity(usize::MAX) panics (documented; try_with_capacity errs)",
            expect: Panic,
            run: || {
                RingBuf::with_capacity(usize::MAX);
                Fine
            },
        },
        Row {
            what: "Slab::try_with_capacity(usize::MAX)",
            expect: Error(ErrorKind::OutOfMemory),
            run: || outcome(Slab::<u64>::try_with_capacity(usize::MAX)),
        },
        Row {
            what: "Slab::with_capacity(usize::MAX) panics (documented; try_with_capacity errs)",
            expect: Panic,
            run: || {
                Slab::<u64>::with_capacity(usize::MAX);
                Fine
            },
        },
        Row {
            what: "Slab::try_grow(usize::MAX) errs and leaves the slab as it was",
            expect: Error(ErrorKind::OutOfMemory),
            run: || {
                let mut slab = Slab::<u64>::with_capacity(2);
                let result = slab.try_grow(usize::MAX);
                assert_eq!(slab.capacity(), 2);
                outcome(result)
            },
        },
        Row {
            what: "Slab::with_capacity(0) hands every value back",
            expect: Fine,
            run: || {
                let mut slab = Slab::with_capacity(0);
                assert_eq!(slab.insert(9), Err(9));
                Fine
            },
        },
        Row {
            what: "Slab starting at Token(usize::MAX) (reserved) hands every value back",
            expect: Fine,
            run: || {
                let mut slab = Slab::new_starting_at(Token(usize::MAX), 4);
                assert_eq!(slab.insert('a'), Err('a'));
                assert!(!slab.has_remaining());
                Fine
            },
        },
        Row {
            what: "Slab starting at Token(usize::MAX - 1) gives out one token",
            expect: Fine,
            run: || {
                let mut slab = Slab::new_starting_at(Token(usize::MAX - 1), 4);
                assert_eq!(slab.insert('a'), Ok(Token(usize::MAX - 1)));
                assert_eq!(slab.insert('b'), Err('b'));
                Fine
            },
        },
        Row {
            what: "Slab lookups of tokens it never gave out are None",
            expect: Fine,
            run: || {
                let mut slab = Slab::new_starting_at(Token(5), 4);
                slab.insert(1u8).unwrap();
                assert_eq!(slab.get(Token(0)), None);
                assert_eq!(slab.get(Token(6)), None);
                assert_eq!(slab.remove(Token(usize::MAX)), None);
                assert!(!slab.contains(Token(4)));
                Fine
            },
        },
        Row {
            what: "UnixSocket::listen(usize::MAX) backlog is capped by the kernel",
            expect: Fine,
            run: || {
                let socket = UnixSocket::stream().unwrap();
                let path = socket_path_of_len(60);
                let _ = std::fs::remove_file(&path);
                socket.bind(&path).unwrap();
                let result = socket.listen(usize::MAX);
                std::fs::remove_file(&path).unwrap();
                outcome(result)
            },
        },
        // ---- tokens ----
        Row {
            what: "Poll::register with Token(usize::MAX) (reserved)",
            expect: Error(ErrorKind::InvalidInput),
            run: || {
                let (reader, _writer) = pipe().unwrap();
                outcome(Poll::new().unwrap().register(
                    &reader,
                    Token(usize::MAX),
                    EventSet::readable(),
                    PollOpt::edge(),
                ))
            },
        },
        Row {
            what: "EventLoop::register with Token(usize::MAX) (reserved)",
            expect: Error(ErrorKind::InvalidInput),
            run: || {
                let (reader, _writer) = pipe().unwrap();
                let mut event_loop = configured(|_| {}).unwrap();
                outcome(event_loop.register(&reader, Token(usize::MAX), EventSet::readable(), PollOpt::edge()))
            },
        },
        Row {
            what: "Poll::reregister with Token(usize::MAX) (reserved)",
            expect: Error(ErrorKind::InvalidInput),
            run: || {
                let (mut poll, reader, _writer) = readable_pipe_registered(Token(1));
                outcome(poll.reregister(&reader, Token(usize::MAX), EventSet::readable(), PollOpt::edge()))
            },
        },
        Row {
            what: "Token(usize::MAX - 1) registers and comes back with its events",
            expect: Fine,
            run: || {
                let (mut poll, _reader, _writer) = readable_pipe_registered(Token(usize::MAX - 1));
                poll.poll(Some(1000)).unwrap();
                assert_eq!(poll.events().map(|e| e.token).collect::<Vec<_>>(), [Token(usize::MAX - 1)]);
                Fine
            },
        },
        Row {
            what: "Poll::event(usize::MAX) is empty; get_event is None",
            expect: Fine,
            run: || {
                let (mut poll, _reader, _writer) = readable_pipe_registered(Token(1));
                poll.poll(Some(1000)).unwrap();
                assert_eq!(poll.event(usize::MAX).kind, EventSet::none());
                assert_eq!(poll.get_event(usize::MAX), None);
                Fine
            },
        },
        // ---- timeouts ----
        Row {
            what: "Poll::poll(Some(usize::MAX)) returns with a ready fd",
            expect: Fine,
            run: || {
                let (mut poll, _reader, _writer) = readable_pipe_registered(Token(1));
                assert_eq!(poll.poll(Some(usize::MAX)).unwrap(), 1);
                Fine
            },
        },
        Row {
            what: "Poll::poll_timeout(Some(Duration::MAX)) returns with a ready fd",
            expect: Fine,
            run: || {
                let (mut poll, _reader, _writer) = readable_pipe_registered(Token(1));
                assert_eq!(poll.poll_timeout(Some(Duration::MAX)).unwrap(), 1);
                Fine
            },
        },
        Row {
            what: "Poll::poll(Some(0)) and poll_timeout(1 ns) return at once when idle",
            expect: Fine,
            run: || {
                let mut poll = Poll::new().unwrap();
                assert_eq!(poll.poll(Some(0)).unwrap(), 0);
                assert_eq!(poll.poll_timeout(Some(Duration::from_nanos(1))).unwrap(), 0);
                Fine
            },
        },
        Row {
            what: "EventLoop::timeout(Duration::MAX) and timeout_ms(u64::MAX) are pending, cancellable",
            expect: Fine,
            run: || {
                let mut event_loop = configured(|_| {}).unwrap();
                let forever = event_loop.timeout(1, Duration::MAX).unwrap();
                let also_forever = event_loop.timeout_ms(2, u64::MAX).unwrap();
                let mut handler = Record::default();
                event_loop.run_once(&mut handler, Some(0)).unwrap();
                assert!(handler.timeouts.is_empty());
                assert!(event_loop.clear_timeout(forever));
                assert!(event_loop.clear_timeout(also_forever));
                assert!(!event_loop.clear_timeout(forever), "clearing twice is false");
                Fine
            },
        },
        Row {
            what: "EventLoop::timeout(Duration::ZERO) fires in the next iteration",
            expect: Fine,
            run: || {
                let mut event_loop = configured(|_| {}).unwrap();
                event_loop.timeout(3, Duration::ZERO).unwrap();
                let mut handler = Record::default();
                event_loop.run_once(&mut handler, Some(1000)).unwrap();
                assert_eq!(handler.timeouts, [3]);
                Fine
            },
        },
        Row {
            what: "run_once(Some(usize::MAX)) and run_once_timeout(Duration::MAX) return with a message queued",
            expect: Fine,
            run: || {
                let mut event_loop = configured(|_| {}).unwrap();
                let mut handler = Record::default();
                event_loop.channel().send(1).unwrap();
                event_loop.run_once(&mut handler, Some(usize::MAX)).unwrap();
                event_loop.channel().send(2).unwrap();
                event_loop.run_once_timeout(&mut handler, Some(Duration::MAX)).unwrap();
                assert_eq!(handler.messages, [1, 2]);
                Fine
            },
        },
        // ---- fds ----
        Row {
            what: "register EventedFd(-1)",
            expect: Error(ErrorKind::InvalidInput),
            run: || {
                outcome(Poll::new().unwrap().register(&EventedFd(&-1), Token(1), EventSet::readable(), PollOpt::edge()))
            },
        },
        Row {
            what: "deregister EventedFd(-1)",
            expect: Error(ErrorKind::InvalidInput),
            run: || outcome(Poll::new().unwrap().deregister(&EventedFd(&-1))),
        },
        Row {
            what: "register EventedFd(i32::MAX)",
            expect: Os(libc::EBADF),
            run: || {
                let fd = i32::MAX;
                outcome(Poll::new().unwrap().register(&EventedFd(&fd), Token(1), EventSet::readable(), PollOpt::edge()))
            },
        },
        Row {
            what: "register a closed fd",
            expect: Os(libc::EBADF),
            run: || {
                // The poll first: made after the close, its own fd would take the number.
                let mut poll = Poll::new().unwrap();
                let (reader, _writer) = pipe().unwrap();
                let fd = reader.into_raw_fd();
                // SAFETY: closes the fd this row owns, once.
                assert_eq!(unsafe { libc::close(fd) }, 0);
                outcome(poll.register(&EventedFd(&fd), Token(1), EventSet::readable(), PollOpt::edge()))
            },
        },
        Row {
            what: "register the same fd twice",
            expect: Os(libc::EEXIST),
            run: || {
                let (mut poll, reader, _writer) = readable_pipe_registered(Token(1));
                outcome(poll.register(&reader, Token(2), EventSet::readable(), PollOpt::edge()))
            },
        },
        Row {
            what: "reregister an unregistered fd",
            expect: Os(libc::ENOENT),
            run: || {
                let (reader, _writer) = pipe().unwrap();
                outcome(Poll::new().unwrap().reregister(&reader, Token(1), EventSet::readable(), PollOpt::edge()))
            },
        },
        Row {
            what: "deregister an unregistered fd",
            expect: Os(libc::ENOENT),
            run: || {
                let (reader, _writer) = pipe().unwrap();
                outcome(Poll::new().unwrap().deregister(&reader))
            },
        },
        Row {
            what: "write_send_fd of fd -1",
            expect: Os(libc::EBADF),
            run: || {
                let (a, _b) = UnixStream::pair().unwrap();
                outcome(a.write_send_fd(b"x", -1))
            },
        },
        Row {
            what: "try_write_send_fd with no data to carry the fd",
            expect: Error(ErrorKind::InvalidInput),
            run: || {
                let (a, b) = UnixStream::pair().unwrap();
                outcome(a.try_write_send_fd(b"", b.as_raw_fd()))
            },
        },
        // ---- paths ----
        Row {
            what: "UnixListener::bind(\"\")",
            expect: Error(ErrorKind::InvalidInput),
            run: || outcome(UnixListener::bind("")),
        },
        Row {
            what: "UnixListener::bind of a path with a NUL byte",
            expect: Error(ErrorKind::InvalidInput),
            run: || outcome(UnixListener::bind("/tmp/a\0b")),
        },
        Row {
            what: "UnixListener::bind of a path as long as sun_path (no room for its NUL)",
            expect: Error(ErrorKind::InvalidInput),
            run: || outcome(UnixListener::bind(&socket_path_of_len(SUN_PATH_LEN))),
        },
        Row {
            what: "UnixListener::bind of a path one byte shorter than sun_path (the longest that fits)",
            expect: Fine,
            run: || {
                let path = socket_path_of_len(SUN_PATH_LEN - 1);
                let _ = std::fs::remove_file(&path);
                let result = UnixListener::bind(&path);
                let _ = std::fs::remove_file(&path);
                outcome(result)
            },
        },
        Row {
            what: "UnixListener::bind in a directory that does not exist",
            expect: Os(libc::ENOENT),
            run: || outcome(UnixListener::bind("/nonexistent-readyio-dir/s.sock")),
        },
        Row {
            what: "UnixStream::connect to a path with no socket",
            expect: Os(libc::ENOENT),
            run: || outcome(UnixStream::connect("/nonexistent-readyio-dir/s.sock")),
        },
        // ---- socket options and datagram sizes ----
        Row {
            what: "set_keepalive(Some(0))",
            expect: Error(ErrorKind::InvalidInput),
            run: || {
                let stream = TcpStream::connect(&"127.0.0.1:9".parse().unwrap()).unwrap();
                outcome(stream.set_keepalive(Some(0)))
            },
        },
        Row {
            what: "set_keepalive(Some(u32::MAX))",
            expect: Error(ErrorKind::InvalidInput),
            run: || {
                let stream = TcpStream::connect(&"127.0.0.1:9".parse().unwrap()).unwrap();
                outcome(stream.set_keepalive(Some(u32::MAX)))
            },
        },
        Row {
            what: "UdpSocket::send_to of 65536 bytes (more than a datagram holds)",
            expect: Os(libc::EMSGSIZE),
            run: || {
                let socket = UdpSocket::bound(&"127.0.0.1:0".parse().unwrap()).unwrap();
                outcome(socket.send_to(&vec![0u8; 65_536], &socket.local_addr().unwrap()))
            },
        },
        Row {
            what: "set_multicast_time_to_live(-2)",
            expect: Error(ErrorKind::InvalidInput),
            run: || outcome(UdpSocket::v4().unwrap().set_multicast_time_to_live(-2)),
        },
        Row {
            what: "set_multicast_time_to_live(256)",
            expect: Error(ErrorKind::InvalidInput),
            run: || outcome(UdpSocket::v4().unwrap().set_multicast_time_to_live(256)),
        },
        Row {
            what: "try_write of nothing writes nothing",
            expect: Fine,
            run: || {
                let (_reader, mut writer) = pipe().unwrap();
                assert_eq!(writer.try_write(b"").unwrap(), Some(0));
                Fine
            },
        },
    ]
}

#[test]
fn every_bad_input_gives_its_documented_result() {
    // The rows that panic on purpose would print their messages; keep the output to the table.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let results: Vec<(Row, Outcome)> = rows()
        .into_iter()
        .map(|row| {
            let got = catch_unwind(AssertUnwindSafe(row.run)).unwrap_or(Panic);
            (row, got)
        })
        .collect();
    std::panic::set_hook(default_hook);
    let wrong: Vec<String> = results
        .iter()
        .filter(|(row, got)| *got != row.expect)
        .map(|(row, got)| format!("  {}: expected {:?}, got {:?}", row.what, row.expect, got))
        .collect();
    println!("{} bad-input rows, {} as documented", results.len(), results.len() - wrong.len());
    assert!(wrong.is_empty(), "rows not as documented:\n{}", wrong.join("\n"));
}
