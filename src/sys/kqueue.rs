//! The kqueue selector (macOS, iOS, FreeBSD, NetBSD, OpenBSD, DragonFly; and Linux under
//! `--cfg readyio_libkqueue`, over libkqueue, which is how it runs on this project's machines:
//! `ci/test-libkqueue.sh`).
//!
//! kqueue watches (fd, filter) pairs, not fds: readable interest is an `EVFILT_READ` knote,
//! writable an `EVFILT_WRITE` one, and the kernel reports each filter separately. This file
//! turns that into the contract of `sys/mod.rs`:
//!
//! * trigger: edge = `EV_CLEAR`, oneshot = `EV_ONESHOT`, level = neither;
//! * results: `EVFILT_READ` -> readable, `EVFILT_WRITE` -> writable, `EV_EOF` -> hup,
//!   `EV_EOF` with a nonzero `fflags` (the socket error) or `EV_ERROR` -> error; the one or
//!   two results of an fd are coalesced into one `Readiness` in place (sorted by `data`,
//!   then merged), without allocating, and only while some fd has both filters registered
//!   (the sort costs about 9 ns per result: 2.3 µs for 256);
//! * every registration change carries `EV_RECEIPT`, so the kernel answers each change with
//!   its own status and errors surface from the call that caused them (without it, a change
//!   list submitted with room for results also returns pending events, which the registering
//!   call would have to keep, and its errors come back mixed with them).
//!
//! # Where this differs from epoll, and why
//!
//! * **Double registration.** `EV_ADD` on a watched fd silently modifies it, so the kernel
//!   cannot say `EEXIST`: the selector keeps a table of what it added, and refuses an `add`
//!   of an fd the table says is watched. The table alone cannot see `close`: closing an fd
//!   drops all its knotes, in every kqueue of the process, and its number may then come back
//!   as another open file, which must register like any new fd (as with epoll). So each
//!   watched fd also has a *witness*: a disabled knote in a second, private kqueue that no
//!   one waits on. An `add` the table would refuse first deletes and re-adds the witness
//!   (one `kevent` call on the witness kqueue): deleted means the fd is the file that was
//!   added, `EEXIST`; missing (`ENOENT`) means it was closed since, and the add proceeds.
//!   A fresh `add` costs one more `kevent` call (the witness); `delete`, `modify` and
//!   `select` cost nothing more, and a selector holds two kqueue fds.
//!
//!   The selector's own knotes are never used for that question, because no kernel can look
//!   a knote up without touching it. A change naming a live knote without `EV_DELETE` (even
//!   one with no action flag but `EV_RECEIPT`, which is what readyio used to send) runs the
//!   modify path on it: FreeBSD 14 (`sys/kern/kern_event.c`, `kqueue_register`) stores its
//!   `udata`, `fflags` and `data`, then calls the filter's `f_event` and queues the knote if
//!   it is active; xnu 11417 (`bsd/kern/kern_event.c`, `kevent_register`, "regular update
//!   of a knote (touch)") calls the filter's `f_touch`, for sockets `filt_sortouch` and
//!   `filt_sowtouch` in `uipc_socket.c`, which store `fflags`/`data` and re-evaluate, stores
//!   `udata` and activates the knote if the filter says so (`knote_apply_touch`); NetBSD
//!   (`sys/kern/kern_event.c` rev. 1.148, 2023, `kqueue_register`) stores `udata`, `fflags`
//!   and `data` and calls `filter_event` then `knote_activate`. All three deactivate an `EV_CLEAR`
//!   knote when they deliver its event, so such a change re-queues an edge-triggered knote
//!   whose condition still holds (unread data, room to write): one spurious event after a
//!   refused double `register`, and an `fflags`/`data` rewrite besides. Level-triggered and
//!   oneshot knotes would be queued anyway; edge is readyio's default. The witness is
//!   disabled, so re-adding it queues nothing, and it is in a kqueue no one waits on.
//!   `a_refused_second_register_delivers_no_extra_event_and_keeps_the_first`
//!   (tests/poll.rs) pins this on the real kernels in CI (libkqueue, where this backend
//!   runs on Linux, cannot show the re-queue: its socket filters' `kn_modify` never re-arm).
//! * **Oneshot is per filter.** `EV_ONESHOT` deletes one knote after it fires: with read and
//!   write interest, the other filter stays armed and may report in a later poll, where
//!   `EPOLLONESHOT` disarms the whole fd. Re-arming is the same (`modify`). As with epoll, an
//!   fd whose oneshot knotes have all fired stays registered (`add` says `EEXIST`) until
//!   `delete`, which succeeds.
//! * **Modify re-creates the knotes** (delete, then add, in one `kevent` call): FreeBSD keeps
//!   a knote's `EV_CLEAR`/`EV_ONESHOT` from its first `EV_ADD`, so changing the trigger needs
//!   a fresh knote. Like `EPOLL_CTL_MOD`, it reports readiness that is already there.
//! * **Empty interest** registers no knote at all (only the witness), so such an fd reports
//!   nothing, not even hup or error (epoll still reports `EPOLLHUP`/`EPOLLERR`); it stays
//!   registered, as with epoll.
//! * **hup** comes from `EV_EOF` on either filter: the read side when the peer shut down its
//!   writing (like `EPOLLRDHUP`), the write side when the peer can no longer receive.
//!   `error` is `EV_EOF` with `fflags` holding the socket error, e.g. a refused connect.
//! * **Timeouts** are a `timespec`: sub-millisecond timeouts are honoured everywhere;
//!   seconds are capped at `i32::MAX` (68 years), which some kernels require.
//! * **64-bit only.** `udata` is pointer-sized, and the selector's `data` is a `u64`
//!   (fd and generation); 32-bit kqueue targets are refused at compile time.
//!
//! The translation (interest and trigger to changes; results to `Readiness`) is generated
//! by the macro `kevent_translation!` for whichever bindings module is in scope as `c`, so
//! it is unit-tested on Linux against the committed FreeBSD, macOS and NetBSD bindings (the
//! tests at the end), and compiled for real on the kqueue targets.

