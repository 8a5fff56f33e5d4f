//! A child process's pipes become readyio's non-blocking pipe ends.
//!
//! This is its own test binary on purpose: spawning a process forks, and until the child
//! execs it holds a copy of every fd the test process had open, close-on-exec or not. A
//! test running in parallel in the same process that closes a listener and expects its
//! peer to see the close (tests/net_unix.rs' stale-socket test) can then lose that race;
//! under qemu-user, which emulates the spawn's vfork as a full fork, it did (on
//! loongarch64 in CI the connect to the closed listener succeeded).

#[path = "support/read_exactly.rs"]
mod read_exactly;

use read_exactly::read_exactly;
use readyio::unix::{PipeReader, PipeWriter};
use readyio::TryRead;
use std::io::Write;

#[test]
fn child_process_pipes_convert_to_non_blocking_ends() {
    let mut child = std::process::Command::new("sh")
        .args(["-c", "read line; echo \"got $line\""])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = PipeReader::from(child.stdout.take().unwrap());
    let mut stdin = PipeWriter::from(child.stdin.take().unwrap());
    assert_eq!(stdout.try_read(&mut [0u8; 4]).unwrap(), None, "a blocking pipe would hang here");
    stdin.write_all(b"hi\n").unwrap();
    drop(stdin);
    assert_eq!(read_exactly(&mut stdout, 7), b"got hi\n");
    child.wait().unwrap();
}
