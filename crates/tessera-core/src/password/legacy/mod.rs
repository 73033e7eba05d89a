//! Password hashes made by other systems, verified so that their users keep
//! their passwords, and replaced with argon2id on the next login (feature
//! `legacy`).
//!
//! [`LegacyHasher`] wraps the current [`Argon2Hasher`]: new hashes and
//! dummy verifications are argon2id; a stored argon2 string goes to it; a
//! stored string of another scheme is verified as that scheme defines, and
//! a match always reports [`Verified::needs_rehash`], so
//! [`Auth`](crate::auth::Auth)'s login path replaces it with argon2id.
//! [`Scheme::identify`] names the scheme of a stored string.
//!
//! | [`Scheme`] | stored form | made by |
//! | --- | --- | --- |
//! | `WerkzeugPbkdf2` | `pbkdf2:<sha1\|sha224\|sha256\|sha384\|sha512>:<iterations>$<salt>$<hex>` (the salt is used as its UTF-8 text) | Flask, `werkzeug.security` since 0.9 (the default until 3.0) |
//! | `WerkzeugScrypt` | `scrypt:<N>:<r>:<p>$<salt>$<hex>` (64-byte output) | Werkzeug 3 (its default) |
//! | `DjangoPbkdf2` | `pbkdf2_sha256$<iterations>$<salt>$<base64>`, `pbkdf2_sha1$…` | Django's default hasher and its predecessor |
//! | `DjangoArgon2` | `argon2$argon2id$v=19$…` (a PHC string after `argon2`) | Django's `Argon2PasswordHasher` |
//! | `DjangoBcryptSha256` | `bcrypt_sha256$$2b$…`: bcrypt of the hex SHA-256 of the password | Django's `BCryptSHA256PasswordHasher` |
//! | `DjangoBcrypt` | `bcrypt$$2b$…` | Django's `BCryptPasswordHasher` |
//! | `DjangoScrypt` | `scrypt$<N>$<salt>$<r>$<p>$<base64>` (64-byte output) | Django's `ScryptPasswordHasher` (4.0+) |
//! | `Argon2` | `$argon2id$`, `$argon2i$`, `$argon2d$`; `v=19`, `v=16` or none; tags of 10 to 64 bytes | tessera, argon2-cffi, passlib, RustCrypto |
//! | `Pbkdf2Mcf` | `$pbkdf2-sha256$<rounds>$<salt>$<checksum>`, `$pbkdf2$…` (SHA-1), `$pbkdf2-sha512$…` (adapted base64) | passlib's `pbkdf2_<digest>`, RustCrypto `pbkdf2` (`mcf`) |
//! | `Pbkdf2Phc` | `$pbkdf2-sha256$i=<rounds>,l=<length>$<salt>$<hash>`, `$pbkdf2-sha512$…` | RustCrypto `pbkdf2` (`phc`) |
//! | `ScryptPhc` | `$scrypt$ln=<log₂ N>,r=<r>,p=<p>$<salt>$<hash>` | passlib's `scrypt`, RustCrypto `scrypt` |
//! | `Sha256Crypt`, `Sha512Crypt` | `$5$[rounds=<n>$]<salt>$<hash>`, `$6$…` | passlib's `sha256_crypt` / `sha512_crypt`, glibc `crypt(3)` |
//! | `BcryptSha256` | `$bcrypt-sha256$v=2,t=2b,r=<cost>$<salt>$<hash>` (and v1, `$bcrypt-sha256$2a,<cost>$…`) | passlib's `bcrypt_sha256` |
//! | `Bcrypt` | `$2a$`, `$2b$`, `$2y$` + cost + salt and hash | pyca/bcrypt, Flask-Bcrypt, passlib's `bcrypt`, PHP |
//! | `FastDigest` (only with [`LegacyHasher::dangerous_accept_fast_digests`]) | `sha1$<salt>$<hex>`, `md5$…`, `sha256$…` (and sha224/384/512), `sha1$$<hex>`, `plain$$<password>` | Werkzeug before 0.9 (its default `sha1`) and its other methods until 2.3; Django's `SHA1PasswordHasher`, `MD5PasswordHasher` and unsalted hashers |
//!
//! bcrypt uses only the first 72 bytes of a password: a legacy bcrypt hash
//! is verified that way, as its scheme defines, and the argon2id hash that
//! replaces it on login uses the whole password.
//!
//! # Untrusted stored strings
//!
//! Every scheme's cost has a ceiling ([`LegacyLimits`]), checked before any
//! work: PBKDF2 iterations times output blocks, scrypt memory (both of its
//! buffers) and work, bcrypt cost, SHA-crypt rounds. A planted hash with
//! 10⁹ iterations is refused, not computed. SHA-crypt's work also grows
//! with the password, so it verifies passwords up to a length; a longer
//! one costs what that length costs and does not match. Output lengths
//! other than their writers' are refused too (a truncated PBKDF2 or scrypt
//! output is a prefix of the full one). A string of no supported scheme is
//! [`PasswordError::UnsupportedScheme`], naming its prefix only when that
//! is the identifier of a known format (`$1`, `crypt`, …): a column of
//! plain-text passwords never reaches an error or a log. A malformed
//! string of a known scheme is [`PasswordError::MalformedHash`]; neither
//! ever panics. Comparisons are constant-time, and through a
//! [`PasswordPool`](super::PasswordPool) the work runs on its workers, as
//! argon2 does.
//!
//! # The password as typed
//!
//! tessera hashes the NFKC form of a password; other systems hashed what
//! the user typed. Through [`PasswordVerifier::verify_prepared_with`] (what
//! [`PasswordPool::verify`](super::PasswordPool::verify) calls), when the
//! normalised form differs from what was typed and does not match, the
//! typed form is tried too, and a match of it reports `needs_rehash`, so the
//! replacement hash is of the normalised form. Only passwords that NFKC
//! changes (ligatures, full-width forms, composed accents typed decomposed)
//! pay for the second try, and only when the first does not match.
//!
//! # Peppers
//!
//! Some stacks transformed the password before the scheme saw it; a
//! [`Pepper`] says how ([`FlaskSecurityHmac`] for Flask-Security's HMAC with
//! `SECURITY_PASSWORD_SALT`), installed with [`LegacyHasher::pepper`]. For
//! argon2 strings, which tessera's own hashes share, the password is tried
//! unpeppered first, then peppered (so with a pepper, the peppered value
//! itself, a password equivalent, also opens those rows): with a pepper
//! configured, a wrong password costs two to four argon2 verifications
//! (with the typed form; the dummy for unknown accounts as many) until the
//! pepper is removed, once no peppered hash is left (see the
//! [import guide](guide)).
//!
//! # Timing
//!
//! The dummy verification for an unknown account
//! ([`PasswordHasher::verify_dummy_prepared_with`]) runs argon2 as many
//! times as a wrong password costs against a tessera hash, typed form and
//! pepper included. A legacy hash costs what its scheme costs (see the bench
//! `cargo bench --bench hashing --features legacy`), not what the dummy
//! verification of an unknown account costs, so until an account's hash is
//! upgraded its response time can differ from an unknown account's.
//! Upgrading on login closes that gap one account at a time; forcing a reset
//! for accounts that never log in closes the rest.
//!
//! ```
//! use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordVerifier};
//! use tessera_core::password::legacy::{LegacyHasher, Scheme};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(1024, 1, 1))?);
//! // Werkzeug: generate_password_hash("correct horse battery", "pbkdf2:sha256:1000")
//! let stored = "pbkdf2:sha256:1000$esgmF7PaDkpgjcPH$e7baecf4da3781f0964fe194269c482e1bb0b329630552bb40e1d41da77c6dba";
//! assert_eq!(Scheme::identify(stored), Some(Scheme::WerkzeugPbkdf2));
//! let verified = hasher.verify_password(&Password::new("correct horse battery"), stored)?;
//! assert!(verified.is_valid() && verified.needs_rehash());
//! assert!(!hasher.verify_password(&Password::new("wrong"), stored)?.is_valid());
//! # Ok(())
//! # }
//! ```

