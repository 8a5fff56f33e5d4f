//! The Linux selector: one epoll instance (`epoll_create1(EPOLL_CLOEXEC)`).
//!
//! Meets the contract in `sys/mod.rs` directly: epoll already reports one event per fd,
//! returns `EEXIST`/`ENOENT` for double adds and unknown fds, and has edge (`EPOLLET`),
//! level and oneshot (`EPOLLONESHOT`) modes. `EPOLLRDHUP` is always requested with
//! read interest so a peer's half-close shows up as `hup` without a read.
//!
//! `struct epoll_event` is packed on x86_64 (12 bytes) and not on aarch64 (16 bytes);
//! fields are copied out by value, never borrowed.

use super::bindings as c;
use super::fd::owned;
use super::{cvt, Interest, Readiness, Trigger};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// epoll keys a registration on the open file and the fd number, and removes it when the
/// last fd of the open file closes: one closed while a duplicate lives stays registered.
pub(crate) const CLOSE_KEEPS_REGISTRATIONS: bool = true;

/// An epoll instance.
#[derive(Debug)]
pub(crate) struct Selector {
    epfd: OwnedFd,
}

/// The buffer `epoll_wait` fills, allocated once.
pub(crate) struct SelectorEvents {
    buf: Vec<c::epoll_event>,
}

// SAFETY: the buffer holds plain data; the `ptr` member of `epoll_data` is never
// dereferenced (readyio stores integers in it), so moving or sharing it across threads is
// as safe as for the `u64` it really holds.
unsafe impl Send for SelectorEvents {}
// SAFETY: as above; `&SelectorEvents` only reads the integers.
unsafe impl Sync for SelectorEvents {}

impl std::fmt::Debug for SelectorEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectorEvents").field("len", &self.buf.len()).field("capacity", &self.buf.capacity()).finish()
    }
}

impl SelectorEvents {
    /// The most events one `epoll_wait` may be asked for: the kernel answers `EINVAL` to
    /// a `maxevents` above `INT_MAX / sizeof(struct epoll_event)` (`EP_MAX_EVENTS`).
    pub(crate) const MAX_CAPACITY: usize = i32::MAX as usize / std::mem::size_of::<c::epoll_event>();

    /// A buffer for up to `capacity` events per `select` (at least 1).
    ///
    /// Errors: `InvalidInput` above [`MAX_CAPACITY`](Self::MAX_CAPACITY), `OutOfMemory` if
    /// the buffer cannot be allocated.
    pub(crate) fn with_capacity(capacity: usize) -> io::Result<SelectorEvents> {
        if capacity > Self::MAX_CAPACITY {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "an events capacity of {capacity} is more than one epoll_wait returns ({})",
                    Self::MAX_CAPACITY
                ),
            ));
        }
        let capacity = capacity.max(1);
        let mut buf = Vec::new();
        buf.try_reserve_exact(capacity).map_err(|e| super::reserve_error(format_args!("{capacity} events"), e))?;
        Ok(SelectorEvents { buf })
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    #[inline]
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
    }

    /// The `i`th event of the last `select`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<Readiness> {
        let event = self.buf.get(i)?;
        // Copy out of the (possibly packed) struct before looking at the fields.
        let bits = event.events;
        // SAFETY: every registration writes the whole union through `u64_`.
        let data = unsafe { event.data.u64_ };
        Some(Readiness {
            data,
            readable: bits & (c::EPOLLIN | c::EPOLLPRI) != 0,
            writable: bits & c::EPOLLOUT != 0,
            error: bits & c::EPOLLERR != 0,
            hup: bits & (c::EPOLLHUP | c::EPOLLRDHUP) != 0,
        })
    }
}

/// Cleared the first time `epoll_pwait2` (Linux 5.11+) answers `ENOSYS`; sub-millisecond
/// timeouts are then rounded up to whole milliseconds instead, and timeouts longer than
/// `i32::MAX` ms capped to it.
static HAVE_EPOLL_PWAIT2: AtomicBool = AtomicBool::new(true);

