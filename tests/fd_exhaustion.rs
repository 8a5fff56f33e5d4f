//! A listener that runs out of file descriptors (`EMFILE`) must neither strand its waiting
//! clients (edge-triggered: no new edge ever comes for them) nor spin (level-triggered: the
//! listener stays readable and every accept fails). Both remedies are exercised, on both
//! triggers: shedding through an `FdReserve`, and backing off (pausing the listener, and
//! re-arming it from a timer), for TCP and Unix listeners.
//!
//! `RLIMIT_NOFILE` is process-wide, so this binary has no libtest harness (see Cargo.toml)
//! and runs its scenarios one after the other. Each scenario sets up a server on an
//! `EventLoop` and clients already connected (so they wait in the backlog), then fills
//! every free fd number below a lowered limit, and only then lets the loop run. `ENFILE`
//! (the system-wide table) takes the same code path but cannot be provoked here without
//! starving the whole machine.

use readyio::tcp::TcpListener;
use readyio::unix::UnixListener;
use readyio::{EventLoop, EventSet, Evented, FdReserve, Handler, PollOpt, Token};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);
/// Clients waiting in the backlog when the fds run out.
const WAITING: usize = 24;
/// Clients that connect once fds are free again.
const LATECOMERS: usize = 4;
/// The back-off pause.
const BACKOFF: Duration = Duration::from_millis(20);
/// Over 300 ms, a loop that sleeps (or wakes once per back-off) iterates a few dozen times
/// at most; a spinning one hundreds of thousands of times.
const MAX_ITERATIONS_IN_300MS: u32 = 100;

/// The soft fd limit for the scenarios: low, so that filling the table is quick.
const FD_LIMIT: u64 = 512;

fn lower_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct; only this process is affected.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = FD_LIMIT.min(limit.rlim_max as u64) as libc::rlim_t;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

/// Every fd number still free, taken: `EMFILE` for the next one.
fn exhaust_fds() -> Vec<File> {
    let mut held = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => held.push(file),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => return held,
            Err(e) => panic!("opening a placeholder fd: {e}"),
        }
    }
}

/// A listener of either kind, and clients of it made with blocking std sockets.
trait Listening: Evented + Sized {
    type Client: Read;
    fn open(name: &str) -> Self;
    fn connect_client(&self) -> Self::Client;
    fn set_client_timeout(client: &Self::Client, timeout: Duration);
    /// One plain accept; the stream is returned boxed so the handler can keep it open.
    fn accept_one(&self) -> io::Result<Option<Box<dyn std::any::Any>>>;
    fn accept_or_shed_one(&self, reserve: &mut FdReserve) -> io::Result<Option<Box<dyn std::any::Any>>>;
}

impl Listening for TcpListener {
    type Client = std::net::TcpStream;
    fn open(_: &str) -> Self {
        TcpListener::bind(&"127.0.0.1:0".parse().unwrap()).unwrap()
    }
    fn connect_client(&self) -> std::net::TcpStream {
        std::net::TcpStream::connect(self.local_addr().unwrap()).unwrap()
    }
    fn set_client_timeout(client: &std::net::TcpStream, timeout: Duration) {
        client.set_read_timeout(Some(timeout)).unwrap();
    }
    fn accept_one(&self) -> io::Result<Option<Box<dyn std::any::Any>>> {
        Ok(self.accept()?.map(|(stream, _)| Box::new(stream) as Box<dyn std::any::Any>))
    }
    fn accept_or_shed_one(&self, reserve: &mut FdReserve) -> io::Result<Option<Box<dyn std::any::Any>>> {
        Ok(self.accept_or_shed(reserve)?.map(|(stream, _)| Box::new(stream) as Box<dyn std::any::Any>))
    }
}

fn unix_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("readyio-fd-exhaustion-{}-{name}.sock", std::process::id()))
}

