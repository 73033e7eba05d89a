//! The built binary of either starter (the including test sets `BIN`): it
//! prints `listening on http://ADDR` once ready and serves; the development
//! mailer prints to standard output; a contradictory configuration stops it
//! with the reason. Not a module of the crate: each starter's
//! `tests/binary.rs` includes it with `#[path]`.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{ChildStdout, Command};

use super::BIN;

/// Generous: the first start of a debug build under a loaded CI machine.
const PATIENCE: Duration = Duration::from_secs(60);

fn command(vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .expect("the server printed nothing in time")
        .unwrap()
        .expect("standard output closed")
}

/// One HTTP/1.1 exchange over a new connection: (status line, body).
async fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[tokio::test]
async fn the_binary_listens_serves_and_mails_to_stdout() {
    let mut child = command(&[
        ("TESSERA_BIND", "127.0.0.1:0"),
        ("DATABASE_URL", "sqlite::memory:"),
    ])
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = next_line(&mut lines).await;
    let addr = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    let (status, body) = http(&addr, "GET", "/health", None).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, r#"{"status":"ok"}"#);

    // The development mailer: the message on standard output, the link on
    // the bound address.
    let account = r#"{"email":"alice@example.com","password":"correct horse battery"}"#;
    let (status, _) = http(&addr, "POST", "/auth/register", Some(account)).await;
    assert_eq!(status, "HTTP/1.1 201 Created");
    let reset = r#"{"email":"alice@example.com"}"#;
    let (status, body) = http(&addr, "POST", "/auth/password-reset", Some(reset)).await;
    assert_eq!(status, "HTTP/1.1 202 Accepted");
    assert_eq!(body, r#"{"status":"sent"}"#);
    assert_eq!(next_line(&mut lines).await, "To: alice@example.com");
    assert_eq!(next_line(&mut lines).await, "Subject: Reset your password");
    let token = loop {
        let line = next_line(&mut lines).await;
        if let Some(token) = line.strip_prefix("token: ") {
            break token.to_owned();
        }
    };
    assert_eq!(
        next_line(&mut lines).await,
        format!("or open http://{addr}/reset?token={token}")
    );

    child.kill().await.unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    // The warnings of an unconfigured start go to standard error.
    assert!(stderr.contains("TESSERA_SECRET_KEY is not set"), "{stderr}");
    assert!(stderr.contains("Ed25519 key generated"), "{stderr}");
    assert!(stderr.contains("development mailer"), "{stderr}");
}

#[tokio::test]
async fn both_jwt_variables_stop_the_binary() {
    let output = command(&[
        ("TESSERA_BIND", "127.0.0.1:0"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("TESSERA_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("TESSERA_JWT_KEY_FILE", "/etc/tessera/key.pem"),
    ])
    .output();
    let output = tokio::time::timeout(PATIENCE, output)
        .await
        .unwrap()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("TESSERA_JWT_SECRET and TESSERA_JWT_KEY_FILE"),
        "{stderr}"
    );
}
