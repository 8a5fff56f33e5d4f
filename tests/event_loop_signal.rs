//! A signal that interrupts the loop's poll (EINTR) calls `Handler::interrupted`, and the
//! loop carries on (its own binary, because it installs a process-wide signal handler).

use readyio::{EventLoop, Handler};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

extern "C" fn on_sigusr1(_: libc::c_int) {}

struct CountInterrupts {
    interrupted: u32,
    ticks_after_interrupt: u32,
}

impl Handler for CountInterrupts {
    type Timeout = ();
    type Message = ();
    fn interrupted(&mut self, _: &mut EventLoop<Self>) {
        self.interrupted += 1;
    }
    fn tick(&mut self, event_loop: &mut EventLoop<Self>) {
        if self.interrupted > 0 {
            self.ticks_after_interrupt += 1;
            event_loop.shutdown();
        }
    }
}

#[test]
fn a_signal_during_poll_calls_interrupted_and_the_loop_goes_on() {
    // SAFETY: installs a handler that does nothing, without SA_RESTART, for SIGUSR1, which
    // nothing else in this test binary uses.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigusr1 as *const () as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()), 0);
    }
    // SAFETY: pthread_self has no preconditions.
    let loop_thread = unsafe { libc::pthread_self() } as usize;
    let done = Arc::new(AtomicBool::new(false));
    let signaller = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            // The signal may land before the loop is inside its poll; repeat until it lands
            // inside one.
            while !done.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(20));
                // SAFETY: the loop thread outlives this one (it joins it below).
                unsafe { libc::pthread_kill(loop_thread as libc::pthread_t, libc::SIGUSR1) };
            }
        })
    };
    let mut event_loop = EventLoop::new().unwrap();
    let mut handler = CountInterrupts { interrupted: 0, ticks_after_interrupt: 0 };
    let start = Instant::now();
    // `run` polls without a timeout: only EINTR can end this poll, and it must not end `run`.
    event_loop.run(&mut handler).unwrap();
    done.store(true, Ordering::Relaxed);
    signaller.join().unwrap();
    assert!(handler.interrupted >= 1);
    assert_eq!(handler.ticks_after_interrupt, 1, "the iteration went on to its tick");
    assert!(start.elapsed() < Duration::from_secs(10));
}