impl Listening for UnixListener {
    type Client = std::os::unix::net::UnixStream;
    fn open(name: &str) -> Self {
        let path = unix_path(name);
        let _ = std::fs::remove_file(&path);
        UnixListener::bind(&path).unwrap()
    }
    fn connect_client(&self) -> std::os::unix::net::UnixStream {
        let path = self.local_addr().unwrap().as_pathname().unwrap().to_path_buf();
        std::os::unix::net::UnixStream::connect(path).unwrap()
    }
    fn set_client_timeout(client: &std::os::unix::net::UnixStream, timeout: Duration) {
        client.set_read_timeout(Some(timeout)).unwrap();
    }
    fn accept_one(&self) -> io::Result<Option<Box<dyn std::any::Any>>> {
        Ok(self.accept()?.map(|stream| Box::new(stream) as Box<dyn std::any::Any>))
    }
    fn accept_or_shed_one(&self, reserve: &mut FdReserve) -> io::Result<Option<Box<dyn std::any::Any>>> {
        Ok(self.accept_or_shed(reserve)?.map(|stream| Box::new(stream) as Box<dyn std::any::Any>))
    }
}

/// Which remedy the server uses.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Remedy {
    /// `accept_or_shed` through an `FdReserve`; any error left is a test failure.
    Shed,
    /// Plain `accept`; on `EMFILE`, pause the listener and re-arm it from a timer.
    BackOff,
}

struct Server<L: Listening> {
    listener: L,
    opts: PollOpt,
    remedy: Remedy,
    reserve: FdReserve,
    accepted: Vec<Box<dyn std::any::Any>>,
    errors_left: Vec<io::Error>,
    iterations: u32,
}

impl<L: Listening> Handler for Server<L> {
    type Timeout = ();
    type Message = ();

    fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, _: EventSet) {
        assert_eq!(token, LISTENER);
        loop {
            let accepted = match self.remedy {
                Remedy::Shed => self.listener.accept_or_shed_one(&mut self.reserve),
                Remedy::BackOff => self.listener.accept_one(),
            };
            match accepted {
                Ok(Some(stream)) => self.accepted.push(stream),
                Ok(None) => return,
                Err(e) if self.remedy == Remedy::BackOff && FdReserve::is_fd_exhaustion(&e) => {
                    event_loop.reregister(&self.listener, LISTENER, EventSet::none(), self.opts).unwrap();
                    event_loop.timeout((), BACKOFF).unwrap();
                    return;
                }
                Err(e) => {
                    self.errors_left.push(e);
                    return;
                }
            }
        }
    }

    fn timeout(&mut self, event_loop: &mut EventLoop<Self>, _: ()) {
        // Re-arms the listener: an edge-triggered one reports the clients that waited.
        event_loop.reregister(&self.listener, LISTENER, EventSet::readable(), self.opts).unwrap();
    }

    fn tick(&mut self, _: &mut EventLoop<Self>) {
        self.iterations += 1;
    }
}

/// Runs the loop for `duration` with 50 ms polls.
fn run_for<L: Listening>(event_loop: &mut EventLoop<Server<L>>, server: &mut Server<L>, duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        event_loop.run_once(server, Some(50)).unwrap();
        assert!(server.iterations < 10_000 * MAX_ITERATIONS_IN_300MS, "the loop spins");
    }
}

/// Runs the loop until `done`, failing after 5 s.
fn run_until<L: Listening>(
    event_loop: &mut EventLoop<Server<L>>,
    server: &mut Server<L>,
    what: &str,
    done: impl Fn(&Server<L>) -> bool,
) {
    let start = Instant::now();
    while !done(server) {
        event_loop.run_once(server, Some(50)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "{what}: not within 5 s");
    }
}

/// Whether the server closed this client's connection: a read sees the end of the stream
/// (or a reset) instead of waiting.
fn closed_by_server<C: Read>(client: &mut C) -> bool {
    let mut byte = [0u8; 1];
    match client.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => panic!("the server sent data"),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => true,
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => false,
        Err(e) => panic!("client read: {e}"),
    }
}

