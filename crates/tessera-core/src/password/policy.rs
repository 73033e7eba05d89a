//! What makes a password acceptable, and the form in which it is hashed.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use super::Password;
use crate::error::{ConfigError, PolicyError};

/// A list of passwords that are refused (common, breached, or specific to the
/// service, such as its own name).
///
/// NIST SP 800-63B asks for such a check instead of composition rules.
/// Implementations receive the password after normalisation.
pub trait Blocklist: Send + Sync + fmt::Debug {
    /// Whether `password` is on the list.
    fn contains(&self, password: &str) -> bool;
}

/// A [`Blocklist`] held in memory. Matching ignores case, so listing
/// `password` also refuses `PassWord`.
#[derive(Clone, Default)]
pub struct SetBlocklist {
    entries: HashSet<String>,
}

impl SetBlocklist {
    /// A blocklist of `entries`, normalised the way passwords are (NFKC,
    /// then lower case).
    pub fn new<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            entries: entries.into_iter().map(|e| fold(e.as_ref())).collect(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Blocklist for SetBlocklist {
    fn contains(&self, password: &str) -> bool {
        let folded = Zeroizing::new(fold(password));
        self.entries.contains(folded.as_str())
    }
}

impl fmt::Debug for SetBlocklist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The entries are passwords too; the count is enough for a log.
        f.debug_struct("SetBlocklist")
            .field("entries", &self.entries.len())
            .finish()
    }
}

/// NFKC, then lower case. Sized up front (NFKC expands UTF-8 at most 11×,
/// lower-casing at most 3×) so growing never leaves a copy behind.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len().saturating_mul(NFKC_MAX_EXPANSION * 3));
    out.extend(s.nfkc().flat_map(char::to_lowercase));
    out
}

/// The most NFKC (and NFKD) can expand UTF-8 text, in bytes (Unicode Normalization
/// FAQ, "maximum expansion factor").
pub(crate) const NFKC_MAX_EXPANSION: usize = 11;

/// The rules a new password must meet, and the normalisation every password
/// goes through before it is hashed or verified.
///
/// - Length is counted in Unicode code points after normalisation:
///   at least 8 (15 with [`nist_single_factor`](Self::nist_single_factor)),
///   at most 128. A longer password is refused, never truncated.
/// - Raw input over 4 KiB is refused before anything else is done with it,
///   so a megabyte "password" costs nothing.
/// - NFKC normalisation is on by default: a password typed on another
///   keyboard or operating system (`ﬁ` vs `fi`, a precomposed `é` vs `e` and
///   a combining accent, full-width letters) still verifies. Turning it off
///   only makes sense for hashes created without it.
/// - No composition rules (upper case, digits, symbols): NIST SP 800-63B
///   §3.1.1.2 advises against them. An optional [`Blocklist`] refuses known
///   passwords instead.
///
/// ```
/// use tessera_core::password::{Password, PasswordPolicy, PolicyError};
///
/// let policy = PasswordPolicy::default();
/// assert_eq!(
///     policy.check(&Password::new("short")).unwrap_err(),
///     PolicyError::TooShort { min: 8, actual: 5 },
/// );
/// assert!(policy.check(&Password::new("correct horse 🐴 battery")).is_ok());
/// ```
#[derive(Clone)]
pub struct PasswordPolicy {
    min_chars: usize,
    max_chars: usize,
    max_input_bytes: usize,
    nfkc: bool,
    blocklist: Option<Arc<dyn Blocklist>>,
}

impl PasswordPolicy {
    /// Default minimum length, in code points.
    pub const DEFAULT_MIN_CHARS: usize = 8;
    /// Default maximum length, in code points.
    pub const DEFAULT_MAX_CHARS: usize = 128;
    /// Default limit on the raw input, in bytes.
    pub const DEFAULT_MAX_INPUT_BYTES: usize = 4096;

    /// NIST SP 800-63B-4's minimum for a password that is the only factor:
    /// 15 code points, otherwise the defaults.
    pub fn nist_single_factor() -> Self {
        Self {
            min_chars: 15,
            ..Self::default()
        }
    }

    /// A builder starting from the defaults.
    pub fn builder() -> PasswordPolicyBuilder {
        PasswordPolicyBuilder {
            policy: Self::default(),
        }
    }

