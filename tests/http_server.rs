//! The HTTP example server (`examples/http_server.rs`, included here by path, with its
//! parser's and session's unit tests) driven by real clients: `curl` (keep-alive, several
//! URLs on one connection, POST bodies, HTTP/1.0) and raw sockets (pipelining, malformed,
//! oversized and unsupported requests, idle timeouts, garbage), on 127.0.0.1.
//!
//! `curl` is a system tool: without it the curl tests print SKIPPED and pass, unless
//! `READYIO_REQUIRE_TOOLS=1` (set by `.ci/run`) makes its absence a failure.

#[allow(dead_code)]
#[path = "../examples/http_server.rs"]
mod http_server;

use http_server::{Config, Server};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn start(threads: usize, idle_timeout: Duration) -> Server {
    let config = Config { addr: "127.0.0.1:0".parse().unwrap(), threads, idle_timeout, max_connections: 256 };
    http_server::start(&config).expect("start the server")
}

/// Stops the server and checks that no loop failed or panicked.
fn stop(server: Server) {
    server.stop().expect("every loop ends cleanly");
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.local_addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Whether `tool` can be run; if not, says so, and fails under `READYIO_REQUIRE_TOOLS=1`.
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        assert!(
            std::env::var_os("READYIO_REQUIRE_TOOLS").is_none(),
            "{tool} is not installed (bash ci/install-deps.sh installs it)"
        );
        eprintln!("SKIPPED: {tool} is not installed (bash ci/install-deps.sh installs it)");
    }
    found
}

/// Runs curl with `args`; returns its stdout, failing the test if curl fails.
fn curl(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run curl");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || pipe.write_all(&input));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// A response as the tests see it.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads one response (framed by Content-Length; `head_only` for answers to HEAD).
fn read_response(reader: &mut impl BufRead, head_only: bool) -> io::Result<Response> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before a response"));
    }
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let field = line.trim_end_matches("\r\n");
        if field.is_empty() {
            break;
        }
        let (name, value) = field.split_once(": ").expect("name: value");
        headers.push((name.to_string(), value.to_string()));
    }
    let mut response = Response { status, headers, body: Vec::new() };
    let length: usize = response.header("Content-Length").expect("Content-Length").parse().unwrap();
    if !head_only {
        response.body = vec![0; length];
        reader.read_exact(&mut response.body)?;
    }
    Ok(response)
}

/// Reads until the server closes the connection; returns what came. A reset (instead of
/// a close) is an error: it can destroy a response before the client reads it.
fn read_to_close(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all)?;
    Ok(all)
}