use super::Readiness;

/// The ident of the waker's `EVFILT_USER` knote. An `EVFILT_USER` ident names no fd, and
/// knotes of different filters never clash, so any value works; one kqueue has one waker.
/// Unused on NetBSD, which wakes through a pipe (see `sys/mod.rs`), but kept for the
/// translation tests, which run against every kqueue binding on every host.
#[cfg(not(any(target_os = "openbsd", target_os = "dragonfly")))]
#[cfg_attr(target_os = "netbsd", allow(dead_code))]
pub(crate) const WAKER_IDENT: usize = 0;

/// Bits for the filters the selector has registered for one fd.
pub(crate) mod filter_bits {
    pub(crate) const READ: u8 = 0b01;
    pub(crate) const WRITE: u8 = 0b10;
}

/// Generates the pure kevent translation for the bindings module named `c` at the call
/// site (each kqueue OS has its own `struct kevent` layout and constant types).
macro_rules! kevent_translation {
    () => {
        /// Room for the largest change list: two deletions and two additions.
        pub(crate) const MAX_CHANGES: usize = 4;

        fn kevent_for(fd: ::std::os::fd::RawFd, filter: u8, flags: u32, data: u64) -> c::kevent {
            let mut change = c::kevent::default();
            change.ident = fd as _;
            change.filter =
                if filter == $crate::sys::kqueue::filter_bits::READ { c::EVFILT_READ } else { c::EVFILT_WRITE };
            change.flags = flags as _;
            change.udata = data as usize as _;
            change
        }

        /// The changes that make `fd` watched for `interest` with `trigger`, reporting
        /// `data`: first deleting every filter in `registered` (a fresh knote takes the new
        /// trigger; see the module doc), then adding one knote per wanted filter. Every
        /// change asks for a receipt. Returns how many of `out` were written.
        pub(crate) fn registration_changes(
            fd: ::std::os::fd::RawFd,
            data: u64,
            interest: $crate::sys::Interest,
            trigger: $crate::sys::Trigger,
            registered: u8,
            out: &mut [c::kevent; MAX_CHANGES],
        ) -> usize {
            use $crate::sys::kqueue::filter_bits::{READ, WRITE};
            let mut n = deletion_changes(fd, registered, out);
            let mut add = u32::from(c::EV_ADD | c::EV_RECEIPT);
            if trigger.edge {
                add |= u32::from(c::EV_CLEAR);
            }
            if trigger.oneshot {
                add |= u32::from(c::EV_ONESHOT);
            }
            // Write before read. The kernels apply a changelist's entries independently, so
            // the order is theirs to ignore; libkqueue's is not: it folds both filters of a
            // socket into one epoll registration, and adding the write filter after the read
            // one rewrites it as EPOLLIN | EPOLLOUT, dropping the read filter's EPOLLRDHUP
            // (src/linux/platform.c, epoll_update: `want = have_ev | ev`, with `have_ev` only
            // the in/out bits). Without it a FIN that arrives with the last data carries no
            // EV_EOF, where the kernels set EV_EOF on the read filter whenever the receive
            // side is shut (FreeBSD filt_soread, xnu filt_soread_common, NetBSD filt_soread):
            // a server waiting for the end of stream after a short read would wait forever.
            for (wanted, filter) in [(interest.writable, WRITE), (interest.readable, READ)] {
                if wanted {
                    out[n] = kevent_for(fd, filter, add, data);
                    n += 1;
                }
            }
            n
        }

        /// One `EV_DELETE` (with receipt) per filter in `registered`.
        pub(crate) fn deletion_changes(fd: ::std::os::fd::RawFd, registered: u8, out: &mut [c::kevent]) -> usize {
            use $crate::sys::kqueue::filter_bits::{READ, WRITE};
            let mut n = 0;
            for filter in [READ, WRITE] {
                if registered & filter != 0 {
                    out[n] = kevent_for(fd, filter, u32::from(c::EV_DELETE | c::EV_RECEIPT), 0);
                    n += 1;
                }
            }
            n
        }

        /// The two changes that add the witness knote of `fd` (see "Double registration" in
        /// the module doc) to the witness kqueue, with receipts: `filter` (a `filter_bits`
        /// value), then disabled, so that it is never queued however ready the fd is. If the
        /// witness is there already (the fd was deregistered, not closed), both leave it as is.
        ///
        /// Shaped for libkqueue as well, at no cost on the kernels: two changes, not one
        /// `EV_ADD | EV_DISABLE`, which libkqueue (`src/common/kevent.c`, `kevent_copyin_one`)
        /// marks disabled before its `kn_disable` runs, leaving the fd in its epoll set; and
        /// `EV_CLEAR`, without which libkqueue's `evfilt_read_knote_modify` refuses an `EV_ADD`
        /// on a socket's existing knote without setting errno (a receipt with a stale errno).
        /// The kernels ignore `EV_CLEAR` on an existing knote, and a disabled knote never fires.
        pub(crate) fn witness_addition(fd: ::std::os::fd::RawFd, filter: u8) -> [c::kevent; 2] {
            [
                kevent_for(fd, filter, u32::from(c::EV_ADD | c::EV_CLEAR | c::EV_RECEIPT), 0),
                kevent_for(fd, filter, u32::from(c::EV_DISABLE | c::EV_RECEIPT), 0),
            ]
        }

        /// The change that deletes the witness knote of `fd`, with a receipt: `ENOENT` (or
        /// `EBADF`) says the fd was closed since the witness was added.
        pub(crate) fn witness_deletion(fd: ::std::os::fd::RawFd, filter: u8) -> c::kevent {
            kevent_for(fd, filter, u32::from(c::EV_DELETE | c::EV_RECEIPT), 0)
        }

        /// The filter bit and errno (0 = success) of one receipt returned for a change.
        pub(crate) fn receipt(result: &c::kevent) -> (u8, i32) {
            let (filter, flags, data) = (result.filter, result.flags, result.data);
            let bit = if filter == c::EVFILT_READ {
                $crate::sys::kqueue::filter_bits::READ
            } else {
                $crate::sys::kqueue::filter_bits::WRITE
            };
            let errno = if u32::from(flags) & u32::from(c::EV_ERROR) != 0 { data as i32 } else { 0 };
            (bit, errno)
        }

        /// Follows the receipts of one submitted change list (`change_flags[i]` were the flags
        /// of change `i`, whose receipt is `receipts[i]`) from the registered filter set
        /// `filters`: returns the filters registered afterwards and the first errno that
        /// matters, or 0. A deletion's `ENOENT` does not matter: a oneshot knote deletes itself
        /// when it fires. `EBADF` means the fd is closed, and the kernel dropped its knotes.
        pub(crate) fn follow_receipts(change_flags: &[u32], receipts: &[c::kevent], mut filters: u8) -> (u8, i32) {
            let mut first_error = 0;
            for (flags, result) in change_flags.iter().zip(receipts) {
                let (bit, errno) = receipt(result);
                let deleting = flags & u32::from(c::EV_DELETE) != 0;
                match (deleting, errno) {
                    (true, 0) | (true, c::ENOENT) => filters &= !bit,
                    (false, 0) => filters |= bit,
                    (_, errno) => {
                        if errno == c::EBADF {
                            filters = 0;
                        }
                        if first_error == 0 {
                            first_error = errno;
                        }
                    }
                }
            }
            (filters, first_error)
        }

        /// The change that creates the waker's knote (see `sys/waker_kqueue.rs`): an
        /// `EVFILT_USER` knote with ident [`WAKER_IDENT`](crate::sys::kqueue::WAKER_IDENT),
        /// `EV_CLEAR` so that each trigger is reported once and nothing needs resetting, a
        /// receipt so that an error comes back from the call, and
        /// [`WAKER_DATA`](crate::sys::WAKER_DATA) as its data.
        #[cfg(not(any(target_os = "openbsd", target_os = "dragonfly")))]
        #[cfg_attr(target_os = "netbsd", allow(dead_code))]
        pub(crate) fn waker_registration() -> c::kevent {
            waker_change(u32::from(c::EV_ADD | c::EV_CLEAR | c::EV_RECEIPT), 0)
        }

        /// The change that wakes the waker's knote: `NOTE_TRIGGER`, no action flag. It
        /// carries the same `udata`, because every change to a knote rewrites it (FreeBSD).
        #[cfg(not(any(target_os = "openbsd", target_os = "dragonfly")))]
        #[cfg_attr(target_os = "netbsd", allow(dead_code))]
        pub(crate) fn waker_trigger() -> c::kevent {
            waker_change(0, c::NOTE_TRIGGER as u32)
        }

        #[cfg(not(any(target_os = "openbsd", target_os = "dragonfly")))]
        #[cfg_attr(target_os = "netbsd", allow(dead_code))]
        fn waker_change(flags: u32, fflags: u32) -> c::kevent {
            let mut change = c::kevent::default();
            change.ident = $crate::sys::kqueue::WAKER_IDENT as _;
            change.filter = c::EVFILT_USER;
            change.flags = flags as _;
            change.fflags = fflags;
            change.udata = $crate::sys::WAKER_DATA as usize as _;
            change
        }

        /// What one kevent result says about its fd, or about the waker.
        pub(crate) fn readiness(result: &c::kevent) -> $crate::sys::Readiness {
            // Copy every field out first: macOS's `struct kevent` is packed.
            let (filter, flags, fflags, udata) = (result.filter, u32::from(result.flags), result.fflags, result.udata);
            // The waker's knote is the only `EVFILT_USER` one: its wake-up is a readable
            // `WAKER_DATA`, whatever `udata` says.
            #[cfg(not(any(target_os = "openbsd", target_os = "dragonfly")))]
            #[cfg_attr(target_os = "netbsd", allow(dead_code))]
            if filter == c::EVFILT_USER {
                return $crate::sys::Readiness { data: $crate::sys::WAKER_DATA, readable: true, ..Default::default() };
            }
            let mut ready = $crate::sys::Readiness { data: udata as usize as u64, ..Default::default() };
            if flags & u32::from(c::EV_ERROR) != 0 {
                ready.error = true;
                return ready;
            }
            ready.readable = filter == c::EVFILT_READ;
            ready.writable = filter == c::EVFILT_WRITE;
            if flags & u32::from(c::EV_EOF) != 0 {
                ready.hup = true;
                ready.error = fflags != 0;
            }
            ready
        }
    };
}

