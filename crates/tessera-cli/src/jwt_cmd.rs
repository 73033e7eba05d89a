//! `tessera jwt verify` and `tessera jwt inspect`.
//!
//! `verify` runs the library's own verifier ([`Jwt::verify_with`]) with
//! exactly the settings given on the command line; the only checks it
//! drops are the ones a command-line tool cannot do (revocations) or that
//! the user left out (`--iss`, `--aud`, `--type`), and it says so on
//! stderr. `inspect` decodes without verifying anything.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use tessera_core::clock::{Clock, ManualClock, SystemClock};
use tessera_core::jwt::{
    Algorithm, Jwt, JwtConfig, JwtError, JwtKey, JwtKeySet, KeyError, algorithm_name,
    parse_algorithm,
};
use zeroize::{Zeroize, Zeroizing};

use crate::keygen::SecretJson;
use crate::{LineError, read_line};

/// Longest token read, in bytes: the library's default limit, set
/// explicitly on the configuration so the two cannot drift apart.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Largest key file read, in bytes. A JWK set of a few dozen RSA keys fits.
const MAX_KEY_FILE_LEN: usize = 1024 * 1024;

/// `tessera jwt …`
#[derive(Debug, Subcommand)]
pub(crate) enum JwtCommand {
    /// Verify the token on stdin with the library's verifier: prints the
    /// claims as JSON (exit 0) or the rejection reason (exit 1).
    Verify(VerifyArgs),
    /// Print the header and claims of the token on stdin WITHOUT verifying
    /// its signature or any claim.
    Inspect,
}

/// Settings of `tessera jwt verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Accepted algorithm; repeat for several. With several, the key file
    /// should be a JWK set; a PEM key or raw secret is used with the first.
    #[arg(long = "alg", value_name = "ALG", required = true)]
    algs: Vec<String>,
    /// Raw secret bytes for HS*, a PEM public (or private) key, or a JWK /
    /// JWK set.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Required issuer. Without it, `iss` is not compared.
    #[arg(long, value_name = "ISS")]
    iss: Option<String>,
    /// Required audience. Without it, `aud` is not compared.
    #[arg(long, value_name = "AUD")]
    aud: Option<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    leeway: u64,
    /// Verify as if it were this Unix time, for every time check.
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
    /// `access` requires `typ: at+jwt`; `any` does not look at `typ`.
    #[arg(long = "type", value_enum, default_value_t = TokenType::Any)]
    token_type: TokenType,
}

/// Which `typ` header `--type` requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TokenType {
    /// An access token: `typ: at+jwt` (RFC 9068).
    Access,
    /// Any `typ`, or none.
    Any,
}

/// Runs a `tessera jwt` subcommand.
pub(crate) fn run(command: JwtCommand) -> Result<ExitCode, String> {
    match command {
        JwtCommand::Verify(args) => verify(&args),
        JwtCommand::Inspect => inspect(),
    }
}

