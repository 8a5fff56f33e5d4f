//! A line-based chat server on `EventLoop`: every line a client sends goes to every other
//! client as `<nick> line`; `/nick NAME` renames, `/who` lists who is here, `/quit` leaves.
//! Lines typed on the server's stdin (and, with `--announce-every SECS`, a periodic uptime
//! notice) reach every client as `[server] ...`: they come from other threads through the
//! loop's `Sender`.
//!
//! ```sh
//! cargo run --release --example chat -- --addr 127.0.0.1:7000
//! nc 127.0.0.1 7000          # in two or more other terminals
//! ```
//!
//! How it is built:
//!
//! * clients live in a `util::Slab` keyed by their `Token`, each with an input and an
//!   output `buf::RingBuf`; lines are cut out of the input in place and copied once, into a
//!   scratch buffer that is reused for every line;
//! * a broadcast appends to each recipient's output and tries to write it at once; what the
//!   socket does not take waits for the client's next writable event (edge-triggered);
//! * a client whose output cannot take a message (it stopped reading, 64 KiB behind) or
//!   that sends a line longer than `MAX_LINE` is disconnected, so one slow or hostile
//!   client cannot hold memory or hold up the others;
//! * disconnections are collected and handled after the event that caused them, so that
//!   announcing a departure (which may find another dead client) never re-enters a
//!   broadcast;
//! * a departing client is closed lingeringly: its output is flushed, the write half shut
//!   down, and its input read and dropped until it closes too (or `LINGER` passes). Closing
//!   a socket with unread input makes the kernel send a reset, which can destroy the
//!   parting notice before the client reads it.

use readyio::buf::{Buf, BufMut, RingBuf};
use readyio::tcp::{TcpListener, TcpStream};
use readyio::util::Slab;
use readyio::{
    EventLoop, EventLoopConfig, EventSet, FdReserve, Handler, PollOpt, Sender, Timeout, Token, TryRead, TryWrite,
};
use std::io::{self, BufRead};
use std::net::{Shutdown, SocketAddr};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);
/// The longest line a client may send, without its newline.
pub const MAX_LINE: usize = 1024;
/// Input per client: a whole line and then some, so a line too long is seen as such.
const INPUT_CAPACITY: usize = 2 * MAX_LINE;
/// Output per client: how far behind a client may fall before it is disconnected.
const OUTPUT_CAPACITY: usize = 64 * 1024;
const MAX_CLIENTS: usize = 1024;
const MAX_NICK: usize = 32;
const ACCEPT_RETRY: Duration = Duration::from_millis(50);
/// How long a departing client may keep sending before its socket is closed anyway.
const LINGER: Duration = Duration::from_secs(2);

/// The loop's timers.
enum Timer {
    /// Accept again after accepting failed for want of fds.
    AcceptRetry,
    /// Close a departing client that has not closed its side.
    Linger(Token),
}

/// What other threads tell the chat loop.
pub enum Control {
    /// Send `[server] text` to every client.
    Announce(String),
    /// Close every connection and end the loop.
    Shutdown,
}

/// A running chat server.
pub struct ChatServer {
    addr: SocketAddr,
    control: Sender<Control>,
    thread: JoinHandle<io::Result<()>>,
}

/// Binds `addr` and runs the chat loop on a thread of its own.
pub fn start(addr: &SocketAddr) -> io::Result<ChatServer> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let mut config = EventLoopConfig::new();
    // A linger timer per client, and the accept retry.
    config.notify_capacity(1024).timer_capacity(MAX_CLIENTS + 1);
    let mut event_loop = EventLoop::configured(config)?;
    event_loop.register(&listener, LISTENER, EventSet::readable(), PollOpt::edge())?;
    let control = event_loop.channel();
    let thread = std::thread::Builder::new().name("chat-loop".into()).spawn(move || {
        let mut chat = Chat {
            listener,
            fd_reserve: FdReserve::new()?,
            clients: Slab::new_starting_at(Token(1), MAX_CLIENTS),
            guests: 0,
            scratch: Vec::with_capacity(MAX_LINE + 2 * MAX_NICK + 16),
            departed: Vec::new(),
            accept_retry_pending: false,
        };
        event_loop.run(&mut chat)
    })?;
    Ok(ChatServer { addr, control, thread })
}

impl ChatServer {
    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle other threads use to make announcements.
    pub fn announcer(&self) -> Sender<Control> {
        self.control.clone()
    }

