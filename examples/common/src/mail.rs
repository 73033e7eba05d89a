//! The development mailer: one file per message in an outbox folder, or
//! standard output.
//!
//! Messages are handed to a background task, so a request never waits for
//! delivery: a password-reset request answers as fast for an address that
//! gets mail as for one that does not. Replace [`Mailer`] with your mail
//! provider's client when you copy the starter.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use crate::error::Error;

/// An outgoing message.
#[derive(Clone)]
pub struct Message {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

impl Message {
    /// The message as written to the outbox: `To:`, `Subject:`, a blank
    /// line, the body. Control characters in the headers are replaced, so
    /// an address cannot add header lines.
    pub fn render(&self) -> String {
        format!(
            "To: {}\nSubject: {}\n\n{}",
            header_safe(&self.to),
            header_safe(&self.subject),
            self.body
        )
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bodies hold tokens.
        f.debug_struct("Message")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

fn header_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

enum Command {
    Send(Message),
    Flush(oneshot::Sender<()>),
}

/// Hands messages to a delivery task. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Mailer {
    queue: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Send(message) => f.debug_tuple("Send").field(message).finish(),
            Self::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl Mailer {
    /// Writes each message to its own file in `dir` (created if missing).
    /// Needs a Tokio runtime.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder cannot be created.
    pub fn outbox(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(Error::io(format!(
            "cannot create TESSERA_OUTBOX {}",
            dir.display()
        )))?;
        Ok(Self::spawn(move |message| {
            let dir = dir.clone();
            async move {
                if let Err(error) = write_file(&dir, &message).await {
                    tracing::error!(error = %error, outbox = %dir.display(), "could not write a message to the outbox");
                }
            }
        }))
    }

    /// Prints each message to standard output under a warning. Needs a
    /// Tokio runtime.
    pub fn stdout() -> Self {
        Self::spawn(|message| async move {
            tracing::warn!(
                "development mailer: TESSERA_OUTBOX is not set, so this message goes to standard \
                 output instead of a mail server"
            );
            let mut out = std::io::stdout().lock();
            let written = writeln!(out, "{}", message.render()).and_then(|()| out.flush());
            if let Err(error) = written {
                tracing::error!(error = %error, "could not print a message");
            }
        })
    }

    fn spawn<F, Fut>(deliver: F) -> Self
    where
        F: Fn(Message) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (queue, mut commands) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(command) = commands.recv().await {
                match command {
                    Command::Send(message) => deliver(message).await,
                    Command::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Self { queue }
    }

    /// Queues `message` for delivery; returns at once.
    pub fn send(&self, message: Message) {
        if self.queue.send(Command::Send(message)).is_err() {
            tracing::error!("the mail delivery task has stopped; message dropped");
        }
    }

    /// Waits until every message queued before this call was delivered
    /// (for tests, and before shutting down).
    pub async fn flush(&self) {
        let (done, delivered) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).is_ok() {
            let _ = delivered.await;
        }
    }
}

/// Writes under a temporary name, then renames, so a reader never sees half
/// a message.
async fn write_file(dir: &Path, message: &Message) -> std::io::Result<()> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let suffix = crate::random::bytes::<4>()
        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>())
        .map_err(std::io::Error::other)?;
    let name = format!("{nanos:020}-{suffix}.eml");
    let partial = dir.join(format!(".{name}.partial"));
    tokio::fs::write(&partial, message.render()).await?;
    tokio::fs::rename(&partial, dir.join(name)).await
}