fn verify(args: &VerifyArgs) -> Result<ExitCode, String> {
    let mut algs = Vec::with_capacity(args.algs.len());
    for name in &args.algs {
        let alg = parse_algorithm(name).map_err(|e| e.to_string())?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    let key_file = read_key_file(&args.key)?;

    let token = match read_line(MAX_TOKEN_LEN) {
        Ok(token) => token,
        Err(LineError::Empty) => return Err("no token on stdin".into()),
        Err(LineError::Io(e)) => return Err(format!("cannot read stdin: {e}")),
        // Longer than the verifier accepts: its own refusal, not a usage
        // error.
        Err(LineError::TooLong) => {
            return Ok(rejected(&JwtError::TooLarge { max: MAX_TOKEN_LEN }));
        }
    };
    let Ok(token) = String::from_utf8(token) else {
        return Ok(rejected(&JwtError::Malformed("the token is not UTF-8")));
    };

    let keys = load_keys(&key_file, &algs, header_kid(&token).as_deref())
        .map_err(|e| format!("unusable key file {}: {e}", args.key.display()))?;

    let mut config = JwtConfig::new(
        args.iss.clone().unwrap_or_default(),
        args.aud.clone().unwrap_or_default(),
    )
    .max_len(MAX_TOKEN_LEN)
    .leeway(Duration::from_secs(args.leeway))
    .algorithms(&algs);
    if args.iss.is_none() {
        eprintln!("warning: no --iss given; the token's iss is not compared");
        config = config.dangerous_skip_issuer_check();
    }
    if args.aud.is_none() {
        eprintln!("warning: no --aud given; the token's aud is not compared");
        config = config.dangerous_skip_audience_check();
    }
    if args.token_type == TokenType::Any {
        config = config.dangerous_accept_any_type();
    }
    let clock: Arc<dyn Clock> = match args.now {
        Some(now) => Arc::new(ManualClock::at_unix(now)),
        None => Arc::new(SystemClock),
    };
    let jwt = Jwt::builder(keys, config)
        .clock(clock)
        // An offline tool has no revocation store to ask.
        .dangerous_without_revocations()
        .build()
        .map_err(|e| e.to_string())?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    match runtime.block_on(jwt.verify_with::<Value>(&token)) {
        Ok(verified) => {
            let claims = serde_json::to_string(&verified.claims)
                .map_err(|e| format!("cannot print the claims: {e}"))?;
            println!("{claims}");
            Ok(ExitCode::SUCCESS)
        }
        // Not a verdict on the token: nothing to compare against.
        Err(e @ JwtError::Store(_)) => Err(e.to_string()),
        Err(e) => Ok(rejected(&e)),
    }
}

/// Prints why the token was refused; exit status 1.
fn rejected(error: &JwtError) -> ExitCode {
    println!("{error}");
    ExitCode::from(1)
}

/// Reads the whole key file (at most [`MAX_KEY_FILE_LEN`] bytes) into a
/// buffer that is wiped on drop.
fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    let cannot = |e: std::io::Error| format!("cannot read key file {}: {e}", path.display());
    let file = File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    if size > MAX_KEY_FILE_LEN as u64 {
        return Err(format!(
            "key file {} is larger than {MAX_KEY_FILE_LEN} bytes",
            path.display()
        ));
    }
    // Sized up front so growing never leaves copies of the key behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_LEN + 1));
    file.take(MAX_KEY_FILE_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > MAX_KEY_FILE_LEN {
        return Err(format!(
            "key file {} is larger than {MAX_KEY_FILE_LEN} bytes",
            path.display()
        ));
    }
    Ok(bytes)
}

/// The verification keys in `file`: a JWK or JWK set (JSON), else a PEM
/// key for the first algorithm, else (for HS*) the raw secret.
///
/// A PEM key or raw secret has no key id, but the library selects keys by
/// the token's `kid`; such a single key takes the token's `kid`, which
/// selects nothing when there is only one key to select.
fn load_keys(
    file: &[u8],
    algs: &[Algorithm],
    header_kid: Option<&str>,
) -> Result<JwtKeySet, KeyError> {
    let Some(&alg) = algs.first() else {
        return Err(KeyError::Invalid("no --alg given".into()));
    };
    if let Some(json) = parse_jwk_json(file) {
        return JwtKeySet::from_jwks(&json.0, Some(alg));
    }
    let single = |kid: Option<&str>| -> Result<JwtKey, KeyError> {
        if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            // A public key used as an HMAC secret is the classic key-type
            // confusion (F2): anyone holding the public key could sign.
            if file.windows(11).any(|w| w == b"-----BEGIN ") || file.first() == Some(&b'{') {
                return Err(KeyError::Mismatch {
                    alg: tessera_core::jwt::algorithm_name(alg),
                    reason: "the key file holds a PEM or JSON key, not a raw HMAC secret".into(),
                });
            }
            // Exactly the file's bytes, a trailing newline included.
            if file.last() == Some(&b'\n') {
                eprintln!(
                    "warning: the key file ends with a newline, which is part of the secret; \
                     write it without one (printf '%s' \"$SECRET\" > FILE) if the issuer's secret has none"
                );
            }
            return JwtKey::hmac(kid, alg, file);
        }
        let pem = std::str::from_utf8(file)
            .ok()
            .filter(|text| text.contains("-----BEGIN "))
            .ok_or_else(|| {
                KeyError::Invalid(format!(
                    "{} needs a PEM key or a JWK / JWK set",
                    algorithm_name(alg)
                ))
            })?;
        if pem.contains("PRIVATE KEY-----") {
            // Verification needs only the public half; drop the rest.
            let private = JwtKey::from_private_pem(kid, alg, pem)?;
            let public = private
                .public_jwk()
                .ok_or_else(|| KeyError::Invalid("the private key has no public half".into()))?;
            JwtKey::from_jwk(&public, Some(alg))
        } else {
            JwtKey::from_public_pem(kid, alg, pem)
        }
    };
    let key = match single(header_kid) {
        // The token's kid is malformed: load the key without it and let the
        // verifier refuse the header.
        Err(KeyError::InvalidKid(_)) => single(None)?,
        other => other?,
    };
    JwtKeySet::verify_only(vec![key])
}

