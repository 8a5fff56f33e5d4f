//! Sizes for the stress tests: small by default, so that `cargo test` (debug, and the whole
//! suite under qemu) stays quick, and set by environment variables for the full runs that
//! `.ci/run` makes in release mode (`ci/stress.sh`) and developers make by hand:
//!
//! | variable | default | full run |
//! |---|---|---|
//! | `READYIO_STRESS_CONNECTIONS` | 128 | `max`: as many as the fd limit allows (10,000 on a developer run: `=10000`) |
//! | `READYIO_STRESS_MESSAGES` (per producer) | 20,000 | 1,000,000 |
//! | `READYIO_STRESS_TIMERS` | 20,000 | 1,000,000 |
//! | `READYIO_STRESS_SIGNALS` | 2,000 | 100,000 |

#![allow(dead_code)]

/// `READYIO_STRESS_<name>` as a number, else `default`; `max` gives `max`.
pub fn size(name: &str, default: usize, max: usize) -> usize {
    let variable = format!("READYIO_STRESS_{name}");
    match std::env::var(&variable) {
        Err(_) => default.min(max),
        Ok(value) if value == "max" => max,
        Ok(value) => value.parse().unwrap_or_else(|_| panic!("{variable}={value}: expected a number or `max`")),
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns it.
pub fn raise_fd_limit() -> usize {
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct; only this process is affected.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            // macOS refuses RLIM_INFINITY as a soft limit; OPEN_MAX is what it takes.
            limit.rlim_cur = 10_240;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    }
}
