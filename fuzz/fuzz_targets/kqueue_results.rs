//! The kqueue result translation and coalescing, and the registration changes and their
//! receipts, against the model in `src/sys/kqueue_fuzz.rs`, for the FreeBSD, macOS and
//! NetBSD bindings (so it runs on Linux).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    readyio::fuzzing::kqueue_results(data);
});
