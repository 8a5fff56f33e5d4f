//! Syscalls spent per message, counted by the kernel (`syscw` in `/proc/thread-self/io`, the
//! calling thread's write-type syscalls): none while the loop is awake, exactly one `write`
//! to wake a sleeping loop however many threads send. Counted per sending thread, not per
//! process: under qemu-user the emulator's own threads write too (seen: 3 writes in the
//! awake window on riscv64 when the whole process was counted).
//!
//! `syscw` sees only write-type calls, so the same code also runs in marked windows
//! (`support/syscall_window.rs`) in which `ci/syscalls-in-windows.sh` counts every syscall
//! under `strace`: none in the awake sends, one `write` in all the senders' windows together,
//! and on the loop's side exactly one `epoll_wait` for the iteration that sleeps and is woken
//! (the loop never reads its eventfd).

#[path = "support/syscall_window.rs"]
mod syscall_window;

use readyio::{EventLoop, Handler, Sender};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::Duration;

/// The tests count process-wide, so they take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The calling thread's write-type syscalls so far.
fn write_syscalls() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").expect("/proc/thread-self/io (task IO accounting)");
    io.lines().find_map(|l| l.strip_prefix("syscw: ")).unwrap().trim().parse().unwrap()
}

#[test]
fn sends_to_an_awake_loop_make_no_syscall() {
    let _turn = ONE_AT_A_TIME.lock().unwrap();
    struct SelfSend {
        sender: Sender<u32>,
        writes_during_sends: Option<u64>,
        received: u32,
    }
    impl Handler for SelfSend {
        type Timeout = ();
        type Message = u32;
        fn notify(&mut self, event_loop: &mut EventLoop<Self>, msg: u32) {
            self.received += 1;
            if msg == 0 {
                // The loop is awake while it runs its handler.
                let before = write_syscalls();
                syscall_window::window("notify-awake-sends", || {
                    for i in 1..=1000 {
                        self.sender.send(i).unwrap();
                    }
                });
                self.writes_during_sends = Some(write_syscalls() - before);
            }
            if self.received == 1001 {
                event_loop.shutdown();
            }
        }
    }
    let mut event_loop = EventLoop::new().unwrap();
    let sender = event_loop.channel();
    sender.send(0).unwrap();
    let mut handler = SelfSend { sender, writes_during_sends: None, received: 0 };
    for _ in 0..100 {
        event_loop.run_once(&mut handler, Some(1000)).unwrap();
        if handler.received == 1001 {
            break;
        }
    }
    assert_eq!(handler.received, 1001);
    assert_eq!(handler.writes_during_sends, Some(0), "1000 sends to an awake loop made syscalls");
}

#[test]
fn waking_a_sleeping_loop_takes_exactly_one_write() {
    let _turn = ONE_AT_A_TIME.lock().unwrap();
    struct Count(u32);
    impl Handler for Count {
        type Timeout = ();
        type Message = u32;
        fn notify(&mut self, _: &mut EventLoop<Self>, _: u32) {
            self.0 += 1;
        }
    }
    let (sender_tx, sender_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let loop_thread = thread::spawn(move || {
        let mut event_loop = EventLoop::new().unwrap();
        sender_tx.send(event_loop.channel()).unwrap();
        let mut handler = Count(0);
        // One iteration: it sleeps until woken, then never sleeps again.
        syscall_window::window("notify-woken-iteration", || event_loop.run_once(&mut handler, Some(10_000)).unwrap());
        // Keep the loop (and so the channel) open until the senders are done.
        done_rx.recv().unwrap();
        handler.0
    });
    let sender: Sender<u32> = sender_rx.recv().unwrap();
    thread::sleep(Duration::from_millis(300)); // the loop is now asleep in epoll_wait
    let barrier = Barrier::new(4);
    let writes: u64 = thread::scope(|s| {
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let sender = sender.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let before = write_syscalls();
                    syscall_window::window("notify-sends-to-a-sleeping-loop", || {
                        for i in 0..100 {
                            sender.send(t * 100 + i).unwrap();
                        }
                    });
                    write_syscalls() - before
                })
            })
            .collect();
        senders.into_iter().map(|sender| sender.join().unwrap()).sum()
    });
    done_tx.send(()).unwrap();
    let delivered = loop_thread.join().unwrap();
    assert_eq!(writes, 1, "400 sends from 4 threads to one sleeping loop: one wake-up write");
    assert!(delivered >= 1);
}
