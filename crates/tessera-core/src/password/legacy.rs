//! Password hashes made by other systems, verified so that their users keep
//! their passwords, and replaced with argon2id on the next login (feature
//! `legacy`).
//!
//! [`LegacyHasher`] wraps the current [`Argon2Hasher`]: new hashes and
//! dummy verifications are argon2id; a stored argon2 string goes to it; a
//! stored string of another scheme is verified as that scheme defines, and
//! a match always reports [`Verified::needs_rehash`], so
//! [`Auth`](crate::auth::Auth)'s login path replaces it with argon2id.
//!
//! | scheme | stored form | made by |
//! | --- | --- | --- |
//! | Werkzeug PBKDF2 | `pbkdf2:<sha1\|sha256\|sha512>:<iterations>$<salt>$<hex>` (the salt is used as its UTF-8 text) | Flask, `werkzeug.security` since 0.9 |
//! | Werkzeug scrypt | `scrypt:<N>:<r>:<p>$<salt>$<hex>` (64-byte output) | Werkzeug 3 (its default) |
//! | Django PBKDF2 | `pbkdf2_sha256$<iterations>$<salt>$<base64>`, `pbkdf2_sha1$…` | `django.contrib.auth.hashers` |
//! | Django argon2 | `argon2$argon2id$v=19$…` (a PHC string after `argon2`) | `Argon2PasswordHasher` |
//! | argon2-cffi | `$argon2id$`, `$argon2i$`, `$argon2d$`, `v=19`, `v=16` or none, 16- or 32-byte tags | argon2-cffi, passlib's argon2 |
//! | passlib PBKDF2 | `$pbkdf2-sha256$<rounds>$<salt>$<checksum>` (adapted base64) | `passlib.hash.pbkdf2_sha256` |
//! | bcrypt | `$2a$`, `$2b$`, `$2y$` + cost + salt and hash | pyca/bcrypt, Flask-Bcrypt, PHP |
//!
//! bcrypt uses only the first 72 bytes of a password: a legacy bcrypt hash
//! is verified that way, as its scheme defines, and the argon2id hash that
//! replaces it on login uses the whole password.
//!
//! Every scheme's cost has a ceiling ([`LegacyLimits`]), checked before any
//! work: a planted hash with 10⁹ iterations is refused, not computed. A
//! string of no supported scheme is [`PasswordError::UnsupportedScheme`],
//! naming its prefix; a malformed one of a known scheme is
//! [`PasswordError::MalformedHash`]; neither ever panics.
//!
//! Not yet here (the rest of the legacy-formats issue): passlib's
//! `$5$`/`$6$` SHA-crypt and bcrypt-sha256, PHC pbkdf2/scrypt
//! (`$pbkdf2-sha256$i=…`, `$scrypt$ln=…`), Django's bcrypt_sha256 and
//! scrypt hashers, application peppers, and trying the raw
//! (un-normalised) password when the NFKC form does not verify.
//!
//! ```
//! use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordVerifier};
//! use tessera_core::password::legacy::LegacyHasher;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(1024, 1, 1))?);
//! // Werkzeug: generate_password_hash("correct horse battery", "pbkdf2:sha256:1000")
//! let stored = "pbkdf2:sha256:1000$esgmF7PaDkpgjcPH$e7baecf4da3781f0964fe194269c482e1bb0b329630552bb40e1d41da77c6dba";
//! let verified = hasher.verify_password(&Password::new("correct horse battery"), stored)?;
//! assert!(verified.is_valid() && verified.needs_rehash());
//! assert!(!hasher.verify_password(&Password::new("wrong"), stored)?.is_valid());
//! # Ok(())
//! # }
//! ```

use base64ct::{Base64, Encoding};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{Argon2Hasher, Password, PasswordHasher, PasswordVerifier, Scratch, Verified};
use crate::error::PasswordError;

/// The ceilings on a legacy hash's cost, checked before any work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyLimits {
    /// PBKDF2 iterations (default 10 000 000; Django and Werkzeug use
    /// 1 000 000 today).
    pub max_pbkdf2_iterations: u32,
    /// bcrypt cost (default 16; libraries default to 12).
    pub max_bcrypt_cost: u32,
    /// scrypt memory, `128 · N · r` bytes (default 256 MiB).
    pub max_scrypt_memory: u64,
    /// scrypt parallelism (default 16).
    pub max_scrypt_p: u32,
}

