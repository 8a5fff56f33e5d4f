//! The HTTP benchmark's tokio contender: the example server's HTTP handling
//! (`examples/http/`, through `readyio_compare::http_contender`: the same parser, session,
//! `RingBuf`s, pump and response bytes) on tokio's current-thread runtime, one thread,
//! one task per connection the way a tokio user writes it. Each task pumps with
//! `try_read_vectored`/`try_write_vectored` and waits on the socket's readiness and one
//! `Sleep` for its idle deadline, re-armed only when it fires early (as the readyio
//! server's timer is), so a busy connection costs no timer operations.
//!
//! ```sh
//! cargo run --release -p readyio-compare --bin http_tokio -- --addr 127.0.0.1:0
//! ```
//!
//! It prints `listening on http://ADDR`. `ci/bench-http.sh` runs it beside
//! `examples/http_server.rs` (readyio) and `http_mio`.

use readyio::buf::RingBuf;
use readyio_compare::http_contender::session::{CommonHeaders, SERVICE_UNAVAILABLE};
use readyio_compare::http_contender::{listen_backlog, parse_arguments, shutdown_write, Connection, ACCEPT_RETRY};
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// tokio's non-blocking calls as `Read`/`Write`, for the shared pump.
struct NonBlocking<'a>(&'a TcpStream);

impl Read for NonBlocking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.0.try_read_vectored(bufs)
    }
}

impl Write for NonBlocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why a connection's task woke up.
enum Wake {
    /// The socket became ready; `readable`: for reading (or hang-up, or an error).
    Io { readable: bool },
    /// The idle timer fired.
    Timer,
}

/// Buffers of closed connections, shared by the tasks of the one thread.
type SpareBuffers = Rc<RefCell<Vec<(RingBuf, RingBuf)>>>;

async fn serve(stream: TcpStream, idle_timeout: Duration, spare_buffers: SpareBuffers) {
    let _ = stream.set_nodelay(true);
    let buffers = spare_buffers.borrow_mut().pop();
    let mut connection = Connection::new(buffers, idle_timeout);
    let mut common = CommonHeaders::new(None);
    let shutdown = |stream: &NonBlocking<'_>| shutdown_write(stream.0);
    let mut sleep = std::pin::pin!(tokio::time::sleep_until(connection.deadline.into()));
    loop {
        common.refresh();
        match connection.drive(NonBlocking(&stream), shutdown, &common, idle_timeout) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
        if connection.deadline < sleep.deadline().into_std() {
            sleep.as_mut().reset(connection.deadline.into());
        }
        let (want_read, want_write) = (connection.wants_read(), connection.wants_write());
        let woken = poll_fn(|cx| {
            let writable = want_write && stream.poll_write_ready(cx).is_ready();
            let readable = want_read && stream.poll_read_ready(cx).is_ready();
            if writable || readable {
                return Poll::Ready(Wake::Io { readable });
            }
            sleep.as_mut().poll(cx).map(|()| Wake::Timer)
        })
        .await;
        // tokio keeps a socket readable until a read would block, so a pending end of
        // stream wakes the task again: no need to know about it here.
        if let Wake::Io { readable: true } = woken {
            connection.mark_readable(false);
        }
        if let Wake::Timer = woken {
            if Instant::now() >= connection.deadline {
                break;
            }
            sleep.as_mut().reset(connection.deadline.into());
        }
    }
    spare_buffers.borrow_mut().push(connection.into_buffers());
}

fn main() -> io::Result<()> {
    let args = parse_arguments("http_tokio");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    let tasks = tokio::task::LocalSet::new();
    tasks.block_on(&runtime, async move {
        let listener = TcpListener::bind(args.addr).await?;
        listen_backlog(&listener)?;
        println!("listening on http://{} (tokio current-thread)", listener.local_addr()?);
        let spare_buffers: SpareBuffers = Rc::default();
        let open = Rc::new(());
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    // Each task holds a clone of `open`: the count of the others is the
                    // number of open connections.
                    if Rc::strong_count(&open) > args.max_connections {
                        let _ = stream.try_write(SERVICE_UNAVAILABLE);
                        continue;
                    }
                    let (spare_buffers, open) = (spare_buffers.clone(), open.clone());
                    tokio::task::spawn_local(async move {
                        serve(stream, args.idle_timeout, spare_buffers).await;
                        drop(open);
                    });
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) => {}
                Err(e) => {
                    eprintln!("http_tokio: accept failed ({e}); retrying in {ACCEPT_RETRY:?}");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    })
}