#[doc = include_str!("guide.md")]
pub mod guide {}
mod pepper;
mod schemes;

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Argon2Hasher, Password, PasswordHasher, PasswordVerifier, Scratch, Verified};
use crate::error::PasswordError;

pub use self::pepper::{FlaskSecurityHmac, Pepper};

/// The ceilings on a legacy hash's cost, checked before any work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyLimits {
    /// PBKDF2 iterations (default 10 000 000; Django and Werkzeug use
    /// 1 000 000 today).
    pub max_pbkdf2_iterations: u32,
    /// bcrypt cost (default 16; libraries default to 12).
    pub max_bcrypt_cost: u32,
    /// scrypt memory, `128 · r · (N + p)` bytes: its N-block table and its
    /// p blocks (default 257 MiB, so a 256 MiB table fits). With the
    /// `scrypt` crate's `parallel` feature enabled anywhere in a build, the p
    /// lanes run at once and peak memory is `128 · N · r · p`, bounded by
    /// [`max_scrypt_work`](Self::max_scrypt_work) instead.
    pub max_scrypt_memory: u64,
    /// scrypt work, `128 · N · r · p` bytes mixed (default 1 GiB; Django
    /// writes 80 MiB, Werkzeug 32 MiB, passlib 64 MiB, RustCrypto 128 MiB).
    pub max_scrypt_work: u64,
    /// scrypt parallelism (default 16).
    pub max_scrypt_p: u32,
    /// SHA-crypt rounds (default 5 000 000; passlib writes 535 000 for
    /// SHA-256 and 656 000 for SHA-512, glibc 5 000).
    pub max_sha_crypt_rounds: u32,
    /// The longest password, in bytes, verified against a SHA-crypt hash
    /// (default 512, what tessera's 128-code-point limit allows): SHA-crypt's
    /// work grows with the password's length, each round and quadratically
    /// in its setup. A longer one does the work of one this long and does
    /// not match.
    pub max_sha_crypt_password_bytes: u32,
}

