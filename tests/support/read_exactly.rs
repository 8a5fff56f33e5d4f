//! Reading an exact number of bytes from a non-blocking readyio handle, for the tests that
//! check what arrived: `try_read` until done, polling for readability in between.

use readyio::{EventSet, Evented, Poll, PollOpt, Token, TryRead};
use std::io::Read;
use std::time::{Duration, Instant};

/// Reads exactly `len` bytes from `reader`, registered with a `Poll` of its own (so it must
/// not belong to another selector; dropping that `Poll` frees it again), for at most 5 s;
/// panics on end of stream.
pub fn read_exactly<R: Read + Evented>(reader: &mut R, len: usize) -> Vec<u8> {
    let mut poll = Poll::new().unwrap();
    poll.register(&*reader, Token(0), EventSet::readable(), PollOpt::level()).unwrap();
    let mut out = vec![0u8; len];
    let mut filled = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while filled < len {
        assert!(Instant::now() < deadline, "only {filled} of {len} bytes within 5 s");
        match reader.try_read(&mut out[filled..]).unwrap() {
            Some(0) => panic!("end of stream after {filled} of {len} bytes"),
            Some(n) => filled += n,
            None => {
                poll.poll_timeout(Some(Duration::from_millis(100))).unwrap();
            }
        }
    }
    out
}