/// Merges the readiness of each fd (equal `data`) into one entry, in place, and returns
/// how many entries remain at the front of `events`. Order is not kept (it never was:
/// the kernel's order is arbitrary). Sorting in place allocates nothing; `select` results
/// are at most one or two per fd, and the sort is skipped for fewer than two.
pub(crate) fn coalesce(events: &mut [Readiness]) -> usize {
    if events.len() < 2 {
        return events.len();
    }
    events.sort_unstable_by_key(|r| r.data);
    let mut last = 0;
    for i in 1..events.len() {
        let next = events[i];
        let kept = &mut events[last];
        if next.data == kept.data {
            kept.readable |= next.readable;
            kept.writable |= next.writable;
            kept.error |= next.error;
            kept.hup |= next.hup;
        } else {
            last += 1;
            events[last] = next;
        }
    }
    last + 1
}

#[cfg(any(not(any(target_os = "linux", target_os = "android")), readyio_libkqueue))]
pub(crate) use imp::{Selector, SelectorEvents};

/// Closing a descriptor removes its knotes, whatever other descriptors keep the open file
/// alive, so no registration outlives its fd; and the `EVFILT_USER` waker lives inside the
/// kqueue, which must therefore never be replaced (see the contract in `sys/mod.rs`).
#[allow(dead_code)] // read only where this backend is the selector
pub(crate) const CLOSE_KEEPS_REGISTRATIONS: bool = false;
// For `sys/waker_kqueue.rs`, on the systems whose waker is an `EVFILT_USER` knote.
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd", readyio_libkqueue))]
pub(crate) use imp::{receipt, waker_registration, waker_trigger};

