//! The timer wheel against the sorted-map model that `tests/timer_wheel.rs` runs on seeded
//! cases: here the fuzzer's bytes choose the wheel's shape (capacity, slots, tick, horizon,
//! how fast time moves) and every insert, cancel and poll.
#![no_main]

#[path = "../../tests/support/timer_model.rs"]
mod timer_model;
#[path = "../../src/event_loop/timer_wheel.rs"]
#[allow(dead_code)]
mod timer_wheel;

use libfuzzer_sys::fuzz_target;
use readyio_fuzz::rng::{self, Choices};
use readyio_fuzz::FuzzChoices;
use timer_model::Shape;

fuzz_target!(|data: &[u8]| {
    let mut choices = FuzzChoices::new(data);
    let capacity = choices.below(65);
    // 2 to 2048 slots per level (the wheel caps and rounds them itself).
    let slots = 2 + choices.below(2047);
    let tick_ns = [1, 1_000, 250_000, 1_000_000, 5_000_000_000][choices.below(5)];
    // Horizons from a few ticks to the whole of u64: shifts keep every scale reachable.
    let horizon_ns = (choices.next() >> choices.below(64)).max(1);
    let max_step_ns = choices.next() >> choices.below(64);
    let shape = Shape { capacity, slots, tick_ns, horizon_ns, max_step_ns };
    // One step per two bytes left: the input's length bounds the work.
    let steps = (data.len() as u64 / 2).min(2_000);
    timer_model::run(&mut choices, shape, steps);
});
