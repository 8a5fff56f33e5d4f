//! Conversions between `Io`, owned and raw fds and readyio's IO types: every type comes
//! from and goes into an `Io` and an `OwnedFd` with the same open fd, a received fd turns
//! into a pipe end the way mio 0.5 code wrote it, and the one unsound seed conversion
//! (`From<RawFd> for Io`) is gone (its compile-fail doc test is on `Io`).

use readyio::buf::BytesMut;
use readyio::tcp::{TcpListener, TcpStream};
use readyio::udp::UdpSocket;
use readyio::unix::{pipe, PipeReader, PipeWriter, UnixListener, UnixSocket, UnixStream};
use readyio::{Io, TryRead, TryWrite};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

/// Whether two fds refer to the same open file: `fstat` gives the same device and inode.
fn same_file(a: impl AsFd, b: impl AsFd) -> bool {
    let stat = |fd: RawFd| {
        // SAFETY: a zeroed `stat` is a valid out-parameter; `fd` is open for the call.
        let mut out: libc::stat = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::fstat(fd, &mut out) }, 0);
        (out.st_dev, out.st_ino)
    };
    stat(a.as_fd().as_raw_fd()) == stat(b.as_fd().as_raw_fd())
}

/// `T -> Io -> T` and `T -> OwnedFd -> T` keep the very same fd.
fn round_trips<T: Into<Io> + From<Io> + Into<OwnedFd> + From<OwnedFd> + AsRawFd>(value: T) -> T {
    let fd = value.as_raw_fd();
    let io: Io = value.into();
    assert_eq!(io.as_raw_fd(), fd, "into Io");
    let value = T::from(io);
    assert_eq!(value.as_raw_fd(), fd, "from Io");
    let owned: OwnedFd = value.into();
    assert_eq!(owned.as_raw_fd(), fd, "into OwnedFd");
    let value = T::from(owned);
    assert_eq!(value.as_raw_fd(), fd, "from OwnedFd");
    value
}

#[test]
fn every_io_type_round_trips_through_io_and_owned_fd_with_the_same_fd() {
    let any = "127.0.0.1:0".parse().unwrap();
    let listener = round_trips(TcpListener::bind(&any).unwrap());
    let client = round_trips(TcpStream::connect(&listener.local_addr().unwrap()).unwrap());
    drop(client);
    let udp = round_trips(UdpSocket::bound(&any).unwrap());
    assert!(udp.local_addr().is_ok(), "still a working UDP socket");
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut ours = round_trips(ours);
    ours.write_all(b"still connected").unwrap();
    let mut buf = [0u8; 15];
    assert_eq!((&theirs).try_read(&mut buf).unwrap(), Some(15));
    let (reader, writer) = pipe().unwrap();
    let (mut reader, mut writer) = (round_trips(reader), round_trips(writer));
    writer.try_write(b"x").unwrap();
    assert_eq!(reader.try_read(&mut buf).unwrap(), Some(1));
    let _ = round_trips(UnixSocket::stream().unwrap());

    let path = std::env::temp_dir().join(format!("readyio-conversions-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let unix_listener = round_trips(UnixListener::bind(&path).unwrap());
    assert!(unix_listener.local_addr().is_ok());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn io_from_owned_fd_owns_it_and_gives_it_back() {
    let (reader, mut writer) = pipe().unwrap();
    let fd = reader.as_raw_fd();
    let mut io = Io::from(OwnedFd::from(reader));
    assert_eq!(io.as_raw_fd(), fd);
    writer.try_write(b"io").unwrap();
    let mut buf = [0u8; 2];
    assert_eq!(io.try_read(&mut buf).unwrap(), Some(2));
    let back = OwnedFd::from(io);
    assert_eq!(back.as_raw_fd(), fd);
}

#[test]
fn a_received_fd_becomes_a_pipe_reader_through_io_as_mio_0_5_code_wrote_it() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let (reader, mut writer) = pipe().unwrap();
    ours.try_write_buf_send_fd(&mut &b"p"[..], &reader).unwrap();
    let mut buf = BytesMut::with_capacity(8);
    let (_, fd) = theirs.try_read_buf_recv_fd(&mut buf).unwrap().expect("queued");
    let fd = fd.expect("the read end came along");
    assert!(same_file(&fd, &reader));
    drop(reader);

    // The seed's own words, unchanged: the inner `From` is now `From<OwnedFd> for Io`.
    let mut passed: PipeReader = From::<Io>::from(From::from(fd));
    writer.try_write(b"hello").unwrap();
    let mut data = [0u8; 5];
    assert_eq!(passed.try_read(&mut data).unwrap(), Some(5));
    assert_eq!(&data, b"hello");
}

#[test]
fn an_io_becomes_a_pipe_writer_or_a_unix_socket() {
    let (mut reader, writer) = pipe().unwrap();
    let mut writer = PipeWriter::from(Io::from(OwnedFd::from(writer)));
    writer.try_write(b"w").unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(reader.try_read(&mut buf).unwrap(), Some(1));

    let dir = std::env::temp_dir().join(format!("readyio-conversions-socket-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let listener = UnixListener::bind(&dir).unwrap();
    let socket = UnixSocket::from(Io::from(OwnedFd::from(UnixSocket::stream().unwrap())));
    let (_stream, _complete) = socket.connect(&dir).expect("an Io made into a UnixSocket connects");
    assert!(listener.accept().unwrap().is_some());
    std::fs::remove_file(&dir).unwrap();
}

#[test]
fn from_raw_fd_is_the_unsafe_way_to_take_a_raw_fd() {
    let (reader, mut writer) = pipe().unwrap();
    let raw = reader.into_raw_fd();
    // SAFETY: `into_raw_fd` gave up ownership of `raw`; nothing else closes it.
    let mut io = unsafe { Io::from_raw_fd(raw) };
    writer.try_write(b"r").unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(io.try_read(&mut buf).unwrap(), Some(1));
}
