//! Timeouts through a running EventLoop, on the real clock: deadline order, never early,
//! clear, capacity, the poll bounded by the next deadline, sub-millisecond delays.

#[path = "support/stress.rs"]
mod stress;

use readyio::{EventLoop, EventLoopConfig, Handler, TimerError};
use std::time::{Duration, Instant};

/// Records `(value, when it fired)` and stops after `want` timeouts.
struct Fired {
    fired: Vec<(u32, Instant)>,
    want: usize,
}

impl Handler for Fired {
    type Timeout = u32;
    type Message = ();
    fn timeout(&mut self, event_loop: &mut EventLoop<Self>, value: u32) {
        self.fired.push((value, Instant::now()));
        if self.fired.len() == self.want {
            event_loop.shutdown();
        }
    }
}

fn fired(want: usize) -> Fired {
    Fired { fired: Vec::new(), want }
}

/// Runs one iteration at a time until `handler` has `want` timeouts, failing after 10 s.
fn run_until_fired(event_loop: &mut EventLoop<Fired>, handler: &mut Fired) {
    let start = Instant::now();
    while handler.fired.len() < handler.want {
        event_loop.run_once(handler, Some(1000)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(10), "timeouts did not fire in time");
    }
}

#[test]
fn timeouts_fire_in_deadline_order() {
    let mut event_loop = EventLoop::new().unwrap();
    for (value, delay_ms) in [(30u32, 30u64), (10, 10), (20, 20), (0, 0), (25, 25)] {
        event_loop.timeout_ms(value, delay_ms).unwrap();
    }
    let mut handler = fired(5);
    event_loop.run(&mut handler).unwrap();
    let order: Vec<u32> = handler.fired.iter().map(|(v, _)| *v).collect();
    assert_eq!(order, [0, 10, 20, 25, 30]);
}

#[test]
fn a_timeout_never_fires_before_its_delay() {
    let mut event_loop = EventLoop::new().unwrap();
    let mut set_at = Vec::new();
    let mut seed = 7u64;
    for value in 0..200u32 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % 20_000);
        set_at.push((Instant::now(), delay));
        event_loop.timeout(value, delay).unwrap();
    }
    let mut handler = fired(200);
    run_until_fired(&mut event_loop, &mut handler);
    for (value, at) in &handler.fired {
        let (set, delay) = set_at[*value as usize];
        assert!(*at - set >= delay, "timeout {value} fired after {:?}, before its delay {delay:?}", *at - set);
    }
}

#[test]
fn clear_timeout_cancels_once_and_never_touches_another_timer() {
    let mut event_loop = EventLoop::new().unwrap();
    let cleared = event_loop.timeout_ms(1, 5).unwrap();
    let kept = event_loop.timeout_ms(2, 10).unwrap();
    assert!(event_loop.clear_timeout(cleared));
    assert!(!event_loop.clear_timeout(cleared), "a cleared timeout clears nothing");
    // A new timer may reuse the cleared one's storage; the old handle must not reach it.
    let reused = event_loop.timeout_ms(3, 15).unwrap();
    assert!(!event_loop.clear_timeout(cleared));
    let mut handler = fired(2);
    run_until_fired(&mut event_loop, &mut handler);
    let order: Vec<u32> = handler.fired.iter().map(|(v, _)| *v).collect();
    assert_eq!(order, [2, 3]);
    assert!(!event_loop.clear_timeout(kept), "a fired timeout clears nothing");
    assert!(!event_loop.clear_timeout(reused));
}

#[test]
fn a_full_timer_capacity_gives_timer_error() {
    let mut config = EventLoopConfig::new();
    config.timer_capacity(3);
    let mut event_loop: EventLoop<Fired> = EventLoop::configured(config).unwrap();
    let first = event_loop.timeout_ms(1, 1000).unwrap();
    event_loop.timeout_ms(2, 1000).unwrap();
    event_loop.timeout_ms(3, 1000).unwrap();
    let err: TimerError = event_loop.timeout_ms(4, 1000).unwrap_err();
    assert!(err.to_string().contains("capacity"));
    assert!(event_loop.clear_timeout(first));
    event_loop.timeout_ms(4, 1000).unwrap();
}

