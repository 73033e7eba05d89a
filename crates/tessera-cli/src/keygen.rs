//! `tessera keygen`: a new JWT signing key, printed on stdout.
//!
//! Every key is loaded back through the library (`JwtKey::hmac`,
//! `JwtKey::from_private_pem`, `JwtKey::from_jwk`) before it is printed, so
//! the command never prints a key, or a key id, that tessera would refuse.
//! Secrets go to stdout only; the buffers that held them are wiped.

use std::io::{self, Write};
use std::process::ExitCode;

use base64ct::{Base64UrlUnpadded, Encoding};
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use p256::elliptic_curve::Generate as _;
use p256::elliptic_curve::sec1::ToSec1Point as _;
use rand::TryRng as _;
use rand::rngs::SysRng;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Map, Value};
use tessera_core::jwt::{Algorithm, JwtKey, algorithm_name, parse_algorithm};
use zeroize::{Zeroize, Zeroizing};

/// RSA modulus size of generated keys: tessera's floor. 3072 bits would take
/// several times longer to generate and buys nothing tessera checks for.
const RSA_BITS: usize = 2048;

/// How the key is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// PKCS#8 PEM for private keys; base64url (no padding) for HMAC
    /// secrets. The printed text itself is the secret: give it as is to
    /// `TESSERA_JWT_SECRET`, or write it to a key file without a newline.
    Pem,
    /// A private JWK (RFC 7517), with `alg` and, if given, `kid`.
    Jwk,
}

/// Generates a key for `alg` and prints it in `format`.
pub(crate) fn run(alg: &str, kid: Option<&str>, format: Format) -> Result<ExitCode, String> {
    let alg = parse_algorithm(alg).map_err(|e| e.to_string())?;
    let output = match (alg, format) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, format) => hmac(alg, kid, format)?,
        (Algorithm::EdDSA, format) => ed25519(kid, format)?,
        (Algorithm::ES256, format) => p256_key(kid, format)?,
        (Algorithm::RS256 | Algorithm::PS256, format) => rsa_key(alg, kid, format)?,
        (other, _) => {
            return Err(format!(
                "keygen makes keys for HS256, HS384, HS512, EdDSA, ES256, RS256 and PS256, not {}",
                algorithm_name(other)
            ));
        }
    };
    if format == Format::Pem && kid.is_some() {
        eprintln!("warning: a PEM key has no key id; --kid is only written into a JWK");
    }
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write stdout: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// A random HMAC secret as long as the hash output (the library's minimum).
fn hmac(alg: Algorithm, kid: Option<&str>, format: Format) -> Result<Zeroizing<String>, String> {
    let len = match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    };
    let mut secret = Zeroizing::new(vec![0u8; len]);
    SysRng
        .try_fill_bytes(&mut secret)
        .map_err(|e| format!("random number generator: {e}"))?;
    JwtKey::hmac(kid, alg, &secret).map_err(|e| e.to_string())?;
    match format {
        Format::Pem => {
            let mut line = b64(&secret);
            line.push('\n');
            Ok(line)
        }
        Format::Jwk => {
            let mut jwk = SecretJson::object();
            jwk.insert("kty", "oct".into());
            jwk.insert_secret("k", b64(&secret));
            jwk.finish(alg, kid)
        }
    }
}

/// An Ed25519 key from a 32-byte seed drawn from the operating system.
fn ed25519(kid: Option<&str>, format: Format) -> Result<Zeroizing<String>, String> {
    let mut seed = Zeroizing::new([0u8; 32]);
    SysRng
        .try_fill_bytes(seed.as_mut_slice())
        .map_err(|e| format!("random number generator: {e}"))?;
    // Zeroized on drop (ed25519-dalek's `zeroize` feature).
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    match format {
        Format::Pem => {
            let pem = signing
                .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
                .map_err(|e| format!("cannot encode the key: {e}"))?;
            check_pem(Algorithm::EdDSA, kid, &pem)?;
            Ok(pem)
        }
        Format::Jwk => {
            let mut jwk = SecretJson::object();
            jwk.insert("kty", "OKP".into());
            jwk.insert("crv", "Ed25519".into());
            jwk.insert("x", b64(signing.verifying_key().as_bytes()).as_str().into());
            jwk.insert_secret("d", b64(seed.as_slice()));
            jwk.finish(Algorithm::EdDSA, kid)
        }
    }
}

