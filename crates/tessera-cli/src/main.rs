//! The `tessera` command.
//!
//! Passwords come from standard input (one line, the trailing newline
//! removed), never from arguments, where other users of the machine could
//! read them. Exit status 0 means yes, 1 means no, 2 means the input or the
//! command was unusable.
#![forbid(unsafe_code)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints its results"
)]

mod calibrate;
mod jwt_cmd;
mod keygen;

use std::io::{self, BufRead, Read};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tessera_core::password::{
    Argon2Hasher, Argon2Params, Password, PasswordError, PasswordHasher, PasswordPolicy,
    PasswordVerifier, Scratch,
};
use zeroize::Zeroize;

/// Exit status for "the input or the command was unusable".
const UNUSABLE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Password hashing and token tools of the tessera library"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Hash the password on stdin and print its PHC string (argon2id).
    Hash {
        /// Memory cost in KiB (default 19456).
        #[arg(long, value_name = "KIB", default_value_t = Argon2Params::OWASP.m_cost)]
        m_cost: u32,
        /// Time cost, in passes (default 2).
        #[arg(long, value_name = "N", default_value_t = Argon2Params::OWASP.t_cost)]
        t_cost: u32,
        /// Parallelism, in lanes (default 1).
        #[arg(long, value_name = "N", default_value_t = Argon2Params::OWASP.p_cost)]
        p_cost: u32,
    },
    /// Check the password on stdin against a stored hash: prints `valid`
    /// (exit 0), followed by `needs-rehash` when the hash is below the
    /// current parameters, or `invalid` (exit 1).
    Verify {
        /// The stored PHC string.
        #[arg(long, value_name = "HASH")]
        hash: String,
    },
    /// Measure this machine and recommend argon2id parameters that reach the
    /// target time.
    Calibrate {
        /// Time one hash should take, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 100)]
        target_ms: u64,
        /// Most memory one hash may use, in MiB.
        #[arg(long, value_name = "MIB", default_value_t = 64)]
        max_memory_mib: u32,
        /// Lanes per hash.
        #[arg(long, value_name = "P", default_value_t = 1)]
        parallelism: u32,
    },
    /// Print a new JWT signing key: a random secret (base64url) for
    /// HS256/384/512, a private key for EdDSA, ES256, RS256, PS256.
    Keygen {
        /// The algorithm the key is for.
        #[arg(long, value_name = "ALG")]
        alg: String,
        /// Key id, written into the JWK (a PEM has no place for it).
        #[arg(long, value_name = "KID")]
        kid: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = keygen::Format::Pem)]
        format: keygen::Format,
    },
    /// Verify or inspect a JWT.
    Jwt {
        #[command(subcommand)]
        command: jwt_cmd::JwtCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hash {
            m_cost,
            t_cost,
            p_cost,
        } => hash(Argon2Params::new(m_cost, t_cost, p_cost)),
        Command::Verify { hash } => verify(&hash),
        Command::Calibrate {
            target_ms,
            max_memory_mib,
            parallelism,
        } => calibrate::run(target_ms, max_memory_mib, parallelism),
        Command::Keygen { alg, kid, format } => keygen::run(&alg, kid.as_deref(), format),
        Command::Jwt { command } => jwt_cmd::run(command),
    };
    match result {
        Ok(code) => code,
        Err(reason) => {
            eprintln!("tessera: {reason}");
            ExitCode::from(UNUSABLE)
        }
    }
}

fn hash(params: Argon2Params) -> Result<ExitCode, String> {
    let hasher = Argon2Hasher::new(params).map_err(|e| e.to_string())?;
    let password = read_password()?;
    let prepared = PasswordPolicy::default()
        .check(&password)
        .map_err(|e| format!("password refused: {e}"))?;
    let hash = hasher.hash_password(&prepared).map_err(|e| e.to_string())?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}

fn verify(stored: &str) -> Result<ExitCode, String> {
    let password = read_password()?;
    let prepared = PasswordPolicy::default()
        .prepare(&password)
        .map_err(|e| format!("password refused: {e}"))?;
    // Hashes of other systems too (Werkzeug, Django, passlib, bcrypt,
    // argon2-cffi), reported as needing a rehash; for those, the password
    // as typed is tried when its normalised form does not match.
    #[cfg(feature = "legacy")]
    let verifier = tessera_core::password::legacy::LegacyHasher::new(Argon2Hasher::default());
    #[cfg(not(feature = "legacy"))]
    let verifier = Argon2Hasher::default();
    match verifier.verify_prepared_with(&prepared, &password, stored, &mut Scratch::new()) {
        Ok(verified) if verified.is_valid() => {
            println!("valid");
            if verified.needs_rehash() {
                println!("needs-rehash");
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(_) => {
            println!("invalid");
            Ok(ExitCode::from(1))
        }
        Err(e @ PasswordError::ParamsOutOfBounds { .. }) => Err(format!("hash refused: {e}")),
        Err(e) => Err(format!("unusable hash: {e}")),
    }
}

/// Reads the password line from stdin.
fn read_password() -> Result<Password, String> {
    let line = read_line(PasswordPolicy::DEFAULT_MAX_INPUT_BYTES).map_err(|e| match e {
        LineError::Io(e) => format!("cannot read stdin: {e}"),
        LineError::Empty => "no password on stdin".to_owned(),
        LineError::TooLong => format!(
            "password refused: input is longer than {} bytes",
            PasswordPolicy::DEFAULT_MAX_INPUT_BYTES
        ),
    })?;
    let line = String::from_utf8(line).map_err(|e| {
        e.into_bytes().zeroize();
        "password is not valid UTF-8".to_owned()
    })?;
    Ok(Password::new(line))
}

/// Why [`read_line`] found no usable line.
#[derive(Debug)]
pub(crate) enum LineError {
    /// Reading stdin failed.
    Io(io::Error),
    /// Stdin was empty.
    Empty,
    /// The line is longer than the limit (its bytes are already zeroized).
    TooLong,
}

/// Reads one line from stdin and removes its line ending. Reads at most a
/// little more than `max` bytes (room for `\r\n`), so a huge input costs
/// nothing; the caller's own length check stays the exact one.
pub(crate) fn read_line(max: usize) -> Result<Vec<u8>, LineError> {
    let limit = max.saturating_add(2);
    // Sized up front so growing never leaves copies of a secret behind.
    let mut line = Vec::with_capacity(limit.saturating_add(1));
    io::stdin()
        .lock()
        .take(limit.saturating_add(1) as u64)
        .read_until(b'\n', &mut line)
        .map_err(LineError::Io)?;
    if line.is_empty() {
        return Err(LineError::Empty);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if line.len() > limit {
        line.zeroize();
        return Err(LineError::TooLong);
    }
    Ok(line)
}