impl Default for LegacyLimits {
    fn default() -> Self {
        Self {
            max_pbkdf2_iterations: 10_000_000,
            max_bcrypt_cost: 16,
            max_scrypt_memory: 256 * 1024 * 1024,
            max_scrypt_p: 16,
        }
    }
}

/// Verifies legacy hashes besides argon2id; hashes with argon2id. See the
/// [module docs](self).
#[derive(Debug)]
pub struct LegacyHasher {
    current: Argon2Hasher,
    limits: LegacyLimits,
}

impl LegacyHasher {
    /// Legacy verification around `current`, with the default ceilings.
    pub fn new(current: Argon2Hasher) -> Self {
        Self {
            current,
            limits: LegacyLimits::default(),
        }
    }

    /// Other ceilings.
    #[must_use]
    pub fn limits(mut self, limits: LegacyLimits) -> Self {
        self.limits = limits;
        self
    }

    fn check(&self, param: &'static str, value: u64, max: u64) -> Result<(), PasswordError> {
        if value > max {
            tracing::warn!(
                target: "tessera::auth",
                param, value, max,
                "legacy password hash exceeds the cost ceilings; refused without hashing"
            );
            return Err(PasswordError::ParamsOutOfBounds { param, value, max });
        }
        Ok(())
    }

