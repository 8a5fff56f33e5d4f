//! The timer wheel against a sorted-map model, shared by `tests/timer_wheel.rs` and the fuzz
//! target `fuzz/fuzz_targets/timer_wheel.rs`: random inserts, cancels and polls drawn from a
//! [`Choices`], where every poll must return exactly the model's due timers, in deadline
//! order, never one early, and `next_deadline` must never be after the earliest pending
//! deadline.
//!
//! Include it beside `rng.rs` and the wheel itself
//! (`#[path = ".../src/event_loop/timer_wheel.rs"] mod timer_wheel;`).

#![allow(dead_code)]

use super::rng::Choices;
use super::timer_wheel::{TimerKey, TimerWheel};
use std::collections::{BTreeMap, HashMap};

/// The shape of a wheel and of the time a case drives it through.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub capacity: usize,
    pub slots: usize,
    pub tick_ns: u64,
    /// New deadlines fall in `now .. now + horizon_ns`.
    pub horizon_ns: u64,
    /// Time moves on by `0 ..= max_step_ns` per poll.
    pub max_step_ns: u64,
}

/// Runs `steps` random operations (half inserts, a fifth cancels, the rest polls) on a
/// wheel of `shape`, checking each against the model.
pub fn run(choices: &mut impl Choices, shape: Shape, steps: u64) {
    let mut wheel = TimerWheel::new(shape.capacity, shape.tick_ns, shape.slots);
    // (deadline, insertion number) -> value; the insertion number keeps equal deadlines apart.
    let mut model: BTreeMap<(u64, u64), u32> = BTreeMap::new();
    let mut keys: Vec<(TimerKey, (u64, u64))> = Vec::new();
    let mut deadline_of: HashMap<u32, u64> = HashMap::new();
    let mut now = 0u64;
    for step in 0..steps {
        match choices.below(10) {
            0..=4 => {
                let deadline = now.saturating_add(choices.below_u64(shape.horizon_ns.max(1)));
                let value = step as u32;
                match wheel.insert(deadline, value) {
                    Ok(key) => {
                        model.insert((deadline, step), value);
                        keys.push((key, (deadline, step)));
                        deadline_of.insert(value, deadline);
                    }
                    Err(back) => {
                        assert_eq!(back, value);
                        assert_eq!(model.len(), shape.capacity, "refused below capacity at step {step}");
                    }
                }
            }
            5..=6 if !keys.is_empty() => {
                let (key, model_key) = keys.swap_remove(choices.below(keys.len()));
                assert_eq!(wheel.cancel(key), model.remove(&model_key), "cancel at step {step}");
                assert_eq!(wheel.cancel(key), None, "a second cancel at step {step}");
            }
            _ => {
                now = now.saturating_add(choices.below_u64(shape.max_step_ns.saturating_add(1)));
                let due: Vec<(u64, u64)> = model.range(..=(now, u64::MAX)).map(|(k, _)| *k).collect();
                let expected: Vec<u32> = due.iter().map(|k| model.remove(k).unwrap()).collect();
                let fired: Vec<u32> = std::iter::from_fn(|| wheel.poll(now)).collect();
                // Equal deadlines may come out in either order; compare by deadline, then as sets.
                let fired_deadlines: Vec<u64> = fired.iter().map(|v| deadline_of[v]).collect();
                let expected_deadlines: Vec<u64> = expected.iter().map(|v| deadline_of[v]).collect();
                assert_eq!(fired_deadlines, expected_deadlines, "fired at now={now}, step {step}");
                let mut fired_sorted = fired;
                fired_sorted.sort_unstable();
                let mut expected_sorted = expected;
                expected_sorted.sort_unstable();
                assert_eq!(fired_sorted, expected_sorted, "fired at now={now}, step {step}");
                keys.retain(|(_, (d, _))| *d > now);
                match (wheel.next_deadline(), model.keys().next()) {
                    (Some(next), Some(&(earliest, _))) => {
                        assert!(next <= earliest, "next_deadline {next} after pending {earliest}, step {step}")
                    }
                    (None, Some(&(earliest, _))) => panic!("no next_deadline with {earliest} pending, step {step}"),
                    (_, None) => {}
                }
            }
        }
        assert_eq!(wheel.len(), model.len(), "len at step {step}");
    }
}
