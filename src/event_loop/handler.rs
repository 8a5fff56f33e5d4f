//! `Handler`: the callbacks through which an [`EventLoop`] hands its events to the program.

use super::EventLoop;
use crate::readiness::event::EventSet;
use crate::readiness::token::Token;

/// Receives an [`EventLoop`]'s IO readiness, messages, timeouts and ticks. Every method
/// has a default that does nothing, so a handler implements only what it uses.
///
/// One iteration of the loop calls, in order: [`ready`](Handler::ready) for each token
/// with readiness, [`notify`](Handler::notify) for up to `messages_per_tick` messages,
/// [`timeout`](Handler::timeout) for each due timer, then [`tick`](Handler::tick) once.
/// Each callback gets the loop back, to register handles, set timers or shut down.
///
/// A callback may panic without losing the loop's other work: the panic unwinds out of
/// `run`/`run_once`, and the next call finishes the iteration, skipping only the callback
/// that panicked (see [`EventLoop`'s panic section](EventLoop#panics-in-handler-callbacks)).
pub trait Handler: Sized {
    /// The value handed back when a timer set with
    /// [`EventLoop::timeout_ms`](EventLoop::timeout_ms) fires.
    type Timeout;
    /// What [`Sender`](crate::Sender)s send to this loop.
    type Message: Send;

    /// `token` is ready for the operations in `events`. Called at most once per token per
    /// iteration, and never for a token deregistered earlier in the same iteration.
    fn ready(&mut self, event_loop: &mut EventLoop<Self>, token: Token, events: EventSet) {
        let _ = (event_loop, token, events);
    }

    /// A message sent through a [`Sender`](crate::Sender) arrived.
    fn notify(&mut self, event_loop: &mut EventLoop<Self>, msg: Self::Message) {
        let _ = (event_loop, msg);
    }

    /// A timer came due (never before its deadline).
    fn timeout(&mut self, event_loop: &mut EventLoop<Self>, timeout: Self::Timeout) {
        let _ = (event_loop, timeout);
    }

    /// A signal interrupted the poll (`EINTR`); the loop carries on afterwards.
    fn interrupted(&mut self, event_loop: &mut EventLoop<Self>) {
        let _ = event_loop;
    }

    /// The end of an iteration.
    fn tick(&mut self, event_loop: &mut EventLoop<Self>) {
        let _ = event_loop;
    }
}