// `u32::from(flags)` and `as` casts look redundant on NetBSD, whose kevent fields are
// already `u32`, and are needed everywhere else (`u16`, `i16`).
#[cfg(any(not(any(target_os = "linux", target_os = "android")), readyio_libkqueue))]
#[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
mod imp {
    use super::super::bindings as c;
    use super::super::fd::owned;
    use super::super::{cvt, cvt_retry, Interest, Readiness, Trigger};
    use super::{coalesce, filter_bits};
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::time::Duration;

    #[cfg(not(target_pointer_width = "64"))]
    compile_error!("readyio's kqueue selector needs a 64-bit `udata` (see src/sys/kqueue.rs)");

    kevent_translation!();

    /// What the selector registered for one fd (see "Double registration" above).
    #[derive(Clone, Copy, Debug, Default)]
    struct Registration {
        /// Added and not deleted since (whether or not any knote of it is left).
        watched: bool,
        /// The filters whose knotes the selector added and has not seen go.
        filters: u8,
        /// The filter of the fd's witness knote.
        witness: u8,
    }

    /// A kqueue instance and the table of what it watches.
    #[derive(Debug)]
    pub(crate) struct Selector {
        /// Shared with the selector's `EVFILT_USER` waker (`sys/waker_kqueue.rs`), which
        /// triggers its knote through this very fd, not a duplicate: see `Selector::shared_kqueue`.
        kq: Arc<OwnedFd>,
        /// A second kqueue, private and never waited on, holding one disabled witness knote per
        /// watched fd (see "Double registration" above).
        witness: OwnedFd,
        // Locked only by registration calls (`&self`, like epoll's), never by `select`.
        registrations: Mutex<Vec<Registration>>,
        // How many fds have both filters registered: only their results can need merging,
        // so while this is 0 `select` skips `coalesce` (most sockets wait for one direction).
        both_filters: AtomicUsize,
    }

    /// The buffers `kevent` fills and the coalesced results, both allocated once.
    pub(crate) struct SelectorEvents {
        raw: Vec<c::kevent>,
        ready: Vec<Readiness>,
    }

    // SAFETY: `kevent::udata` is a raw pointer only by its C type; readyio stores integers
    // in it and never dereferences it, so the buffer can move and be shared across threads.
    unsafe impl Send for SelectorEvents {}
    // SAFETY: as above; `&SelectorEvents` only reads plain values.
    unsafe impl Sync for SelectorEvents {}

