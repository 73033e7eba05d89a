//! The `tessera` command as CONTRACTS.md §2 specifies it: output and exit
//! status of `hash`, `verify` and `calibrate`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn tessera(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may exit before reading everything (an oversized input).
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn hash_then_verify_is_valid_and_a_wrong_password_exits_1() {
    let hashed = tessera(&["hash"], b"hunter22\n");
    assert_eq!(hashed.status.code(), Some(0), "{hashed:?}");
    let hash = stdout(&hashed);
    let hash = hash.trim_end();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );

    let valid = tessera(&["verify", "--hash", hash], b"hunter22\n");
    assert_eq!(valid.status.code(), Some(0));
    assert_eq!(stdout(&valid), "valid\n");

    // Without a trailing newline, and with a Windows line ending.
    assert_eq!(
        tessera(&["verify", "--hash", hash], b"hunter22")
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        tessera(&["verify", "--hash", hash], b"hunter22\r\n")
            .status
            .code(),
        Some(0)
    );

    let invalid = tessera(&["verify", "--hash", hash], b"hunter23\n");
    assert_eq!(invalid.status.code(), Some(1));
    assert_eq!(stdout(&invalid), "invalid\n");
}

#[test]
fn a_weaker_hash_prints_needs_rehash() {
    let hashed = tessera(&["hash", "--m-cost", "4096"], b"hunter22\n");
    assert_eq!(hashed.status.code(), Some(0));
    let hash = stdout(&hashed);
    assert!(hash.starts_with("$argon2id$v=19$m=4096,t=2,p=1$"), "{hash}");
    let verified = tessera(&["verify", "--hash", hash.trim_end()], b"hunter22\n");
    assert_eq!(verified.status.code(), Some(0));
    assert_eq!(stdout(&verified), "valid\nneeds-rehash\n");
}

/// What an unknown scheme is called: with legacy formats, "unsupported"
/// and its prefix; without, argon2's "unknown algorithm".
fn unknown_scheme() -> &'static str {
    if cfg!(feature = "legacy") {
        "unsupported"
    } else {
        "unknown"
    }
}

#[test]
fn an_over_limit_or_malformed_hash_exits_2_with_a_reason() {
    for (hash, reason) in [
        (
            "$argon2id$v=19$m=8388608,t=2,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "m=8388608",
        ),
        ("$md4$abc", unknown_scheme()),
        ("", unknown_scheme()),
        ("$argon2id$v=19$m=19456", "malformed"),
    ] {
        let out = tessera(&["verify", "--hash", hash], b"hunter22\n");
        assert_eq!(out.status.code(), Some(2), "{hash}");
        assert!(out.stdout.is_empty(), "{hash}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(reason), "{hash}: {stderr}");
    }
}

#[test]
fn unusable_input_exits_2() {
    // No password at all.
    assert_eq!(tessera(&["hash"], b"").status.code(), Some(2));
    // Refused by the policy.
    let short = tessera(&["hash"], b"short\n");
    assert_eq!(short.status.code(), Some(2));
    assert!(
        String::from_utf8(short.stderr)
            .unwrap()
            .contains("fewer than the 8 required")
    );
    // Not UTF-8.
    assert_eq!(
        tessera(&["hash"], b"\xff\xfe password\n").status.code(),
        Some(2)
    );
    // A megabyte on one line.
    let huge = vec![b'a'; 1 << 20];
    let out = tessera(&["hash"], &huge);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // Parameters argon2 rejects, or above the ceilings.
    assert_eq!(
        tessera(&["hash", "--p-cost", "0"], b"hunter22\n")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        tessera(&["hash", "--m-cost", "1048576"], b"hunter22\n")
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn calibrate_prints_a_table_and_a_recommendation() {
    let out = tessera(
        &["calibrate", "--target-ms", "1", "--max-memory-mib", "8"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    let mut lines = text.lines();
    let header: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["m", "(KiB)", "t", "p", "ms"]);
    let first: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(first[..3], ["8192", "1", "1"]);
    assert!(first[3].parse::<f64>().unwrap() > 0.0);
    // A 1 ms target is below what OWASP's minimum costs: the floor is
    // recommended rather than something weaker.
    assert!(
        text.contains("recommended: --m-cost 19456 --t-cost 2 --p-cost 1"),
        "{text}"
    );

    let bad = tessera(&["calibrate", "--max-memory-mib", "100000"], b"");
    assert_eq!(bad.status.code(), Some(2));
}

/// Legacy hashes (feature `legacy`, on by default): valid ones print
/// `needs-rehash`; an unknown scheme is exit 2, naming it.
#[cfg(feature = "legacy")]
#[test]
fn verify_accepts_legacy_hashes() {
    // Werkzeug: generate_password_hash("correct horse battery", "pbkdf2:sha256:1000")
    let werkzeug = "pbkdf2:sha256:1000$esgmF7PaDkpgjcPH$e7baecf4da3781f0964fe194269c482e1bb0b329630552bb40e1d41da77c6dba";
    let out = tessera(&["verify", "--hash", werkzeug], b"correct horse battery\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "valid\nneeds-rehash\n"
    );
    let out = tessera(&["verify", "--hash", werkzeug], b"correct horse batterz\n");
    assert_eq!(out.status.code(), Some(1));
    let out = tessera(&["verify", "--hash", "md5$abc$def"], b"x\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"md5\""));
}

/// Every scheme of the generated vectors (made by Werkzeug, Django,
/// passlib, pyca/bcrypt and argon2-cffi; Flask-Security's need its pepper,
/// which the command does not take), including a password that NFKC
/// changes, hashed as typed.
#[cfg(feature = "legacy")]
#[test]
fn verify_accepts_every_legacy_scheme() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tessera-core/tests/data/legacy/legacy.json"
    ))
    .unwrap();
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut schemes = std::collections::BTreeSet::new();
    for vector in &vectors {
        let scheme = vector["scheme"].as_str().unwrap();
        let password = vector["password"].as_str().unwrap();
        if vector["default"] == true
            || vector.get("flask_security_salt").is_some()
            || !matches!(password, "correct horse battery" | "ﬁne ｐａｓｓ")
        {
            continue;
        }
        let stored = vector["stored"].as_str().unwrap();
        let out = tessera(
            &["verify", "--hash", stored],
            format!("{password}\n").as_bytes(),
        );
        assert_eq!(out.status.code(), Some(0), "{scheme}: {stored}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "valid\nneeds-rehash\n",
            "{scheme}"
        );
        let out = tessera(&["verify", "--hash", stored], b"correct horse batterz\n");
        assert_eq!(out.status.code(), Some(1), "{scheme}: {stored}");
        schemes.insert(scheme);
    }
    assert_eq!(schemes.len(), 29, "{schemes:?}");
}
