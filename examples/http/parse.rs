//! Parsing an HTTP/1.1 request head (RFC 9112), strictly, without allocating.
//!
//! Shared, by `#[path]`, by the example server (`examples/http_server.rs`) and the contender
//! servers of the HTTP benchmark (`compare/src/bin/http_mio.rs`, `http_tokio.rs`), so that
//! every server parses the same way and the benchmark compares only the IO underneath.
//!
//! [`parse_head`] reads the request line and the header fields from the front of a buffer
//! and keeps only what a server needs to frame and answer the request: method, target,
//! version, `Content-Length`, whether the connection stays open, whether the client waits
//! for `100 Continue`, and the head's length. It borrows from the buffer and never copies.
//!
//! What it refuses, and with which status (see [`Error::status`]):
//!
//! * anything outside the grammar: 400. That includes whitespace between a field name and
//!   its colon, obsolete line folding, control characters in a field value, a bare CR, a
//!   `Content-Length` that is not digits or disagrees with another one, an HTTP/1.1
//!   request without exactly one `Host`, and `Transfer-Encoding` together with
//!   `Content-Length` (the shape request smuggling uses);
//! * `Transfer-Encoding` alone: 501 Not Implemented. These servers frame bodies by
//!   `Content-Length` only; RFC 9112 §6.1 asks a server that does not understand a
//!   transfer coding to answer 501;
//! * a head longer than [`MAX_HEAD`] bytes: 431, or 414 if the request line alone is;
//! * an HTTP major version other than 1: 505;
//! * an `Expect` other than `100-continue` (in HTTP/1.1): 417.
//!
//! Lines may end in CRLF or in a bare LF (RFC 9112 §2.2 allows accepting the latter), and
//! empty lines before the request line are skipped.

/// The longest request head accepted, counting its final empty line.
pub const MAX_HEAD: usize = 8 * 1024;

/// The protocol version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after each exchange unless the client asks for
    /// `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1 (and any later 1.x, answered as 1.1): persistent unless `Connection: close`.
    Http11,
}

/// What a server needs from a parsed request head. Slices borrow from the parsed buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// The method, case-sensitive as the RFC says (`GET`, `POST`, ...).
    pub method: &'a [u8],
    /// The request target as sent: origin form (`/path?query`), absolute form or `*`.
    pub target: &'a [u8],
    /// The protocol version.
    pub version: Version,
    /// The body's length from `Content-Length`; 0 without one.
    pub content_length: u64,
    /// Whether the connection stays open after this exchange.
    pub keep_alive: bool,
    /// Whether the client waits for `100 Continue` before sending the body.
    pub expect_continue: bool,
    /// Bytes taken by the head, from the start of the buffer to the end of its empty line.
    pub len: usize,
}

impl<'a> RequestHead<'a> {
    /// The path of the target, without query: `/a` for `/a?b=c` and for
    /// `http://host/a?b=c`; `/` for `http://host`; the target itself for `*`.
    pub fn path(&self) -> &'a [u8] {
        let mut target = self.target;
        if !target.starts_with(b"/") {
            if let Some(scheme_end) = find(target, b"://") {
                let authority_and_path = &target[scheme_end + 3..];
                target = match authority_and_path.iter().position(|&b| b == b'/') {
                    Some(slash) => &authority_and_path[slash..],
                    None => b"/",
                };
            }
        }
        match target.iter().position(|&b| b == b'?') {
            Some(query) => &target[..query],
            None => target,
        }
    }
}

/// The outcome of a parse that found no error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole head was found at the front of the buffer.
    Complete(RequestHead<'a>),
    /// The buffer holds the beginning of a head; read more and parse again.
    Partial,
}

/// Why a request head was refused. The connection cannot be trusted after any of these:
/// answer with [`status`](Error::status) and close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// 400 Bad Request, with what was wrong.
    Malformed(&'static str),
    /// 414 URI Too Long: the request line alone is longer than [`MAX_HEAD`].
    UriTooLong,
    /// 431 Request Header Fields Too Large: the head is longer than [`MAX_HEAD`].
    HeadTooLarge,
    /// 501 Not Implemented: a `Transfer-Encoding` (these servers read `Content-Length` bodies only).
    TransferEncodingNotImplemented,
    /// 505 HTTP Version Not Supported: a major version other than 1.
    VersionNotSupported,
    /// 417 Expectation Failed: an `Expect` other than `100-continue`.
    ExpectationFailed,
}

