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
