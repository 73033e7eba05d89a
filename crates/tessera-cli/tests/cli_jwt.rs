//! The `tessera` command as CONTRACTS.md §2 specifies it: `keygen`,
//! `jwt verify` and `jwt inspect`. Keys made by `keygen` are loaded with the
//! library, tokens are issued with the library, and the command must agree
//! with the library's verifier.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
use serde_json::{Value, json};
use tessera_core::clock::ManualClock;
use tessera_core::jwt::jsonwebtoken;
use tessera_core::jwt::{Algorithm, Grant, Jwt, JwtConfig, JwtKey, JwtKeySet, parse_algorithm};
use tessera_core::users::UserId;

/// When the test tokens are issued; they live 15 minutes.
const T: u64 = 1_700_000_000;
const TTL: u64 = 15 * 60;
const ALGS: [&str; 7] = [
    "HS256", "HS384", "HS512", "EdDSA", "ES256", "RS256", "PS256",
];

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

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// A directory of its own for each test, removed when dropped.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("tessera-cli-jwt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

fn keygen(alg: &str, format: &str, kid: Option<&str>) -> String {
    let mut args = vec!["keygen", "--alg", alg, "--format", format];
    if let Some(kid) = kid {
        args.extend(["--kid", kid]);
    }
    let output = tessera(&args, b"");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    stdout(&output)
}

/// The generated key, loaded by the library: the signing key, and what a
/// verifier's key file holds (raw secret bytes for a base64url secret, the
/// printed text otherwise).
fn load(alg: &str, format: &str, printed: &str, kid: Option<&str>) -> (JwtKey, Vec<u8>) {
    let algorithm = parse_algorithm(alg).unwrap();
    if format == "jwk" {
        let jwk: Value = serde_json::from_str(printed).unwrap();
        let key = JwtKey::from_jwk(&jwk, None).unwrap();
        assert_eq!(key.kid(), kid);
        return (key, printed.as_bytes().to_vec());
    }
    if alg.starts_with("HS") {
        let secret = Base64UrlUnpadded::decode_vec(printed.trim_end()).unwrap();
        let key = JwtKey::hmac(kid, algorithm, &secret).unwrap();
        return (key, secret);
    }
    let key = JwtKey::from_private_pem(kid, algorithm, printed).unwrap();
    (key, printed.as_bytes().to_vec())
}

/// A token issued by the library at `T`, for `iss` / `aud`.
fn issue(key: JwtKey) -> String {
    let jwt = Jwt::builder(
        JwtKeySet::new(key, vec![]).unwrap(),
        JwtConfig::new("iss", "aud"),
    )
    .clock(Arc::new(ManualClock::at_unix(T)))
    .dangerous_without_revocations()
    .build()
    .unwrap();
    jwt.issue(
        &UserId::new("alice"),
        Grant::dangerous_without_family().scopes(["notes:read"]),
    )
    .unwrap()
    .token
}

fn verify(key_file: &str, algs: &[&str], extra: &[&str], token: &str) -> Output {
    let mut args = vec!["jwt", "verify", "--key", key_file];
    for alg in algs {
        args.extend(["--alg", alg]);
    }
    args.extend(extra);
    tessera(&args, format!("{token}\n").as_bytes())
}

/// An EdDSA key file (private PEM) and a library token signed with it.
fn ed25519_fixture(dir: &Path) -> (String, String) {
    let pem = keygen("EdDSA", "pem", None);
    let (key, file) = load("EdDSA", "pem", &pem, None);
    (write(dir, "ed25519.pem", &file), issue(key))
}

