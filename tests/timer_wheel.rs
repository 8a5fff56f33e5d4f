//! The timing wheel as a data structure, driven with simulated time: deadline order, never
//! early, cancellation, capacity, a randomized comparison with a sorted-map model, and the
//! bound on how much one poll re-files when slots move down a level.
//!
//! Under Miri (`ci/miri.sh`) the tests that take hundreds of thousands of steps are
//! ignored; `random_operations_match_a_sorted_model_in_a_miri_sized_wheel` runs the model
//! through moves at two levels, compactions and a full wheel in a few hundred steps.

#[path = "support/rng.rs"]
mod rng;
#[path = "support/timer_model.rs"]
mod timer_model;
#[path = "../src/event_loop/timer_wheel.rs"]
#[allow(dead_code)]
mod timer_wheel;

use rng::{Choices, Rng};
use timer_model::Shape;
use timer_wheel::{TimerKey, TimerWheel};

const MS: u64 = 1_000_000;

fn drain(wheel: &mut TimerWheel<u32>, now: u64) -> Vec<u32> {
    std::iter::from_fn(|| wheel.poll(now)).collect()
}

#[test]
fn timers_in_the_same_tick_fire_in_deadline_order() {
    let mut wheel = TimerWheel::new(16, MS, 1024);
    for (value, offset_us) in [(3u32, 900u64), (1, 100), (2, 500), (0, 0)] {
        wheel.insert(5 * MS + offset_us * 1000, value).unwrap();
    }
    assert_eq!(drain(&mut wheel, 6 * MS), vec![0, 1, 2, 3]);
}

#[test]
fn a_timer_never_fires_before_its_deadline() {
    let mut wheel = TimerWheel::new(16, MS, 1024);
    let deadline = 3 * MS + 400_000;
    wheel.insert(deadline, 7).unwrap();
    for now in (0..deadline).step_by(50_000) {
        assert_eq!(wheel.poll(now), None, "fired at {now} before {deadline}");
    }
    assert_eq!(wheel.poll(deadline), Some(7));
}

#[test]
fn sub_tick_deadlines_fire_within_their_tick_not_at_its_end() {
    let mut wheel = TimerWheel::new(16, MS, 64);
    wheel.insert(2 * MS + 250_000, 1).unwrap();
    wheel.insert(2 * MS + 750_000, 2).unwrap();
    assert_eq!(wheel.next_deadline(), Some(2 * MS + 250_000));
    assert_eq!(drain(&mut wheel, 2 * MS + 300_000), vec![1]);
    assert_eq!(wheel.next_deadline(), Some(2 * MS + 750_000));
    assert_eq!(drain(&mut wheel, 2 * MS + 750_000), vec![2]);
}

#[test]
fn past_deadlines_fire_at_the_next_poll() {
    let mut wheel = TimerWheel::new(16, MS, 64);
    assert_eq!(wheel.poll(100 * MS), None);
    wheel.insert(5 * MS, 1).unwrap();
    wheel.insert(0, 0).unwrap();
    assert_eq!(wheel.next_deadline(), Some(0));
    assert_eq!(drain(&mut wheel, 100 * MS), vec![0, 1]);
}

