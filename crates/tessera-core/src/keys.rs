//! Rotatable HMAC keys.
//!
//! Every server-side secret tessera keys a MAC with (the token-digest pepper,
//! the refresh-successor key, and the CSRF and one-time-token keys) is an
//! [`HmacKeys`] set: new values are made with the newest key, values made
//! with any listed key are accepted. Rotation is: put a new key first, keep
//! the old one listed for as long as values made with it may still be
//! presented, then drop it.
//!
//! ```
//! use tessera_core::keys::{HmacKey, HmacKeys};
//!
//! let old = HmacKeys::new(vec![HmacKey::new("2026-01", [7u8; 32])?])?;
//! let tag = old.sign(b"session-id");
//!
//! // Rotate: the new key signs, the old one still verifies.
//! let rotated = HmacKeys::new(vec![HmacKey::generate("2026-06")?, HmacKey::new("2026-01", [7u8; 32])?])?;
//! assert!(rotated.verify(b"session-id", &tag));
//! assert_eq!(rotated.sign(b"session-id").key_id(), "2026-06");
//!
//! // Drop the old key: its tags stop verifying.
//! let newest_only = HmacKeys::new(vec![HmacKey::generate("2026-06")?])?;
//! assert!(!newest_only.verify(b"session-id", &tag));
//! # Ok::<(), tessera_core::ConfigError>(())
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::ConfigError;

type HmacSha256 = Hmac<Sha256>;

/// Shortest key accepted, in bytes: HMAC-SHA256's output size (RFC 2104 §3).
pub const MIN_KEY_LEN: usize = 32;
/// Longest key id, in bytes.
pub const MAX_KEY_ID_LEN: usize = 64;

/// One HMAC-SHA256 key and its id.
///
/// `Debug` shows the id only; the secret is zeroized on drop.
#[derive(Clone)]
pub struct HmacKey {
    id: String,
    secret: Zeroizing<Vec<u8>>,
}

impl HmacKey {
    /// A key from its id and secret bytes.
    ///
    /// # Errors
    /// [`ConfigError`] for a secret shorter than 32 bytes or an id that is
    /// empty, longer than 64 bytes or not made of `A-Z a-z 0-9 - _ .`.
    pub fn new(id: impl Into<String>, secret: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let id = id.into();
        let secret = Zeroizing::new(secret.into());
        check_key_id(&id)?;
        if secret.len() < MIN_KEY_LEN {
            return Err(ConfigError::invalid(
                "hmac key",
                format!(
                    "key {id:?} has {} bytes, fewer than {MIN_KEY_LEN}",
                    secret.len()
                ),
            ));
        }
        Ok(Self { id, secret })
    }

    /// A new key of 32 random bytes from the operating system.
    ///
    /// # Errors
    /// [`ConfigError`] for a bad id or when the random number generator fails.
    pub fn generate(id: impl Into<String>) -> Result<Self, ConfigError> {
        let secret = crate::random::os_bytes::<32>().map_err(|source| ConfigError::Setup {
            what: "random hmac key",
            source,
        })?;
        Self::new(id, secret.to_vec())
    }

    /// A key derived from a master secret for one purpose (HKDF-SHA256, RFC
    /// 5869), so one configured secret yields independent keys for CSRF,
    /// one-time tokens and the token pepper: knowing one derived key reveals
    /// neither the master nor the others.
    ///
    /// # Errors
    /// [`ConfigError`] for a master shorter than 32 bytes or a bad id.
    pub fn derive(
        id: impl Into<String>,
        master: &[u8],
        purpose: &str,
    ) -> Result<Self, ConfigError> {
        if master.len() < MIN_KEY_LEN {
            return Err(ConfigError::invalid(
                "secret_key",
                format!("{} bytes, at least {MIN_KEY_LEN} are needed", master.len()),
            ));
        }
        let mut okm = Zeroizing::new(vec![0u8; 32]);
        hkdf::Hkdf::<Sha256>::new(Some(b"tessera/v1"), master)
            .expand(purpose.as_bytes(), &mut okm)
            .map_err(|_| ConfigError::invalid("secret_key", "HKDF output length"))?;
        Self::new(id, okm.to_vec())
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// HMAC-SHA256 of the concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.keyed();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    fn keyed(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        match HmacSha256::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacKey")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// A MAC made by an [`HmacKeys`] set, with the id of the key that made it.
#[derive(Clone, PartialEq, Eq)]
pub struct Tag {
    key_id: String,
    mac: [u8; 32],
}

impl Tag {
    /// The id of the key that made the tag.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The MAC bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.mac
    }

    /// A tag read back from storage or a request.
    pub fn from_parts(key_id: impl Into<String>, mac: [u8; 32]) -> Self {
        Self {
            key_id: key_id.into(),
            mac,
        }
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tag")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// An ordered set of [`HmacKey`]s: the first signs, all verify.
#[derive(Clone, Debug)]
pub struct HmacKeys {
    keys: Vec<HmacKey>,
}

impl HmacKeys {
    /// A set from keys, newest first.
    ///
    /// # Errors
    /// [`ConfigError`] for an empty set or two keys with the same id.
    pub fn new(keys: Vec<HmacKey>) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::invalid(
                "hmac keys",
                "at least one key is needed",
            ));
        }
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|other| other.id == key.id) {
                return Err(ConfigError::invalid(
                    "hmac keys",
                    format!("key id {:?} is listed twice", key.id),
                ));
            }
        }
        Ok(Self { keys })
    }

    /// A set of one key.
    pub fn single(key: HmacKey) -> Self {
        Self { keys: vec![key] }
    }

    /// The key that signs.
    pub fn current(&self) -> &HmacKey {
        // `new` refuses an empty set.
        &self.keys[0]
    }

    /// Every key, newest first.
    pub fn keys(&self) -> &[HmacKey] {
        &self.keys
    }

    /// The key with id `id`.
    pub fn get(&self, id: &str) -> Option<&HmacKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Signs `data` with the newest key.
    pub fn sign(&self, data: &[u8]) -> Tag {
        let key = self.current();
        Tag {
            key_id: key.id.clone(),
            mac: key.mac(&[data]),
        }
    }

    /// Whether `tag` is a MAC of `data` by a listed key, compared in
    /// constant time.
    pub fn verify(&self, data: &[u8], tag: &Tag) -> bool {
        self.get(&tag.key_id)
            .is_some_and(|key| bool::from(key.mac(&[data]).ct_eq(&tag.mac)))
    }
}