#[test]
fn keygen_prints_keys_the_library_loads_and_jwt_verify_accepts_its_tokens() {
    let dir = scratch("roundtrip");
    for alg in ALGS {
        for format in ["pem", "jwk"] {
            let kid = Some("k-1");
            let printed = keygen(alg, format, (format == "jwk").then_some("k-1"));
            match (alg, format) {
                (_, "jwk") => {
                    let jwk: Value = serde_json::from_str(&printed).unwrap();
                    assert_eq!(jwk["alg"], alg);
                    assert_eq!(jwk["kid"], "k-1");
                    let (kty, members): (&str, &[&str]) = match alg {
                        "EdDSA" => ("OKP", &["crv", "x", "d"]),
                        "ES256" => ("EC", &["crv", "x", "y", "d"]),
                        "RS256" | "PS256" => ("RSA", &["n", "e", "d", "p", "q", "dp", "dq", "qi"]),
                        _ => ("oct", &["k"]),
                    };
                    assert_eq!(jwk["kty"], kty, "{printed}");
                    for member in members {
                        assert!(jwk[member].is_string(), "{alg} JWK lacks {member}");
                    }
                }
                ("HS256" | "HS384" | "HS512", _) => {
                    let secret = Base64UrlUnpadded::decode_vec(printed.trim_end()).unwrap();
                    let bytes = alg[2..].parse::<usize>().unwrap() / 8;
                    assert_eq!(secret.len(), bytes, "{alg}");
                }
                _ => assert!(
                    printed.starts_with("-----BEGIN PRIVATE KEY-----\n"),
                    "{printed}"
                ),
            }
            // Tokens carry a kid even for PEM keys, which have none: the
            // single key of the file must still be found.
            let (key, file) = load(alg, format, &printed, kid);
            let key_file = write(&dir, &format!("{alg}.{format}"), &file);
            let token = issue(key);
            let now = (T + 60).to_string();
            let output = verify(
                &key_file,
                &[alg],
                &[
                    "--iss", "iss", "--aud", "aud", "--now", &now, "--type", "access",
                ],
                &token,
            );
            assert_eq!(output.status.code(), Some(0), "{alg} {format}: {output:?}");
            assert_eq!(stderr(&output), "", "{alg} {format}");
            let claims: Value = serde_json::from_str(stdout(&output).trim_end()).unwrap();
            assert_eq!(claims["sub"], "alice");
            assert_eq!(claims["iss"], "iss");
            assert_eq!(claims["aud"], "aud");
            assert_eq!(claims["scope"], "notes:read");
            assert_eq!(stdout(&output).lines().count(), 1);
        }
    }
}

#[test]
fn two_keygen_runs_give_different_keys() {
    for alg in ["HS256", "EdDSA"] {
        assert_ne!(keygen(alg, "jwk", None), keygen(alg, "jwk", None));
    }
}

#[test]
fn keygen_refuses_what_it_cannot_make() {
    for args in [
        &["keygen", "--alg", "none"][..],
        &["keygen", "--alg", "ES384"],
        &[
            "keygen",
            "--alg",
            "HS256",
            "--format",
            "jwk",
            "--kid",
            "not a kid",
        ],
    ] {
        let output = tessera(args, b"");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert_eq!(stdout(&output), "", "{args:?}");
        assert!(stderr(&output).starts_with("tessera: "), "{args:?}");
    }
}

#[test]
fn rejections_exit_1_with_the_reason_on_stdout() {
    let dir = scratch("rejections");
    let (key_file, token) = ed25519_fixture(&dir);
    let at = |secs: u64| secs.to_string();
    let (ok, expired, early, late) = (at(T + 60), at(T + TTL), at(T - 10), at(T + TTL + 5));
    let cases: [(&[&str], &str); 5] = [
        (
            &["--aud", "other", "--iss", "iss", "--now", &ok],
            "wrong audience",
        ),
        (
            &["--iss", "other", "--aud", "aud", "--now", &ok],
            "wrong issuer",
        ),
        // Expired at exactly now == exp.
        (
            &["--iss", "iss", "--aud", "aud", "--now", &expired],
            "token expired",
        ),
        (
            &[
                "--iss", "iss", "--aud", "aud", "--now", &early, "--leeway", "0",
            ],
            "token issued in the future",
        ),
        (
            &[
                "--iss", "iss", "--aud", "aud", "--now", &late, "--leeway", "5",
            ],
            "token expired",
        ),
    ];
    for (args, reason) in cases {
        let output = verify(&key_file, &["EdDSA"], args, &token);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
        assert_eq!(stdout(&output), format!("{reason}\n"), "{args:?}");
    }

    // Leeway covers the same skew.
    let output = verify(
        &key_file,
        &["EdDSA"],
        &[
            "--iss", "iss", "--aud", "aud", "--now", &early, "--leeway", "10",
        ],
        &token,
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    // Another key's signature, and a tampered one.
    let other_dir = scratch("rejections-other");
    let (other_file, _) = ed25519_fixture(&other_dir);
    let output = verify(&other_file, &["EdDSA"], &["--now", &ok], &token);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "bad signature\n");
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let output = verify(&key_file, &["EdDSA"], &["--now", &ok], &tampered);
    assert_eq!(output.status.code(), Some(1));

    // Not a token at all, and an oversized one: the verifier's refusals.
    let output = verify(&key_file, &["EdDSA"], &["--now", &ok], "garbage");
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).starts_with("malformed token"), "{output:?}");
    let output = verify(&key_file, &["EdDSA"], &["--now", &ok], &"a".repeat(20_000));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "token longer than 8192 bytes\n");
}