#[test]
fn run_once_without_timeout_returns_when_the_next_timer_is_due() {
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.timeout_ms(1, 20).unwrap();
    let mut handler = fired(1);
    let start = Instant::now();
    event_loop.run_once(&mut handler, None).unwrap();
    assert_eq!(handler.fired.len(), 1, "the poll woke for the timer and fired it");
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_long_caller_timeout_is_shortened_to_the_next_deadline_and_a_short_one_kept() {
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.timeout_ms(1, 200).unwrap();
    let mut handler = fired(1);
    let start = Instant::now();
    event_loop.run_once(&mut handler, Some(10)).unwrap();
    assert!(handler.fired.is_empty());
    assert!(start.elapsed() < Duration::from_millis(150), "the caller's 10 ms was kept");
    event_loop.run_once(&mut handler, Some(60_000)).unwrap();
    assert_eq!(handler.fired.len(), 1);
    assert!(start.elapsed() < Duration::from_secs(5), "the 60 s poll was cut to the timer");
}

#[test]
fn sub_millisecond_timeouts_are_not_rounded_to_whole_milliseconds() {
    // Median over several runs, so one scheduling hiccup on a shared machine does not decide.
    let mut lateness = Vec::new();
    for _ in 0..21 {
        let mut event_loop = EventLoop::new().unwrap();
        let set = Instant::now();
        event_loop.timeout(0, Duration::from_micros(300)).unwrap();
        let mut handler = fired(1);
        run_until_fired(&mut event_loop, &mut handler);
        let elapsed = handler.fired[0].1 - set;
        assert!(elapsed >= Duration::from_micros(300), "fired early after {elapsed:?}");
        lateness.push(elapsed - Duration::from_micros(300));
    }
    lateness.sort();
    assert!(lateness[10] < Duration::from_micros(650), "median lateness {:?}: rounded to 1 ms?", lateness[10]);
}

#[test]
fn a_coarse_timer_tick_still_fires_each_timeout_at_its_deadline_in_order() {
    let mut config = EventLoopConfig::new();
    config.timer_tick_ms(100).timer_wheel_size(8);
    let mut event_loop = EventLoop::configured(config).unwrap();
    let start = Instant::now();
    for (value, delay_ms) in [(3u32, 35u64), (1, 5), (2, 20), (4, 950)] {
        event_loop.timeout_ms(value, delay_ms).unwrap();
    }
    let mut handler = fired(4);
    run_until_fired(&mut event_loop, &mut handler);
    let order: Vec<u32> = handler.fired.iter().map(|(v, _)| *v).collect();
    assert_eq!(order, [1, 2, 3, 4]);
    assert!(handler.fired[0].1 - start >= Duration::from_millis(5));
    assert!(handler.fired[0].1 - start < Duration::from_millis(90), "5 ms did not wait for a 100 ms tick");
    assert!(handler.fired[3].1 - start >= Duration::from_millis(950));
}

#[test]
fn a_zero_delay_timer_set_from_timeout_fires_in_the_next_iteration() {
    struct Rearm {
        fired: u32,
        iterations_with_fire: u32,
        fired_this_iteration: bool,
    }
    impl Handler for Rearm {
        type Timeout = ();
        type Message = ();
        fn timeout(&mut self, event_loop: &mut EventLoop<Self>, _: ()) {
            self.fired += 1;
            self.fired_this_iteration = true;
            if self.fired < 5 {
                event_loop.timeout_ms((), 0).unwrap();
            }
        }
        fn tick(&mut self, event_loop: &mut EventLoop<Self>) {
            if std::mem::take(&mut self.fired_this_iteration) {
                self.iterations_with_fire += 1;
            }
            if self.fired == 5 {
                event_loop.shutdown();
            }
        }
    }
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.timeout_ms((), 0).unwrap();
    let mut handler = Rearm { fired: 0, iterations_with_fire: 0, fired_this_iteration: false };
    event_loop.run(&mut handler).unwrap();
    assert_eq!(handler.iterations_with_fire, 5, "each re-armed timer waited for the next iteration");
}

/// Many timers with deadlines spread over 2 s, through a running loop: each fires exactly
/// once and never before its deadline. `READYIO_STRESS_TIMERS` (tests/support/stress.rs):
/// 20,000 by default, 1,000,000 in `ci/stress.sh`. Lateness is printed, not asserted here
/// (it depends on the machine's load).
#[test]
fn many_timers_spread_over_two_seconds_each_fire_once_and_never_early() {
    struct Tally {
        deadlines: Vec<Instant>,
        running_since: Instant,
        fired: Vec<bool>,
        count: usize,
        max_late: Duration,
    }
    impl Handler for Tally {
        type Timeout = u32;
        type Message = ();
        fn timeout(&mut self, event_loop: &mut EventLoop<Self>, value: u32) {
            let now = Instant::now();
            let index = value as usize;
            assert!(!self.fired[index], "timer {value} fired twice");
            self.fired[index] = true;
            let deadline = self.deadlines[index];
            assert!(now >= deadline, "timer {value} fired {:?} early", deadline - now);
            // Timers that came due while they were still being set are late by that.
            if deadline >= self.running_since {
                self.max_late = self.max_late.max(now - deadline);
            }
            self.count += 1;
            if self.count == self.fired.len() {
                event_loop.shutdown();
            }
        }
    }
    let count = stress::size("TIMERS", 20_000, u32::MAX as usize);
    let mut config = EventLoopConfig::new();
    config.timer_capacity(count);
    let mut event_loop = EventLoop::configured(config).unwrap();
    let mut deadlines = Vec::with_capacity(count);
    let mut seed = 0x5eed_u64;
    for value in 0..count as u32 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_nanos((seed >> 24) % 2_000_000_000);
        // Taken before the loop reads its clock, so a lower bound of the loop's deadline.
        deadlines.push(Instant::now() + delay);
        event_loop.timeout(value, delay).unwrap();
    }
    let start = Instant::now();
    let mut handler =
        Tally { deadlines, running_since: start, fired: vec![false; count], count: 0, max_late: Duration::ZERO };
    while handler.count < count {
        event_loop.run_once(&mut handler, Some(1000)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(60), "{} of {count} timers fired after 60 s", handler.count);
    }
    assert!(handler.fired.iter().all(|&f| f));
    println!(
        "{count} timers fired once each, none early, in {:.2} s; max lateness of those due after setting them all: {:?}",
        start.elapsed().as_secs_f64(),
        handler.max_late
    );
}