impl Error {
    /// The status code and reason phrase that answers this error.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            Error::Malformed(_) => (400, "Bad Request"),
            Error::UriTooLong => (414, "URI Too Long"),
            Error::HeadTooLarge => (431, "Request Header Fields Too Large"),
            Error::TransferEncodingNotImplemented => (501, "Not Implemented"),
            Error::VersionNotSupported => (505, "HTTP Version Not Supported"),
            Error::ExpectationFailed => (417, "Expectation Failed"),
        }
    }

    /// A one-line explanation for the response body.
    pub fn detail(self) -> &'static str {
        match self {
            Error::Malformed(why) => why,
            Error::UriTooLong => "the request line is too long",
            Error::HeadTooLarge => "the request head is too large",
            Error::TransferEncodingNotImplemented => "Transfer-Encoding is not supported; send Content-Length",
            Error::VersionNotSupported => "only HTTP/1.x is supported",
            Error::ExpectationFailed => "only Expect: 100-continue is supported",
        }
    }
}

/// Parses the request head at the front of `input`.
///
/// `Ok(Partial)` means the head is not complete yet (and is, so far, well formed and
/// shorter than [`MAX_HEAD`]); errors are reported as soon as the bytes that show them
/// have arrived, so a malformed request line is refused before its headers come in.
/// Scans at most `MAX_HEAD` bytes, whatever the length of `input`.
pub fn parse_head(input: &[u8]) -> Result<Parsed<'_>, Error> {
    let scanned = &input[..input.len().min(MAX_HEAD)];
    let mut lines = Lines { buf: scanned, pos: 0 };
    let too_large = |request_line_done: bool| {
        if request_line_done {
            Error::HeadTooLarge
        } else {
            Error::UriTooLong
        }
    };
    let incomplete = |request_line_done: bool| {
        if input.len() >= MAX_HEAD {
            Err(too_large(request_line_done))
        } else {
            Ok(Parsed::Partial)
        }
    };

    // Empty lines before the request line are ignored (RFC 9112 §2.2).
    let request_line = loop {
        match lines.next()? {
            Some(b"") => continue,
            Some(line) => break line,
            None => return incomplete(false),
        }
    };
    let (method, target, version) = parse_request_line(request_line)?;

    let mut fields = Fields::default();
    loop {
        match lines.next()? {
            Some(b"") => break,
            Some(line) => fields.add(line)?,
            None => return incomplete(true),
        }
    }
    let len = lines.pos;
    fields.finish(version)?;
    Ok(Parsed::Complete(RequestHead {
        method,
        target,
        version,
        content_length: fields.content_length.unwrap_or(0),
        keep_alive: match version {
            Version::Http11 => !fields.connection_close,
            Version::Http10 => fields.connection_keep_alive && !fields.connection_close,
        },
        expect_continue: fields.expect_continue && version == Version::Http11,
        len,
    }))
}

/// The lines of a buffer, each without its LF or CRLF; `None` at a line not yet complete.
struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Result<Option<&'a [u8]>, Error> {
        let rest = &self.buf[self.pos..];
        let Some(newline) = rest.iter().position(|&b| b == b'\n') else { return Ok(None) };
        let line = &rest[..newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.contains(&b'\r') {
            return Err(Error::Malformed("a bare CR inside a line"));
        }
        self.pos += newline + 1;
        Ok(Some(line))
    }
}

/// `method SP request-target SP HTTP-version`, with single spaces.
fn parse_request_line(line: &[u8]) -> Result<(&[u8], &[u8], Version), Error> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::Malformed("the request line is not: method SP target SP version"));
    };
    if !is_token(method) {
        return Err(Error::Malformed("the method is not a token"));
    }
    if target.is_empty() || !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(Error::Malformed("the request target is empty or has a character a URI cannot"));
    }
    let version = match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            match (major, minor) {
                (b'1', b'0') => Version::Http10,
                (b'1', _) => Version::Http11,
                _ => return Err(Error::VersionNotSupported),
            }
        }
        _ => return Err(Error::Malformed("the version is not HTTP/digit.digit")),
    };
    Ok((method, target, version))
}

/// What the header fields said, as far as framing and answering are concerned.
#[derive(Default)]
struct Fields {
    content_length: Option<u64>,
    transfer_encoding: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
    other_expectation: bool,
    hosts: usize,
}

