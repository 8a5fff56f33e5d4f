//! One connection's HTTP/1.1 exchanges, without IO: request bytes in, response bytes out.
//!
//! Shared, by `#[path]` (beside `parse.rs`), by the example server and the benchmark's
//! contender servers, so all of them answer with the same bytes and differ only in how
//! they move bytes between sockets and buffers.
//!
//! The routes:
//!
//! | request | response |
//! |---|---|
//! | `GET /` or `HEAD /` | 200, `text/plain`, `Hello, world!` |
//! | `POST /echo` | 200, `application/octet-stream`, the request body |
//! | another method on those paths | 405 with `Allow` |
//! | any other path | 404 |
//!
//! [`Session::handle`] answers requests in the order they arrived, so pipelined requests
//! get their responses in order. Bodies are framed by `Content-Length` only and are
//! streamed: an `/echo` body moves from the input to the output as it arrives, so neither
//! buffer needs to hold a whole body. A body longer than [`MAX_BODY`] gets 413. Every
//! refusal (see `parse.rs`) is answered with `Connection: close`, after which the session
//! reads nothing more.

use super::parse::{parse_head, Parsed, RequestHead, Version};
use readyio::buf::{BufMut, RingBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The longest request body accepted (413 above it).
pub const MAX_BODY: u64 = 1024 * 1024;

/// The input buffer every server gives a connection: a whole request head
/// ([`MAX_HEAD`](super::parse::MAX_HEAD)) and then some, so that a head still incomplete
/// never fills it (which would stall the connection).
pub const INPUT_CAPACITY: usize = 16 * 1024;

/// The output buffer every server gives a connection: many pipelined responses, or a
/// slice of an echoed body.
pub const OUTPUT_CAPACITY: usize = 16 * 1024;

/// The most time a closing connection waits for its client to close first (see the
/// lingering close in `examples/http_server.rs`).
pub const LINGER: std::time::Duration = std::time::Duration::from_secs(2);

const _: () = assert!(INPUT_CAPACITY > super::parse::MAX_HEAD && OUTPUT_CAPACITY >= 2 * RESPONSE_ROOM);

/// Room in the output that any response head (and any body but an echoed one) fits in:
/// a response is only started when this much is free, so it is never cut in half.
pub const RESPONSE_ROOM: usize = 512;

const HELLO: &[u8] = b"Hello, world!";

/// What a server writes (best effort) to a client it has no room for, before closing.
pub const SERVICE_UNAVAILABLE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What the server should do after [`Session::handle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Every complete request so far is answered: read more input.
    Read,
    /// The output is too full for the next response: write some of it out, then call
    /// `handle` again with the same unconsumed input.
    Write,
    /// The last response is in the output: write it all out, then close the connection
    /// (ignoring anything more the client sends).
    Close,
}

/// Header values that are the same for every response of a server loop at a given moment.
pub struct CommonHeaders {
    date: HttpDate,
    loop_id: Option<usize>,
}

impl CommonHeaders {
    /// Headers with the current date; `loop_id` adds `X-Loop: <id>` to every response, for
    /// servers running several loops on one port.
    pub fn new(loop_id: Option<usize>) -> CommonHeaders {
        CommonHeaders { date: HttpDate::now(), loop_id }
    }

    /// Brings `Date` up to the current second (a clock read; reformats once a second).
    pub fn refresh(&mut self) {
        self.date.refresh(SystemTime::now());
    }
}

/// The state of one connection between requests and inside a request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for (the rest of) a request head.
    Head,
    /// Inside a request body of which `remaining` bytes are still to come: echoed to the
    /// output or discarded; then the connection closes if `then_close`.
    Body { remaining: u64, echo: bool, then_close: bool },
    /// A final response is queued; nothing more is read.
    Closed,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A connection that has not received anything yet.
    pub fn new() -> Session {
        Session { state: State::Head }
    }

    /// Consumes as much of `input` (the bytes received and not yet consumed) as it can,
    /// appending responses to `output`; returns how many bytes it consumed and what to do.
    pub fn handle(&mut self, input: &[u8], output: &mut RingBuf, common: &CommonHeaders) -> (usize, Next) {
        let mut consumed = 0;
        loop {
            let rest = &input[consumed..];
            match self.state {
                State::Closed => return (input.len(), Next::Close),
                State::Body { remaining, echo, then_close } => {
                    let mut n = rest.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    if echo {
                        n = n.min(room(output));
                        output.put_slice(&rest[..n]);
                    }
                    consumed += n;
                    let remaining = remaining - n as u64;
                    if remaining > 0 {
                        self.state = State::Body { remaining, echo, then_close };
                        let next = if echo && room(output) == 0 { Next::Write } else { Next::Read };
                        return (consumed, next);
                    }
                    self.state = if then_close { State::Closed } else { State::Head };
                }
                State::Head => {
                    if rest.is_empty() {
                        return (consumed, Next::Read);
                    }
                    if room(output) < RESPONSE_ROOM {
                        return (consumed, Next::Write);
                    }
                    match parse_head(rest) {
                        Ok(Parsed::Partial) => return (consumed, Next::Read),
                        Ok(Parsed::Complete(head)) => {
                            consumed += head.len;
                            self.state = respond(&head, output, common);
                        }
                        Err(error) => {
                            let (code, reason) = error.status();
                            write_error(output, common, code, reason, error.detail());
                            self.state = State::Closed;
                        }
                    }
                }
            }
        }
    }
}

fn room(output: &RingBuf) -> usize {
    output.capacity() - output.len()
}

/// Writes the response to `head` (all of it but an echoed body) and returns the state
/// that reads the request's body, if any.
fn respond(head: &RequestHead<'_>, output: &mut RingBuf, common: &CommonHeaders) -> State {
    let body = head.content_length;
    if body > MAX_BODY {
        write_error(output, common, 413, "Content Too Large", "the request body is larger than 1 MiB");
        return State::Closed;
    }
    let method = head.method;
    let (code, reason, content_type, allow) = match head.path() {
        b"/" if method == b"GET" || method == b"HEAD" => (200, "OK", "text/plain", None),
        b"/echo" if method == b"POST" => (200, "OK", "application/octet-stream", None),
        b"/" => (405, "Method Not Allowed", "text/plain", Some("GET, HEAD")),
        b"/echo" => (405, "Method Not Allowed", "text/plain", Some("POST")),
        _ => (404, "Not Found", "text/plain", None),
    };
    let echo = code == 200 && method == b"POST";
    // A client that waits for 100 Continue and is not getting it may or may not send the
    // body now: the connection's framing is lost, so close it (RFC 9110 §10.1.1).
    let close = !head.keep_alive || (head.expect_continue && body > 0 && !echo);
    if echo && head.expect_continue && body > 0 {
        output.put_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let content: &[u8] = match (code, echo) {
        (200, false) => HELLO,
        (405, _) => b"Method Not Allowed\n",
        (404, _) => b"Not Found\n",
        _ => b"",
    };
    let content_length = if echo { body } else { content.len() as u64 };
    let keep_alive_10 = head.version == Version::Http10 && !close;
    write_head(output, common, code, reason, content_type, content_length, close, keep_alive_10, allow);
    if method != b"HEAD" && !echo {
        output.put_slice(content);
    }
    match body {
        0 if close => State::Closed,
        0 => State::Head,
        // Nothing of the body is wanted and the connection closes: stop reading now.
        _ if close && !echo => State::Closed,
        remaining => State::Body { remaining, echo, then_close: close },
    }
}

/// An error response, which always closes the connection.
fn write_error(output: &mut RingBuf, common: &CommonHeaders, code: u16, reason: &str, detail: &str) {
    let body_len = detail.len() as u64 + 1;
    write_head(output, common, code, reason, "text/plain", body_len, true, false, None);
    output.put_slice(detail.as_bytes());
    output.put_slice(b"\n");
}

#[allow(clippy::too_many_arguments)]
fn write_head(
    output: &mut RingBuf,
    common: &CommonHeaders,
    code: u16,
    reason: &str,
    content_type: &str,
    content_length: u64,
    close: bool,
    keep_alive_10: bool,
    allow: Option<&str>,
) {
    output.put_slice(b"HTTP/1.1 ");
    put_decimal(output, u64::from(code));
    output.put_slice(b" ");
    output.put_slice(reason.as_bytes());
    output.put_slice(b"\r\nDate: ");
    output.put_slice(&common.date.text);
    output.put_slice(b"\r\nContent-Type: ");
    output.put_slice(content_type.as_bytes());
    output.put_slice(b"\r\nContent-Length: ");
    put_decimal(output, content_length);
    if close {
        output.put_slice(b"\r\nConnection: close");
    } else if keep_alive_10 {
        output.put_slice(b"\r\nConnection: keep-alive");
    }
    if let Some(methods) = allow {
        output.put_slice(b"\r\nAllow: ");
        output.put_slice(methods.as_bytes());
    }
    if let Some(id) = common.loop_id {
        output.put_slice(b"\r\nX-Loop: ");
        put_decimal(output, id as u64);
    }
    output.put_slice(b"\r\n\r\n");
}

fn put_decimal(output: &mut RingBuf, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    output.put_slice(&digits[start..]);
}

/// The `Date` header's value (IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`),
/// reformatted only when the second changes.
struct HttpDate {
    text: [u8; 29],
    second: u64,
}

impl HttpDate {
    fn now() -> HttpDate {
        let mut date = HttpDate { text: [b' '; 29], second: u64::MAX };
        date.refresh(SystemTime::now());
        date
    }

    fn refresh(&mut self, now: SystemTime) {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
        if second != self.second {
            self.second = second;
            self.text = format_http_date(second);
        }
    }
}

/// Formats seconds since 1970 as an IMF-fixdate (RFC 9110 §5.6.7).
fn format_http_date(unix_seconds: u64) -> [u8; 29] {
    const WEEKDAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let days = unix_seconds / 86_400;
    let seconds_of_day = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut text = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    text[..3].copy_from_slice(WEEKDAYS[(days % 7) as usize]);
    let two = |text: &mut [u8; 29], at: usize, n: u64| {
        text[at] = b'0' + (n / 10 % 10) as u8;
        text[at + 1] = b'0' + (n % 10) as u8;
    };
    two(&mut text, 5, day);
    text[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    two(&mut text, 12, year / 100);
    two(&mut text, 14, year % 100);
    two(&mut text, 17, seconds_of_day / 3600);
    two(&mut text, 20, seconds_of_day / 60 % 60);
    two(&mut text, 23, seconds_of_day % 60);
    text
}

/// Year, month (1-12) and day (1-31) of a count of days since 1970-01-01, by the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::super::parse::MAX_HEAD;
    use super::*;
    use readyio::buf::Buf;

    fn common() -> CommonHeaders {
        let mut common = CommonHeaders::new(None);
        common.date.text = *b"Sun, 06 Nov 1994 08:49:37 GMT";
        common.date.second = u64::MAX - 1;
        common
    }

    /// Feeds `input` to a fresh session in pieces of `piece` bytes, draining the output as
    /// a socket would; returns the output and the last `Next`.
    fn run(input: &[u8], piece: usize, output_capacity: usize) -> (Vec<u8>, Next) {
        let common = common();
        let mut session = Session::new();
        let mut output = RingBuf::with_capacity(output_capacity);
        let mut written = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut next = Next::Read;
        for _ in 0..100_000 {
            if next == Next::Read {
                if fed == input.len() {
                    break;
                }
                let end = (fed + piece).min(input.len());
                pending.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            let (used, then) = session.handle(&pending, &mut output, &common);
            pending.drain(..used);
            next = then;
            while output.has_remaining() {
                let chunk = output.chunk().to_vec();
                written.extend_from_slice(&chunk);
                output.advance(chunk.len());
            }
            if next == Next::Close {
                break;
            }
        }
        (written, next)
    }

    fn response(code: &str, content_type: &str, body: &[u8], extra: &str) -> Vec<u8> {
        let mut r = format!(
            "HTTP/1.1 {code}\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: {content_type}\r\nContent-Length: {}{extra}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn hello_world_response_is_exact() {
        let (out, next) = run(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 4096, 4096);
        assert_eq!(text(&out), text(&response("200 OK", "text/plain", b"Hello, world!", "")));
        assert_eq!(next, Next::Read);
    }

    #[test]
    fn pipelined_requests_are_answered_in_order_whatever_the_split() {
        let input = b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /nope HTTP/1.1\r\nHost: h\r\n\r\nPOST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcdeHEAD / HTTP/1.1\r\nHost: h\r\n\r\n";
        let mut expected = response("200 OK", "text/plain", b"Hello, world!", "");
        expected.extend(response("404 Not Found", "text/plain", b"Not Found\n", ""));
        expected.extend(response("200 OK", "application/octet-stream", b"abcde", ""));
        let head_only = response("200 OK", "text/plain", b"Hello, world!", "");
        expected.extend_from_slice(&head_only[..head_only.len() - 13]);
        for piece in [1, 2, 3, 7, 16, 1000] {
            for capacity in [RESPONSE_ROOM, 4096] {
                let (out, next) = run(input, piece, capacity);
                assert_eq!(text(&out), text(&expected), "pieces of {piece}, output of {capacity}");
                assert_eq!(next, Next::Read);
            }
        }
    }

    #[test]
    fn an_echo_body_larger_than_the_output_streams_through() {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut input =
            format!("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        input.extend_from_slice(&body);
        let (out, _) = run(&input, 3000, 1024);
        assert_eq!(out, response("200 OK", "application/octet-stream", &body, ""));
    }

    #[test]
    fn malformed_request_gets_400_and_close_and_later_requests_are_ignored() {
        let (out, next) = run(b"GET / HTTP/1.1\r\nHost : h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 4096, 4096);
        assert!(text(&out).starts_with("HTTP/1.1 400 Bad Request\r\n"), "{}", text(&out));
        assert!(text(&out).contains("\r\nConnection: close\r\n"));
        assert_eq!(text(&out).matches("HTTP/1.1").count(), 1, "{}", text(&out));
        assert_eq!(next, Next::Close);
    }

    #[test]
    fn oversized_head_gets_431() {
        let mut input = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
        input.resize(MAX_HEAD + 100, b'x');
        let (out, next) = run(&input, 1000, 4096);
        assert!(text(&out).starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{}", text(&out));
        assert_eq!(next, Next::Close);
    }

    #[test]
    fn a_body_over_the_limit_gets_413_before_it_is_read() {
        let input = format!("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1);
        let (out, next) = run(input.as_bytes(), 4096, 4096);
        assert!(text(&out).starts_with("HTTP/1.1 413 Content Too Large\r\n"), "{}", text(&out));
        assert_eq!(next, Next::Close);
    }

    #[test]
    fn transfer_encoding_gets_501_and_close() {
        let (out, next) = run(
            b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n",
            4096,
            4096,
        );
        assert!(text(&out).starts_with("HTTP/1.1 501 Not Implemented\r\n"), "{}", text(&out));
        assert_eq!(next, Next::Close);
    }

    #[test]
    fn http10_closes_after_the_response_unless_keep_alive() {
        let (out, next) = run(b"GET / HTTP/1.0\r\n\r\n", 4096, 4096);
        assert_eq!(text(&out), text(&response("200 OK", "text/plain", b"Hello, world!", "\r\nConnection: close")));
        assert_eq!(next, Next::Close);
        let (out, next) = run(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 4096, 4096);
        assert_eq!(text(&out), text(&response("200 OK", "text/plain", b"Hello, world!", "\r\nConnection: keep-alive")));
        assert_eq!(next, Next::Read);
    }

    #[test]
    fn connection_close_echoes_the_body_then_closes() {
        let (out, next) =
            run(b"POST /echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 3\r\n\r\nxyzGET /", 2, 4096);
        assert_eq!(text(&out), text(&response("200 OK", "application/octet-stream", b"xyz", "\r\nConnection: close")));
        assert_eq!(next, Next::Close);
    }

    #[test]
    fn expect_100_continue_gets_100_before_the_echo() {
        let (out, _) =
            run(b"POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", 4096, 4096);
        let mut expected = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
        expected.extend(response("200 OK", "application/octet-stream", b"hi", ""));
        assert_eq!(text(&out), text(&expected));
    }

    #[test]
    fn wrong_methods_get_405_with_allow_and_their_bodies_are_skipped() {
        let input = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbodyGET /echo HTTP/1.1\r\nHost: h\r\n\r\n";
        let (out, next) = run(input, 5, 4096);
        let mut expected =
            response("405 Method Not Allowed", "text/plain", b"Method Not Allowed\n", "\r\nAllow: GET, HEAD");
        expected.extend(response("405 Method Not Allowed", "text/plain", b"Method Not Allowed\n", "\r\nAllow: POST"));
        assert_eq!(text(&out), text(&expected));
        assert_eq!(next, Next::Read);
    }

    #[test]
    fn loop_id_is_added_when_set() {
        let mut common = common();
        common.loop_id = Some(3);
        let mut output = RingBuf::with_capacity(4096);
        Session::new().handle(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", &mut output, &common);
        let (first, _) = output.as_slices();
        assert!(text(first).contains("\r\nX-Loop: 3\r\n\r\nHello"), "{}", text(first));
    }

    #[test]
    fn http_dates_are_imf_fixdates() {
        assert_eq!(&format_http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&format_http_date(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format_http_date(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format_http_date(4_110_220_799), b"Wed, 31 Mar 2100 23:59:59 GMT");
    }

    /// Random bytes, valid requests cut anywhere, tiny outputs: never a panic, never more
    /// consumed than given, and `Write` only when the output really is short of room.
    #[test]
    fn arbitrary_input_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let common = common();
        let valid: &[u8] = b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n";
        for _ in 0..5_000 {
            let mut input = valid.to_vec();
            for _ in 0..(next() % 6) {
                let at = (next() as usize) % input.len();
                input[at] = next() as u8;
            }
            let mut session = Session::new();
            let mut output = RingBuf::with_capacity(RESPONSE_ROOM << (next() % 3));
            let mut offset = 0;
            for _ in 0..1000 {
                let (used, then) = session.handle(&input[offset..], &mut output, &common);
                assert!(used <= input.len() - offset);
                offset += used;
                match then {
                    Next::Close => break,
                    Next::Write => {
                        assert!(output.capacity() - output.len() < RESPONSE_ROOM);
                        output.clear();
                    }
                    Next::Read if offset == input.len() || used == 0 => break,
                    Next::Read => {}
                }
            }
        }
    }
}
