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

/// Runs without libtest (see Cargo.toml): nothing but this test may allocate meanwhile.
fn main() {
    the_wheel_allocates_nothing_after_construction();
    println!("test the_wheel_allocates_nothing_after_construction ... ok");
}
