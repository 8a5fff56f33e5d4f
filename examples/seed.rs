//! The example from the front page of the library readyio rebuilds (mio 0.5), with only the
//! crate name changed: a server socket and a client socket on one event loop; the server
//! accepts and drops the connection, the client sees the EOF and shuts the loop down.
//!
//! Run with `cargo run --example seed`. It uses the fixed port 13265, as the original does.

use readyio::tcp::{TcpListener, TcpStream};
use readyio::*;

fn main() {
    // Setup some tokens to allow us to identify which event is
    // for which socket.
    const SERVER: Token = Token(0);
    const CLIENT: Token = Token(1);

    let addr = "127.0.0.1:13265".parse().unwrap();

    // Setup the server socket
    let server = TcpListener::bind(&addr).unwrap();

    // Create an event loop
    let mut event_loop = EventLoop::new().unwrap();

    // Start listening for incoming connections
    event_loop.register(&server, SERVER, EventSet::readable(), PollOpt::edge()).unwrap();

    // Setup the client socket
    let sock = TcpStream::connect(&addr).unwrap();

    // Register the socket
    event_loop.register(&sock, CLIENT, EventSet::readable(), PollOpt::edge()).unwrap();

    // Define a handler to process the events
    struct MyHandler(TcpListener);

    impl Handler for MyHandler {
        type Timeout = ();
        type Message = ();

        fn ready(&mut self, event_loop: &mut EventLoop<MyHandler>, token: Token, _: EventSet) {
            match token {
                SERVER => {
                    let MyHandler(ref mut server) = *self;
                    // Accept and drop the socket immediately, this will close
                    // the socket and notify the client of the EOF.
                    let _ = server.accept();
                }
                CLIENT => {
                    // The server just shuts down the socket, let's just
                    // shutdown the event loop
                    event_loop.shutdown();
                }
                _ => panic!("unexpected token"),
            }
        }
    }

    // Start handling events
    event_loop.run(&mut MyHandler(server)).unwrap();
}