#[test]
fn missing_iss_or_aud_is_not_compared_and_says_so_on_stderr() {
    let dir = scratch("warnings");
    let (key_file, token) = ed25519_fixture(&dir);
    let now = (T + 1).to_string();

    let output = verify(&key_file, &["EdDSA"], &["--now", &now], &token);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let warnings = stderr(&output);
    assert!(warnings.contains("iss is not compared"), "{warnings}");
    assert!(warnings.contains("aud is not compared"), "{warnings}");

    let output = verify(
        &key_file,
        &["EdDSA"],
        &["--aud", "aud", "--now", &now],
        &token,
    );
    assert_eq!(output.status.code(), Some(0));
    let warnings = stderr(&output);
    assert!(warnings.contains("iss is not compared"), "{warnings}");
    assert!(!warnings.contains("aud is not compared"), "{warnings}");
}

#[test]
fn type_access_requires_at_jwt_and_any_does_not_look() {
    let dir = scratch("type");
    let secret = [7u8; 32];
    let key_file = write(&dir, "hs256.key", &secret);
    // A plain JWT (`typ: JWT`) with every claim tessera requires.
    let claims = json!({
        "iss": "iss", "aud": "aud", "sub": "bob", "iat": T, "exp": T + 60, "jti": "j1",
    });
    let plain = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap(),
    )
    .unwrap();
    let library = issue(JwtKey::hmac(None, Algorithm::HS256, &secret).unwrap());
    let now = (T + 1).to_string();

    for (token, typ, code) in [
        (&plain, "access", 1),
        (&plain, "any", 0),
        (&library, "access", 0),
        (&library, "any", 0),
    ] {
        let output = verify(
            &key_file,
            &["HS256"],
            &["--now", &now, "--type", typ],
            token,
        );
        assert_eq!(output.status.code(), Some(code), "{typ}: {output:?}");
        if code == 1 {
            assert_eq!(stdout(&output), "wrong token type\n");
        }
    }
    // The default is `any`.
    let output = verify(&key_file, &["HS256"], &["--now", &now], &plain);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).contains("\"sub\":\"bob\""));
}

#[test]
fn a_hmac_secret_too_short_for_its_algorithm_is_exit_2() {
    let dir = scratch("weak");
    let key_file = write(&dir, "short.key", &[7u8; 16]);
    let token = issue(JwtKey::hmac(None, Algorithm::HS256, &[7u8; 32]).unwrap());
    let output = verify(&key_file, &["HS256"], &["--now", &T.to_string()], &token);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(stdout(&output), "");
    assert!(stderr(&output).contains("too weak"), "{output:?}");

    // The same 32 bytes are enough for HS256, not for HS512.
    let key_file = write(&dir, "32.key", &[7u8; 32]);
    let output = verify(&key_file, &["HS512"], &[], &token);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr(&output).contains("too weak"), "{output:?}");
}

/// F2 through the command: a public key file offered as an HMAC secret is
/// refused, so a token HMAC-signed with the public key cannot pass.
#[test]
fn a_public_key_is_never_an_hmac_secret() {
    let dir = scratch("confusion");
    let (pem_file, _) = ed25519_fixture(&dir);
    let public_pem = std::fs::read(&pem_file).unwrap();
    let forged = issue(JwtKey::hmac(None, Algorithm::HS256, &public_pem).unwrap());
    let output = verify(
        &pem_file,
        &["HS256", "EdDSA"],
        &["--now", &T.to_string()],
        &forged,
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stderr(&output).contains("not a raw HMAC secret"),
        "{output:?}"
    );
}