    /// Minimum length in code points.
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// Maximum length in code points.
    pub fn max_chars(&self) -> usize {
        self.max_chars
    }

    /// Limit on the raw input in bytes.
    pub fn max_input_bytes(&self) -> usize {
        self.max_input_bytes
    }

    /// The form in which a password is hashed or verified: the byte limit,
    /// then NFKC normalisation when enabled. No length rule applies, so a
    /// password set under an older, looser policy still verifies.
    ///
    /// # Errors
    /// [`PolicyError::InputTooLarge`] for raw input over the byte limit.
    pub fn prepare(&self, password: &Password) -> Result<Password, PolicyError> {
        let raw = password.expose_secret();
        if raw.len() > self.max_input_bytes {
            return Err(PolicyError::InputTooLarge {
                max: self.max_input_bytes,
                actual: raw.len(),
            });
        }
        if self.nfkc {
            // Sized for the worst case so growing never leaves a copy of the
            // password in freed memory.
            let mut normalised =
                String::with_capacity(raw.len().saturating_mul(NFKC_MAX_EXPANSION));
            normalised.extend(raw.nfkc());
            Ok(Password::new(normalised))
        } else {
            Ok(password.clone())
        }
    }

    /// Checks a new password against every rule and returns it prepared for
    /// hashing (see [`prepare`](Self::prepare)).
    ///
    /// # Errors
    /// The [`PolicyError`] of the first rule that failed: byte limit, length,
    /// blocklist.
    pub fn check(&self, password: &Password) -> Result<Password, PolicyError> {
        let prepared = self.prepare(password)?;
        let chars = prepared.expose_secret().chars().count();
        if chars < self.min_chars {
            return Err(PolicyError::TooShort {
                min: self.min_chars,
                actual: chars,
            });
        }
        if chars > self.max_chars {
            return Err(PolicyError::TooLong {
                max: self.max_chars,
                actual: chars,
            });
        }
        if let Some(blocklist) = &self.blocklist
            && blocklist.contains(prepared.expose_secret())
        {
            return Err(PolicyError::Blocklisted);
        }
        Ok(prepared)
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: Self::DEFAULT_MIN_CHARS,
            max_chars: Self::DEFAULT_MAX_CHARS,
            max_input_bytes: Self::DEFAULT_MAX_INPUT_BYTES,
            nfkc: true,
            blocklist: None,
        }
    }
}

impl fmt::Debug for PasswordPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPolicy")
            .field("min_chars", &self.min_chars)
            .field("max_chars", &self.max_chars)
            .field("max_input_bytes", &self.max_input_bytes)
            .field("nfkc", &self.nfkc)
            .field("blocklist", &self.blocklist)
            .finish()
    }
}

/// Builds a [`PasswordPolicy`]; [`build`](Self::build) validates it.
#[derive(Debug, Clone)]
pub struct PasswordPolicyBuilder {
    policy: PasswordPolicy,
}

impl PasswordPolicyBuilder {
    /// Minimum length in code points (default 8).
    pub fn min_chars(mut self, min: usize) -> Self {
        self.policy.min_chars = min;
        self
    }

    /// Maximum length in code points (default 128).
    pub fn max_chars(mut self, max: usize) -> Self {
        self.policy.max_chars = max;
        self
    }

    /// Limit on the raw input in bytes, checked first (default 4096).
    pub fn max_input_bytes(mut self, max: usize) -> Self {
        self.policy.max_input_bytes = max;
        self
    }

    /// Whether passwords are NFKC-normalised before hashing (default on).
    /// Switch it off only for hashes that were created without it.
    pub fn nfkc(mut self, on: bool) -> Self {
        self.policy.nfkc = on;
        self
    }

    /// Refuses passwords on `blocklist`.
    pub fn blocklist(mut self, blocklist: impl Blocklist + 'static) -> Self {
        self.policy.blocklist = Some(Arc::new(blocklist));
        self
    }