fn echo_request(body: &str) -> String {
    format!("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

#[test]
fn curl_fetches_several_urls_over_one_kept_alive_connection() {
    if !have("curl") {
        return;
    }
    let server = start(1, Duration::from_secs(10));
    let base = format!("http://{}", server.local_addr());
    let out = curl(
        &[
            "--write-out",
            "\n%{http_code} %{num_connects}\n",
            &format!("{base}/"),
            &format!("{base}/"),
            &format!("{base}/missing"),
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "Hello, world!\n200 1\nHello, world!\n200 0\nNot Found\n\n404 0\n",
        "three answers, and only the first needed a new connection"
    );
    stop(server);
}

#[test]
fn curl_posts_bodies_to_echo_including_with_expect_100_continue() {
    if !have("curl") {
        return;
    }
    let server = start(1, Duration::from_secs(10));
    let url = format!("http://{}/echo", server.local_addr());
    let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let out = curl(&["--data-binary", "@-", "-H", "Content-Type: application/octet-stream", &url], Some(&body));
    assert!(out == body, "echoed {} bytes, sent {}", out.len(), body.len());
    let out = curl(&["--data-binary", "@-", "-H", "Expect: 100-continue", &url], Some(&body[..5000]));
    assert!(out == body[..5000], "echo after 100 Continue");
    stop(server);
}

#[test]
fn curl_http10_requests_each_get_their_own_connection() {
    if !have("curl") {
        return;
    }
    let server = start(1, Duration::from_secs(10));
    let url = format!("http://{}/", server.local_addr());
    let out = curl(&["--http1.0", "--write-out", "\n%{num_connects}\n", &url, &url], None);
    assert_eq!(String::from_utf8_lossy(&out), "Hello, world!\n1\nHello, world!\n1\n");
    stop(server);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start(1, Duration::from_secs(10));
    let mut stream = connect(&server);
    // 300 requests in one go, more than the server's output buffer holds in responses,
    // written before a single response is read.
    let mut requests = String::new();
    for i in 0..300 {
        match i % 3 {
            0 => requests.push_str(&echo_request(&format!("request {i}"))),
            1 => requests.push_str("GET / HTTP/1.1\r\nHost: test\r\n\r\n"),
            _ => requests.push_str(&format!("GET /missing/{i} HTTP/1.1\r\nHost: test\r\n\r\n")),
        }
    }
    stream.write_all(requests.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for i in 0..300 {
        let response = read_response(&mut reader, false).unwrap();
        let (status, body) = match i % 3 {
            0 => (200, format!("request {i}")),
            1 => (200, "Hello, world!".to_string()),
            _ => (404, "Not Found\n".to_string()),
        };
        assert_eq!(
            (response.status, String::from_utf8_lossy(&response.body).into_owned()),
            (status, body),
            "response {i}"
        );
    }
    stop(server);
}

#[test]
fn pipelined_requests_split_across_writes_are_answered_in_order() {
    let server = start(1, Duration::from_secs(10));
    let mut stream = connect(&server);
    stream.set_nodelay(true).unwrap();
    let requests = format!("{}HEAD / HTTP/1.1\r\nHost: t\r\n\r\n{}", echo_request("first"), echo_request("second"));
    for piece in requests.as_bytes().chunks(5) {
        stream.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert_eq!(read_response(&mut reader, false).unwrap().body, b"first");
    let head = read_response(&mut reader, true).unwrap();
    assert_eq!((head.status, head.header("Content-Length")), (200, Some("13")));
    assert_eq!(read_response(&mut reader, false).unwrap().body, b"second");
    stop(server);
}

#[test]
fn malformed_request_gets_400_and_the_connection_closes() {
    let server = start(1, Duration::from_secs(10));
    for malformed in [
        &b"GET / HTTP/1.1\r\nHost : test\r\n\r\n"[..],
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: nine\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
    ] {
        let mut stream = connect(&server);
        stream.write_all(malformed).unwrap();
        // A well-formed request after the bad one must not be answered.
        stream.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        let all = read_to_close(&mut stream).unwrap();
        let mut reader = &all[..];
        let response = read_response(&mut reader, false).unwrap();
        assert_eq!(response.status, 400, "{:?}", String::from_utf8_lossy(malformed));
        assert_eq!(response.header("Connection"), Some("close"));
        assert!(reader.is_empty(), "nothing after the 400: {:?}", String::from_utf8_lossy(reader));
    }
    stop(server);
}

#[test]
fn oversized_headers_get_431_even_while_the_client_keeps_sending() {
    let server = start(1, Duration::from_secs(10));
    let mut stream = connect(&server);
    let mut head = b"GET / HTTP/1.1\r\nHost: test\r\n".to_vec();
    for i in 0..2000 {
        head.extend_from_slice(format!("X-Filler-{i}: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    // ~90 KiB: far more than the server reads before refusing. It keeps reading and
    // discarding while it closes, so the client's writes complete and the 431 arrives
    // intact instead of being destroyed by a reset.
    stream.write_all(&head).unwrap();
    let all = read_to_close(&mut stream).unwrap();
    let response = read_response(&mut &all[..], false).unwrap();
    assert_eq!((response.status, response.header("Connection")), (431, Some("close")));
    stop(server);
}

#[test]
fn body_over_the_limit_gets_413_and_close() {
    let server = start(1, Duration::from_secs(10));
    let mut stream = connect(&server);
    stream.write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1048577\r\n\r\nabc").unwrap();
    let all = read_to_close(&mut stream).unwrap();
    let response = read_response(&mut &all[..], false).unwrap();
    assert_eq!((response.status, response.header("Connection")), (413, Some("close")));
    stop(server);
}

#[test]
fn transfer_encoding_gets_501_and_close() {
    let server = start(1, Duration::from_secs(10));
    let mut stream = connect(&server);
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        .unwrap();
    let all = read_to_close(&mut stream).unwrap();
    let response = read_response(&mut &all[..], false).unwrap();
    assert_eq!((response.status, response.header("Connection")), (501, Some("close")));
    stop(server);
}

#[test]
fn http10_closes_after_one_response_unless_keep_alive() {
    let server = start(1, Duration::from_secs(10));
    let mut stream = connect(&server);
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let all = read_to_close(&mut stream).unwrap();
    let response = read_response(&mut &all[..], false).unwrap();
    assert_eq!((response.status, response.header("Connection")), (200, Some("close")));

    let mut stream = connect(&server);
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for _ in 0..3 {
        stream.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        let response = read_response(&mut reader, false).unwrap();
        assert_eq!((response.status, response.header("Connection")), (200, Some("keep-alive")));
    }
    stop(server);
}

#[test]
fn a_client_that_half_closes_gets_its_answers_then_the_close() {
    let server = start(1, Duration::from_secs(10));
    let mut stream = connect(&server);
    stream.write_all(format!("{}{}", echo_request("one"), echo_request("two")).as_bytes()).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let all = read_to_close(&mut stream).unwrap();
    let mut reader = &all[..];
    assert_eq!(read_response(&mut reader, false).unwrap().body, b"one");
    assert_eq!(read_response(&mut reader, false).unwrap().body, b"two");
    assert!(reader.is_empty());
    stop(server);
}

#[test]
fn idle_connections_are_closed_after_the_timeout_and_busy_ones_are_not() {
    let idle = Duration::from_millis(300);
    let server = start(1, idle);
    // Silent from the start. (Each lower bound is taken before the server could have seen
    // the activity it counts from.)
    let opened = Instant::now();
    let mut silent = connect(&server);
    // Used once, then silent.
    let mut used = connect(&server);
    let used_at = Instant::now();
    used.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut reader = BufReader::new(used.try_clone().unwrap());
    assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
    assert!(read_to_close(&mut silent).unwrap().is_empty());
    assert!(opened.elapsed() >= idle, "closed after {:?}, before the idle timeout", opened.elapsed());
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty() && used_at.elapsed() >= idle);

    // A connection that keeps talking more often than the timeout stays open throughout.
    let mut busy = connect(&server);
    let mut reader = BufReader::new(busy.try_clone().unwrap());
    let started = Instant::now();
    while started.elapsed() < idle * 3 {
        busy.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
        std::thread::sleep(idle / 6);
    }
    stop(server);
}

#[cfg(target_os = "linux")]
#[test]
fn threads_share_the_port_and_each_loop_answers_connections() {
    let server = start(2, Duration::from_secs(10));
    let mut seen = [0usize; 2];
    // Linux hashes each connection to one of the two listeners: all 64 landing on one
    // loop has probability 2^-63.
    for _ in 0..64 {
        let mut stream = connect(&server);
        stream.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let response = read_response(&mut BufReader::new(stream), false).unwrap();
        let id: usize = response.header("X-Loop").expect("X-Loop header").parse().unwrap();
        seen[id] += 1;
    }
    assert!(seen.iter().all(|&n| n > 0), "connections per loop: {seen:?}");
    stop(server);
}

#[test]
fn garbage_never_takes_the_server_down() {
    // Longer than the clients' read timeout: a connection the server forgets shows up as
    // a timed-out read, not as an idle close.
    let server = start(1, Duration::from_secs(60));
    let mut state = 0x853c_49e6_748f_ea9b_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbodyGET / HTTP/1.1\r\nHost: t\r\n\r\n";
    for round in 0..200 {
        let mut stream = connect(&server);
        let mut input = valid.to_vec();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % input.len();
            input[at] = next() as u8;
        }
        if round % 4 == 0 {
            input = (0..(next() % 3000)).map(|_| next() as u8).collect();
        }
        // Whatever the server makes of it, once the client has said everything the server
        // answers what it can and closes: no hang, no crash.
        stream.write_all(&input).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        read_to_close(&mut stream)
            .unwrap_or_else(|e| panic!("round {round}: {e} after {:?}", String::from_utf8_lossy(&input)));
    }
    let mut stream = connect(&server);
    stream.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut BufReader::new(stream), false).unwrap().body, b"Hello, world!");
    stop(server);
}