#[test]
fn a_public_pem_verifies_and_several_algs_take_a_jwk_set() {
    let dir = scratch("sets");
    let now = (T + 1).to_string();

    let es_pem = keygen("ES256", "pem", None);
    let public_pem = p256::SecretKey::from_pkcs8_pem(&es_pem)
        .unwrap()
        .public_key()
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    let public_file = write(&dir, "es256.pub.pem", public_pem.as_bytes());
    let es_token = issue(JwtKey::from_private_pem(Some("b"), Algorithm::ES256, &es_pem).unwrap());
    let output = verify(&public_file, &["ES256"], &["--now", &now], &es_token);
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    let ed_jwk: Value = serde_json::from_str(&keygen("EdDSA", "jwk", Some("a"))).unwrap();
    let ed_key = JwtKey::from_jwk(&ed_jwk, None).unwrap();
    let es_key = JwtKey::from_private_pem(Some("b"), Algorithm::ES256, &es_pem).unwrap();
    let jwks = json!({ "keys": [ed_key.public_jwk().unwrap(), es_key.public_jwk().unwrap()] });
    let jwks_file = write(&dir, "jwks.json", jwks.to_string().as_bytes());
    let ed_token = issue(ed_key);

    for token in [&ed_token, &es_token] {
        let output = verify(&jwks_file, &["EdDSA", "ES256"], &["--now", &now], token);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
    }
    // The allow-list is the --alg list, whatever the set holds.
    let output = verify(&jwks_file, &["EdDSA"], &["--now", &now], &es_token);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stdout(&output), "algorithm not allowed for this key\n");
    // A key of the wrong type for the algorithm is unusable.
    let output = verify(&public_file, &["EdDSA"], &["--now", &now], &ed_token);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn unusable_commands_exit_2() {
    let dir = scratch("unusable");
    let (key_file, token) = ed25519_fixture(&dir);
    let missing = dir.join("missing.pem");
    for (args, stdin) in [
        (
            vec![
                "jwt",
                "verify",
                "--alg",
                "EdDSA",
                "--key",
                missing.to_str().unwrap(),
            ],
            format!("{token}\n"),
        ),
        (
            vec!["jwt", "verify", "--alg", "none", "--key", &key_file],
            format!("{token}\n"),
        ),
        (
            vec!["jwt", "verify", "--alg", "EdDSA", "--key", &key_file],
            String::new(),
        ),
        (
            vec![
                "jwt", "verify", "--alg", "EdDSA", "--key", &key_file, "--type", "id",
            ],
            String::new(),
        ),
    ] {
        let output = tessera(&args, stdin.as_bytes());
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert_eq!(stdout(&output), "", "{args:?}");
    }
}

#[test]
fn inspect_prints_header_and_claims_under_a_warning_and_refuses_garbage() {
    let dir = scratch("inspect");
    let pem = keygen("EdDSA", "pem", None);
    let (key, _) = load("EdDSA", "pem", &pem, Some("k-9"));
    let token = issue(key);

    let output = tessera(&["jwt", "inspect"], format!("{token}\n").as_bytes());
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "warning: signature not verified");
    let header: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(
        header,
        json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": "k-9" })
    );
    let claims: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["exp"], T + TTL);

    // Inspecting does not verify: a token for another key still prints.
    let (_, other) = ed25519_fixture(&dir);
    let forged = format!(
        "{}.{}",
        token.rsplit_once('.').unwrap().0,
        other.rsplit_once('.').unwrap().1
    );
    let output = tessera(&["jwt", "inspect"], forged.as_bytes());
    assert_eq!(output.status.code(), Some(0));

    for garbage in [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "e30.e30.%%%",
        "bm90IGpzb24.e30.c2ln",
        "e30.WzFd.c2ln",
    ] {
        let output = tessera(&["jwt", "inspect"], format!("{garbage}\n").as_bytes());
        assert_eq!(output.status.code(), Some(2), "{garbage:?}: {output:?}");
        assert_eq!(stdout(&output), "", "{garbage:?}");
    }
}