    /// Validates and returns the policy.
    ///
    /// # Errors
    /// [`ConfigError`] when the minimum is 0 or above the maximum, or when the
    /// byte limit cannot hold a password of the maximum length (4 bytes per
    /// code point).
    pub fn build(self) -> Result<PasswordPolicy, ConfigError> {
        let p = self.policy;
        if p.min_chars == 0 {
            return Err(ConfigError::invalid("min_chars", "must be at least 1"));
        }
        if p.min_chars > p.max_chars {
            return Err(ConfigError::invalid(
                "min_chars",
                format!("{} is above max_chars {}", p.min_chars, p.max_chars),
            ));
        }
        if p.max_input_bytes < p.max_chars.saturating_mul(4) {
            return Err(ConfigError::invalid(
                "max_input_bytes",
                format!(
                    "{} bytes cannot hold {} code points of up to 4 bytes each",
                    p.max_input_bytes, p.max_chars
                ),
            ));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_counted_in_code_points_after_normalisation() {
        let policy = PasswordPolicy::default();
        // Seven emoji are 28 bytes but 7 code points: too short.
        let err = policy.check(&Password::new("🔑🔑🔑🔑🔑🔑🔑")).unwrap_err();
        assert_eq!(err, PolicyError::TooShort { min: 8, actual: 7 });
        // "ﬃ" is one code point that NFKC expands to three.
        let prepared = policy.check(&Password::new("ﬃﬃﬃ")).unwrap();
        assert_eq!(prepared.expose_secret(), "ffiffiffi");
    }

    #[test]
    fn the_maximum_is_enforced_without_truncation() {
        let policy = PasswordPolicy::default();
        assert!(policy.check(&Password::new("a".repeat(128))).is_ok());
        assert_eq!(
            policy.check(&Password::new("a".repeat(129))).unwrap_err(),
            PolicyError::TooLong {
                max: 128,
                actual: 129
            }
        );
    }

    #[test]
    fn nist_preset_requires_fifteen() {
        let policy = PasswordPolicy::nist_single_factor();
        assert_eq!(
            policy.check(&Password::new("fourteen chars")).unwrap_err(),
            PolicyError::TooShort {
                min: 15,
                actual: 14
            }
        );
        assert!(policy.check(&Password::new("fifteen chars!!")).is_ok());
    }

    #[test]
    fn no_composition_rules() {
        let policy = PasswordPolicy::default();
        assert!(policy.check(&Password::new("all lowercase words")).is_ok());
        assert!(policy.check(&Password::new("        ")).is_ok());
    }

    #[test]
    fn oversized_input_is_refused_before_normalisation() {
        let policy = PasswordPolicy::default();
        let err = policy
            .prepare(&Password::new("a".repeat(4097)))
            .unwrap_err();
        assert_eq!(
            err,
            PolicyError::InputTooLarge {
                max: 4096,
                actual: 4097
            }
        );
        assert!(policy.prepare(&Password::new("a".repeat(4096))).is_ok());
    }

    #[test]
    fn blocklist_matches_case_insensitively_after_normalisation() {
        let policy = PasswordPolicy::builder()
            .blocklist(SetBlocklist::new(["password1", "tessera-admin"]))
            .build()
            .unwrap();
        assert_eq!(
            policy.check(&Password::new("PassWord1")).unwrap_err(),
            PolicyError::Blocklisted
        );
        // Full-width letters normalise to the listed entry.
        assert_eq!(
            policy
                .check(&Password::new("ｐａｓｓｗｏｒｄ1"))
                .unwrap_err(),
            PolicyError::Blocklisted
        );
        assert!(policy.check(&Password::new("password12")).is_ok());
    }

    #[test]
    fn builder_refuses_impossible_settings() {
        assert!(PasswordPolicy::builder().min_chars(0).build().is_err());
        assert!(
            PasswordPolicy::builder()
                .min_chars(20)
                .max_chars(10)
                .build()
                .is_err()
        );
        assert!(
            PasswordPolicy::builder()
                .max_input_bytes(100)
                .build()
                .is_err()
        );
        let policy = PasswordPolicy::builder().min_chars(12).build().unwrap();
        assert_eq!(policy.min_chars(), 12);
    }

    #[test]
    fn normalisation_can_be_switched_off() {
        let policy = PasswordPolicy::builder().nfkc(false).build().unwrap();
        let prepared = policy.prepare(&Password::new("ﬁne")).unwrap();
        assert_eq!(prepared.expose_secret(), "ﬁne");
    }
}