/// The file as JSON, when it is a JWK (`kty`) or a JWK set (`keys`).
fn parse_jwk_json(file: &[u8]) -> Option<SecretJson> {
    let first = file.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let json = SecretJson(serde_json::from_slice(file).ok()?);
    let is_jwk = json
        .0
        .as_object()
        .is_some_and(|o| o.contains_key("kty") || o.contains_key("keys"));
    is_jwk.then_some(json)
}

/// The `kid` of the token's header, read without verifying anything; only
/// used to name a single key, never to choose one.
fn header_kid(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = Base64UrlUnpadded::decode_vec(header).ok()?;
    let header: Value = serde_json::from_slice(&bytes).ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

/// `tessera jwt inspect`: header and claims, not verified.
fn inspect() -> Result<ExitCode, String> {
    let mut token = read_line(MAX_TOKEN_LEN).map_err(|e| match e {
        LineError::Empty => "no token on stdin".to_owned(),
        LineError::Io(e) => format!("cannot read stdin: {e}"),
        LineError::TooLong => format!("token longer than {MAX_TOKEN_LEN} bytes"),
    })?;
    let decoded = decode_unverified(&token);
    token.zeroize();
    let (header, claims) = decoded.map_err(|e| format!("malformed token: {e}"))?;
    let header =
        serde_json::to_string(&header).map_err(|e| format!("cannot print the header: {e}"))?;
    let claims =
        serde_json::to_string(&claims).map_err(|e| format!("cannot print the claims: {e}"))?;
    println!("warning: signature not verified");
    println!("{header}");
    println!("{claims}");
    Ok(ExitCode::SUCCESS)
}

/// Header and claims of a compact JWS: three unpadded base64url segments,
/// the first two JSON objects.
fn decode_unverified(token: &[u8]) -> Result<(Value, Value), &'static str> {
    let segments: Vec<&[u8]> = token.split(|b| *b == b'.').collect();
    let [header, claims, signature] = segments.as_slice() else {
        return Err("a JWS has exactly three segments");
    };
    let object = |segment: &[u8], what: &'static str| -> Result<Value, &'static str> {
        let bytes = decode_segment(segment)?;
        match serde_json::from_slice(&bytes) {
            Ok(value @ Value::Object(_)) => Ok(value),
            _ => Err(what),
        }
    };
    let header = object(header, "the header is not a JSON object")?;
    let claims = object(claims, "the claims are not a JSON object")?;
    decode_segment(signature)?;
    Ok((header, claims))
}

/// One unpadded base64url segment.
fn decode_segment(segment: &[u8]) -> Result<Vec<u8>, &'static str> {
    let text = std::str::from_utf8(segment).map_err(|_| "segments are unpadded base64url")?;
    Base64UrlUnpadded::decode_vec(text).map_err(|_| "segments are unpadded base64url")
}
