//! `EventLoopConfig`: the sizes and resolutions an [`EventLoop`](crate::EventLoop) is built
//! with. Everything it sizes is allocated once, when the loop is created.
//!
//! Setters accept any value; [`EventLoop::configured`](crate::EventLoop::configured) checks
//! them and answers a value it cannot honour with an `io::Error`, never a panic or an
//! abort: `InvalidInput` for a value outside its documented range, `OutOfMemory` for a
//! size the allocator refuses.

use super::timer_wheel::TimerWheel;
use std::io;
use std::time::Duration;

/// Configures an [`EventLoop`](crate::EventLoop) (a builder: every setter returns `&mut Self`).
///
/// ```
/// use readyio::{EventLoop, EventLoopConfig, Handler};
///
/// struct Quiet;
/// impl Handler for Quiet {
///     type Timeout = ();
///     type Message = ();
/// }
///
/// let mut config = EventLoopConfig::new();
/// config.notify_capacity(64).timer_capacity(1024).timer_tick_ms(10);
/// let event_loop: EventLoop<Quiet> = EventLoop::configured(config)?;
/// # drop(event_loop);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventLoopConfig {
    pub(crate) notify_capacity: usize,
    pub(crate) messages_per_tick: usize,
    pub(crate) timer_tick: Duration,
    pub(crate) timer_wheel_size: usize,
    pub(crate) timer_capacity: usize,
    pub(crate) fd_capacity: usize,
}

impl EventLoopConfig {
    /// The largest [`timer_capacity`](Self::timer_capacity): 2^32 - 3 (timers are numbered
    /// with 32 bits, two values reserved).
    pub const MAX_TIMER_CAPACITY: usize = TimerWheel::<()>::MAX_CAPACITY;

    /// The defaults: `notify_capacity` 4096, `messages_per_tick` 256, `timer_tick` 1 ms,
    /// `timer_wheel_size` 1024, `timer_capacity` 65536, `fd_capacity` 1024.
    pub fn new() -> EventLoopConfig {
        EventLoopConfig {
            notify_capacity: 4096,
            messages_per_tick: 256,
            timer_tick: Duration::from_millis(1),
            timer_wheel_size: 1024,
            timer_capacity: 65_536,
            fd_capacity: 1024,
        }
    }

    /// How many messages the channel holds before [`Sender::send`](crate::Sender::send)
    /// returns `Full` (0 counts as 1; default 4096). The queue is allocated at this size
    /// when the loop is created, and all of it is written then: about
    /// `capacity * (size_of::<Message>() + 8)` bytes. A size the allocator refuses makes
    /// [`EventLoop::configured`](crate::EventLoop::configured) fail with `OutOfMemory`.
    pub fn notify_capacity(&mut self, capacity: usize) -> &mut Self {
        self.notify_capacity = capacity;
        self
    }

    /// The most messages delivered per iteration, so IO and timers are not starved by a
    /// flood of messages (default 256).
    ///
    /// At least 1: [`EventLoop::configured`](crate::EventLoop::configured) rejects 0 with
    /// `InvalidInput`. A loop that delivered no messages would leave every send waiting
    /// forever (or, polling without sleeping because messages wait, spin), so 0 has no
    /// useful meaning.
    pub fn messages_per_tick(&mut self, messages: usize) -> &mut Self {
        self.messages_per_tick = messages;
        self
    }

    /// The timer wheel's tick in milliseconds (default 1; the seed's mio used 100). See
    /// [`timer_tick`](Self::timer_tick).
    pub fn timer_tick_ms(&mut self, ms: u64) -> &mut Self {
        self.timer_tick(Duration::from_millis(ms))
    }

    /// The timer wheel's tick (default 1 ms; at least 1 ns). It sets the width of a wheel
    /// slot, not the timers' precision: a timer fires at its exact deadline (as precisely
    /// as the poll timeout allows) whatever the tick, and never before it. A coarser tick
    /// makes far timers cascade (move down the wheel's levels) less often; either way a
    /// cascade is spread over the ticks before it is needed, so that no iteration re-files
    /// more than a small share of the timers at once.
    pub fn timer_tick(&mut self, tick: Duration) -> &mut Self {
        self.timer_tick = tick;
        self
    }

    /// Slots per level of the hierarchical timer wheel (rounded up to a power of two,
    /// 2 ..= 65536; default 1024).
    pub fn timer_wheel_size(&mut self, slots: usize) -> &mut Self {
        self.timer_wheel_size = slots;
        self
    }

    /// The most timers pending at once; one more gives a [`TimerError`](crate::TimerError)
    /// (default 65536; 0 makes every timeout a `TimerError`). Their storage is allocated (reserved, touched only as it is used)
    /// when the loop is created.
    ///
    /// At most [`MAX_TIMER_CAPACITY`](Self::MAX_TIMER_CAPACITY);
    /// [`EventLoop::configured`](crate::EventLoop::configured) rejects more with
    /// `InvalidInput`, and a capacity whose storage the allocator refuses with `OutOfMemory`.
    pub fn timer_capacity(&mut self, timers: usize) -> &mut Self {
        self.timer_capacity = timers;
        self
    }

    /// The fd numbers (`0..fds`) the loop's registration table holds from the start
    /// (default 1024), so registering any of them never allocates: set it to the largest
    /// fd number the loop will see (the process's `RLIMIT_NOFILE` is a safe bound). A
    /// registration of a larger fd still works, and grows the table (doubling) at that
    /// moment. Each entry is 24 bytes on 64-bit targets; see [`Poll::reserve_fds`](crate::Poll::reserve_fds).
    pub fn fd_capacity(&mut self, fds: usize) -> &mut Self {
        self.fd_capacity = fds;
        self
    }
}

impl EventLoopConfig {
    /// The values `EventLoop::configured` cannot honour, as `InvalidInput` errors.
    pub(crate) fn check(&self) -> io::Result<()> {
        if self.messages_per_tick == 0 {
            return Err(invalid(
                "messages_per_tick must be at least 1: a loop delivering no messages would never drain its channel",
            ));
        }
        if self.timer_capacity > Self::MAX_TIMER_CAPACITY {
            return Err(invalid(format!(
                "timer_capacity {} is more than the {} timers an event loop can number",
                self.timer_capacity,
                Self::MAX_TIMER_CAPACITY
            )));
        }
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.into())
}

impl Default for EventLoopConfig {
    fn default() -> Self {
        EventLoopConfig::new()
    }
}