fn check_key_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "key id",
            format!("{id:?} must be 1 to {MAX_KEY_ID_LEN} characters of A-Z a-z 0-9 - _ ."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_6_known_answer() {
        // RFC 4231 case 6 uses a 131-byte key, long enough for our minimum.
        let key = HmacKey::new("rfc4231-6", vec![0xaa; 131]).unwrap();
        let mac = key.mac(&[b"Test Using Larger Than Block-Size Key - Hash Key First"]);
        assert_eq!(
            mac,
            [
                0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26, 0xaa, 0xcb, 0xf5,
                0xb7, 0x7f, 0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28, 0xc5, 0x14, 0x05, 0x46, 0x04, 0x0f,
                0x0e, 0xe3, 0x7f, 0x54
            ]
        );
        // Parts are concatenated.
        assert_eq!(
            key.mac(&[
                b"Test Using Larger ",
                b"Than Block-Size Key - Hash Key First"
            ]),
            mac
        );
    }

    #[test]
    fn weak_keys_and_bad_ids_are_refused() {
        assert!(HmacKey::new("k", vec![1; 31]).is_err());
        assert!(HmacKey::new("", vec![1; 32]).is_err());
        assert!(HmacKey::new("../etc/passwd", vec![1; 32]).is_err());
        assert!(HmacKey::new("x".repeat(65), vec![1; 32]).is_err());
        assert!(HmacKeys::new(vec![]).is_err());
        let a = HmacKey::new("a", vec![1; 32]).unwrap();
        assert!(HmacKeys::new(vec![a.clone(), a]).is_err());
    }

    #[test]
    fn rotation_signs_with_the_newest_and_verifies_with_any() {
        let old = HmacKey::new("old", vec![1; 32]).unwrap();
        let new = HmacKey::new("new", vec![2; 32]).unwrap();
        let before = HmacKeys::single(old.clone()).sign(b"data");
        let keys = HmacKeys::new(vec![new.clone(), old]).unwrap();
        assert!(keys.verify(b"data", &before));
        assert!(!keys.verify(b"other", &before));
        let after = keys.sign(b"data");
        assert_eq!(after.key_id(), "new");
        assert!(!HmacKeys::single(new.clone()).verify(b"data", &before));
        assert!(HmacKeys::single(new).verify(b"data", &after));
        // A tag that names an unknown key, or the right key with wrong bytes.
        assert!(!keys.verify(b"data", &Tag::from_parts("gone", *after.as_bytes())));
        assert!(!keys.verify(b"data", &Tag::from_parts("new", [0; 32])));
    }

    #[test]
    fn derived_keys_are_independent_and_stable() {
        let master = [9u8; 32];
        let csrf = HmacKey::derive("k", &master, "csrf").unwrap();
        let again = HmacKey::derive("k", &master, "csrf").unwrap();
        let other = HmacKey::derive("k", &master, "onetime").unwrap();
        assert_eq!(csrf.mac(&[b"x"]), again.mac(&[b"x"]));
        assert_ne!(csrf.mac(&[b"x"]), other.mac(&[b"x"]));
        assert!(HmacKey::derive("k", &[1; 31], "csrf").is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = HmacKey::new("id-1", vec![0x41; 32]).unwrap();
        let printed = format!("{key:?} {:?}", HmacKeys::single(key.clone()));
        assert!(printed.contains("id-1"));
        assert!(
            !printed.contains("65") && !printed.contains("AAAA"),
            "{printed}"
        );
    }
}
