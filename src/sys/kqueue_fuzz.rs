//! The fuzz target `kqueue_results` (`fuzz/`) drives the kqueue translation of `kqueue.rs`
//! through this module: built only with `--cfg fuzzing` (as `cargo fuzz` builds), for every
//! kqueue ABI whose bindings are committed (FreeBSD, macOS x86_64 and aarch64, NetBSD), on
//! whichever host the fuzzer runs.
//!
//! [`kqueue_results`] reads from the fuzzer's bytes a list of kevent results (any filter,
//! flags, fflags, data; `udata` from a few values, so that fds repeat), and a registration
//! change with its receipts, and checks each against what the module docs of `kqueue.rs`
//! promise, written here a second time as a model:
//!
//! * a result's `Readiness`: the waker's `EVFILT_USER` is a readable `WAKER_DATA`;
//!   `EV_ERROR` is an error and nothing else; otherwise readable for `EVFILT_READ`,
//!   writable for `EVFILT_WRITE`, hup for `EV_EOF`, error for `EV_EOF` with `fflags`;
//! * `coalesce`: exactly one entry per distinct `data`, the union of that data's results;
//! * registration changes: deletions of the registered filters first, then one addition per
//!   wanted filter with the trigger's flags, all with receipts, never more than
//!   `MAX_CHANGES`; following their receipts when every one succeeded gives the wanted
//!   filters, and whatever the receipts say, only filter bits.
//!
//! A disagreement panics, which is what the fuzzer reports.

use super::{Readiness, WAKER_DATA};
use std::collections::BTreeMap;

/// The fuzzer's bytes, read front to back; zeros once they run out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks the kqueue translation of every committed kqueue ABI against the model on the
/// results and changes that `data` describes; panics on any disagreement.
pub fn kqueue_results(data: &[u8]) {
    freebsd_x86_64::check(data);
    macos_x86_64::check(data);
    macos_aarch64::check(data);
    netbsd_x86_64::check(data);
}

/// What one result should translate to (the model; see the module docs).
fn expected_readiness(filter: (bool, bool, bool), error: bool, eof: bool, fflags_set: bool, udata: u64) -> Readiness {
    let (read, write, user) = filter;
    if user {
        return Readiness { data: WAKER_DATA, readable: true, ..Default::default() };
    }
    if error {
        return Readiness { data: udata, error: true, ..Default::default() };
    }
    Readiness { data: udata, readable: read, writable: write, hup: eof, error: eof && fflags_set }
}

/// `coalesce` against a map from data to the union of its readiness.
fn check_coalesce(mut results: Vec<Readiness>) {
    let mut union: BTreeMap<u64, Readiness> = BTreeMap::new();
    for r in &results {
        let merged = union.entry(r.data).or_insert(Readiness { data: r.data, ..Default::default() });
        merged.readable |= r.readable;
        merged.writable |= r.writable;
        merged.error |= r.error;
        merged.hup |= r.hup;
    }
    let n = super::kqueue::coalesce(&mut results);
    let mut kept = results[..n].to_vec();
    kept.sort_by_key(|r| r.data);
    let expected: Vec<Readiness> = union.into_values().collect();
    assert_eq!(kept, expected, "coalesce");
}

