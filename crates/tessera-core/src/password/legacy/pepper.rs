//! Application peppers: what some stacks did to a password before the
//! hash scheme saw it.

use std::collections::BTreeSet;
use std::fmt;

use base64ct::{Base64, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use super::Scheme;

/// What an application did to a password before handing it to a legacy
/// hash scheme: an HMAC with an application secret, a prefix, an encoding.
///
/// [`LegacyHasher::pepper`](super::LegacyHasher::pepper) installs one. For
/// a stored hash of `scheme`, `apply` returns the bytes the scheme was
/// given, or `None` when the application hashed the password unchanged for
/// that scheme. Peppers only ever apply to legacy hashes: the argon2id hash
/// that replaces one on login is made from the password itself.
///
/// Implementations hold a secret: keep it out of `Debug`, as
/// [`FlaskSecurityHmac`] does.
///
/// ```
/// use tessera_core::password::legacy::{Pepper, Scheme};
/// use zeroize::Zeroizing;
///
/// /// An application that appended a fixed secret to every password it
/// /// hashed with Werkzeug.
/// struct Suffix(Zeroizing<Vec<u8>>);
///
/// impl std::fmt::Debug for Suffix {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("Suffix([redacted])")
///     }
/// }
///
/// impl Pepper for Suffix {
///     fn apply(&self, scheme: Scheme, password: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
///         matches!(scheme, Scheme::WerkzeugPbkdf2 | Scheme::WerkzeugScrypt).then(|| {
///             let mut peppered = Zeroizing::new(password.to_vec());
///             peppered.extend_from_slice(&self.0);
///             peppered
///         })
///     }
/// }
/// ```
pub trait Pepper: Send + Sync + fmt::Debug {
    /// The bytes the application hashed with `scheme` for `password`, or
    /// `None` when it hashed the password itself.
    fn apply(&self, scheme: Scheme, password: &[u8]) -> Option<Zeroizing<Vec<u8>>>;
}

/// Flask-Security's pepper: before hashing, the password becomes
/// `base64(HMAC-SHA512(key = SECURITY_PASSWORD_SALT, password))`, after
/// Unicode normalisation to NFKD.
///
/// Flask-Security (and Flask-Security-Too) apply the HMAC for every scheme
/// except those in `SECURITY_PASSWORD_SINGLE_HASH`, which by default lists
/// the Django formats; [`new`](Self::new) follows that default and
/// [`schemes`](Self::schemes) names another set (an application that set
/// `SECURITY_PASSWORD_SINGLE_HASH = True` used no HMAC at all: pass an
/// empty set; the original Flask-Security 3, whose setting defaulted to
/// `False`, applied it to every scheme: pass them all). For the schemes
/// without the HMAC, the NFKD form (when it differs) replaces the password
/// rather than adding a try. Flask-Security-Too 4.0 and later normalise the password
/// first (`SECURITY_PASSWORD_NORMALIZE_FORM`, NFKD by default), for every
/// scheme; [`without_normalization`](Self::without_normalization) is for
/// hashes made before 4.0 or with the setting off.
///
/// ```
/// use tessera_core::password::legacy::{FlaskSecurityHmac, Pepper, Scheme};
///
/// let pepper = FlaskSecurityHmac::new("the SECURITY_PASSWORD_SALT of the Flask app");
/// assert!(pepper.apply(Scheme::Bcrypt, b"password").is_some());
/// // Django formats: no HMAC, and an ASCII password is unchanged by NFKD.
/// assert!(pepper.apply(Scheme::DjangoPbkdf2, b"password").is_none());
/// assert!(!format!("{pepper:?}").contains("SECURITY_PASSWORD_SALT"));
/// ```
#[derive(Clone)]
pub struct FlaskSecurityHmac {
    key: Zeroizing<Vec<u8>>,
    /// `None`: every scheme but Django's.
    schemes: Option<BTreeSet<Scheme>>,
    nfkd: bool,
}

impl FlaskSecurityHmac {
    /// The pepper of an application whose `SECURITY_PASSWORD_SALT` is
    /// `password_salt`: the HMAC for every scheme but Django's, NFKD first.
    pub fn new(password_salt: impl AsRef<[u8]>) -> Self {
        Self {
            key: Zeroizing::new(password_salt.as_ref().to_vec()),
            schemes: None,
            nfkd: true,
        }
    }

    /// Passwords were hashed as typed, not normalised to NFKD (Flask-Security
    /// before Flask-Security-Too 4.0, or `SECURITY_PASSWORD_NORMALIZE_FORM =
    /// None`).
    #[must_use]
    pub fn without_normalization(mut self) -> Self {
        self.nfkd = false;
        self
    }

    /// Applies the pepper to exactly these schemes.
    #[must_use]
    pub fn schemes(mut self, schemes: impl IntoIterator<Item = Scheme>) -> Self {
        self.schemes = Some(schemes.into_iter().collect());
        self
    }

    fn applies_to(&self, scheme: Scheme) -> bool {
        match &self.schemes {
            Some(schemes) => schemes.contains(&scheme),
            None => !scheme.is_django(),
        }
    }
}

impl Pepper for FlaskSecurityHmac {
    fn apply(&self, scheme: Scheme, password: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let normalised = if self.nfkd {
            // Passwords reach verifiers as text; anything else is used as is.
            std::str::from_utf8(password).ok().and_then(|text| {
                // Sized for the worst case: growing would leave copies behind.
                let mut nfkd = Zeroizing::new(String::with_capacity(
                    text.len()
                        .saturating_mul(crate::password::policy::NFKC_MAX_EXPANSION),
                ));
                nfkd.extend(text.nfkd());
                (nfkd.as_bytes() != password).then_some(nfkd)
            })
        } else {
            None
        };
        let input = normalised.as_ref().map_or(password, |n| n.as_bytes());
        if !self.applies_to(scheme) {
            return normalised.map(|n| Zeroizing::new(n.as_bytes().to_vec()));
        }
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(&self.key).ok()?;
        mac.update(input);
        let digest = Zeroizing::new(mac.finalize().into_bytes());
        let mut encoded = Zeroizing::new(vec![0u8; 88]);
        Base64::encode(&digest, &mut encoded).ok()?;
        Some(encoded)
    }
}

impl fmt::Debug for FlaskSecurityHmac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlaskSecurityHmac")
            .field("key", &"[redacted]")
            .field("nfkd", &self.nfkd)
            .field(
                "schemes",
                &match &self.schemes {
                    None => "all but Django's".to_owned(),
                    Some(schemes) => format!("{schemes:?}"),
                },
            )
            .finish()
    }
}
