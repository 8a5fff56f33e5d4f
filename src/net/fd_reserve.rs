//! `FdReserve`: one file descriptor held back, so that a listener survives the process
//! (`EMFILE`) or the system (`ENFILE`) running out of them. The problem and the two
//! remedies (shedding and back-off) are explained on the type.

use crate::sys::socket::{self, Domain, SocketType};
use crate::sys::{EMFILE, ENFILE};
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;

/// A spare file descriptor that a listener gives up to shed its backlog when the process
/// or the system has run out of fds.
///
/// # The problem
///
/// When `accept` fails for want of an fd, the connection stays in the kernel's backlog and
/// the listener stays readable. An edge-triggered listener gets no new edge for it, so the
/// waiting clients are stranded until some new connection arrives; a level-triggered one
/// is reported again at once, so the loop spins at 100% CPU on `EMFILE` errors.
///
/// # Two remedies, meant to be used together
///
/// * **Shedding** (libuv's reserve-fd trick): keep a spare fd open; when `accept` fails
///   with `EMFILE`/`ENFILE`, close the spare, then accept and at once close every pending
///   connection until the backlog is empty, then open the spare again. The clients see
///   their connection closed (EOF, or a reset) instead of waiting forever, the backlog is
///   empty so a level-triggered listener stops being reported, and the next connection
///   raises a new edge. [`FdReserve::accept`] and the listeners' `accept_or_shed` do this.
/// * **Back-off**: when even shedding cannot get an fd (the system-wide table is full and
///   the freed slot went to another process, or the spare could not be taken back), stop
///   listening for a moment: reregister the listener with an empty interest and set a
///   timer; when it fires, reregister it for readable. Re-registering re-arms an
///   edge-triggered listener (epoll's `EPOLL_CTL_MOD` and kqueue report readiness that is
///   already there), so the connections that waited are reported then, and meanwhile the
///   loop sleeps. The example below and `examples/echo_server.rs` do both.
///
/// # Use
///
/// Use one per listener (or one per thread of listeners), made at start-up while fds are
/// plentiful, and accept through it: [`TcpListener::accept_or_shed`](crate::tcp::TcpListener::accept_or_shed),
/// [`UnixListener::accept_or_shed`](crate::unix::UnixListener::accept_or_shed), or
/// [`FdReserve::accept`] around any accept call. It costs one fd and nothing per accept:
/// the spare is touched only after an `EMFILE` or `ENFILE`.
///
/// ```
/// use readyio::tcp::TcpListener;
/// use readyio::{EventLoop, EventSet, FdReserve, Handler, PollOpt, Token};
/// use std::time::Duration;
///
/// const LISTENER: Token = Token(0);
///
/// struct Server {
///     listener: TcpListener,
///     reserve: FdReserve,
/// }
///
/// impl Handler for Server {
///     type Timeout = Token;
///     type Message = ();
///
///     fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, _: EventSet) {
///         if token != LISTENER {
///             return;
///         }
///         loop {
///             match self.listener.accept_or_shed(&mut self.reserve) {
///                 Ok(Some((stream, _peer))) => drop(stream), // register it, keep it...
///                 Ok(None) => return, // drained (a shed backlog ends here too)
///                 Err(_) => {
///                     // Out of fds even after shedding, or another accept error: pause
///                     // the listener and try again in 100 ms, neither spinning nor
///                     // leaving the waiting connections stranded.
///                     let _ = event_loop.reregister(&self.listener, LISTENER, EventSet::none(), PollOpt::edge());
///                     let _ = event_loop.timeout(LISTENER, Duration::from_millis(100));
///                     return;
///                 }
///             }
///         }
///     }
///
///     fn timeout(&mut self, event_loop: &mut EventLoop<Self>, token: Token) {
///         if token == LISTENER {
///             // Re-arms the listener: connections that waited are reported now.
///             let _ = event_loop.reregister(&self.listener, LISTENER, EventSet::readable(), PollOpt::edge());
///         }
///     }
/// }
///
/// let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap())?;
/// let mut event_loop = EventLoop::new()?;
/// event_loop.register(&listener, LISTENER, EventSet::readable(), PollOpt::edge())?;
/// let mut server = Server { listener, reserve: FdReserve::new()? };
/// event_loop.run_once(&mut server, Some(0))?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct FdReserve {
    spare: Option<OwnedFd>,
    shed: u64,
}

impl FdReserve {
    /// Takes the spare fd: an unbound Unix datagram socket, close-on-exec (the cheapest fd
    /// every Unix makes without a path or a peer).
    pub fn new() -> io::Result<FdReserve> {
        Ok(FdReserve { spare: Some(spare_fd()?), shed: 0 })
    }

    /// Whether an `EMFILE`/`ENFILE` error, from `accept` or any other call that makes an
    /// fd, means the process (`EMFILE`) or the system (`ENFILE`) is out of fds.
    pub fn is_fd_exhaustion(error: &io::Error) -> bool {
        matches!(error.raw_os_error(), Some(EMFILE | ENFILE))
    }

    /// Whether the spare is held. It is not when taking it back after a shed failed (fds
    /// were still short); the next shed tries to take it first.
    pub fn is_held(&self) -> bool {
        self.spare.is_some()
    }

    /// How many connections this reserve has shed (accepted and closed at once).
    pub fn shed_count(&self) -> u64 {
        self.shed
    }

    /// Calls `accept` (one accept of a listener: `|| listener.accept()`) and returns what
    /// it returns, unless it fails with `EMFILE` or `ENFILE`: then the reserve sheds the
    /// backlog (closes the spare, accepts and closes every pending connection, takes the
    /// spare back) and returns `Ok(None)`, as an accept that found nothing pending does.
    ///
    /// Errors: the `EMFILE`/`ENFILE` error when shedding could not get an fd either (no
    /// spare held and none to be had, or the system table is full): back off (see
    /// [`FdReserve`]). Other errors of `accept` are returned as they are; an
    /// `ECONNABORTED` while shedding (a client gave up first) is skipped.
    pub fn accept<T>(&mut self, mut accept: impl FnMut() -> io::Result<Option<T>>) -> io::Result<Option<T>> {
        match accept() {
            Err(e) if FdReserve::is_fd_exhaustion(&e) => self.shed(accept, e),
            other => other,
        }
    }

    /// Cold: runs only once fds are exhausted.
    #[cold]
    fn shed<T>(
        &mut self,
        mut accept: impl FnMut() -> io::Result<Option<T>>,
        exhausted: io::Error,
    ) -> io::Result<Option<T>> {
        let Some(spare) = self.spare.take() else {
            // Fds may have been freed since the spare was lost: take it back, then accept
            // again normally (the spare itself proves an fd can be had).
            self.spare = spare_fd().ok();
            return match self.spare {
                Some(_) => self.accept(accept),
                None => Err(exhausted),
            };
        };
        drop(spare);
        let outcome = loop {
            match accept() {
                Ok(Some(connection)) => {
                    drop(connection);
                    self.shed += 1;
                }
                Ok(None) => break Ok(None),
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => break Err(e),
            }
        };
        self.spare = spare_fd().ok();
        outcome
    }
}

/// The spare: an unbound Unix datagram socket.
fn spare_fd() -> io::Result<OwnedFd> {
    socket::socket(Domain::Unix, SocketType::Datagram)
}

impl fmt::Debug for FdReserve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdReserve").field("held", &self.is_held()).field("shed", &self.shed).finish()
    }
}