impl Default for LegacyLimits {
    fn default() -> Self {
        Self {
            max_pbkdf2_iterations: 10_000_000,
            max_bcrypt_cost: 16,
            max_scrypt_memory: 257 * 1024 * 1024,
            max_scrypt_work: 1024 * 1024 * 1024,
            max_scrypt_p: 16,
            max_sha_crypt_rounds: 5_000_000,
            max_sha_crypt_password_bytes: 512,
        }
    }
}

/// A password hash scheme [`LegacyHasher`] verifies; see the
/// [module docs](self) for each one's stored form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// Werkzeug's `pbkdf2:<digest>:<iterations>$…`.
    WerkzeugPbkdf2,
    /// Werkzeug's `scrypt:<N>:<r>:<p>$…`.
    WerkzeugScrypt,
    /// Django's `pbkdf2_sha256$…` and `pbkdf2_sha1$…`.
    DjangoPbkdf2,
    /// Django's `argon2$argon2id$…`.
    DjangoArgon2,
    /// Django's `bcrypt_sha256$$2b$…`.
    DjangoBcryptSha256,
    /// Django's `bcrypt$$2b$…`.
    DjangoBcrypt,
    /// Django's `scrypt$<N>$…`.
    DjangoScrypt,
    /// argon2 PHC strings: tessera's own, argon2-cffi's, passlib's.
    Argon2,
    /// passlib's `$pbkdf2-sha256$<rounds>$…` (and `$pbkdf2$`, `$pbkdf2-sha512$`).
    Pbkdf2Mcf,
    /// RustCrypto's `$pbkdf2-sha256$i=…,l=…$…` (and `$pbkdf2-sha512$`).
    Pbkdf2Phc,
    /// `$scrypt$ln=…,r=…,p=…$…` (passlib, RustCrypto).
    ScryptPhc,
    /// SHA-crypt with SHA-256, `$5$…`.
    Sha256Crypt,
    /// SHA-crypt with SHA-512, `$6$…`.
    Sha512Crypt,
    /// passlib's `$bcrypt-sha256$…`.
    BcryptSha256,
    /// bcrypt, `$2a$`, `$2b$`, `$2y$`.
    Bcrypt,
    /// One fast digest: `md5$…`, `sha1$…`, `sha224$…`, `sha256$…`,
    /// `sha384$…`, `sha512$…` (Werkzeug's salted HMAC methods, its default
    /// before 0.9; Django's salted and unsalted SHA-1 and MD5 hashers) and
    /// Werkzeug's `plain$$<password>`. Verified only with
    /// [`LegacyHasher::dangerous_accept_fast_digests`].
    FastDigest,
}