    /// Werkzeug: `pbkdf2:<digest>:<iterations>$<salt>$<hex>`.
    fn werkzeug_pbkdf2(&self, password: &[u8], stored: &str) -> Result<bool, PasswordError> {
        let (method, salt, hex) = werkzeug_parts(stored)?;
        let mut method = method.split(':').skip(1);
        let digest = method
            .next()
            .ok_or(PasswordError::MalformedHash("pbkdf2 digest"))?;
        let iterations: u32 = method
            .next()
            .and_then(|i| i.parse().ok())
            .ok_or(PasswordError::MalformedHash("pbkdf2 iterations"))?;
        if method.next().is_some() || iterations == 0 {
            return Err(PasswordError::MalformedHash("pbkdf2 method"));
        }
        self.check(
            "iterations",
            u64::from(iterations),
            u64::from(self.limits.max_pbkdf2_iterations),
        )?;
        let expected = decode_hex(hex)?;
        let mut out = Zeroizing::new(vec![0u8; expected.len()]);
        let salt = salt.as_bytes();
        match digest {
            "sha256" if expected.len() == 32 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
            }
            "sha512" if expected.len() == 64 => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
            }
            "sha1" if expected.len() == 20 => {
                pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, iterations, &mut out);
            }
            "sha256" | "sha512" | "sha1" => {
                return Err(PasswordError::MalformedHash("pbkdf2 hash length"));
            }
            _ => return Err(PasswordError::MalformedHash("pbkdf2 digest")),
        }
        Ok(bool::from(out.as_slice().ct_eq(&expected)))
    }

    /// Werkzeug: `scrypt:<N>:<r>:<p>$<salt>$<hex>`.
    fn werkzeug_scrypt(&self, password: &[u8], stored: &str) -> Result<bool, PasswordError> {
        let (method, salt, hex) = werkzeug_parts(stored)?;
        let numbers: Vec<u64> = method
            .split(':')
            .skip(1)
            .map(|n| {
                n.parse()
                    .map_err(|_| PasswordError::MalformedHash("scrypt parameters"))
            })
            .collect::<Result<_, _>>()?;
        let [n, r, p] = numbers[..] else {
            return Err(PasswordError::MalformedHash("scrypt parameters"));
        };
        if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 {
            return Err(PasswordError::MalformedHash("scrypt parameters"));
        }
        let memory = 128u64.saturating_mul(n).saturating_mul(r);
        self.check("scrypt memory", memory, self.limits.max_scrypt_memory)?;
        self.check("p", p, u64::from(self.limits.max_scrypt_p))?;
        let log_n = u8::try_from(n.trailing_zeros())
            .map_err(|_| PasswordError::MalformedHash("scrypt N"))?;
        let r = u32::try_from(r).map_err(|_| PasswordError::MalformedHash("scrypt r"))?;
        let p = u32::try_from(p).map_err(|_| PasswordError::MalformedHash("scrypt p"))?;
        let params = scrypt::Params::new(log_n, r, p)
            .map_err(|_| PasswordError::MalformedHash("scrypt parameters"))?;
        let expected = decode_hex(hex)?;
        if expected.len() != 64 {
            return Err(PasswordError::MalformedHash("scrypt hash length"));
        }
        let mut out = Zeroizing::new([0u8; 64]);
        scrypt::scrypt(password, salt.as_bytes(), &params, out.as_mut_slice())
            .map_err(|_| PasswordError::Internal("scrypt output length"))?;
        Ok(bool::from(out.as_slice().ct_eq(&expected)))
    }

    /// Django: `pbkdf2_sha256$<iterations>$<salt>$<base64>`.
    fn django_pbkdf2(&self, password: &[u8], stored: &str) -> Result<bool, PasswordError> {
        let mut parts = stored.split('$');
        let (Some(algorithm), Some(iterations), Some(salt), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(PasswordError::MalformedHash("django pbkdf2 fields"));
        };
        let iterations: u32 = iterations
            .parse()
            .ok()
            .filter(|&i| i > 0)
            .ok_or(PasswordError::MalformedHash("django pbkdf2 iterations"))?;
        self.check(
            "iterations",
            u64::from(iterations),
            u64::from(self.limits.max_pbkdf2_iterations),
        )?;
        let expected = Base64::decode_vec(hash)
            .map_err(|_| PasswordError::MalformedHash("django pbkdf2 base64"))?;
        let mut out = Zeroizing::new(vec![0u8; expected.len()]);
        match (algorithm, expected.len()) {
            ("pbkdf2_sha256", 32) => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt.as_bytes(), iterations, &mut out);
            }
            ("pbkdf2_sha1", 20) => {
                pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt.as_bytes(), iterations, &mut out);
            }
            _ => return Err(PasswordError::MalformedHash("django pbkdf2 hash length")),
        }
        Ok(bool::from(out.as_slice().ct_eq(&expected)))
    }

    /// passlib: `$pbkdf2-sha256$<rounds>$<salt>$<checksum>`, salt and
    /// checksum in passlib's adapted base64 (`.` for `+`, no padding).
    fn passlib_pbkdf2_sha256(&self, password: &[u8], stored: &str) -> Result<bool, PasswordError> {
        let mut parts = stored.split('$').skip(2);
        let (Some(rounds), Some(salt), Some(checksum), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(PasswordError::MalformedHash("passlib pbkdf2 fields"));
        };
        let rounds: u32 = rounds
            .parse()
            .ok()
            .filter(|&r| r > 0)
            .ok_or(PasswordError::MalformedHash("passlib pbkdf2 rounds"))?;
        self.check(
            "iterations",
            u64::from(rounds),
            u64::from(self.limits.max_pbkdf2_iterations),
        )?;
        let salt = ab64_decode(salt)?;
        let expected = ab64_decode(checksum)?;
        if expected.len() != 32 {
            return Err(PasswordError::MalformedHash(
                "passlib pbkdf2 checksum length",
            ));
        }
        let mut out = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(password, &salt, rounds, out.as_mut_slice());
        Ok(bool::from(out.as_slice().ct_eq(&expected)))
    }

    /// bcrypt `$2a$`, `$2b$`, `$2y$` (the first 72 bytes of the password).
    fn bcrypt(&self, password: &[u8], stored: &str) -> Result<bool, PasswordError> {
        let cost: u32 = stored
            .get(4..6)
            .filter(|_| stored.len() == 60 && stored.as_bytes().get(6) == Some(&b'$'))
            .and_then(|c| c.parse().ok())
            .ok_or(PasswordError::MalformedHash("bcrypt cost"))?;
        self.check(
            "cost",
            u64::from(cost),
            u64::from(self.limits.max_bcrypt_cost),
        )?;
        bcrypt::verify(password, stored).map_err(|_| PasswordError::MalformedHash("bcrypt"))
    }
}