impl Fields {
    /// One `field-name ":" OWS field-value OWS` line.
    fn add(&mut self, line: &[u8]) -> Result<(), Error> {
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(Error::Malformed("obsolete line folding"));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(Error::Malformed("a header line without a colon"));
        };
        let name = &line[..colon];
        if !is_token(name) {
            return Err(Error::Malformed("a header name that is not a token (whitespace before the colon?)"));
        }
        let value = trim_whitespace(&line[colon + 1..]);
        if !value.iter().all(|&b| b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80) {
            return Err(Error::Malformed("a control character in a header value"));
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = parse_content_length(value)?;
            if self.content_length.is_some_and(|earlier| earlier != length) {
                return Err(Error::Malformed("two different Content-Length values"));
            }
            self.content_length = Some(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding = true;
        } else if name.eq_ignore_ascii_case(b"host") {
            self.hosts += 1;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(trim_whitespace) {
                self.connection_close |= option.eq_ignore_ascii_case(b"close");
                self.connection_keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            if value.eq_ignore_ascii_case(b"100-continue") {
                self.expect_continue = true;
            } else {
                self.other_expectation = true;
            }
        }
        Ok(())
    }

    /// The checks that need the whole head.
    fn finish(&self, version: Version) -> Result<(), Error> {
        if self.transfer_encoding {
            return Err(if self.content_length.is_some() {
                Error::Malformed("both Transfer-Encoding and Content-Length")
            } else {
                Error::TransferEncodingNotImplemented
            });
        }
        if self.hosts > 1 || (version == Version::Http11 && self.hosts == 0) {
            return Err(Error::Malformed("an HTTP/1.1 request needs exactly one Host header"));
        }
        if self.other_expectation && version == Version::Http11 {
            return Err(Error::ExpectationFailed);
        }
        Ok(())
    }
}

/// `1*DIGIT`; a value too large for `u64` saturates (and is then refused as too large).
fn parse_content_length(value: &[u8]) -> Result<u64, Error> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(Error::Malformed("Content-Length is not a number"));
    }
    Ok(value.iter().fold(0u64, |n, &digit| n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))))
}

/// RFC 9110 `token`: one or more `tchar`.
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| TCHAR[usize::from(b)])
}

/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        b += 1;
    }
    table
};

