//! Marks a window of a test's code whose syscalls `ci/syscalls-in-windows.sh` counts: ALL
//! syscalls, not a chosen few. The script runs the test binary under `strace -ff` (no
//! syscall filter, one log per thread) and takes, in each thread, the calls between this
//! thread's begin and end markers; it fails unless they are exactly the ones it expects.
//!
//! A marker is one `write(-1, "readyio-window <edge> <label>", len)`: a syscall the code under
//! test never makes, failing at once with `EBADF`, and not counted by the kernel's IO
//! accounting (`syscw`), so the tests' own counters do not see it. The text is built on the
//! stack: nothing between the markers but the measured code may make a syscall (an
//! allocation could).

#![allow(dead_code)]

/// Runs `f` between a begin and an end marker named `label` (ASCII, at most 64 bytes).
pub fn window<T>(label: &str, f: impl FnOnce() -> T) -> T {
    mark(b"begin", label);
    let value = f();
    mark(b"end", label);
    value
}

fn mark(edge: &[u8], label: &str) {
    const PREFIX: &[u8] = b"readyio-window ";
    let mut text = [0u8; 128];
    let label = label.as_bytes();
    assert!(label.len() <= 64 && label.is_ascii(), "window labels are short ASCII");
    let mut len = 0;
    for part in [PREFIX, edge, b" ", label] {
        text[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    // SAFETY: `text` is valid for `len` bytes of reads; fd -1 is never open, so the call only
    // returns EBADF.
    let rc = unsafe { libc::write(-1, text.as_ptr().cast(), len) };
    debug_assert_eq!(rc, -1);
}