/// `<method>$<salt>$<hex>`, Werkzeug's layout.
fn werkzeug_parts(stored: &str) -> Result<(&str, &str, &str), PasswordError> {
    let mut parts = stored.split('$');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(salt), Some(hex), None) if !salt.is_empty() => Ok((method, salt, hex)),
        _ => Err(PasswordError::MalformedHash("werkzeug fields")),
    }
}

/// passlib's adapted base64: the standard alphabet with `.` for `+`,
/// without padding.
fn ab64_decode(text: &str) -> Result<Vec<u8>, PasswordError> {
    if text.is_empty() || text.len() > 128 {
        return Err(PasswordError::MalformedHash("passlib base64 length"));
    }
    let mut standard = text.replace('.', "+");
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    Base64::decode_vec(&standard).map_err(|_| PasswordError::MalformedHash("passlib base64"))
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, PasswordError> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 256 {
        return Err(PasswordError::MalformedHash("hex length"));
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or(PasswordError::MalformedHash("hex digits"))
        })
        .collect()
}

/// The scheme prefix of `stored`, for the error of an unsupported one: the
/// text before the first `$` or `:` separator when the string has the
/// shape of a hash (two separators or more) and the prefix that of a scheme
/// name (at most 32 letters, digits, `-` and `_`), else `(none)`. A column
/// of plain-text passwords must not end up in an error message or a log.
fn prefix(stored: &str) -> String {
    // Hash formats have at least two separators (`md5$salt$hash`,
    // `$1$salt$hash`); a lone one is more likely part of a password.
    if stored.matches(['$', ':']).count() < 2 {
        return "(none)".to_owned();
    }
    let name = stored.strip_prefix('$').unwrap_or(stored);
    let Some(end) = name.find(['$', ':']) else {
        return "(none)".to_owned();
    };
    let name = &name[..end];
    if name.is_empty()
        || name.len() > 32
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        return "(none)".to_owned();
    }
    if stored.starts_with('$') {
        format!("${name}")
    } else {
        name.to_owned()
    }
}

impl PasswordHasher for LegacyHasher {
    fn hash_password_with(
        &self,
        password: &Password,
        scratch: &mut Scratch,
    ) -> Result<String, PasswordError> {
        self.current.hash_password_with(password, scratch)
    }

    fn verify_dummy_with(
        &self,
        password: &Password,
        scratch: &mut Scratch,
    ) -> Result<(), PasswordError> {
        self.current.verify_dummy_with(password, scratch)
    }
}

