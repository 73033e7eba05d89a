//! The JWT key set from the configuration.

use std::collections::BTreeMap;
use std::path::Path;

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};
use tessera_core::jwt::{Algorithm, JwtKey, JwtKeySet, KeyError};

use crate::config::JwtKeySource;
use crate::error::Error;

/// The key set for `source`.
pub(crate) async fn jwt_keys(source: &JwtKeySource) -> Result<JwtKeySet, Error> {
    let key = match source {
        JwtKeySource::Secret(secret) => JwtKey::hmac(None, Algorithm::HS256, secret)?,
        JwtKeySource::KeyFile(path) => {
            let pem = zeroize::Zeroizing::new(tokio::fs::read_to_string(path).await.map_err(
                Error::io(format!(
                    "cannot read TESSERA_JWT_KEY_FILE {}",
                    path.display()
                )),
            )?);
            from_pem(path, &pem)?
        }
        JwtKeySource::Generate => {
            tracing::warn!(
                "neither TESSERA_JWT_SECRET nor TESSERA_JWT_KEY_FILE is set: signing with an \
                 Ed25519 key generated for this process; its tokens die with it, and other \
                 instances do not accept them"
            );
            let kid = random_kid()?;
            JwtKey::generate_ed25519(Some(&kid))?
        }
    };
    Ok(JwtKeySet::new(key, vec![])?)
}

/// Reads a PEM private key as EdDSA, ES256 or RS256, whichever fits, with
/// its RFC 7638 thumbprint as `kid` (stable across restarts and instances).
fn from_pem(path: &Path, pem: &str) -> Result<JwtKey, Error> {
    let mut weak = None;
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        match JwtKey::from_private_pem(None, alg, pem) {
            Ok(key) => {
                let kid = thumbprint(&key);
                return Ok(JwtKey::from_private_pem(kid.as_deref(), alg, pem)?);
            }
            Err(error @ KeyError::Weak { .. }) => weak = Some(error),
            Err(_) => {}
        }
    }
    match weak {
        Some(error) => Err(error.into()),
        None => Err(Error::Config(format!(
            "TESSERA_JWT_KEY_FILE {}: not a PEM private key for Ed25519, P-256 or RSA",
            path.display()
        ))),
    }
}

/// The RFC 7638 thumbprint of the key's public half.
fn thumbprint(key: &JwtKey) -> Option<String> {
    let jwk = key.public_jwk()?;
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        _ => return None,
    };
    // A BTreeMap serialises its members in the lexicographic order the RFC
    // asks for, without whitespace.
    let required: BTreeMap<&str, &serde_json::Value> = members
        .iter()
        .map(|name| jwk.get(*name).map(|value| (*name, value)))
        .collect::<Option<_>>()?;
    let canonical = serde_json::to_vec(&required).ok()?;
    Some(Base64UrlUnpadded::encode_string(
        Sha256::digest(&canonical).as_slice(),
    ))
}

fn random_kid() -> Result<String, Error> {
    let bytes = crate::random::bytes::<9>()
        .map_err(|e| Error::Config(format!("random number generator: {e}")))?;
    Ok(format!(
        "generated-{}",
        Base64UrlUnpadded::encode_string(&bytes)
    ))
}
