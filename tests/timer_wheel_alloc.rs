//! The timing wheel allocates nothing after construction (its own binary, because the
//! counting allocator counts the whole process; no libtest harness, see Cargo.toml).

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "../src/event_loop/timer_wheel.rs"]
#[allow(dead_code)]
mod timer_wheel;

use timer_wheel::TimerWheel;

#[global_allocator]
static ALLOC: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc;

const MS: u64 = 1_000_000;

fn the_wheel_allocates_nothing_after_construction() {
    let mut rng = 42u64;
    let mut wheel = TimerWheel::new(10_000, MS, 1024);
    let mut keys = Vec::with_capacity(10_000);
    let before = counting_alloc::allocations();
    let mut now = 0;
    for round in 0..20u64 {
        for i in 0..5_000 {
            keys.push(
                wheel
                    .insert(
                        now + {
                            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                            (rng >> 33) % (2_000 * MS)
                        },
                        i,
                    )
                    .unwrap(),
            );
        }
        for key in keys.drain(..).step_by(2) {
            wheel.cancel(key);
        }
        now = (round + 1) * 1_000 * MS;
        while wheel.poll(now).is_some() {}
    }
    assert_eq!(counting_alloc::allocations() - before, 0);
}

/// Cancelled timers leave stale records that the wheel drops by compacting when its pool
/// runs out: that reuses the pool, it never grows it.
fn compacting_stale_records_allocates_nothing() {
    let mut wheel = TimerWheel::new(64, MS, 64);
    for i in 0..32 {
        wheel.insert(1_000_000 * MS + i, i as u32).unwrap();
    }
    let before = counting_alloc::allocations();
    let mut rng = 7u64;
    for i in 0..100_000u32 {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let key = wheel.insert(2_000_000 * MS + (rng >> 20), i).unwrap();
        wheel.cancel(key);
    }
    while wheel.poll(1_500_000 * MS).is_some() {}
    assert_eq!(counting_alloc::allocations() - before, 0);
    assert!(wheel.is_empty());
}

/// Runs without libtest (see Cargo.toml): nothing but this test may allocate meanwhile.
fn main() {
    the_wheel_allocates_nothing_after_construction();
    println!("test the_wheel_allocates_nothing_after_construction ... ok");
    compacting_stale_records_allocates_nothing();
    println!("test compacting_stale_records_allocates_nothing ... ok");
}