/// The model's checks for one bindings module `c` (each ABI has its own `struct kevent`).
macro_rules! abi_check {
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
            use super::{check_coalesce, expected_readiness, Input};
            use crate::sys::kqueue::filter_bits::{READ, WRITE};
            use crate::sys::{Interest, Readiness, Trigger};

            const FLAG_CHOICES: [u32; 6] = [
                c::EV_EOF as u32,
                c::EV_ERROR as u32,
                c::EV_CLEAR as u32,
                c::EV_ONESHOT as u32,
                c::EV_ADD as u32,
                0x8000,
            ];

            #[allow(clippy::unnecessary_cast)]
            pub(super) fn check(data: &[u8]) {
                let mut input = Input(data);
                let mut results: Vec<Readiness> = Vec::new();
                while !input.is_empty() && results.len() < 64 {
                    let kind = input.byte();
                    let mut ev = c::kevent::default();
                    let filter = match kind % 4 {
                        0 => c::EVFILT_READ as i64,
                        1 => c::EVFILT_WRITE as i64,
                        2 => c::EVFILT_USER as i64,
                        _ => i64::from(input.byte() as i8),
                    };
                    ev.filter = filter as _;
                    let flag_bits = input.byte();
                    let flags = FLAG_CHOICES
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| flag_bits & (1 << i) != 0)
                        .fold(0u32, |all, (_, &flag)| all | flag);
                    ev.flags = flags as _;
                    ev.fflags = if kind & 0x10 != 0 { input.u32() } else { 0 };
                    ev.data = input.u32() as _;
                    // A few fds (and sometimes the waker's data), so that results share data.
                    let udata = if kind & 0x20 != 0 { crate::sys::WAKER_DATA } else { u64::from(kind >> 6) };
                    ev.udata = udata as usize as _;
                    ev.ident = (kind >> 6) as _;
                    let got = translation::readiness(&ev);
                    let user = filter == c::EVFILT_USER as i64;
                    let read = filter == c::EVFILT_READ as i64;
                    let write = filter == c::EVFILT_WRITE as i64;
                    let fflags_set = { ev.fflags } != 0;
                    let expected = expected_readiness(
                        (read, write, user),
                        flags & c::EV_ERROR as u32 != 0,
                        flags & c::EV_EOF as u32 != 0,
                        fflags_set,
                        udata,
                    );
                    assert_eq!(got, expected, "readiness of filter {filter} flags {flags:#x}");
                    results.push(got);
                }
                check_coalesce(results);

                let choice = input.byte();
                let interest = Interest { readable: choice & 1 != 0, writable: choice & 2 != 0 };
                let trigger = Trigger { edge: choice & 4 != 0, oneshot: choice & 8 != 0 };
                let registered = (choice >> 4) & (READ | WRITE);
                let fd = i32::from(input.byte());
                let data = u64::from(input.u32());
                let mut changes = [c::kevent::default(); translation::MAX_CHANGES];
                let n = translation::registration_changes(fd, data, interest, trigger, registered, &mut changes);
                let deletions = registered.count_ones() as usize;
                let additions = usize::from(interest.readable) + usize::from(interest.writable);
                assert_eq!(n, deletions + additions, "one change per registered and per wanted filter");
                let receipt = c::EV_RECEIPT as u32;
                let mut add = c::EV_ADD as u32 | receipt;
                if trigger.edge {
                    add |= c::EV_CLEAR as u32;
                }
                if trigger.oneshot {
                    add |= c::EV_ONESHOT as u32;
                }
                // Write before read (see `registration_changes`: libkqueue keeps EPOLLRDHUP only so).
                let mut wanted_filters = Vec::new();
                if interest.writable {
                    wanted_filters.push(c::EVFILT_WRITE as i64);
                }
                if interest.readable {
                    wanted_filters.push(c::EVFILT_READ as i64);
                }
                for (i, change) in changes[..n].iter().enumerate() {
                    let (ident, filter, flags, udata) = (
                        change.ident as usize,
                        change.filter as i64,
                        change.flags as u32,
                        change.udata as usize as u64,
                    );
                    assert_eq!(ident, fd as usize);
                    if i < deletions {
                        assert_eq!(flags, c::EV_DELETE as u32 | receipt, "deletions first");
                    } else {
                        assert_eq!(flags, add, "additions carry the trigger");
                        assert_eq!(filter, wanted_filters[i - deletions]);
                        assert_eq!(udata, data as usize as u64);
                    }
                }

                // Receipts: all successful (the wanted filters result), or as the input says.
                let change_flags: Vec<u32> = changes[..n].iter().map(|change| change.flags as u32).collect();
                let mut receipts = changes;
                let all_succeed = input.byte() & 1 == 0;
                for receipt in receipts[..n].iter_mut() {
                    let errno =
                        if all_succeed { 0 } else { [0, c::ENOENT, c::EBADF, c::EEXIST][input.byte() as usize % 4] };
                    receipt.flags = (c::EV_ERROR as u32) as _;
                    receipt.data = errno as _;
                }
                let (filters, errno) = translation::follow_receipts(&change_flags, &receipts[..n], registered);
                assert_eq!(filters & !(READ | WRITE), 0, "only filter bits");
                if all_succeed {
                    let wanted = if interest.readable { READ } else { 0 } | if interest.writable { WRITE } else { 0 };
                    assert_eq!((filters, errno), (wanted, 0), "successful receipts register the wanted filters");
                }
            }
        }
    };
}

abi_check!(freebsd_x86_64, "x86_64-unknown-freebsd.rs");
abi_check!(macos_x86_64, "x86_64-apple-darwin.rs");
abi_check!(macos_aarch64, "aarch64-apple-darwin.rs");
abi_check!(netbsd_x86_64, "x86_64-unknown-netbsd.rs");