    /// Stops the loop and waits for it.
    pub fn stop(self) -> io::Result<()> {
        let _ = self.control.send(Control::Shutdown);
        self.wait()
    }

    /// Waits for the loop to end.
    pub fn wait(self) -> io::Result<()> {
        self.thread.join().unwrap_or_else(|_| Err(io::Error::other("the chat loop panicked")))
    }
}

struct Client {
    stream: TcpStream,
    input: RingBuf,
    output: RingBuf,
    nick: String,
    /// Set once the client is departing: its write half is shut down, its input is read and
    /// dropped until it closes, and this timer closes it if it does not.
    leaving: Option<Timeout>,
}

impl Client {
    /// Whether the client is still in the chat (not departing).
    fn present(&self) -> bool {
        self.leaving.is_none()
    }
}

struct Chat {
    listener: TcpListener,
    /// A spare fd, so that running out of fds sheds queued connections instead of
    /// stranding them (see `accept_all`).
    fd_reserve: FdReserve,
    clients: Slab<Client>,
    /// Guests so far, for default nicknames.
    guests: u64,
    /// Where each line is copied while it is handled (and messages are composed).
    scratch: Vec<u8>,
    /// Clients to disconnect once the current event is handled.
    departed: Vec<Token>,
    accept_retry_pending: bool,
}

impl Handler for Chat {
    type Timeout = Timer;
    type Message = Control;

    fn ready(&mut self, event_loop: &mut EventLoop<Chat>, token: Token, _events: EventSet) {
        if token == LISTENER {
            self.accept_all(event_loop);
        } else {
            self.serve(event_loop, token);
        }
        self.disconnect_departed(event_loop);
    }

    fn notify(&mut self, event_loop: &mut EventLoop<Chat>, control: Control) {
        match control {
            Control::Announce(text) => {
                self.scratch.clear();
                self.scratch.extend_from_slice(b"[server] ");
                self.scratch.extend_from_slice(text.as_bytes());
                self.scratch.push(b'\n');
                broadcast(&mut self.clients, None, &self.scratch, &mut self.departed);
                self.disconnect_departed(event_loop);
            }
            Control::Shutdown => event_loop.shutdown(),
        }
    }

    fn timeout(&mut self, event_loop: &mut EventLoop<Chat>, timer: Timer) {
        match timer {
            Timer::AcceptRetry => {
                self.accept_retry_pending = false;
                self.accept_all(event_loop);
            }
            // The client did not close within `LINGER`: close it now. (A client closed
            // earlier had this timer cleared, so the token cannot name a newer client.)
            Timer::Linger(token) => self.close(event_loop, token),
        }
        self.disconnect_departed(event_loop);
    }
}