fn trim_whitespace(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(input: &[u8]) -> RequestHead<'_> {
        match parse_head(input) {
            Ok(Parsed::Complete(head)) => head,
            other => panic!("{:?}: expected a complete head, got {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn refused(input: &[u8]) -> Error {
        match parse_head(input) {
            Err(e) => e,
            other => panic!("{:?}: expected an error, got {other:?}", String::from_utf8_lossy(input)),
        }
    }

    #[test]
    fn a_minimal_get_is_complete_and_persistent() {
        let input = b"GET /hello?x=1 HTTP/1.1\r\nHost: example\r\n\r\nNEXT";
        let head = complete(input);
        assert_eq!((head.method, head.target, head.path()), (&b"GET"[..], &b"/hello?x=1"[..], &b"/hello"[..]));
        assert_eq!(head.version, Version::Http11);
        assert_eq!((head.content_length, head.keep_alive, head.expect_continue), (0, true, false));
        assert_eq!(&input[head.len..], b"NEXT");
    }

    #[test]
    fn every_prefix_of_a_valid_head_is_partial() {
        let input = b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
        for end in 0..input.len() {
            assert_eq!(parse_head(&input[..end]), Ok(Parsed::Partial), "prefix of {end} bytes");
        }
        assert_eq!(complete(input).content_length, 5);
    }

    #[test]
    fn bare_lf_line_endings_and_leading_empty_lines_are_accepted() {
        let head = complete(b"\r\n\nGET / HTTP/1.1\nHost: h\n\n");
        assert_eq!((head.path(), head.len), (&b"/"[..], 27));
    }

    #[test]
    fn http10_closes_unless_keep_alive_is_asked_for() {
        assert!(!complete(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(complete(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!complete(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
    }

    #[test]
    fn connection_close_ends_an_http11_connection() {
        assert!(!complete(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, CLOSE\r\n\r\n").keep_alive);
    }

    #[test]
    fn later_http1_minor_versions_are_treated_as_1_1() {
        assert_eq!(complete(b"GET / HTTP/1.7\r\nHost: h\r\n\r\n").version, Version::Http11);
    }

    #[test]
    fn other_major_versions_are_505() {
        assert_eq!(refused(b"GET / HTTP/2.0\r\n"), Error::VersionNotSupported);
        assert_eq!(refused(b"GET / HTTP/0.9\r\n"), Error::VersionNotSupported);
    }

    #[test]
    fn absolute_form_targets_route_by_their_path() {
        assert_eq!(complete(b"GET http://h:80/echo?q HTTP/1.1\r\nHost: h\r\n\r\n").path(), b"/echo");
        assert_eq!(complete(b"GET http://h HTTP/1.1\r\nHost: h\r\n\r\n").path(), b"/");
        assert_eq!(complete(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").path(), b"*");
    }

    #[test]
    fn malformed_request_lines_are_400_as_soon_as_the_line_ends() {
        for line in [
            &b"GET /\r\n"[..],
            b"GET  / HTTP/1.1\r\n",
            b"GET / HTTP/1.1 \r\n",
            b"G(T / HTTP/1.1\r\n",
            b"GET /a\x7fb HTTP/1.1\r\n",
            b"GET / HTTP/1.x\r\n",
            b"GET / http/1.1\r\n",
            b"GET / HTTP/1.1\rX\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n",
        ] {
            assert!(matches!(refused(line), Error::Malformed(_)), "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn malformed_header_lines_are_400() {
        for field in [
            &b"Host : h"[..],
            b"Host",
            b": empty-name",
            b" folded",
            b"X: a\x00b",
            b"X: a\x01",
            b"Content-Length: 5x",
            b"Content-Length: -1",
            b"Content-Length: ",
            b"Content-Length: 1, 1",
        ] {
            let mut input = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
            input.extend_from_slice(field);
            input.extend_from_slice(b"\r\n");
            assert!(matches!(refused(&input), Error::Malformed(_)), "{:?}", String::from_utf8_lossy(field));
        }
    }

    #[test]
    fn content_length_duplicates_must_agree() {
        let same = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n";
        assert_eq!(complete(same).content_length, 3);
        let different = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
        assert!(matches!(refused(different), Error::Malformed(_)));
    }

    #[test]
    fn a_huge_content_length_saturates_rather_than_wrapping() {
        let head = complete(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n");
        assert_eq!(head.content_length, u64::MAX);
    }

    #[test]
    fn transfer_encoding_is_501_alone_and_400_beside_content_length() {
        let chunked = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(refused(chunked), Error::TransferEncodingNotImplemented);
        assert_eq!(Error::TransferEncodingNotImplemented.status().0, 501);
        let both = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
        assert!(matches!(refused(both), Error::Malformed(_)));
    }

    #[test]
    fn http11_needs_exactly_one_host() {
        assert!(matches!(refused(b"GET / HTTP/1.1\r\n\r\n"), Error::Malformed(_)));
        assert!(matches!(refused(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), Error::Malformed(_)));
        assert_eq!(complete(b"GET / HTTP/1.0\r\n\r\n").version, Version::Http10);
    }

    #[test]
    fn expect_100_continue_is_reported_and_other_expectations_are_417() {
        assert!(complete(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n").expect_continue);
        assert!(!complete(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
        assert_eq!(refused(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: teapot\r\n\r\n"), Error::ExpectationFailed);
    }

    #[test]
    fn a_head_longer_than_the_limit_is_431_whether_or_not_it_is_complete() {
        let mut head = b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: ".to_vec();
        head.resize(MAX_HEAD - 4, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(complete(&head).len, MAX_HEAD, "exactly at the limit is accepted");

        let mut over = head.clone();
        over.insert(20, b'a');
        assert_eq!(refused(&over), Error::HeadTooLarge, "complete but one byte over");
        assert_eq!(refused(&over[..MAX_HEAD]), Error::HeadTooLarge, "incomplete at the limit");
        assert_eq!(parse_head(&over[..MAX_HEAD - 1]), Ok(Parsed::Partial));
    }

    #[test]
    fn a_request_line_longer_than_the_limit_is_414() {
        let mut line = b"GET /".to_vec();
        line.resize(MAX_HEAD, b'a');
        assert_eq!(refused(&line), Error::UriTooLong);
    }

    #[test]
    fn status_codes_match_the_errors() {
        assert_eq!(Error::Malformed("x").status(), (400, "Bad Request"));
        assert_eq!(Error::HeadTooLarge.status().0, 431);
        assert_eq!(Error::UriTooLong.status().0, 414);
        assert_eq!(Error::VersionNotSupported.status().0, 505);
        assert_eq!(Error::ExpectationFailed.status().0, 417);
    }

    /// Random bytes and random corruptions of valid heads: never a panic, and a complete
    /// head never claims more bytes than it was given.
    #[test]
    fn arbitrary_input_never_panics() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = b"POST /echo?a=b HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n";
        let alphabet = b"GET /HTP1.0\r\n: \t,-0123456789abcdeHostContent-LengthTransfer\x00\x7f\xff";
        for round in 0..20_000 {
            let mut input = if round % 2 == 0 { valid.to_vec() } else { Vec::new() };
            let edits = next() % 8;
            for _ in 0..edits.max(1) {
                let byte = alphabet[(next() % alphabet.len() as u64) as usize];
                let at = (next() as usize) % (input.len() + 1);
                match next() % 3 {
                    0 if at < input.len() => input[at] = byte,
                    1 if at < input.len() => {
                        input.remove(at);
                    }
                    _ => input.insert(at, byte),
                }
            }
            if let Ok(Parsed::Complete(head)) = parse_head(&input) {
                assert!(head.len <= input.len() && head.len <= MAX_HEAD);
                let _ = head.path();
            }
        }
    }
}