/// A P-256 key for ES256.
fn p256_key(kid: Option<&str>, format: Format) -> Result<Zeroizing<String>, String> {
    // Zeroized on drop.
    let secret = p256::SecretKey::try_generate_from_rng(&mut SysRng)
        .map_err(|e| format!("random number generator: {e}"))?;
    match format {
        Format::Pem => {
            let pem = secret
                .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
                .map_err(|e| format!("cannot encode the key: {e}"))?;
            check_pem(Algorithm::ES256, kid, &pem)?;
            Ok(pem)
        }
        Format::Jwk => {
            let point = secret.public_key().to_sec1_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err("the public key has no affine coordinates".into());
            };
            let mut d = secret.to_bytes();
            let d_b64 = b64(&d);
            d.zeroize();
            let mut jwk = SecretJson::object();
            jwk.insert("kty", "EC".into());
            jwk.insert("crv", "P-256".into());
            jwk.insert("x", b64(x).as_str().into());
            jwk.insert("y", b64(y).as_str().into());
            jwk.insert_secret("d", d_b64);
            jwk.finish(Algorithm::ES256, kid)
        }
    }
}

/// An RSA key of [`RSA_BITS`] bits with exponent 65537, for RS256 or PS256.
fn rsa_key(alg: Algorithm, kid: Option<&str>, format: Format) -> Result<Zeroizing<String>, String> {
    // Zeroized on drop.
    let private = rsa::PrivateKey::new(&mut SysRng, RSA_BITS)
        .map_err(|e| format!("cannot generate an RSA key: {e}"))?;
    match format {
        Format::Pem => {
            let pem =
                rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(&private, rsa::pkcs8::LineEnding::LF)
                    .map_err(|e| format!("cannot encode the key: {e}"))?;
            check_pem(alg, kid, &pem)?;
            Ok(pem)
        }
        Format::Jwk => {
            // The PKCS#1 structure has every CRT member, as minimal unsigned
            // big-endian integers: exactly JWK's Base64urlUInt values. The
            // document is zeroized on drop.
            let der = private
                .to_pkcs1_der()
                .map_err(|e| format!("cannot encode the key: {e}"))?;
            let parts = rsa::pkcs1::RsaPrivateKeyRef::try_from(der.as_bytes())
                .map_err(|e| format!("cannot encode the key: {e}"))?;
            let mut jwk = SecretJson::object();
            jwk.insert("kty", "RSA".into());
            jwk.insert("n", b64(&private.n_bytes()).as_str().into());
            jwk.insert("e", b64(&private.e_bytes()).as_str().into());
            for (name, value) in [
                ("d", parts.private_exponent),
                ("p", parts.prime1),
                ("q", parts.prime2),
                ("dp", parts.exponent1),
                ("dq", parts.exponent2),
                ("qi", parts.coefficient),
            ] {
                jwk.insert_secret(name, b64(value.as_bytes()));
            }
            jwk.finish(alg, kid)
        }
    }
}

/// Loads a generated PEM back through the library: the key fits `alg` and
/// the key id is one tessera accepts.
fn check_pem(alg: Algorithm, kid: Option<&str>, pem: &str) -> Result<(), String> {
    JwtKey::from_private_pem(kid, alg, pem)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Unpadded base64url, in a buffer that is wiped on drop.
fn b64(bytes: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(Base64UrlUnpadded::encode_string(bytes))
}

/// A JSON value that may hold secrets (a private JWK, a JWK set read from a
/// key file); every string in it is wiped on drop.
pub(crate) struct SecretJson(pub(crate) Value);

impl SecretJson {
    /// An empty JSON object.
    fn object() -> Self {
        Self(Value::Object(Map::new()))
    }

    /// Adds a member that is not secret.
    fn insert(&mut self, name: &str, value: Value) {
        if let Value::Object(map) = &mut self.0 {
            map.insert(name.to_owned(), value);
        }
    }

    /// Adds a secret member, moving the string's buffer in without a copy.
    fn insert_secret(&mut self, name: &str, mut value: Zeroizing<String>) {
        self.insert(name, Value::String(std::mem::take(&mut *value)));
    }

    /// Adds `alg` and `kid`, checks the JWK loads as a tessera key, and
    /// serialises it on one line.
    fn finish(mut self, alg: Algorithm, kid: Option<&str>) -> Result<Zeroizing<String>, String> {
        self.insert("alg", algorithm_name(alg).into());
        if let Some(kid) = kid {
            self.insert("kid", kid.into());
        }
        JwtKey::from_jwk(&self.0, None).map_err(|e| e.to_string())?;
        // Sized up front (an RSA JWK is about 1.7 KB) so growing leaves no
        // copies of the key behind.
        let mut out = Zeroizing::new(Vec::with_capacity(8 * 1024));
        serde_json::to_writer(&mut *out, &self.0)
            .map_err(|e| format!("cannot encode the key: {e}"))?;
        out.push(b'\n');
        let text = String::from_utf8(std::mem::take(&mut *out))
            .map_err(|_| "cannot encode the key: JSON is not UTF-8".to_owned())?;
        Ok(Zeroizing::new(text))
    }
}

impl Drop for SecretJson {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl std::fmt::Debug for SecretJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretJson([redacted])")
    }
}

/// Zeroizes every string in `value`.
fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.values_mut().for_each(wipe),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}