impl Chat {
    fn accept_all(&mut self, event_loop: &mut EventLoop<Chat>) {
        loop {
            let stream = match self.listener.accept_or_shed(&mut self.fd_reserve) {
                Ok(Some((stream, _peer))) => stream,
                Ok(None) => return,
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) => {
                    continue
                }
                Err(e) => {
                    // Even the reserve could not shed the queue (no fd at all, or out of
                    // memory): retry from a timer, since the edge-triggered listener will
                    // not report the connections already queued.
                    eprintln!("chat: accept failed ({e}); retrying in {ACCEPT_RETRY:?}");
                    if !self.accept_retry_pending && event_loop.timeout(Timer::AcceptRetry, ACCEPT_RETRY).is_ok() {
                        self.accept_retry_pending = true;
                    }
                    return;
                }
            };
            self.guests += 1;
            let client = Client {
                stream,
                input: RingBuf::with_capacity(INPUT_CAPACITY),
                output: RingBuf::with_capacity(OUTPUT_CAPACITY),
                nick: format!("guest{}", self.guests),
                leaving: None,
            };
            let Ok(token) = self.clients.insert(client) else {
                eprintln!("chat: {MAX_CLIENTS} clients already; refusing one");
                continue;
            };
            let interest = EventSet::readable() | EventSet::writable() | EventSet::hup();
            if event_loop.register(&self.clients[token].stream, token, interest, PollOpt::edge()).is_err() {
                self.clients.remove(token);
                continue;
            }
            let nick = self.clients[token].nick.clone();
            let welcome = format!("* welcome, {nick}! /nick NAME to rename, /who to list, /quit to leave\n");
            send_to(&mut self.clients, token, welcome.as_bytes(), &mut self.departed);
            self.scratch.clear();
            self.scratch.extend_from_slice(format!("* {nick} joined\n").as_bytes());
            broadcast(&mut self.clients, Some(token), &self.scratch, &mut self.departed);
        }
    }

    /// Writes what is pending, then reads and handles every complete line; for a departing
    /// client, reads and drops its input until it closes.
    fn serve(&mut self, event_loop: &mut EventLoop<Chat>, token: Token) {
        let Some(client) = self.clients.get_mut(token) else { return };
        if !client.present() {
            return self.drain_departing(event_loop, token);
        }
        if flush(client).is_err() {
            return self.departed.push(token);
        }
        loop {
            let client = &mut self.clients[token];
            match client.stream.try_read_buf_vectored(&mut client.input) {
                Ok(Some(0)) | Err(_) => return self.departed.push(token),
                Ok(Some(_)) => {}
                Ok(None) => return,
            }
            while self.next_line(token) {
                self.handle_line(token);
                if self.departed.contains(&token) {
                    return;
                }
            }
            if self.departed.contains(&token) {
                return;
            }
        }
    }

    /// Moves the next complete line of `token`'s input into `scratch` (without its line
    /// ending). A line over `MAX_LINE` disconnects the client.
    fn next_line(&mut self, token: Token) -> bool {
        let client = &mut self.clients[token];
        let pending = client.input.make_contiguous();
        let (line_len, consumed) = match pending.iter().position(|&b| b == b'\n') {
            Some(newline) if newline > 0 && pending[newline - 1] == b'\r' => (newline - 1, newline + 1),
            Some(newline) => (newline, newline + 1),
            None => (pending.len(), 0),
        };
        if line_len > MAX_LINE {
            let notice = format!("* lines are limited to {MAX_LINE} bytes; bye\n");
            send_to(&mut self.clients, token, notice.as_bytes(), &mut self.departed);
            self.departed.push(token);
            return false;
        }
        if consumed == 0 {
            return false;
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&pending[..line_len]);
        client.input.advance(consumed);
        true
    }

    /// Handles the line in `scratch`, sent by `token`.
    fn handle_line(&mut self, token: Token) {
        let line = std::mem::take(&mut self.scratch);
        if let Some(name) = line.strip_prefix(b"/nick") {
            self.rename(token, trim(name));
        } else if line == b"/who" {
            let names: Vec<&str> =
                self.clients.iter().filter(|(_, c)| c.present()).map(|(_, c)| c.nick.as_str()).collect();
            let list = format!("* here: {}\n", names.join(", "));
            send_to(&mut self.clients, token, list.as_bytes(), &mut self.departed);
        } else if line == b"/quit" {
            send_to(&mut self.clients, token, b"* bye\n", &mut self.departed);
            self.departed.push(token);
        } else if line.starts_with(b"/") {
            send_to(
                &mut self.clients,
                token,
                b"* unknown command; try /nick NAME, /who or /quit\n",
                &mut self.departed,
            );
        } else if !line.is_empty() {
            let nick = &self.clients[token].nick;
            let mut message = Vec::with_capacity(nick.len() + line.len() + 4);
            message.extend_from_slice(b"<");
            message.extend_from_slice(nick.as_bytes());
            message.extend_from_slice(b"> ");
            message.extend_from_slice(&line);
            message.push(b'\n');
            broadcast(&mut self.clients, Some(token), &message, &mut self.departed);
        }
        self.scratch = line;
    }

    fn rename(&mut self, token: Token, name: &[u8]) {
        let valid = !name.is_empty()
            && name.len() <= MAX_NICK
            && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            let usage = format!("* usage: /nick NAME, where NAME is 1-{MAX_NICK} letters, digits, '_' or '-'\n");
            return send_to(&mut self.clients, token, usage.as_bytes(), &mut self.departed);
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let taken =
            self.clients.iter().any(|(other, c)| other != token && c.present() && c.nick.eq_ignore_ascii_case(&name));
        if taken {
            let refusal = format!("* {name} is taken\n");
            return send_to(&mut self.clients, token, refusal.as_bytes(), &mut self.departed);
        }
        let old = std::mem::replace(&mut self.clients[token].nick, name.clone());
        send_to(&mut self.clients, token, format!("* you are now {name}\n").as_bytes(), &mut self.departed);
        let notice = format!("* {old} is now known as {name}\n");
        broadcast(&mut self.clients, Some(token), notice.as_bytes(), &mut self.departed);
    }

    /// Closes the clients that left or failed, telling the others. Telling them may find
    /// more dead clients, which are closed in turn.
    fn disconnect_departed(&mut self, event_loop: &mut EventLoop<Chat>) {
        while let Some(token) = self.departed.pop() {
            let Some(client) = self.clients.get_mut(token) else { continue };
            if !client.present() {
                continue;
            }
            // Best effort: a parting notice (`* bye`) still in the output goes out before
            // the write half is shut down.
            let _ = flush(client);
            let notice = format!("* {} left\n", client.nick);
            let _ = client.stream.shutdown(Shutdown::Write);
            client.input.clear();
            match event_loop.timeout(Timer::Linger(token), LINGER) {
                Ok(timeout) => client.leaving = Some(timeout),
                Err(_) => self.close(event_loop, token),
            }
            broadcast(&mut self.clients, None, notice.as_bytes(), &mut self.departed);
            // Input that came before the shutdown is dropped now; more wakes `serve`.
            if self.clients.contains(token) {
                self.drain_departing(event_loop, token);
            }
        }
    }

    /// Reads and drops a departing client's input; closes it once it closes its side (or
    /// its socket fails).
    fn drain_departing(&mut self, event_loop: &mut EventLoop<Chat>, token: Token) {
        let Some(client) = self.clients.get_mut(token) else { return };
        loop {
            client.input.clear();
            match client.stream.try_read_buf_vectored(&mut client.input) {
                Ok(Some(0)) | Err(_) => return self.close(event_loop, token),
                Ok(Some(_)) => {}
                Ok(None) => return,
            }
        }
    }

    /// Closes a client's socket for good.
    fn close(&mut self, event_loop: &mut EventLoop<Chat>, token: Token) {
        let Some(client) = self.clients.remove(token) else { return };
        if let Some(timeout) = client.leaving {
            event_loop.clear_timeout(timeout);
        }
        let _ = event_loop.deregister(&client.stream);
    }
}

