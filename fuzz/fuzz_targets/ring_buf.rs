//! `RingBuf` against the `VecDeque` model that `tests/buf_ring.rs` runs on seeded cases:
//! here the fuzzer's bytes choose the capacity and every step.
#![no_main]

#[path = "../../tests/support/ring_model.rs"]
mod ring_model;

use libfuzzer_sys::fuzz_target;
use readyio_fuzz::{rng, FuzzChoices};

fuzz_target!(|data: &[u8]| {
    ring_model::run_case(&mut FuzzChoices::new(data));
});
