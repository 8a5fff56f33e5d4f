//! Anonymous pipes: [`pipe`] and its two ends, [`PipeReader`] and [`PipeWriter`]
//! (re-exported from [`unix`](crate::unix)).

use crate::readiness::owned_evented_fd::OwnedEventedFd;
use crate::sys::{fd, pipe as sys_pipe};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Creates an anonymous pipe: `(read end, write end)`, both non-blocking and
/// close-on-exec (`pipe2(O_NONBLOCK | O_CLOEXEC)` in one syscall where the OS has it).
///
/// ```
/// use readyio::unix::pipe;
/// use readyio::{EventSet, Poll, PollOpt, Token, TryRead, TryWrite};
///
/// let (mut reader, mut writer) = pipe()?;
/// let mut poll = Poll::new()?;
/// poll.register(&reader, Token(0), EventSet::readable(), PollOpt::level())?;
/// writer.try_write(b"hi")?;
/// poll.poll(Some(1000))?;
/// let mut buf = [0u8; 2];
/// assert_eq!(reader.try_read(&mut buf)?, Some(2));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Writing after the read end is closed returns `EPIPE` in Rust programs, whose runtime
/// ignores `SIGPIPE`; pipes have no per-call way to suppress the signal.
#[doc(alias = "pipe2")]
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    let (reader, writer) = sys_pipe::pipe()?;
    Ok((PipeReader { fd: reader.into() }, PipeWriter { fd: writer.into() }))
}

/// The read end of a pipe.
pub struct PipeReader {
    fd: OwnedEventedFd,
}

/// The write end of a pipe.
pub struct PipeWriter {
    fd: OwnedEventedFd,
}

impl PipeReader {
    /// A second handle to the same read end (a duplicated fd), belonging to the same
    /// selector as this one (see [`Evented`](crate::Evented)).
    ///
    /// Deregister the read end from a [`Poll`](crate::Poll) before dropping it while a clone
    /// lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<PipeReader> {
        Ok(PipeReader { fd: self.fd.try_clone()? })
    }
}

impl PipeWriter {
    /// A second handle to the same write end (a duplicated fd), belonging to the same
    /// selector as this one (see [`Evented`](crate::Evented)).
    ///
    /// Deregister the write end from a [`Poll`](crate::Poll) before dropping it while a clone
    /// lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<PipeWriter> {
        Ok(PipeWriter { fd: self.fd.try_clone()? })
    }
}

crate::io::read_through_fd!(PipeReader, fd::read, fd::readv);
crate::io::write_through_fd!(PipeWriter, fd::write, fd::writev);

/// `From<OwnedFd>`, `Into<OwnedFd>`, `From<Io>`, `Into<Io>`, and `From` the std
/// child-process pipe ends (made non-blocking; see [`adopt`]).
macro_rules! pipe_conversions {
    ($ty:ident, $($std:ty),*) => {
        impl From<OwnedFd> for $ty {
            /// Wraps a pipe fd as is; it should already be non-blocking.
            fn from(fd: OwnedFd) -> $ty {
                $ty { fd: fd.into() }
            }
        }
        impl From<$ty> for OwnedFd {
            fn from(end: $ty) -> OwnedFd {
                end.fd.into()
            }
        }
        $(
            impl From<$std> for $ty {
                /// Takes over the std pipe end and makes it non-blocking.
                fn from(end: $std) -> $ty {
                    $ty { fd: adopt(OwnedFd::from(end)).into() }
                }
            }
        )*
        crate::sys::fd_traits!($ty, fd);
        crate::readiness::evented::evented_by_fd!($ty, fd);
        crate::io::io_conversions!($ty, fd);
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).field("fd", &self.fd.as_raw_fd()).finish()
            }
        }
    };
}

pipe_conversions!(PipeReader, std::process::ChildStdout, std::process::ChildStderr);
pipe_conversions!(PipeWriter, std::process::ChildStdin);

/// Makes a pipe end that came from std non-blocking. `fcntl` cannot fail on an open fd;
/// should it anyway, the fd is kept as is.
fn adopt(end: OwnedFd) -> OwnedFd {
    let result = fd::set_nonblocking(end.as_fd(), true);
    debug_assert!(result.is_ok(), "making an open pipe non-blocking failed: {result:?}");
    end
}