impl PasswordVerifier for LegacyHasher {
    fn verify_password_with(
        &self,
        password: &Password,
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        if stored.starts_with("$argon2") {
            // tessera's own format, and argon2-cffi's (every version).
            return self.current.verify_password_with(password, stored, scratch);
        }
        if let Some(phc) = stored.strip_prefix("argon2$argon2") {
            // Django's argon2 hasher: `argon2` before the PHC string.
            let verified =
                self.current
                    .verify_password_with(password, &format!("$argon2{phc}"), scratch)?;
            return Ok(if verified.is_valid() {
                Verified::valid(true)
            } else {
                Verified::INVALID
            });
        }
        let raw = password.expose_secret().as_bytes();
        let matched = if stored.starts_with("pbkdf2:") {
            self.werkzeug_pbkdf2(raw, stored)?
        } else if stored.starts_with("scrypt:") {
            self.werkzeug_scrypt(raw, stored)?
        } else if stored.starts_with("pbkdf2_sha256$") || stored.starts_with("pbkdf2_sha1$") {
            self.django_pbkdf2(raw, stored)?
        } else if stored.starts_with("$pbkdf2-sha256$") && !stored.starts_with("$pbkdf2-sha256$i=")
        {
            self.passlib_pbkdf2_sha256(raw, stored)?
        } else if ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| stored.starts_with(p))
        {
            self.bcrypt(raw, stored)?
        } else {
            return Err(PasswordError::UnsupportedScheme(prefix(stored)));
        };
        // Any legacy match is replaced with argon2id on this login.
        Ok(if matched {
            Verified::valid(true)
        } else {
            Verified::INVALID
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::Argon2Params;

    fn hasher() -> LegacyHasher {
        LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap())
    }

    #[test]
    fn unsupported_and_malformed_never_panic() {
        let h = hasher();
        let pw = Password::new("x");
        for stored in [
            "",
            "md5$abc$def",
            "sha1$x$y",
            "$1$abc",
            "plaintext",
            "$2x$04$aaaa",
        ] {
            match h.verify_password(&pw, stored) {
                Err(PasswordError::UnsupportedScheme(_)) => {}
                other => panic!("{stored:?}: {other:?}"),
            }
        }
        assert!(matches!(
            h.verify_password(&pw, "md5$abc$def"),
            Err(PasswordError::UnsupportedScheme(p)) if p == "md5"
        ));
        assert!(matches!(
            h.verify_password(&pw, "$1$abc"),
            Err(PasswordError::UnsupportedScheme(p)) if p == "$1"
        ));
        // A plain-text password column is never echoed back.
        for plain in [
            "hunter2",
            "my secret password",
            "s3cr3t!$x",
            "correct:horse",
        ] {
            assert!(
                matches!(
                    h.verify_password(&pw, plain),
                    Err(PasswordError::UnsupportedScheme(p)) if p == "(none)" || !plain.contains(&p)
                ),
                "{plain}"
            );
        }
        for stored in [
            "pbkdf2:sha256",
            "pbkdf2:sha256:1000$$ab",
            "pbkdf2:sha256:x$salt$ab",
            "pbkdf2:md5:1000$salt$abcd",
            "pbkdf2:sha256:1000$salt$zz",
            "pbkdf2:sha256:1000$salt$abc",
            "pbkdf2:sha256:0$salt$ab",
            "scrypt:1000:8:1$salt$ab",
            "scrypt:1024:8$salt$ab",
            "pbkdf2_sha256$1000$salt",
            "pbkdf2_sha256$1000$salt$!!!",
            "pbkdf2_sha1$1000$salt$AAAA",
            "$2b$04$short",
            "$2b$xx$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "$2b$04$££££££££££££££££££££££££££",
            "$pbkdf2-sha256$x$c2FsdA$c3Vt",
            "$pbkdf2-sha256$1000$c2FsdA$c2hvcnQ",
            "$pbkdf2-sha256$1000$!!$c3Vt",
            "$pbkdf2-sha256$1000$c2FsdA",
        ] {
            assert!(
                matches!(
                    h.verify_password(&pw, stored),
                    Err(PasswordError::MalformedHash(_))
                ),
                "{stored:?}: {:?}",
                h.verify_password(&pw, stored)
            );
        }
    }

    /// A1–A3 for legacy schemes: over-ceiling costs are refused before
    /// any work.
    #[test]
    fn costs_over_the_ceilings_are_refused() {
        let h = hasher();
        let pw = Password::new("x");
        let hex64 = "ab".repeat(32);
        for stored in [
            format!("pbkdf2:sha256:1000000000$salt${hex64}"),
            format!("pbkdf2_sha256$1000000000$salt${}", "A".repeat(44)),
            format!("scrypt:1048576:16:1$salt${}", "ab".repeat(64)),
            format!("scrypt:1024:8:64$salt${}", "ab".repeat(64)),
            format!("$2b$20${}", "a".repeat(53)),
            format!("$pbkdf2-sha256$1000000000$c2FsdA${}", "A".repeat(43)),
        ] {
            assert!(
                matches!(
                    h.verify_password(&pw, &stored),
                    Err(PasswordError::ParamsOutOfBounds { .. })
                ),
                "{stored}"
            );
        }
    }

    #[test]
    fn argon2_hashes_go_to_the_current_hasher() {
        let h = hasher();
        let pw = Password::new("correct horse battery");
        let stored = h.hash_password(&pw).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        let verified = h.verify_password(&pw, &stored).unwrap();
        assert!(verified.is_valid() && !verified.needs_rehash());
    }
}