    impl std::fmt::Debug for SelectorEvents {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("SelectorEvents").field("len", &self.ready.len()).field("capacity", &self.raw.len()).finish()
        }
    }

    impl SelectorEvents {
        /// The most results one `select` asks for: `kevent` takes an `int` count, and the
        /// buffer's size in bytes is kept within an `int` too, as epoll requires.
        pub(crate) const MAX_CAPACITY: usize = i32::MAX as usize / std::mem::size_of::<c::kevent>();

        /// A buffer for up to `capacity` kernel results per `select` (at least 1).
        ///
        /// Errors: `InvalidInput` above [`MAX_CAPACITY`](Self::MAX_CAPACITY), `OutOfMemory`
        /// if the buffers cannot be allocated.
        pub(crate) fn with_capacity(capacity: usize) -> io::Result<SelectorEvents> {
            if capacity > Self::MAX_CAPACITY {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "an events capacity of {capacity} is more than readyio asks kevent for ({})",
                        Self::MAX_CAPACITY
                    ),
                ));
            }
            let capacity = capacity.max(1);
            let failed = |e| crate::sys::reserve_error(format_args!("{capacity} events"), e);
            let (mut raw, mut ready) = (Vec::new(), Vec::new());
            raw.try_reserve_exact(capacity).map_err(failed)?;
            ready.try_reserve_exact(capacity).map_err(failed)?;
            raw.resize(capacity, c::kevent::default());
            Ok(SelectorEvents { raw, ready })
        }

        pub(crate) fn len(&self) -> usize {
            self.ready.len()
        }

        pub(crate) fn clear(&mut self) {
            self.ready.clear();
        }

        /// The `i`th (coalesced) event of the last `select`.
        pub(crate) fn get(&self, i: usize) -> Option<Readiness> {
            self.ready.get(i).copied()
        }
    }

    impl Selector {
        /// Two kqueues, the selector's and its witness (see "Double registration" above).
        pub(crate) fn new() -> io::Result<Selector> {
            Ok(Selector {
                kq: Arc::new(new_kqueue()?),
                witness: new_kqueue()?,
                registrations: Mutex::new(Vec::new()),
                both_filters: AtomicUsize::new(0),
            })
        }

        /// The selector's kqueue fd itself, for its `EVFILT_USER` waker, which shares it
        /// (`sys/waker_kqueue.rs`): the kqueue is closed when the last of the two is dropped.
        ///
        /// Shared rather than duplicated, on every kqueue system: libkqueue (the userspace
        /// kqueue that runs this backend on Linux, `--cfg readyio_libkqueue`) knows a kqueue
        /// only by its fd number, so a `dup` of it is no kqueue there (`ENOENT`); on the
        /// kernels a duplicate would work, but would cost an fd per event loop and a syscall
        /// per loop created, and would be a second code path that never runs on this
        /// project's machines. One `Arc` allocated per selector is the price.
        #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd", readyio_libkqueue))]
        pub(crate) fn shared_kqueue(&self) -> Arc<OwnedFd> {
            Arc::clone(&self.kq)
        }

        fn table(&self) -> MutexGuard<'_, Vec<Registration>> {
            // A panic while holding the lock cannot leave the table inconsistent with the
            // kernel in a way a later call does not already handle.
            self.registrations.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        /// Sizes the table of what is registered for fd numbers `0..fds` (never shrinks it),
        /// so that registering them later allocates nothing. See `Poll::reserve_fds`.
        pub(crate) fn reserve_fds(&self, fds: usize) -> io::Result<()> {
            let mut table = self.table();
            if let Some(missing) = fds.checked_sub(table.len()).filter(|&m| m > 0) {
                table
                    .try_reserve_exact(missing)
                    .map_err(|e| crate::sys::reserve_error(format_args!("a kqueue table for {fds} fds"), e))?;
                table.resize(fds, Registration::default());
            }
            Ok(())
        }

        /// Starts watching `fd`; `EEXIST` if it is already watched (added and not deleted
        /// since, and not closed since: see "Double registration" above).
        pub(crate) fn add(&self, fd: RawFd, data: u64, interest: Interest, trigger: Trigger) -> io::Result<()> {
            let index = fd_index(fd)?;
            let mut table = self.table();
            let known = table.get(index).copied().unwrap_or_default();
            let witness = match known.watched {
                true => match self.renew_witness(fd, known.witness)? {
                    Witness::Alive => return Err(io::Error::from_raw_os_error(c::EEXIST)),
                    Witness::Renewed => known.witness,
                    Witness::Gone => self.add_witness(fd, interest)?,
                },
                // Also proves `fd` open, which an empty interest (no knote) would not.
                false => self.add_witness(fd, interest)?,
            };
            let mut changes = [c::kevent::default(); MAX_CHANGES];
            let n = registration_changes(fd, data, interest, trigger, 0, &mut changes);
            let (filters, result) = self.apply(&self.kq, &mut changes[..n], 0);
            if let Err(e) = result {
                if filters != 0 {
                    // Half registered (one filter refused): undo, so a failed add leaves nothing.
                    let n = deletion_changes(fd, filters, &mut changes);
                    let _ = self.apply(&self.kq, &mut changes[..n], filters);
                }
                if let Some(stale) = table.get_mut(index) {
                    self.record(stale, Registration::default());
                }
                return Err(e);
            }
            // Grown only once the kernel accepted the fd: a bogus fd number costs nothing.
            if index >= table.len() {
                let missing = index + 1 - table.len();
                if let Err(e) = table.try_reserve(missing) {
                    // Undo what the table cannot record (the witness knote may stay: see `delete`).
                    let n = deletion_changes(fd, filters, &mut changes);
                    let _ = self.apply(&self.kq, &mut changes[..n], filters);
                    return Err(crate::sys::reserve_error(format_args!("the kqueue table for fd {fd}"), e));
                }
                table.resize(index + 1, Registration::default());
            }
            self.record(&mut table[index], Registration { watched: true, filters, witness });
            Ok(())
        }

        /// Replaces interest, trigger and data of a watched fd; `ENOENT` if not watched.
        pub(crate) fn modify(&self, fd: RawFd, data: u64, interest: Interest, trigger: Trigger) -> io::Result<()> {
            let index = fd_index(fd)?;
            let mut table = self.table();
            let known = match table.get(index) {
                Some(r) if r.watched => *r,
                _ => return Err(io::Error::from_raw_os_error(c::ENOENT)),
            };
            let mut changes = [c::kevent::default(); MAX_CHANGES];
            let n = registration_changes(fd, data, interest, trigger, known.filters, &mut changes);
            let (filters, result) = self.apply(&self.kq, &mut changes[..n], known.filters);
            let closed = matches!(&result, Err(e) if e.raw_os_error() == Some(c::EBADF));
            let now = match closed {
                true => Registration::default(),
                false => Registration { watched: true, filters, witness: known.witness },
            };
            self.record(&mut table[index], now);
            result
        }

        /// Stops watching `fd`; `ENOENT` if not watched.
        pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
            let index = fd_index(fd)?;
            let mut table = self.table();
            let known = match table.get(index) {
                Some(r) if r.watched => *r,
                _ => return Err(io::Error::from_raw_os_error(c::ENOENT)),
            };
            // The witness knote stays: it costs no syscall to leave, goes when the fd closes,
            // and a later `add` of the same open file updates it in place.
            self.record(&mut table[index], Registration::default());
            let mut changes = [c::kevent::default(); MAX_CHANGES];
            let n = deletion_changes(fd, known.filters, &mut changes);
            self.apply(&self.kq, &mut changes[..n], known.filters).1
        }

        /// Stores `now` as an fd's registration, keeping `both_filters` up to date.
        fn record(&self, slot: &mut Registration, now: Registration) {
            let both = |r: &Registration| r.filters == filter_bits::READ | filter_bits::WRITE;
            match (both(slot), both(&now)) {
                (false, true) => self.both_filters.fetch_add(1, Ordering::Relaxed),
                (true, false) => self.both_filters.fetch_sub(1, Ordering::Relaxed),
                _ => 0,
            };
            *slot = now;
        }

        /// Adds the witness knote of `fd` (one `kevent` call on the witness kqueue) and returns
        /// its filter: write for a write-only interest (a pipe's write end may refuse read),
        /// read for any other, even an empty one (every fd readyio is given supports it).
        fn add_witness(&self, fd: RawFd, interest: Interest) -> io::Result<u8> {
            let filter = match interest.writable && !interest.readable {
                true => filter_bits::WRITE,
                false => filter_bits::READ,
            };
            let mut changes = witness_addition(fd, filter);
            self.apply(&self.witness, &mut changes, 0).1.map(|()| filter)
        }

        /// For an fd the table says is watched: deletes and re-adds its witness knote in one
        /// `kevent` call on the witness kqueue. The deletion's receipt says whether the fd was
        /// closed since it was added (the kernel then dropped the witness, and the knotes).
        /// Nothing in the selector's own kqueue is looked at: see "Double registration".
        fn renew_witness(&self, fd: RawFd, filter: u8) -> io::Result<Witness> {
            let [add, disable] = witness_addition(fd, filter);
            let mut changes = [witness_deletion(fd, filter), add, disable];
            let received = self.submit(&self.witness, &mut changes)?;
            let errno = |i: usize| if i < received { receipt(&changes[i]).1 } else { c::ENOENT };
            Ok(match (errno(0), errno(1), errno(2)) {
                (0, _, _) => Witness::Alive,
                (_, 0, 0) => Witness::Renewed,
                _ => Witness::Gone,
            })
        }

        /// Submits `changes` to `kq` and follows their receipts from the filter set `filters`:
        /// returns the filters registered afterwards and the first error that matters
        /// (a deletion's `ENOENT` does not: a oneshot knote deletes itself when it fires).
        fn apply(&self, kq: &OwnedFd, changes: &mut [c::kevent], filters: u8) -> (u8, io::Result<()>) {
            let mut change_flags = [0u32; MAX_CHANGES];
            for (flags, change) in change_flags.iter_mut().zip(changes.iter()) {
                *flags = u32::from(change.flags);
            }
            let n = changes.len();
            let received = match self.submit(kq, changes) {
                Ok(received) => received,
                Err(e) => return (filters, Err(e)),
            };
            match follow_receipts(&change_flags[..n], &changes[..received], filters) {
                (filters, 0) => (filters, Ok(())),
                (filters, errno) => (filters, Err(io::Error::from_raw_os_error(errno))),
            }
        }

        /// One `kevent` call that submits `changes` to `kq` and, thanks to `EV_RECEIPT`,
        /// receives one receipt per change back into the same array (never pending events).
        /// Returns how many receipts came back (one per change, unless the kernel failed).
        fn submit(&self, kq: &OwnedFd, changes: &mut [c::kevent]) -> io::Result<usize> {
            if changes.is_empty() {
                return Ok(0);
            }
            let n = changes.len();
            let ptr = changes.as_mut_ptr();
            // SAFETY: the kernel reads `n` changes and writes at most `n` receipts to the same
            // array, which it is allowed to (the lists may alias); a zero timeout never waits.
            let timeout = c::timespec { tv_sec: 0, tv_nsec: 0 };
            let received = cvt_retry(|| unsafe { c::kevent(kq.as_raw_fd(), ptr, n as _, ptr, n as _, &timeout) })?;
            Ok((received as usize).min(n))
        }

        /// One `kevent` wait into `events`, then the results coalesced per fd.
        pub(crate) fn select(&self, events: &mut SelectorEvents, timeout: Option<Duration>) -> io::Result<()> {
            events.ready.clear();
            let ts = timeout
                .map(|t| c::timespec { tv_sec: t.as_secs().min(i32::MAX as u64) as _, tv_nsec: t.subsec_nanos() as _ });
            let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const c::timespec);
            let capacity = events.raw.len();
            // SAFETY: no changes are passed; `raw` has room for `capacity` results; `ts`
            // outlives the call.
            let n = cvt(unsafe {
                c::kevent(self.kq.as_raw_fd(), std::ptr::null(), 0, events.raw.as_mut_ptr(), capacity as _, ts_ptr)
            })? as usize;
            // `ready` was allocated with `capacity` slots and `n <= capacity`: no allocation.
            events.ready.extend(events.raw[..n].iter().map(readiness));
            // A registration racing with this select on another thread changes only which
            // results may repeat an fd; a stale 0 can leave its two results apart, once.
            if self.both_filters.load(Ordering::Relaxed) != 0 {
                let kept = coalesce(&mut events.ready);
                events.ready.truncate(kept);
            }
            Ok(())
        }
    }

    /// What renewing a witness knote found (`Selector::renew_witness`).
    enum Witness {
        /// It was there: the fd is the open file that was added, and still watched.
        Alive,
        /// It was gone (the fd was closed since), and the same filter was added for the file
        /// that now has the fd's number.
        Renewed,
        /// It was gone, and that filter does not suit the file that now has the number.
        Gone,
    }

    /// `kqueue()`, then `FD_CLOEXEC` (kqueue has no flags argument; FreeBSD's
    /// `kqueuex(KQUEUE_CLOEXEC)` and NetBSD's `kqueue1` are not everywhere).
    fn new_kqueue() -> io::Result<OwnedFd> {
        // SAFETY: `kqueue` takes no arguments.
        let kq = owned(cvt(unsafe { c::kqueue() })?);
        super::super::fd::set_cloexec(kq.as_fd())?;
        Ok(kq)
    }

    fn fd_index(fd: RawFd) -> io::Result<usize> {
        usize::try_from(fd).map_err(|_| io::Error::from_raw_os_error(c::EBADF))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(data: u64, readable: bool, writable: bool) -> Readiness {
        Readiness { data, readable, writable, ..Default::default() }
    }

    #[test]
    fn coalesce_merges_read_and_write_results_of_one_fd() {
        let mut events = [ready(7, true, false), ready(3, true, false), ready(7, false, true)];
        let n = coalesce(&mut events);
        assert_eq!(n, 2);
        let mut kept = events[..n].to_vec();
        kept.sort_by_key(|r| r.data);
        assert_eq!(kept, vec![ready(3, true, false), ready(7, true, true)]);
    }

    #[test]
    fn coalesce_keeps_hup_and_error_from_either_filter() {
        let mut events =
            [Readiness { hup: true, ..ready(1, true, false) }, Readiness { error: true, ..ready(1, false, true) }];
        assert_eq!(coalesce(&mut events), 1);
        assert_eq!(events[0], Readiness { data: 1, readable: true, writable: true, error: true, hup: true });
    }

    #[test]
    fn coalesce_leaves_short_and_distinct_lists_whole() {
        assert_eq!(coalesce(&mut []), 0);
        assert_eq!(coalesce(&mut [ready(1, true, false)]), 1);
        let mut distinct: Vec<Readiness> = (0..100).rev().map(|d| ready(d, true, false)).collect();
        assert_eq!(coalesce(&mut distinct), 100);
    }

    /// The same tests for every kqueue ABI whose bindings are committed.
    macro_rules! translation_tests {
        ($abi:ident, $file:literal) => {
            mod $abi {
                #[allow(
                    non_camel_case_types,
                    non_snake_case,
                    non_upper_case_globals,
                    dead_code,
                    unsafe_code,
                    clashing_extern_declarations,
                    clippy::all
                )]
                mod c {
                    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/sys/bindings/", $file));
                }
                #[allow(dead_code, clippy::useless_conversion, clippy::unnecessary_cast)]
                mod translation {
                    use super::c;
                    kevent_translation!();
                }
                use super::super::filter_bits::{READ, WRITE};
                use crate::sys::{Interest, Readiness, Trigger, WAKER_DATA};
                use translation::*;

                const BOTH: Interest = Interest { readable: true, writable: true };
                const LEVEL: Trigger = Trigger { edge: false, oneshot: false };

                fn changes(interest: Interest, trigger: Trigger, registered: u8) -> Vec<c::kevent> {
                    let mut out = [c::kevent::default(); MAX_CHANGES];
                    let n = registration_changes(9, 0xAB_0000_0009, interest, trigger, registered, &mut out);
                    out[..n].to_vec()
                }

                fn fields(ev: &c::kevent) -> (usize, i64, u32, u64) {
                    let (ident, filter, flags, udata) = (ev.ident, ev.filter, ev.flags, ev.udata);
                    (ident as usize, filter as i64, flags as u32, udata as usize as u64)
                }

                fn result(filter: i64, flags: u32, fflags: u32) -> c::kevent {
                    let mut ev = c::kevent::default();
                    ev.ident = 9;
                    ev.filter = filter as _;
                    ev.flags = flags as _;
                    ev.fflags = fflags;
                    ev.udata = 0xAB_0000_0009usize as _;
                    ev
                }

                const READ_F: i64 = c::EVFILT_READ as i64;
                const WRITE_F: i64 = c::EVFILT_WRITE as i64;
                const ADD: u32 = (c::EV_ADD | c::EV_RECEIPT) as u32;
                const DELETE: u32 = (c::EV_DELETE | c::EV_RECEIPT) as u32;

                #[test]
                fn level_interest_adds_one_knote_per_filter_with_receipts_write_first() {
                    let got: Vec<_> = changes(BOTH, LEVEL, 0).iter().map(fields).collect();
                    assert_eq!(got, vec![(9, WRITE_F, ADD, 0xAB_0000_0009), (9, READ_F, ADD, 0xAB_0000_0009)]);
                }

                #[test]
                fn edge_is_ev_clear_and_oneshot_is_ev_oneshot() {
                    let readable = Interest { readable: true, writable: false };
                    let edge = changes(readable, Trigger { edge: true, oneshot: false }, 0);
                    assert_eq!(fields(&edge[0]).2, ADD | c::EV_CLEAR as u32);
                    let oneshot = changes(readable, Trigger { edge: false, oneshot: true }, 0);
                    assert_eq!(fields(&oneshot[0]).2, ADD | c::EV_ONESHOT as u32);
                    let both = changes(readable, Trigger { edge: true, oneshot: true }, 0);
                    assert_eq!(fields(&both[0]).2, ADD | (c::EV_CLEAR | c::EV_ONESHOT) as u32);
                    assert_eq!(edge.len(), 1);
                }

                #[test]
                fn modify_deletes_the_registered_filters_before_adding() {
                    let writable = Interest { readable: false, writable: true };
                    let got: Vec<_> =
                        changes(writable, LEVEL, READ | WRITE).iter().map(|e| (fields(e).1, fields(e).2)).collect();
                    assert_eq!(got, vec![(READ_F, DELETE), (WRITE_F, DELETE), (WRITE_F, ADD)]);
                }

                #[test]
                fn empty_interest_registers_nothing() {
                    assert!(changes(Interest::default(), LEVEL, 0).is_empty());
                }

                #[test]
                fn the_witness_knote_is_added_then_disabled_and_deleted_with_receipts() {
                    let added: Vec<_> = witness_addition(9, READ).iter().map(fields).collect();
                    let disable = (c::EV_DISABLE | c::EV_RECEIPT) as u32;
                    assert_eq!(added, vec![(9, READ_F, ADD | c::EV_CLEAR as u32, 0), (9, READ_F, disable, 0)]);
                    assert_eq!(fields(&witness_deletion(9, WRITE)), (9, WRITE_F, DELETE, 0));
                }

                #[test]
                fn receipts_give_the_filter_and_errno() {
                    let mut ok = result(WRITE_F, (c::EV_ERROR | c::EV_RECEIPT) as u32, 0);
                    ok.data = 0;
                    assert_eq!(receipt(&ok), (WRITE, 0));
                    let mut missing = result(READ_F, (c::EV_ERROR | c::EV_RECEIPT) as u32, 0);
                    missing.data = c::ENOENT as _;
                    assert_eq!(receipt(&missing), (READ, c::ENOENT));
                }

                fn receipt_for(filter: i64, errno: i32) -> c::kevent {
                    let mut ev = result(filter, (c::EV_ERROR | c::EV_RECEIPT) as u32, 0);
                    ev.data = errno as _;
                    ev
                }

                #[test]
                fn receipts_track_which_filters_are_registered() {
                    let flags = [DELETE, DELETE, ADD];
                    let ok = [receipt_for(READ_F, 0), receipt_for(WRITE_F, 0), receipt_for(WRITE_F, 0)];
                    assert_eq!(follow_receipts(&flags, &ok, READ | WRITE), (WRITE, 0));
                }

                #[test]
                fn deleting_a_fired_oneshot_knote_is_not_an_error() {
                    let gone = [receipt_for(READ_F, c::ENOENT)];
                    assert_eq!(follow_receipts(&[DELETE], &gone, READ), (0, 0));
                }

                #[test]
                fn a_refused_addition_is_reported_and_leaves_its_filter_unregistered() {
                    let flags = [ADD, ADD];
                    let half = [receipt_for(READ_F, 0), receipt_for(WRITE_F, c::EINVAL)];
                    assert_eq!(follow_receipts(&flags, &half, 0), (READ, c::EINVAL));
                }

                #[test]
                fn a_closed_fd_forgets_every_filter_and_reports_ebadf_first() {
                    let flags = [DELETE, ADD, ADD];
                    let closed =
                        [receipt_for(READ_F, c::EBADF), receipt_for(READ_F, c::EBADF), receipt_for(WRITE_F, c::EINVAL)];
                    assert_eq!(follow_receipts(&flags, &closed, READ), (0, c::EBADF));
                }

                #[test]
                fn missing_receipts_change_nothing() {
                    assert_eq!(follow_receipts(&[ADD, ADD], &[], READ), (READ, 0));
                }

                #[test]
                fn results_translate_to_readiness() {
                    let data = 0xAB_0000_0009;
                    assert_eq!(
                        readiness(&result(READ_F, 0, 0)),
                        Readiness { data, readable: true, ..Default::default() }
                    );
                    assert_eq!(
                        readiness(&result(WRITE_F, 0, 0)),
                        Readiness { data, writable: true, ..Default::default() }
                    );
                    let peer_closed = readiness(&result(READ_F, c::EV_EOF as u32, 0));
                    assert!(peer_closed.readable && peer_closed.hup && !peer_closed.error);
                    let refused = readiness(&result(WRITE_F, c::EV_EOF as u32, c::ECONNREFUSED as u32));
                    assert!(refused.writable && refused.hup && refused.error);
                    let failed = readiness(&result(READ_F, c::EV_ERROR as u32, 0));
                    assert!(failed.error && !failed.readable);
                }

                const USER_F: i64 = c::EVFILT_USER as i64;
                const WAKER_IDENT: usize = super::super::WAKER_IDENT;

                #[test]
                fn the_waker_knote_is_an_edge_triggered_user_event_with_a_receipt_and_the_waker_data() {
                    let change = waker_registration();
                    let flags = (c::EV_ADD | c::EV_CLEAR | c::EV_RECEIPT) as u32;
                    assert_eq!(fields(&change), (WAKER_IDENT, USER_F, flags, WAKER_DATA));
                    let fflags = change.fflags;
                    assert_eq!(fflags, 0, "adding must not trigger");
                }

                #[test]
                fn a_wake_triggers_the_waker_knote_and_keeps_its_data() {
                    let change = waker_trigger();
                    assert_eq!(fields(&change), (WAKER_IDENT, USER_F, 0, WAKER_DATA));
                    let fflags = change.fflags;
                    assert_eq!(fflags, c::NOTE_TRIGGER as u32);
                }

                #[test]
                fn a_user_event_result_is_a_readable_waker_data() {
                    let mut fired = result(USER_F, c::EV_CLEAR as u32, c::NOTE_TRIGGER as u32);
                    fired.ident = WAKER_IDENT as _;
                    let waker = Readiness { data: WAKER_DATA, readable: true, ..Default::default() };
                    assert_eq!(readiness(&fired), waker);
                    // Whatever `udata` the knote carries, the result is the waker's.
                    fired.udata = 0usize as _;
                    assert_eq!(readiness(&fired), waker);
                }

                #[test]
                fn a_waker_result_stays_apart_when_fd_results_are_coalesced() {
                    let mut fired = result(USER_F, 0, c::NOTE_TRIGGER as u32);
                    fired.ident = WAKER_IDENT as _;
                    let raw = [result(READ_F, 0, 0), fired, result(WRITE_F, 0, 0)];
                    let mut ready: Vec<Readiness> = raw.iter().map(readiness).collect();
                    let n = super::super::coalesce(&mut ready);
                    assert_eq!(n, 2);
                    assert_eq!(ready[1], Readiness { data: WAKER_DATA, readable: true, ..Default::default() });
                }

                #[test]
                fn read_and_write_results_of_one_fd_coalesce_into_one_readiness() {
                    let raw = [result(READ_F, 0, 0), result(WRITE_F, c::EV_EOF as u32, 0)];
                    let mut ready: Vec<Readiness> = raw.iter().map(readiness).collect();
                    let n = super::super::coalesce(&mut ready);
                    assert_eq!(n, 1);
                    assert_eq!(
                        ready[0],
                        Readiness { data: 0xAB_0000_0009, readable: true, writable: true, error: false, hup: true }
                    );
                }
            }
        };
    }

    translation_tests!(freebsd_x86_64, "x86_64-unknown-freebsd.rs");
    translation_tests!(freebsd_aarch64, "aarch64-unknown-freebsd.rs");
    translation_tests!(macos_x86_64, "x86_64-apple-darwin.rs");
    translation_tests!(macos_aarch64, "aarch64-apple-darwin.rs");
    translation_tests!(netbsd_x86_64, "x86_64-unknown-netbsd.rs");
}