/// Queues `message` for `token` and tries to write it now.
fn send_to(clients: &mut Slab<Client>, token: Token, message: &[u8], departed: &mut Vec<Token>) {
    if let Some(client) = clients.get_mut(token).filter(|c| c.present()) {
        if deliver(client, message).is_err() {
            departed.push(token);
        }
    }
}

/// Queues `message` for every client but `from` and tries to write it now.
fn broadcast(clients: &mut Slab<Client>, from: Option<Token>, message: &[u8], departed: &mut Vec<Token>) {
    for (token, client) in clients.iter_mut() {
        if Some(token) != from && client.present() && !departed.contains(&token) && deliver(client, message).is_err() {
            departed.push(token);
        }
    }
}

/// Appends `message` to the client's output and writes what the socket takes. An error
/// means the client must go: its socket failed, or it is too far behind to take more.
fn deliver(client: &mut Client, message: &[u8]) -> io::Result<()> {
    if client.output.remaining_mut() < message.len() {
        return Err(io::Error::new(io::ErrorKind::WouldBlock, "the client is too far behind"));
    }
    client.output.put_slice(message);
    flush(client)
}

/// Writes pending output until the socket stops taking it.
fn flush(client: &mut Client) -> io::Result<()> {
    while client.output.has_remaining() {
        match client.stream.try_write_buf(&mut client.output)? {
            Some(n) if n > 0 => {}
            _ => break,
        }
    }
    Ok(())
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &bytes[start..end]
}

fn usage() -> ! {
    eprintln!("usage: chat [--addr IP:PORT] [--announce-every SECS]");
    std::process::exit(2)
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let mut announce_every = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--addr" => addr = value.parse().unwrap_or_else(|_| usage()),
            "--announce-every" => {
                let seconds = value.parse().ok().filter(|&s| s > 0).unwrap_or_else(|| usage());
                announce_every = Some(Duration::from_secs(seconds));
            }
            _ => usage(),
        }
    }
    let server = start(&addr)?;
    println!("chat on {}; lines typed here are announced to everyone", server.local_addr());

    if let Some(period) = announce_every {
        let announcer = server.announcer();
        let started = Instant::now();
        std::thread::spawn(move || loop {
            std::thread::sleep(period);
            let notice = format!("up for {} s", started.elapsed().as_secs());
            if announcer.send(Control::Announce(notice)).is_err() {
                return;
            }
        });
    }
    let announcer = server.announcer();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if announcer.send(Control::Announce(line)).is_err() {
                return;
            }
        }
    });
    server.wait()
}