impl Scheme {
    /// The scheme `stored` is written in, from its prefix alone (nothing is
    /// checked beyond it), or `None` for a scheme [`LegacyHasher`] does not
    /// verify.
    ///
    /// ```
    /// use tessera_core::password::legacy::Scheme;
    ///
    /// assert_eq!(Scheme::identify("$6$rounds=656000$salt$…"), Some(Scheme::Sha512Crypt));
    /// assert_eq!(Scheme::identify("pbkdf2_sha256$1000000$salt$…"), Some(Scheme::DjangoPbkdf2));
    /// assert_eq!(Scheme::identify("crypt$salt$…"), None);
    /// ```
    pub fn identify(stored: &str) -> Option<Self> {
        const PREFIXES: &[(&str, Scheme)] = &[
            ("$argon2", Scheme::Argon2),
            ("argon2$argon2", Scheme::DjangoArgon2),
            ("pbkdf2:", Scheme::WerkzeugPbkdf2),
            ("scrypt:", Scheme::WerkzeugScrypt),
            ("pbkdf2_sha256$", Scheme::DjangoPbkdf2),
            ("pbkdf2_sha1$", Scheme::DjangoPbkdf2),
            ("bcrypt_sha256$", Scheme::DjangoBcryptSha256),
            ("bcrypt$", Scheme::DjangoBcrypt),
            ("scrypt$", Scheme::DjangoScrypt),
            ("$scrypt$", Scheme::ScryptPhc),
            ("$5$", Scheme::Sha256Crypt),
            ("$6$", Scheme::Sha512Crypt),
            ("$bcrypt-sha256$", Scheme::BcryptSha256),
            ("$2a$", Scheme::Bcrypt),
            ("$2b$", Scheme::Bcrypt),
            ("$2y$", Scheme::Bcrypt),
            ("md5$", Scheme::FastDigest),
            ("sha1$", Scheme::FastDigest),
            ("sha224$", Scheme::FastDigest),
            ("sha256$", Scheme::FastDigest),
            ("sha384$", Scheme::FastDigest),
            ("sha512$", Scheme::FastDigest),
            ("plain$$", Scheme::FastDigest),
        ];
        if let Some(&(_, scheme)) = PREFIXES.iter().find(|(p, _)| stored.starts_with(p)) {
            return Some(scheme);
        }
        let rest = ["$pbkdf2$", "$pbkdf2-sha256$", "$pbkdf2-sha512$"]
            .iter()
            .find_map(|p| stored.strip_prefix(p))?;
        // The PHC form names its parameters (`i=`); passlib's gives the
        // bare number of rounds.
        Some(if rest.split('$').next()?.contains('=') {
            Self::Pbkdf2Phc
        } else {
            Self::Pbkdf2Mcf
        })
    }