fn scenario<L: Listening>(name: &str, opts: PollOpt, remedy: Remedy) {
    let listener = L::open(name);
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.register(&listener, LISTENER, EventSet::readable(), opts).unwrap();
    let reserve = FdReserve::new().unwrap();
    let mut waiting: Vec<L::Client> = (0..WAITING).map(|_| listener.connect_client()).collect();
    for client in &waiting {
        L::set_client_timeout(client, Duration::from_millis(20));
    }
    let mut server =
        Server { listener, opts, remedy, reserve, accepted: Vec::new(), errors_left: Vec::new(), iterations: 0 };

    let mut placeholders = exhaust_fds();
    assert!(placeholders.len() >= WAITING + LATECOMERS, "room to free fds later");

    // Out of fds: the loop must sleep, not spin.
    run_for(&mut event_loop, &mut server, Duration::from_millis(300));
    let iterations_out_of_fds = server.iterations;
    assert!(
        iterations_out_of_fds <= MAX_ITERATIONS_IN_300MS,
        "{iterations_out_of_fds} iterations in 300 ms while out of fds: the loop spins"
    );
    assert!(server.accepted.is_empty());

    match remedy {
        Remedy::Shed => {
            // Every waiting client was told, at once, instead of waiting forever.
            for (i, client) in waiting.iter_mut().enumerate() {
                assert!(closed_by_server(client), "waiting client {i} was neither accepted nor closed");
            }
            assert_eq!(server.reserve.shed_count(), WAITING as u64);
            assert!(server.reserve.is_held(), "the spare was taken back");
        }
        Remedy::BackOff => {
            // The clients still wait (none was dropped); fds come free, no new client
            // arrives, and every one of them is accepted: none is stranded.
            for client in &mut waiting {
                assert!(!closed_by_server(client));
            }
            placeholders.truncate(placeholders.len() - WAITING);
            run_until(&mut event_loop, &mut server, "the waiting clients accepted once fds were free", |s| {
                s.accepted.len() == WAITING
            });
            server.accepted.clear();
            placeholders.extend(exhaust_fds());
        }
    }

    // Fds come free again: latecomers are accepted (an edge-triggered listener was left
    // able to see them).
    placeholders.truncate(placeholders.len() - 2 * LATECOMERS);
    let _latecomers: Vec<L::Client> = (0..LATECOMERS).map(|_| server.listener.connect_client()).collect();
    run_until(&mut event_loop, &mut server, "the latecomers accepted", |s| s.accepted.len() == LATECOMERS);
    assert!(server.errors_left.is_empty(), "accept errors the remedy left: {:?}", server.errors_left);
    drop(placeholders);
    println!("test {name} ... ok ({iterations_out_of_fds} iterations in 300 ms out of fds)");
}

/// A scenario's name, and the function that runs it under that name.
type Scenario = (&'static str, fn(&str));

fn main() {
    // Like libtest: a first argument that is not a flag keeps the scenarios whose name has it.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_default();
    lower_fd_limit();
    let scenarios: [Scenario; 6] = [
        ("tcp_edge_triggered_listener_sheds_its_backlog_when_out_of_fds", |n| {
            scenario::<TcpListener>(n, PollOpt::edge(), Remedy::Shed)
        }),
        ("tcp_level_triggered_listener_sheds_and_does_not_spin", |n| {
            scenario::<TcpListener>(n, PollOpt::level(), Remedy::Shed)
        }),
        ("tcp_edge_triggered_listener_backs_off_and_strands_no_client", |n| {
            scenario::<TcpListener>(n, PollOpt::edge(), Remedy::BackOff)
        }),
        ("tcp_level_triggered_listener_backs_off_without_spinning", |n| {
            scenario::<TcpListener>(n, PollOpt::level(), Remedy::BackOff)
        }),
        ("unix_edge_triggered_listener_sheds_its_backlog_when_out_of_fds", |n| {
            scenario::<UnixListener>(n, PollOpt::edge(), Remedy::Shed)
        }),
        ("unix_level_triggered_listener_backs_off_without_spinning", |n| {
            scenario::<UnixListener>(n, PollOpt::level(), Remedy::BackOff)
        }),
    ];
    for (name, run) in scenarios {
        if name.contains(&filter) {
            run(name);
            let _ = std::fs::remove_file(unix_path(name));
        }
    }
}