impl Selector {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    pub(crate) fn new() -> io::Result<Selector> {
        // SAFETY: plain syscall with a flags argument.
        let fd = cvt(unsafe { c::epoll_create1(c::EPOLL_CLOEXEC as i32) })?;
        Ok(Selector { epfd: owned(fd) })
    }

    /// Nothing to size: epoll keeps its registrations in the kernel. (The kqueue selector
    /// sizes its table of what it registered here; see `Poll::reserve_fds`.)
    pub(crate) fn reserve_fds(&self, _fds: usize) -> io::Result<()> {
        Ok(())
    }

    /// `EPOLL_CTL_ADD`.
    pub(crate) fn add(&self, fd: RawFd, data: u64, interest: Interest, trigger: Trigger) -> io::Result<()> {
        self.ctl(c::EPOLL_CTL_ADD as i32, fd, Some(epoll_event(data, interest, trigger)))
    }

    /// `EPOLL_CTL_MOD`.
    pub(crate) fn modify(&self, fd: RawFd, data: u64, interest: Interest, trigger: Trigger) -> io::Result<()> {
        self.ctl(c::EPOLL_CTL_MOD as i32, fd, Some(epoll_event(data, interest, trigger)))
    }

    /// `EPOLL_CTL_DEL`.
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(c::EPOLL_CTL_DEL as i32, fd, None)
    }

    fn ctl(&self, op: i32, fd: RawFd, event: Option<c::epoll_event>) -> io::Result<()> {
        // Linux before 2.6.9 wanted a non-null event even for EPOLL_CTL_DEL.
        let mut event = event.unwrap_or(c::epoll_event { events: 0, data: c::epoll_data { u64_: 0 } });
        // SAFETY: `event` lives across the call; the kernel only reads it.
        cvt(unsafe { c::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut event) })?;
        Ok(())
    }

    /// One `epoll_wait`, or `epoll_pwait2` for a timeout that milliseconds cannot carry
    /// (a sub-millisecond part, or more than `i32::MAX` ms: about 24.8 days), into `events`.
    ///
    /// Inlined so that a constant timeout (`Poll::poll(Some(0))`) folds into the
    /// `epoll_wait` argument: the common path is the syscall and a length update.
    #[inline]
    pub(crate) fn select(&self, events: &mut SelectorEvents, timeout: Option<Duration>) -> io::Result<()> {
        events.buf.clear();
        let timeout_ms = match timeout {
            Some(t) if !fits_milliseconds(t) && HAVE_EPOLL_PWAIT2.load(Ordering::Relaxed) => {
                return self.select_precise(events, t);
            }
            _ => timeout_ms(timeout),
        };
        let max = events.capacity().min(SelectorEvents::MAX_CAPACITY) as i32;
        // SAFETY: the buffer has room for `max` events (`max <= capacity`).
        let n = cvt(unsafe { c::epoll_wait(self.epfd.as_raw_fd(), events.buf.as_mut_ptr(), max, timeout_ms) })?;
        // SAFETY: the kernel initialised the first `n` entries (n <= max = capacity).
        unsafe { events.buf.set_len(n as usize) };
        Ok(())
    }

    /// `epoll_pwait2` with the whole timeout (64-bit seconds, nanoseconds); falls back to a
    /// rounded-up, capped `epoll_wait` on kernels before 5.11.
    ///
    /// Called through `syscall(2)`, not glibc's wrapper: that exists only from glibc 2.35
    /// (musl has none), while the system call is there from Linux 5.11 whatever the libc.
    /// Its argument is the kernel's own `struct __kernel_timespec`, 64-bit seconds on every
    /// ABI, so 32-bit targets pass long timeouts untruncated without depending on the
    /// libc's `time_t`.
    #[cold]
    #[inline(never)]
    fn select_precise(&self, events: &mut SelectorEvents, timeout: Duration) -> io::Result<()> {
        let max = events.capacity().min(SelectorEvents::MAX_CAPACITY) as i32;
        let ts = kernel_timespec(timeout);
        // SAFETY: the buffer has room for `max` events; `ts` outlives the call; a null
        // sigmask means "keep the current mask", so the size argument is unused.
        let n = unsafe {
            c::syscall(
                c::SYS_epoll_pwait2,
                self.epfd.as_raw_fd() as std::ffi::c_long,
                events.buf.as_mut_ptr(),
                max as std::ffi::c_long,
                &ts as *const c::__kernel_timespec,
                std::ptr::null::<u8>(),
                8 as std::ffi::c_long,
            )
        };
        match cvt(n) {
            Err(e) if e.raw_os_error() == Some(c::ENOSYS) => {
                HAVE_EPOLL_PWAIT2.store(false, Ordering::Relaxed);
                self.select(events, Some(timeout))
            }
            Err(e) => Err(e),
            Ok(n) => {
                // SAFETY: the kernel initialised the first `n` entries (n <= max = capacity).
                unsafe { events.buf.set_len(n as usize) };
                Ok(())
            }
        }
    }
}

