//! Servers the tests own, standing in for a database that hangs or is
//! gone: never the shared servers themselves.

use tokio::net::TcpListener;

/// A listener that accepts connections and never answers (a hung server),
/// and an address where nothing listens (a server that is down).
pub struct Dead {
    stalling: u16,
    refusing: u16,
}

impl Dead {
    pub async fn start() -> Self {
        let stalling = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stalling_port = stalling.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = stalling.accept().await {
                // Keep the connection open and silent.
                held.push(socket);
            }
        });
        // Bind, note the port, and close: connecting there is refused.
        let refusing = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refusing_port = refusing.local_addr().unwrap().port();
        drop(refusing);
        Self {
            stalling: stalling_port,
            refusing: refusing_port,
        }
    }

    /// `scheme://127.0.0.1:<stalling port>/`.
    pub fn stalling_url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/", self.stalling)
    }

    /// `scheme://127.0.0.1:<refusing port>/`.
    pub fn refusing_url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/", self.refusing)
    }

    /// The stalling port, for URLs of other shapes.
    pub fn stalling_port(&self) -> u16 {
        self.stalling
    }

    /// The refusing port.
    pub fn refusing_port(&self) -> u16 {
        self.refusing
    }
}

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const FORWARD: u8 = 0;
const STALL: u8 = 1;
const CUT: u8 = 2;

/// A TCP proxy in front of a shared server, which the test switches
/// between forwarding, stalling (bytes are held, nothing answers) and
/// cutting (every connection is closed, new ones are dropped).
pub struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
    connections: Arc<std::sync::Mutex<JoinSet<()>>>,
}

impl Proxy {
    /// A proxy to `target` (`host:port`), forwarding.
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let connections = Arc::new(std::sync::Mutex::new(JoinSet::new()));
        let (accept_mode, accept_connections) = (mode.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if accept_mode.load(Ordering::SeqCst) == CUT {
                    continue; // dropped: closed at once
                }
                let Ok(outbound) = TcpStream::connect(&target).await else {
                    continue;
                };
                let mode = accept_mode.clone();
                accept_connections
                    .lock()
                    .unwrap()
                    .spawn(pump_both(inbound, outbound, mode));
            }
        });
        Self {
            port,
            mode,
            connections,
        }
    }

    /// The port to connect to instead of the server's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Forward again.
    pub fn forward(&self) {
        self.mode.store(FORWARD, Ordering::SeqCst);
    }

    /// Hold every byte: requests get no answer.
    pub fn stall(&self) {
        self.mode.store(STALL, Ordering::SeqCst);
    }

    /// Close every connection and refuse new ones.
    pub fn cut(&self) {
        self.mode.store(CUT, Ordering::SeqCst);
        self.connections.lock().unwrap().abort_all();
    }
}

async fn pump_both(inbound: TcpStream, outbound: TcpStream, mode: Arc<AtomicU8>) {
    let (client_read, client_write) = inbound.into_split();
    let (server_read, server_write) = outbound.into_split();
    tokio::select! {
        () = pump(client_read, server_write, mode.clone()) => {}
        () = pump(server_read, client_write, mode) => {}
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: Arc<AtomicU8>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let Ok(read) = from.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            return;
        }
        loop {
            match mode.load(Ordering::SeqCst) {
                FORWARD => break,
                STALL => tokio::time::sleep(Duration::from_millis(10)).await,
                _ => return,
            }
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