    /// A short name for logs and reports, such as `werkzeug-pbkdf2`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::WerkzeugPbkdf2 => "werkzeug-pbkdf2",
            Self::WerkzeugScrypt => "werkzeug-scrypt",
            Self::DjangoPbkdf2 => "django-pbkdf2",
            Self::DjangoArgon2 => "django-argon2",
            Self::DjangoBcryptSha256 => "django-bcrypt_sha256",
            Self::DjangoBcrypt => "django-bcrypt",
            Self::DjangoScrypt => "django-scrypt",
            Self::Argon2 => "argon2",
            Self::Pbkdf2Mcf => "pbkdf2-mcf",
            Self::Pbkdf2Phc => "pbkdf2-phc",
            Self::ScryptPhc => "scrypt-phc",
            Self::Sha256Crypt => "sha256-crypt",
            Self::Sha512Crypt => "sha512-crypt",
            Self::BcryptSha256 => "bcrypt-sha256",
            Self::Bcrypt => "bcrypt",
            Self::FastDigest => "fast-digest",
        }
    }

    /// Whether this is one of Django's formats.
    pub const fn is_django(self) -> bool {
        matches!(
            self,
            Self::DjangoPbkdf2
                | Self::DjangoArgon2
                | Self::DjangoBcryptSha256
                | Self::DjangoBcrypt
                | Self::DjangoScrypt
        )
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Verifies legacy hashes besides argon2id; hashes with argon2id. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct LegacyHasher {
    current: Argon2Hasher,
    limits: LegacyLimits,
    pepper: Option<Arc<dyn Pepper>>,
    fast_digests: bool,
}

impl LegacyHasher {
    /// Legacy verification around `current`, with the default ceilings and
    /// no pepper.
    pub fn new(current: Argon2Hasher) -> Self {
        Self {
            current,
            limits: LegacyLimits::default(),
            pepper: None,
            fast_digests: false,
        }
    }

    /// Other ceilings.
    #[must_use]
    pub fn limits(mut self, limits: LegacyLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The application pepper the legacy hashes were made with (see
    /// [`Pepper`]).
    ///
    /// ```
    /// use tessera_core::password::{Argon2Hasher, Password, PasswordVerifier};
    /// use tessera_core::password::legacy::{FlaskSecurityHmac, LegacyHasher};
    ///
    /// let hasher = LegacyHasher::new(Argon2Hasher::default())
    ///     .pepper(FlaskSecurityHmac::new("146585145368132386173505678016728509634"));
    /// // Flask-Security-Too 5.9 with SECURITY_PASSWORD_HASH = "pbkdf2_sha512"
    /// // (1000 rounds here to keep the example fast).
    /// let stored = "$pbkdf2-sha512$1000$mrM2Ruidk9J6b01pzXmv1Q$fBwCk2v/zF714H2mOKyp2BuhvG1bBPC8Pibc2NysQgbOp5mprlGWCi5G/1Ar6WXmj6rnDsuvfuZ2kjR/KL30JQ";
    /// let password = Password::new("correct horse battery");
    /// assert!(hasher.verify_password(&password, stored).unwrap().is_valid());
    /// // Without the pepper, the same password does not match.
    /// let plain = LegacyHasher::new(Argon2Hasher::default());
    /// assert!(!plain.verify_password(&password, stored).unwrap().is_valid());
    /// ```
    #[must_use]
    pub fn pepper(mut self, pepper: impl Pepper + 'static) -> Self {
        self.pepper = Some(Arc::new(pepper));
        self
    }

    /// Also verifies [`Scheme::FastDigest`] strings: one MD5 or SHA
    /// computation, salted or not, or a password stored as it is
    /// (Werkzeug's `plain$$`), as Werkzeug before 0.9 and Django's oldest
    /// hashers wrote them. Off by default, when such a string is
    /// [`PasswordError::UnsupportedScheme`].
    ///
    /// Dangerous because these strings are cracked at billions of guesses a
    /// second on one GPU: a table holding them should be treated as leaked
    /// already. Accepting them lets those users log in once more, which
    /// replaces the string with argon2id; the alternative is a reset for
    /// each. The plain-text comparison also reveals the stored password's
    /// length through timing.
    #[must_use]
    pub fn dangerous_accept_fast_digests(mut self) -> Self {
        self.fast_digests = true;
        self
    }

    /// Verifies one input against `stored` of `scheme`: a legacy match
    /// always needs a rehash; an argon2 one reports what the current hasher
    /// says.
    fn verify_input(
        &self,
        scheme: Scheme,
        password: &[u8],
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        let limits = &self.limits;
        #[cfg(test)]
        if matches!(scheme, Scheme::Argon2 | Scheme::DjangoArgon2) {
            tests::ARGON2_RUNS.with(|runs| runs.set(runs.get() + 1));
        }
        let matched = match scheme {
            Scheme::Argon2 => return self.current.verify_bytes_with(password, stored, scratch),
            Scheme::DjangoArgon2 => {
                // `argon2` before the PHC string.
                let phc = stored.strip_prefix("argon2").unwrap_or(stored);
                self.current
                    .verify_bytes_with(password, phc, scratch)?
                    .is_valid()
            }
            Scheme::WerkzeugPbkdf2 => schemes::werkzeug_pbkdf2(limits, password, stored)?,
            Scheme::WerkzeugScrypt => schemes::werkzeug_scrypt(limits, password, stored)?,
            Scheme::DjangoPbkdf2 => schemes::django_pbkdf2(limits, password, stored)?,
            Scheme::DjangoBcryptSha256 => schemes::django_bcrypt_sha256(limits, password, stored)?,
            Scheme::DjangoBcrypt => schemes::django_bcrypt(limits, password, stored)?,
            Scheme::DjangoScrypt => schemes::django_scrypt(limits, password, stored)?,
            Scheme::Pbkdf2Mcf => schemes::pbkdf2_mcf(limits, password, stored)?,
            Scheme::Pbkdf2Phc => schemes::pbkdf2_phc(limits, password, stored)?,
            Scheme::ScryptPhc => schemes::scrypt_phc(limits, password, stored)?,
            Scheme::Sha256Crypt | Scheme::Sha512Crypt => {
                schemes::sha_crypt(limits, password, stored)?
            }
            Scheme::BcryptSha256 => schemes::passlib_bcrypt_sha256(limits, password, stored)?,
            Scheme::Bcrypt => schemes::bcrypt(limits, password, stored)?,
            Scheme::FastDigest if self.fast_digests => schemes::fast_digest(password, stored)?,
            Scheme::FastDigest => return Err(PasswordError::UnsupportedScheme(prefix(stored))),
        };
        // Any legacy match is replaced with argon2id on this login.
        Ok(if matched {
            Verified::valid(true)
        } else {
            Verified::INVALID
        })
    }

    /// The inputs tried against a string of `scheme`, in order, each with
    /// whether it is the prepared password itself (whose argon2 match
    /// reports the current hasher's `needs_rehash`): the prepared form,
    /// then the typed one when it differs, each peppered when the pepper
    /// applies to `scheme` (and, for argon2 strings, which tessera's own
    /// hashes share, unpeppered first). Repeated inputs are tried once.
    fn candidates(
        &self,
        scheme: Scheme,
        prepared: &Password,
        typed: &Password,
    ) -> Vec<(Zeroizing<Vec<u8>>, bool)> {
        let mut out: Vec<(Zeroizing<Vec<u8>>, bool)> = Vec::with_capacity(4);
        let mut push = |input: &[u8], itself: bool| {
            if !out.iter().any(|(seen, _)| seen.as_slice() == input) {
                out.push((Zeroizing::new(input.to_vec()), itself));
            }
        };
        for (index, form) in [prepared, typed].into_iter().enumerate() {
            let form = form.expose_secret().as_bytes();
            let peppered = self
                .pepper
                .as_deref()
                .and_then(|pepper| pepper.apply(scheme, form));
            if peppered.is_none() || scheme == Scheme::Argon2 {
                push(form, index == 0);
            }
            if let Some(peppered) = peppered {
                push(&peppered, false);
            }
        }
        out
    }

    /// Tries each of [`candidates`](Self::candidates) until one matches.
    fn verify_forms(
        &self,
        prepared: &Password,
        typed: &Password,
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        let scheme = Scheme::identify(stored)
            .ok_or_else(|| PasswordError::UnsupportedScheme(prefix(stored)))?;
        for (input, itself) in self.candidates(scheme, prepared, typed) {
            let verified = self.verify_input(scheme, &input, stored, scratch)?;
            if verified.is_valid() {
                // Any other input matched: rehash with the prepared one.
                return Ok(if itself {
                    verified
                } else {
                    Verified::valid(true)
                });
            }
        }
        Ok(Verified::INVALID)
    }
}

/// Scheme names [`PasswordError::UnsupportedScheme`] may quote: identifiers
/// of password hash formats tessera does not verify. Anything else is
/// `(none)`, so a column of plain-text passwords (`pass$word$1`) never
/// reaches an error message or a log.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "$1",
    "$2",
    "$2x",
    "$3",
    "$7",
    "$apr1",
    "$md5",
    "$sha1",
    "$y",
    "$gy",
    "$md4",
    "$nt",
    "$P",
    "$H",
    "$S",
    "$bcrypt",
    "$pbkdf2-sha1",
    "$pbkdf2-md5",
    "$sm3",
    "$sha256",
    "$sha512",
    "crypt",
    "unsalted_md5",
    "unsalted_sha1",
    "md4",
    "md5",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "plain",
    "des_crypt",
    "pbkdf2",
    "bcrypt",
    "argon2",
    "scrypt",
    "pbkdf2_sha512",
];

/// The scheme prefix of `stored`, for the error of an unsupported one: the
/// text before the first `$` or `:` separator when it is one of
/// [`KNOWN_UNSUPPORTED`], else `(none)`.
fn prefix(stored: &str) -> String {
    let name = match stored.strip_prefix('$') {
        Some(rest) => rest.split('$').next().map(|id| format!("${id}")),
        None => stored.split(['$', ':']).next().map(str::to_owned),
    };
    match name {
        Some(name) if name != stored && KNOWN_UNSUPPORTED.contains(&name.as_str()) => name,
        _ => "(none)".to_owned(),
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
        self.verify_dummy_prepared_with(password, password, scratch)
    }

    /// As many argon2 runs as a wrong password costs against a tessera
    /// hash: the typed form and the pepper add tries there, so they add
    /// them here, or an unknown account would answer faster than a known
    /// one.
    fn verify_dummy_prepared_with(
        &self,
        prepared: &Password,
        typed: &Password,
        scratch: &mut Scratch,
    ) -> Result<(), PasswordError> {
        for _ in self.candidates(Scheme::Argon2, prepared, typed) {
            #[cfg(test)]
            tests::ARGON2_RUNS.with(|runs| runs.set(runs.get() + 1));
            self.current.verify_dummy_with(prepared, scratch)?;
        }
        Ok(())
    }
}

impl PasswordVerifier for LegacyHasher {
    fn verify_password_with(
        &self,
        password: &Password,
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        self.verify_forms(password, password, stored, scratch)
    }

    fn verify_prepared_with(
        &self,
        prepared: &Password,
        typed: &Password,
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        self.verify_forms(prepared, typed, stored, scratch)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::password::Argon2Params;

    thread_local! {
        /// argon2 computations on this thread (verifications and dummies).
        pub(super) static ARGON2_RUNS: Cell<usize> = const { Cell::new(0) };
    }

    fn argon2_runs(f: impl FnOnce()) -> usize {
        ARGON2_RUNS.with(|runs| runs.set(0));
        f();
        ARGON2_RUNS.with(Cell::get)
    }

    /// B1–B3 with the typed form and a pepper: a wrong password against a
    /// tessera hash costs as many argon2 runs as the dummy for an unknown
    /// account, whatever the input.
    #[test]
    fn the_dummy_costs_what_a_wrong_password_costs() {
        let plain = hasher();
        let peppered = hasher().pepper(FlaskSecurityHmac::new("salt"));
        let typed = Password::new("ﬁne ｐａｓｓ wrong");
        let prepared = crate::password::PasswordPolicy::default()
            .prepare(&typed)
            .unwrap();
        let ascii = Password::new("plain ascii wrong");
        for (name, h, expected) in [
            // Each: [ASCII, NFKC-changing]. The typed form adds a try; with
            // the NFKD pepper both forms have one HMAC, so it runs once:
            // prepared, its HMAC, typed.
            ("no pepper", &plain, [1, 2]),
            ("peppered", &peppered, [2, 3]),
        ] {
            let stored = h
                .hash_password(&Password::new("the real password"))
                .unwrap();
            for ((p, t), runs) in [
                ((&ascii, &ascii), expected[0]),
                ((&prepared, &typed), expected[1]),
            ] {
                let verify = argon2_runs(|| {
                    let v = h
                        .verify_prepared_with(p, t, &stored, &mut Scratch::new())
                        .unwrap();
                    assert!(!v.is_valid());
                });
                let dummy = argon2_runs(|| {
                    h.verify_dummy_prepared_with(p, t, &mut Scratch::new())
                        .unwrap();
                });
                assert_eq!((verify, dummy), (runs, runs), "{name}");
            }
        }
    }

    /// A tessera hash verified with a typed form that differs: the
    /// prepared form matches first, and the current hasher's verdict (no
    /// rehash) stands.
    #[test]
    fn a_current_hash_matched_by_the_prepared_form_needs_no_rehash() {
        let h = hasher();
        let typed = Password::new("ﬁne ｐａｓｓ");
        let prepared = crate::password::PasswordPolicy::default()
            .prepare(&typed)
            .unwrap();
        let stored = h.hash_password(&prepared).unwrap();
        let v = h
            .verify_prepared_with(&prepared, &typed, &stored, &mut Scratch::new())
            .unwrap();
        assert!(v.is_valid() && !v.needs_rehash());
    }

    /// bcrypt strings with the encoding's unused bits set (as OpenBSD,
    /// crypt_blowfish and PHP accept them) verify like the canonical one.
    #[test]
    fn bcrypt_padding_bits_are_ignored() {
        let h = hasher();
        let pw = Password::new("correct horse battery");
        // pyca/bcrypt 5.0: hashpw(b"correct horse battery", gensalt(4))
        let stored = "$2b$04$6UlfcRtQiUm1cn5eoWA/rePpQcUU0G7OtwLMBQ0xIjbN1VWekVB5K";
        assert!(h.verify_password(&pw, stored).unwrap().is_valid());
        let bytes = stored.as_bytes();
        let (salt_last, hash_last) = (bytes[28], bytes[59]);
        let index = |c: u8| schemes_alphabet_index(c);
        // Same used bits, other padding bits.
        let salt_alt = BCRYPT_CHARS[index(salt_last) | 0b00_1111];
        let hash_alt = BCRYPT_CHARS[index(hash_last) | 0b00_0011];
        let mut padded = bytes.to_vec();
        padded[28] = salt_alt;
        padded[59] = hash_alt;
        let padded = String::from_utf8(padded).unwrap();
        assert_ne!(padded, stored);
        assert!(h.verify_password(&pw, &padded).unwrap().is_valid());
        // A used bit changed is another hash.
        let mut other = bytes.to_vec();
        other[28] = BCRYPT_CHARS[index(salt_last) ^ 0b01_0000];
        let other = String::from_utf8(other).unwrap();
        assert!(!h.verify_password(&pw, &other).unwrap().is_valid());
    }

    const BCRYPT_CHARS: &[u8; 64] =
        b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    fn schemes_alphabet_index(c: u8) -> usize {
        BCRYPT_CHARS.iter().position(|&x| x == c).unwrap()
    }

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
            "$pbkdf2-md5$i=1000$c2FsdHNhbHQ$c3VtYWFhYWFhYWFh",
            "$7$C6..../....SodiumChloride$kBGj9fHznVYFQMEn/qDCfrDevf9YDtcDdKvEqHJLV8D",
            "$1$salt$hash",
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
            "$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHQ",
            "$pbkdf2-sha256$i=1000,x=1$c2FsdHNhbHQ$c3VtYWFhYWFhYWFh",
            "$scrypt$ln=4,r=8$c2FsdHNhbHQ$c3VtYWFhYWFhYWFh",
            "$scrypt$ln=0,r=8,p=1$c2FsdHNhbHQ$c3VtYWFhYWFhYWFh",
            "$scrypt$ln=4,r=8,p=1,q=2$c2FsdHNhbHQ$c3VtYWFhYWFhYWFh",
            "$5$rounds=999$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$5$rounds=+5000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$5$saltsaltsaltsaltX$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$5$salt$short",
            "$6$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$5$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$extra",
            "$bcrypt-sha256$v=2,t=2b$aaaaaaaaaaaaaaaaaaaaaa$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "$bcrypt-sha256$v=2,t=2x,r=4$aaaaaaaaaaaaaaaaaaaaaa$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "$bcrypt-sha256$2a,4$short$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "$bcrypt-sha256$v=2,t=2b,r=xx$aaaaaaaaaaaaaaaaaaaaaa$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "scrypt$1000$salt$8$1$AAAA",
            "scrypt$1024$salt$8$1$!!!!",
            "scrypt$1024$salt$8$AAAA",
            "bcrypt$$2b$04$short",
            "bcrypt_sha256$$2b$04$short",
            // Output lengths no writer produces (a 1-byte PBKDF2 output
            // would match one password in 256).
            "$pbkdf2-sha256$i=1000,l=1$c2FsdHNhbHQ$AA",
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
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
            // SECURITY-CASES A2, as written there.
            format!("$scrypt$ln=2097153,r=8,p=1$c2FsdHNhbHQ${}", "A".repeat(43)),
            format!(
                "$pbkdf2-sha256$i=1000000000,l=32$c2FsdHNhbHQ${}",
                "A".repeat(43)
            ),
            format!("$2a$20${}", "a".repeat(53)),
            format!("$scrypt$ln=20,r=8,p=1$c2FsdHNhbHQ${}", "A".repeat(43)),
            format!("$scrypt$ln=14,r=8,p=1000$c2FsdHNhbHQ${}", "A".repeat(43)),
            format!("$5$rounds=999999999$salt${}", "A".repeat(43)),
            format!("$6$rounds=5000001$salt${}", "A".repeat(86)),
            format!(
                "$bcrypt-sha256$v=2,t=2b,r=20${}${}",
                "a".repeat(22),
                "a".repeat(31)
            ),
            format!("$bcrypt-sha256$2a,17${}${}", "a".repeat(22), "a".repeat(31)),
            format!("scrypt$1048576$salt$8$1${}", "A".repeat(88)),
            format!("bcrypt$$2b$20${}", "a".repeat(53)),
            format!("bcrypt_sha256$$2b$17${}", "a".repeat(53)),
            // scrypt's second buffer, p · 128 · r bytes: 2 GiB here.
            format!("scrypt$2$salt$1048576$16${}", "A".repeat(88)),
            format!("scrypt:2:1048576:16$salt${}", "ab".repeat(64)),
            format!("$scrypt$ln=1,r=1048576,p=16$c2FsdHNhbHQ${}", "A".repeat(43)),
            // Within the memory ceiling, 16 times its work.
            format!("$scrypt$ln=17,r=8,p=16$c2FsdHNhbHQ${}", "A".repeat(43)),
            // PBKDF2 runs its iterations once per output block.
            format!(
                "$pbkdf2-sha256$i=6000000,l=64$c2FsdHNhbHQ${}",
                "A".repeat(86)
            ),
        ] {
            assert!(
                matches!(
                    h.verify_password(&pw, &stored),
                    Err(PasswordError::ParamsOutOfBounds { .. })
                ),
                "{stored}"
            );
        }
        // SHA-crypt's work grows with the password: past the limit it is a
        // mismatch, even for the password the hash was made from.
        // passlib: sha256_crypt.using(rounds=1000).hash("x" * 600)
        let long = Password::new("x".repeat(600));
        let sha_crypt =
            "$5$rounds=1000$XW8CjZOyWys1MIMW$Ld4u4dyJLv.2LJRXNiLUmvl/SocaE4R/WKPJOYMOnH7";
        assert!(!h.verify_password(&long, sha_crypt).unwrap().is_valid());
        let lenient = hasher().limits(LegacyLimits {
            max_sha_crypt_password_bytes: 600,
            ..LegacyLimits::default()
        });
        assert!(
            lenient
                .verify_password(&long, sha_crypt)
                .unwrap()
                .is_valid()
        );
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