impl AsFd for Selector {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epfd.as_fd()
    }
}

/// The longest timeout `epoll_wait`'s `int` milliseconds can carry.
const MAX_EPOLL_WAIT_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// Whether `epoll_wait`'s `int` milliseconds carry `timeout` exactly.
#[inline]
fn fits_milliseconds(timeout: Duration) -> bool {
    timeout.subsec_nanos() % 1_000_000 == 0 && timeout <= MAX_EPOLL_WAIT_TIMEOUT
}

/// `timeout` as `epoll_pwait2` takes it. Seconds beyond `i64::MAX` (a `Duration` can hold
/// up to `u64::MAX`) become `i64::MAX`, which the kernel treats as forever.
fn kernel_timespec(timeout: Duration) -> c::__kernel_timespec {
    c::__kernel_timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    }
}

/// Milliseconds for `epoll_wait`, rounded up so a timeout never ends early, and capped at
/// `i32::MAX` (the wait then ends early, with no events).
#[inline]
fn timeout_ms(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(t) => {
            let ms = t.as_millis() + u128::from(t.subsec_nanos() % 1_000_000 != 0);
            ms.min(i32::MAX as u128) as i32
        }
    }
}

fn epoll_event(data: u64, interest: Interest, trigger: Trigger) -> c::epoll_event {
    let mut bits = 0;
    if interest.readable {
        bits |= c::EPOLLIN | c::EPOLLRDHUP;
    }
    if interest.writable {
        bits |= c::EPOLLOUT;
    }
    if trigger.edge {
        bits |= c::EPOLLET;
    }
    if trigger.oneshot {
        bits |= c::EPOLLONESHOT;
    }
    c::epoll_event { events: bits, data: c::epoll_data { u64_: data } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_micros(1))), 1);
        assert_eq!(timeout_ms(Some(Duration::from_millis(5))), 5);
        assert_eq!(timeout_ms(Some(Duration::from_micros(5001))), 6);
        assert_eq!(timeout_ms(Some(Duration::from_secs(u64::MAX))), i32::MAX);
    }

    /// Both wait paths (whole milliseconds: `epoll_wait`; sub-millisecond: `epoll_pwait2`
    /// where the kernel has it) fill the buffer with the ready fd's event.
    #[test]
    fn millisecond_and_sub_millisecond_selects_both_report_ready_fds() {
        use std::io::Write;
        let (mut writer, reader) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        let selector = Selector::new().expect("epoll_create1");
        let level = Trigger { edge: false, oneshot: false };
        selector.add(reader.as_raw_fd(), 42, Interest { readable: true, writable: false }, level).expect("add");
        writer.write_all(b"x").expect("write");
        let mut events = SelectorEvents::with_capacity(8).unwrap();
        for timeout in [Duration::from_millis(100), Duration::from_micros(100_500)] {
            selector.select(&mut events, Some(timeout)).expect("select");
            assert_eq!(events.len(), 1, "timeout {timeout:?}");
            let readiness = events.get(0).expect("one event");
            assert_eq!(readiness.data, 42);
            assert!(readiness.readable);
        }
    }
}