#[test]
fn far_deadlines_cascade_down_and_fire_on_time() {
    let mut wheel = TimerWheel::new(16, MS, 64);
    let far = [3_600_000 * MS + 17, 64 * 64 * MS + 3, 64 * MS, 65 * MS, 10_000 * MS + 999_999];
    for (value, &deadline) in far.iter().enumerate() {
        wheel.insert(deadline, value as u32).unwrap();
    }
    let mut sorted: Vec<(u64, u32)> = far.iter().enumerate().map(|(v, &d)| (d, v as u32)).collect();
    sorted.sort();
    for (deadline, value) in sorted {
        let wake = wheel.next_deadline().unwrap();
        assert!(wake <= deadline, "next_deadline {wake} is after a pending deadline {deadline}");
        assert_eq!(wheel.poll(deadline - 1), None);
        assert_eq!(wheel.poll(deadline), Some(value));
    }
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn cancel_returns_the_value_once_and_leaves_other_timers_alone() {
    let mut wheel = TimerWheel::new(16, MS, 64);
    let a = wheel.insert(10 * MS, 1).unwrap();
    let b = wheel.insert(10 * MS, 2).unwrap();
    assert_eq!(wheel.cancel(a), Some(1));
    assert_eq!(wheel.cancel(a), None);
    // The freed entry is reused; the stale key must not reach the new timer.
    let c = wheel.insert(20 * MS, 3).unwrap();
    assert_ne!(a, c);
    assert_eq!(wheel.cancel(a), None);
    assert_eq!(drain(&mut wheel, 30 * MS), vec![2, 3]);
    assert_eq!(wheel.cancel(b), None, "a fired timer cannot be cancelled");
    assert_eq!(wheel.cancel(c), None);
}

#[test]
fn a_full_wheel_gives_the_value_back_until_a_timer_leaves() {
    let mut wheel = TimerWheel::new(2, MS, 64);
    let first = wheel.insert(MS, 1).unwrap();
    wheel.insert(MS, 2).unwrap();
    assert_eq!(wheel.insert(MS, 3), Err(3));
    assert_eq!(wheel.cancel(first), Some(1));
    wheel.insert(MS, 3).unwrap();
    assert_eq!(wheel.len(), 2);
}

#[test]
fn zero_capacity_wheel_refuses_every_timer() {
    let mut wheel = TimerWheel::new(0, MS, 64);
    assert_eq!(wheel.insert(MS, 1), Err(1));
}

#[test]
fn cancelling_the_only_timer_of_a_slot_clears_the_next_deadline() {
    let mut wheel: TimerWheel<u32> = TimerWheel::new(4, MS, 64);
    let key: TimerKey = wheel.insert(7 * MS, 1).unwrap();
    assert_eq!(wheel.next_deadline(), Some(7 * MS));
    wheel.cancel(key);
    assert_eq!(wheel.next_deadline(), None);
}

fn matches_model(slots: usize, tick_ns: u64, horizon_ns: u64, seed: u64) {
    let shape = Shape { capacity: 4096, slots, tick_ns, horizon_ns, max_step_ns: horizon_ns / 50 };
    timer_model::run(&mut Rng::new(seed), shape, 20_000);
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn random_operations_match_a_sorted_model_with_1024_slots() {
    matches_model(1024, MS, 10_000 * MS, 0x9e37_79b9_7f4a_7c15);
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn random_operations_match_a_sorted_model_with_small_wheels() {
    matches_model(2, MS, 500 * MS, 1);
    matches_model(8, 250_000, 80 * MS, 2);
    matches_model(64, 1, 1_000_000, 3);
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn random_operations_match_a_sorted_model_with_huge_horizons() {
    matches_model(64, MS, u64::MAX / 256, 4);
    matches_model(1024, 7, u64::MAX / 128, 5);
}

#[test]
fn timers_cancelled_while_due_never_block_new_ones_or_fire() {
    // Capacity 3, all within the current tick: cancelled records stay in the due queue as
    // stale ones until it is compacted, which must happen without losing live timers.
    let mut wheel = TimerWheel::new(3, MS, 64);
    assert_eq!(wheel.poll(10 * MS), None);
    let keep = wheel.insert(10 * MS + 900_000, 1000).unwrap();
    for round in 0..100u32 {
        let a = wheel.insert(10 * MS + 500_000 + u64::from(round), round).unwrap();
        let b = wheel.insert(10 * MS + 100_000, round + 1).unwrap();
        assert_eq!(wheel.cancel(b), Some(round + 1));
        assert_eq!(wheel.cancel(a), Some(round));
    }
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.next_deadline(), Some(10 * MS + 900_000), "the front of the queue is live");
    assert_eq!(drain(&mut wheel, 11 * MS), vec![1000]);
    assert_eq!(wheel.cancel(keep), None);
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn a_slot_with_many_timers_cancelled_in_any_order_keeps_the_rest() {
    let mut wheel = TimerWheel::new(1000, MS, 64);
    let keys: Vec<TimerKey> = (0..1000u32).map(|i| wheel.insert(5_000 * MS + u64::from(i), i).unwrap()).collect();
    let mut rng = Rng::new(99);
    let mut cancelled = std::collections::HashSet::new();
    for _ in 0..600 {
        let i = rng.below(1000);
        let expected = if cancelled.insert(i) { Some(i as u32) } else { None };
        assert_eq!(wheel.cancel(keys[i]), expected);
    }
    let fired = drain(&mut wheel, 6_000 * MS);
    let expected: Vec<u32> = (0..1000u32).filter(|i| !cancelled.contains(&(*i as usize))).collect();
    assert_eq!(fired, expected, "the survivors fire in deadline order");
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn timers_inserted_and_cancelled_without_end_never_fill_a_small_wheel() {
    // A cancelled timer's record stays in its slot, stale, until the slot empties or the
    // wheel compacts because its record pool ran out; live timers must survive that.
    let mut wheel = TimerWheel::new(8, MS, 64);
    for i in 0..7u32 {
        wheel.insert(100_000 * MS + u64::from(i), i).unwrap();
    }
    let mut rng = Rng::new(7);
    for i in 0..200_000u32 {
        let deadline = 200_000 * MS + rng.below_u64(u64::MAX / 4);
        let key = wheel.insert(deadline, 100 + i).unwrap();
        assert_eq!(wheel.cancel(key), Some(100 + i));
    }
    assert_eq!(wheel.len(), 7);
    assert_eq!(drain(&mut wheel, 150_000 * MS), (0..7).collect::<Vec<u32>>());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn a_slot_full_of_cancelled_timers_cascades_its_live_ones_in_order() {
    // 1100 timers in one level-1 slot (64 ticks of 1 ms), all but 11 cancelled: the slot is
    // mostly stale records, and moving them down to 64 level-0 slots needs more free
    // chunks than a wheel of capacity 16 has left, unless it compacts first.
    let mut wheel = TimerWheel::new(16, MS, 64);
    let mut rng = Rng::new(11);
    let mut live = Vec::new();
    for i in 0..1100u32 {
        let deadline = 64 * MS + rng.below_u64(64 * MS);
        let key = wheel.insert(deadline, i).unwrap();
        if i % 100 == 0 {
            live.push((deadline, i));
        } else {
            assert_eq!(wheel.cancel(key), Some(i));
        }
    }
    live.sort();
    let mut fired = Vec::new();
    for now in (0..=128 * MS).step_by(MS as usize / 4) {
        fired.extend(drain(&mut wheel, now).into_iter().map(|v| (now, v)));
    }
    assert_eq!(fired.iter().map(|&(_, v)| v).collect::<Vec<_>>(), live.iter().map(|&(_, v)| v).collect::<Vec<_>>());
    for (&(now, _), &(deadline, _)) in fired.iter().zip(&live) {
        assert!(now >= deadline && now < deadline + MS / 4, "fired at {now} for {deadline}");
    }
    assert!(wheel.is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn a_full_wheel_of_any_capacity_refuses_the_next_timer_and_reuses_a_freed_one() {
    for capacity in [1usize, 63, 64, 65, 100, 4095, 4096, 4097, 6400, 262_145] {
        let mut wheel = TimerWheel::new(capacity, MS, 64);
        let keys: Vec<TimerKey> = (0..capacity).map(|i| wheel.insert(MS + i as u64, i as u32).unwrap()).collect();
        assert_eq!(wheel.insert(MS, u32::MAX), Err(u32::MAX), "capacity {capacity}");
        let middle = keys[capacity / 2];
        assert_eq!(wheel.cancel(middle), Some((capacity / 2) as u32));
        let again = wheel.insert(2 * MS, 7).unwrap();
        assert_eq!(wheel.insert(MS, u32::MAX), Err(u32::MAX), "capacity {capacity}");
        assert_eq!(wheel.cancel(middle), None, "the old key does not reach the new timer");
        assert_eq!(wheel.cancel(again), Some(7));
        assert_eq!(wheel.len(), capacity - 1);
    }
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn ticks_longer_than_four_seconds_keep_deadline_order_and_never_fire_early() {
    // Ticks over 2^32 ns take the wheel's other way of sorting a tick's timers.
    let mut wheel = TimerWheel::new(16, 5_000_000_000, 64);
    for (value, offset_ms) in [(3u32, 4_900u64), (1, 100), (2, 2_500), (0, 0)] {
        wheel.insert(10_000_000_000 + offset_ms * MS, value).unwrap();
    }
    assert_eq!(drain(&mut wheel, 10_000_000_000 + 2_499 * MS), vec![0, 1]);
    assert_eq!(drain(&mut wheel, 15_000_000_000), vec![2, 3]);
    matches_model(64, 5_000_000_000, 100_000_000_000_000, 6);
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn random_operations_match_a_sorted_model_when_time_creeps_through_many_moves() {
    // 16 slots: a level-0 rotation is 16 ticks, so slots of levels 1 to 3 move down all
    // the time, a share per poll, while timers are inserted and cancelled around them.
    let shape = Shape { capacity: 4096, slots: 16, tick_ns: MS, horizon_ns: 5_000 * MS, max_step_ns: 2 * MS };
    timer_model::run(&mut Rng::new(8), shape, 20_000);
    let shape = Shape { capacity: 300, slots: 4, tick_ns: 100_000, horizon_ns: 2_000 * MS, max_step_ns: MS };
    timer_model::run(&mut Rng::new(9), shape, 20_000);
}

#[test]
fn random_operations_match_a_sorted_model_in_a_miri_sized_wheel() {
    // Small enough for Miri (a few hundred steps, pools of a few chunks), and still through
    // moves at two levels, a full wheel, and (capacity 4: a pool of 12 chunks, soon filled
    // by stale records) compactions, also in the middle of a move.
    let steps = if cfg!(miri) { 300 } else { 20_000 };
    for (seed, capacity, slots) in [(10, 48, 8), (11, 48, 64), (12, 4, 8)] {
        let shape = Shape { capacity, slots, tick_ns: MS, horizon_ns: 600 * MS, max_step_ns: 4 * MS };
        timer_model::run(&mut Rng::new(seed), shape, steps);
    }
}

/// Deadlines spread evenly (by a fixed generator) over `from_ns .. to_ns`.
fn spread_deadlines(count: usize, from_ns: u64, to_ns: u64, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    (0..count).map(|_| from_ns + rng.below_u64(to_ns - from_ns)).collect()
}

/// What driving a wheel through its timers showed: the most records one `now` (all the
/// polls at it) moved down a level, how many polls fired nothing, and for each timer the
/// `now` it fired at (in firing order).
struct Drive {
    most_moved_per_now: u64,
    polls_firing_nothing: usize,
    fired: Vec<(u32, u64)>,
}

/// Inserts one timer per deadline (the value is its index), then polls at each `now` that
/// `next_now` gives until every timer has fired.
fn drive(
    wheel: &mut TimerWheel<u32>,
    deadlines: &[u64],
    mut next_now: impl FnMut(&TimerWheel<u32>, u64) -> u64,
) -> Drive {
    for (i, &deadline) in deadlines.iter().enumerate() {
        wheel.insert(deadline, i as u32).unwrap();
    }
    let mut drive = Drive { most_moved_per_now: 0, polls_firing_nothing: 0, fired: Vec::new() };
    let mut now = 0;
    let last_deadline = deadlines.iter().copied().max().unwrap_or(0);
    while !wheel.is_empty() {
        now = next_now(wheel, now);
        assert!(now <= last_deadline + 1_000 * MS, "{} timers never fired", wheel.len());
        let before = (wheel.records_moved(), drive.fired.len());
        while let Some(i) = wheel.poll(now) {
            drive.fired.push((i, now));
        }
        drive.most_moved_per_now = drive.most_moved_per_now.max(wheel.records_moved() - before.0);
        if drive.fired.len() == before.1 {
            drive.polls_firing_nothing += 1;
        }
    }
    drive
}

/// Every timer fired once, in deadline order, never early; returns the worst lateness.
fn check_fired(deadlines: &[u64], fired: &[(u32, u64)]) -> u64 {
    assert_eq!(fired.len(), deadlines.len());
    let mut seen = vec![false; deadlines.len()];
    let mut last_deadline = 0;
    let mut most_late = 0;
    for &(i, at) in fired {
        let deadline = deadlines[i as usize];
        assert!(!std::mem::replace(&mut seen[i as usize], true), "timer {i} fired twice");
        assert!(at >= deadline, "timer {i} fired at {at}, before its deadline {deadline}");
        assert!(deadline >= last_deadline, "timer {i} ({deadline}) fired after one due at {last_deadline}");
        last_deadline = deadline;
        most_late = most_late.max(at - deadline);
    }
    most_late
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn a_poll_every_tick_moves_only_an_even_share_of_each_slot_down() {
    // 200k timers over 10 s of 1 ms ticks: each level-1 slot (1024 ticks) holds about 20k
    // of them. A wheel that re-files a slot all at once moves those 20k in one poll, and
    // every timer due then waits for it; here a slot moves during the 1024 ticks before
    // it is needed, ceil(161 chunks / 1024 polls) = one chunk of 128 records per poll.
    let deadlines = spread_deadlines(200_000, 0, 10_000 * MS, 12);
    let mut wheel = TimerWheel::new(deadlines.len(), MS, 1024);
    let drive = drive(&mut wheel, &deadlines, |_, now| now + MS);
    check_fired(&deadlines, &drive.fired);
    assert!(drive.most_moved_per_now <= 128, "one poll moved {} records down", drive.most_moved_per_now);
    // Within two level-0 rotations of the start a timer is filed at level 0 and never
    // moves; every other one moves exactly once, from level 1.
    let filed_above_level0 = deadlines.iter().filter(|&&d| d / MS >= 2048).count() as u64;
    assert_eq!(wheel.records_moved(), filed_above_level0);
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn an_owner_sleeping_until_next_deadline_moves_at_most_eight_chunks_per_wake() {
    // 100k timers in one level-1 slot (3072 ..= 4095 ms) and nothing before them: an owner
    // that sleeps until `next_deadline` is woken early enough to move the 782 chunks at
    // most 8 per wake (1024 records) and still fires every timer at its exact deadline.
    let deadlines = spread_deadlines(100_000, 3_072 * MS, 4_096 * MS, 13);
    let mut wheel = TimerWheel::new(deadlines.len(), MS, 1024);
    let drive = drive(&mut wheel, &deadlines, |wheel, _| wheel.next_deadline().expect("a timer is pending"));
    assert_eq!(check_fired(&deadlines, &drive.fired), 0, "each timer fires at its deadline");
    assert!(drive.most_moved_per_now <= 8 * 128, "one wake moved {} records down", drive.most_moved_per_now);
    assert_eq!(wheel.records_moved(), deadlines.len() as u64);
    // ceil(782 / 8) = 98 wakes to move the slot; none other fires nothing.
    assert!(drive.polls_firing_nothing <= 100, "{} wakes fired nothing", drive.polls_firing_nothing);
}

#[test]
#[cfg_attr(miri, ignore = "minutes under Miri; the Miri-sized model covers the same paths")]
fn timers_within_two_rotations_of_level_0_are_never_moved() {
    // The load, scaled down: 50k timers due within 0 .. 2 s of 1 ms ticks fit the
    // two banks of level 0 (2048 ticks), so no poll moves anything.
    let deadlines = spread_deadlines(50_000, 0, 2_048 * MS, 14);
    let mut wheel = TimerWheel::new(deadlines.len(), MS, 1024);
    let drive = drive(&mut wheel, &deadlines, |_, now| now + MS);
    check_fired(&deadlines, &drive.fired);
    assert_eq!(wheel.records_moved(), 0);
}
