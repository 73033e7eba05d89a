//! Access tokens as JWTs (RFC 9068), and their revocation.
//!
//! Signatures come from [`jsonwebtoken`] with one crypto backend for the
//! whole workspace: RustCrypto (`rust_crypto`), which builds wherever Rust
//! does, with no C toolchain. Everything else (parsing limits, the header
//! rules, time and claim checks on the injected [`Clock`], token types,
//! revocation) is tessera's, because `jsonwebtoken` reads the system clock,
//! accepts a token at `now == exp` and cannot require `iat` or `jti` or check
//! `typ`.
//!
//! # What a token must pass, by default
//!
//! 1. At most 8 KiB, checked before parsing; exactly three base64url
//!    segments without padding or any other character.
//! 2. The algorithm comes from the key, never from the header: the header's
//!    `alg` must equal the key's. There is no `none`.
//! 3. `jwk`, `jku`, `x5u` and `x5c` headers are never used; `kid` only selects
//!    among configured keys and is length- and charset-limited; any `crit`
//!    is refused (tessera understands no extension).
//! 4. `exp`, `iat`, `iss`, `aud`, `sub` and `jti` are required, with their
//!    JSON types. Expired at `now >= exp` (leeway default 0); `nbf` checked
//!    when present; an `iat` in the future refused.
//! 5. `typ: at+jwt`: an access token is refused where another type is
//!    expected, and anything else where an access token is expected.
//! 6. Not revoked: by `jti`, by refresh family (`sid`), or by the account's
//!    not-before cut-off ([`Revocations`]).
//!
//! Weakening any of these takes a `dangerous_…` call on [`JwtConfig`].
//!
//! # Choosing an algorithm
//!
//! EdDSA (Ed25519, [`JwtKey::generate_ed25519`]) is the default: small keys,
//! fast signing and verification, no nonce to get wrong. ES256 and ES384 are
//! fine where a peer requires them. HS256/384/512 suit a single service that
//! both issues and verifies (the secret must be shared with every verifier,
//! and never appears in the JWKS). RSA (RS256, PS256…) is the slow, legacy
//! choice: 2048-bit keys at least, signing two orders of magnitude slower
//! than Ed25519 (`cargo bench --bench tokens`); use it only for peers that
//! accept nothing else.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use tessera_core::clock::ManualClock;
//! use tessera_core::jwt::{Grant, Jwt, JwtConfig, JwtKey, JwtKeySet};
//! use tessera_core::memory::MemoryRevocations;
//! use tessera_core::token::FamilyId;
//! use tessera_core::users::UserId;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = JwtKeySet::new(JwtKey::generate_ed25519(Some("2026-11"))?, vec![])?;
//! let jwt = Jwt::builder(keys, JwtConfig::new("https://auth.example.com", "https://api.example.com"))
//!     .clock(Arc::new(ManualClock::default()))
//!     .revocations(Arc::new(MemoryRevocations::new()))
//!     .build()?;
//!
//! let family = FamilyId::generate()?;
//! let grant = Grant::for_family(&family).scopes(["notes:read"]).fresh(true);
//! let issued = jwt.issue(&UserId::new("alice"), grant)?;
//! let verified = jwt.verify(&issued.token).await?;
//! assert_eq!(verified.claims.sub, "alice");
//! assert!(verified.claims.has_scope("notes:read"));
//! assert!(verified.claims.fresh);
//! # Ok(())
//! # }
//! ```

mod keys;
mod revocations;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
pub use jsonwebtoken;
pub use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use self::keys::{
    JwtKey, JwtKeySet, KeyError, MAX_KID_LEN, MIN_RSA_BITS, algorithm_name, parse_algorithm,
};
pub use self::revocations::{RevocationCheck, Revocations};
use crate::clock::{Clock, SystemClock};
use crate::error::{ConfigError, StoreError};
use crate::token::FamilyId;
use crate::users::UserId;

/// The media type of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// A JWT was refused, or could not be issued.
///
/// The adapters answer every refusal with 401 `invalid_token`, and
/// [`JwtError::Store`] with 503: a revocation store that cannot answer
/// fails closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Longer than the configured limit; nothing was parsed.
    #[error("token longer than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// Not three base64url segments of JSON.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// A header parameter tessera refuses (`crit`, `b64`, a malformed
    /// `kid`).
    #[error("refused header: {0}")]
    Header(&'static str),
    /// No configured key has the header's `kid` (or the header has none and
    /// several keys are configured).
    #[error("unknown key")]
    UnknownKey,
    /// The header's `alg` is not the selected key's algorithm, or the
    /// algorithm is not allowed.
    #[error("algorithm not allowed for this key")]
    Algorithm,
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
    /// A claim is missing or has the wrong JSON type.
    #[error("invalid claims: {0}")]
    Claims(String),
    /// `now >= exp + leeway`.
    #[error("token expired")]
    Expired,
    /// `now + leeway < nbf`.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat > now + leeway`.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    Issuer,
    /// `aud` does not contain the configured audience.
    #[error("wrong audience")]
    Audience,
    /// `typ` is not the expected type.
    #[error("wrong token type")]
    Type,
    /// Revoked (by `jti`, family or account cut-off).
    #[error("token revoked")]
    Revoked,
    /// The revocation store could not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Issuing needs a signing key the set does not have, or the random
    /// number generator failed.
    #[error("cannot issue: {0}")]
    Issue(String),
}

/// What a verifier accepts and an issuer writes.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    issuer: String,
    audience: String,
    access_ttl: Duration,
    leeway: Duration,
    max_len: usize,
    check_issuer: bool,
    check_audience: bool,
    expected_type: Option<&'static str>,
    algorithms: Option<Vec<Algorithm>>,
}

impl JwtConfig {
    /// Tokens issued by `issuer` for `audience`, living 15 minutes, no
    /// leeway, at most 8 KiB, typed `at+jwt`, any algorithm of the key set.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            access_ttl: Duration::from_secs(15 * 60),
            leeway: Duration::ZERO,
            max_len: 8 * 1024,
            check_issuer: true,
            check_audience: true,
            expected_type: Some(ACCESS_TOKEN_TYPE),
            algorithms: None,
        }
    }

    /// Lifetime of issued access tokens (default 15 minutes).
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 0).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Longest token accepted, in bytes (default 8192).
    pub fn max_len(mut self, max: usize) -> Self {
        self.max_len = max;
        self
    }

    /// Only these algorithms are accepted, whatever the key set holds
    /// (default: the algorithms of the configured keys).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = Some(algorithms.to_vec());
        self
    }

    /// Lifetime of issued access tokens.
    pub fn ttl(&self) -> Duration {
        self.access_ttl
    }

    /// Does not compare `iss`. Only for tools that inspect tokens of unknown
    /// issuers; a service must check its issuer.
    pub fn dangerous_skip_issuer_check(mut self) -> Self {
        self.check_issuer = false;
        self
    }

    /// Does not compare `aud`. A token meant for another service would be
    /// accepted.
    pub fn dangerous_skip_audience_check(mut self) -> Self {
        self.check_audience = false;
        self
    }

    /// Does not look at `typ`: an ID token or any other JWT signed by the
    /// same key is accepted as an access token.
    pub fn dangerous_accept_any_type(mut self) -> Self {
        self.expected_type = None;
        self
    }
}

/// What an access token grants, for [`Jwt::issue`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Grant<T = NoExtra> {
    family: Option<FamilyId>,
    scopes: BTreeSet<String>,
    roles: BTreeSet<String>,
    fresh: bool,
    extra: T,
}

impl Grant<NoExtra> {
    /// A grant for a token of `family`: the login it descends from.
    /// Revoking the family (logout, reuse detected, logout-all, password
    /// change) revokes the token, without depending on clock precision.
    pub fn for_family(family: &FamilyId) -> Self {
        Self {
            family: Some(family.clone()),
            ..Self::default()
        }
    }

    /// A grant for a token outside any family: only its `jti` and the
    /// account's not-before cut-off can revoke it, and the cut-off has a
    /// resolution of one second.
    pub fn dangerous_without_family() -> Self {
        Self::default()
    }
}

impl<T> Grant<T> {
    /// Scopes, written space-separated in `scope`.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Roles, written as the `roles` array.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the token comes straight from a password login (`fresh`).
    pub fn fresh(mut self, fresh: bool) -> Self {
        self.fresh = fresh;
        self
    }

    /// Application claims, flattened into the claim set.
    pub fn extra<U: Serialize>(self, extra: U) -> Grant<U> {
        Grant {
            family: self.family,
            scopes: self.scopes,
            roles: self.roles,
            fresh: self.fresh,
            extra,
        }
    }
}

/// No application claims.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoExtra {}

/// `aud`: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `audience` is among them.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// The claims of a tessera access token. Unknown claims go to `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccessClaims<T = NoExtra> {
    /// Issuer.
    pub iss: String,
    /// Subject: the account id.
    pub sub: String,
    /// Audience.
    pub aud: Audience,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Issue time, Unix seconds.
    pub iat: u64,
    /// Not before, Unix seconds. Absent is fine; `null` is a wrong type.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub nbf: Option<u64>,
    /// Unique token id.
    pub jti: String,
    /// The refresh family (login session) the token descends from.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub sid: Option<String>,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Roles at issue time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Minted straight from a password login.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fresh: bool,
    /// Application claims.
    #[serde(flatten)]
    pub extra: T,
}

impl<T> AccessClaims<T> {
    /// Whether `scope` is granted (exact, case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }

    /// The scopes, sorted.
    pub fn scopes(&self) -> BTreeSet<String> {
        self.scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// A token that passed every check.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedJwt<T = NoExtra> {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: AccessClaims<T>,
    /// The `kid` of the key that verified it.
    pub kid: Option<String>,
}

/// A token that passed the signature-level checks (rules 1 to 3): the
/// header and the payload bytes, not yet interpreted as claims.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedJws {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload.
    pub payload: Vec<u8>,
    /// The algorithm of the key that verified it.
    pub algorithm: Algorithm,
    /// The `kid` of the key that verified it.
    pub kid: Option<String>,
}

/// A newly issued access token. `Debug` hides the token.
#[derive(Clone)]
#[non_exhaustive]
pub struct IssuedJwt<T = NoExtra> {
    /// The compact JWT, for the client.
    pub token: String,
    /// Its claims.
    pub claims: AccessClaims<T>,
    /// When it expires.
    pub expires_at: SystemTime,
}

impl<T: fmt::Debug> fmt::Debug for IssuedJwt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedJwt")
            .field("token", &"[redacted]")
            .field("claims", &self.claims)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Issues and verifies access tokens with a key set, a configuration, a
/// clock and the revocations.
#[derive(Clone)]
pub struct Jwt {
    keys: Arc<JwtKeySet>,
    config: JwtConfig,
    clock: Arc<dyn Clock>,
    revocations: Option<Arc<dyn Revocations>>,
}

impl Jwt {
    /// A builder.
    pub fn builder(keys: JwtKeySet, config: JwtConfig) -> JwtBuilder {
        JwtBuilder {
            keys,
            config,
            clock: Arc::new(SystemClock),
            revocations: None,
            check_revocations: true,
        }
    }

    /// The key set (for the JWKS endpoint).
    pub fn keys(&self) -> &JwtKeySet {
        &self.keys
    }

    /// The configuration.
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// Issues an access token for `subject`.
    ///
    /// # Errors
    /// [`JwtError::Issue`] without a signing key or when signing fails.
    pub fn issue<T: Serialize + Clone>(
        &self,
        subject: &UserId,
        grant: Grant<T>,
    ) -> Result<IssuedJwt<T>, JwtError> {
        let key = self
            .keys
            .signing_key()
            .ok_or_else(|| JwtError::Issue("the key set has no signing key".into()))?;
        let encoding = key
            .encoding()
            .ok_or_else(|| JwtError::Issue("the signing key has no private part".into()))?;
        let now = self.clock.now();
        let iat = unix_secs(now);
        let ttl = self.config.access_ttl.as_secs();
        let jti = crate::random::os_bytes::<16>()
            .map_err(|e| JwtError::Issue(format!("random number generator: {e}")))?;
        let claims = AccessClaims {
            iss: self.config.issuer.clone(),
            sub: subject.as_str().to_owned(),
            aud: Audience::One(self.config.audience.clone()),
            exp: iat.saturating_add(ttl),
            iat,
            nbf: None,
            jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
            sid: grant.family.map(|f| f.as_str().to_owned()),
            scope: grant.scopes.into_iter().collect::<Vec<_>>().join(" "),
            roles: grant.roles.into_iter().collect(),
            fresh: grant.fresh,
            extra: grant.extra,
        };
        let mut header = Map::new();
        header.insert("alg".into(), Value::from(algorithm_name(key.algorithm())));
        header.insert("typ".into(), Value::from(ACCESS_TOKEN_TYPE));
        if let Some(kid) = key.kid() {
            header.insert("kid".into(), Value::from(kid));
        }
        let header = serde_json::to_vec(&header).map_err(|e| JwtError::Issue(e.to_string()))?;
        let payload = serde_json::to_vec(&claims).map_err(|e| JwtError::Issue(e.to_string()))?;
        let mut token = Base64UrlUnpadded::encode_string(&header);
        token.push('.');
        token.push_str(&Base64UrlUnpadded::encode_string(&payload));
        let signature = jsonwebtoken::crypto::sign(token.as_bytes(), encoding, key.algorithm())
            .map_err(|e| JwtError::Issue(e.to_string()))?;
        token.push('.');
        token.push_str(&signature);
        Ok(IssuedJwt {
            token,
            expires_at: UNIX_EPOCH + Duration::from_secs(claims.exp),
            claims,
        })
    }

    /// Verifies an access token without application claims.
    ///
    /// # Errors
    /// The [`JwtError`] of the first rule that failed.
    pub async fn verify(&self, token: &str) -> Result<VerifiedJwt, JwtError> {
        self.verify_with(token).await
    }

    /// Verifies an access token and reads application claims into `T`.
    ///
    /// # Errors
    /// The [`JwtError`] of the first rule that failed.
    pub async fn verify_with<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<VerifiedJwt<T>, JwtError> {
        let jws = self.verify_signature(token)?;
        let claims: AccessClaims<T> =
            serde_json::from_slice(&jws.payload).map_err(|e| JwtError::Claims(claims_error(&e)))?;
        if claims.sub.is_empty() || claims.jti.is_empty() {
            return Err(JwtError::Claims(
                "\"sub\" and \"jti\" must not be empty".into(),
            ));
        }
        if let Some(expected) = self.config.expected_type {
            let typ = jws
                .header
                .get("typ")
                .and_then(Value::as_str)
                .unwrap_or_default();
            // RFC 9068 §4: "at+jwt", or the full media type.
            let typ = typ.strip_prefix("application/").unwrap_or(typ);
            if !typ.eq_ignore_ascii_case(expected) {
                return Err(JwtError::Type);
            }
        }
        let now = self.clock.now();
        let now_secs = unix_secs(now);
        let leeway = self.config.leeway.as_secs();
        if now_secs >= claims.exp.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| now_secs.saturating_add(leeway) < nbf)
        {
            return Err(JwtError::NotYetValid);
        }
        if claims.iat > now_secs.saturating_add(leeway) {
            return Err(JwtError::IssuedInFuture);
        }
        if self.config.check_issuer && claims.iss != self.config.issuer {
            return Err(JwtError::Issuer);
        }
        if self.config.check_audience && !claims.aud.contains(&self.config.audience) {
            return Err(JwtError::Audience);
        }
        self.check_revocation(&claims, now).await?;
        Ok(VerifiedJwt {
            header: jws.header,
            claims,
            kid: jws.kid,
        })
    }

    /// Checks only revocation and expiry of claims verified before (a
    /// cache of verified tokens calls this on every request).
    ///
    /// # Errors
    /// [`JwtError::Expired`], [`JwtError::Revoked`], [`JwtError::Store`].
    pub async fn check_revocation<T>(
        &self,
        claims: &AccessClaims<T>,
        now: SystemTime,
    ) -> Result<(), JwtError> {
        if unix_secs(now) >= claims.exp.saturating_add(self.config.leeway.as_secs()) {
            return Err(JwtError::Expired);
        }
        if let Some(revocations) = &self.revocations {
            let check = RevocationCheck::new(
                &claims.jti,
                claims.sid.as_deref(),
                &claims.sub,
                UNIX_EPOCH + Duration::from_secs(claims.iat),
            );
            if revocations.is_revoked(check, now).await? {
                return Err(JwtError::Revoked);
            }
        }
        Ok(())
    }

    /// The signature-level checks alone (size, segments, header rules, key
    /// selection, algorithm, signature). No claim is read. For JOSE test
    /// vectors and tools; services use [`verify`](Self::verify).
    ///
    /// # Errors
    /// The [`JwtError`] of the first rule that failed.
    pub fn verify_signature(&self, token: &str) -> Result<VerifiedJws, JwtError> {
        if token.len() > self.config.max_len {
            return Err(JwtError::TooLarge {
                max: self.config.max_len,
            });
        }
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(JwtError::Malformed("a JWS has exactly three segments"));
        };
        if header_b64.is_empty() || signature_b64.is_empty() {
            return Err(JwtError::Malformed("empty header or signature"));
        }
        let header_bytes = decode_segment(header_b64)?;
        let payload = decode_segment(payload_b64)?;
        decode_segment(signature_b64)?;

        let header: Map<String, Value> = serde_json::from_slice(&header_bytes)
            .map_err(|_| JwtError::Malformed("the header is not a JSON object"))?;
        if header.contains_key("crit") {
            return Err(JwtError::Header(
                "\"crit\" names extensions tessera does not understand",
            ));
        }
        if header.contains_key("b64") {
            return Err(JwtError::Header(
                "unencoded payloads (\"b64\") are not supported",
            ));
        }
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.as_str(),
            _ => return Err(JwtError::Malformed("the header has no \"alg\" string")),
        };
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) if keys::kid_is_well_formed(kid) => Some(kid.as_str()),
            Some(_) => return Err(JwtError::Header("\"kid\" is not a well-formed key id")),
        };
        let key = self.keys.select(kid).ok_or(JwtError::UnknownKey)?;
        // The key decides the algorithm; the header may only agree with it.
        if algorithm_name(key.algorithm()) != alg {
            return Err(JwtError::Algorithm);
        }
        if let Some(allowed) = &self.config.algorithms
            && !allowed.contains(&key.algorithm())
        {
            return Err(JwtError::Algorithm);
        }
        let signed_len = header_b64.len() + 1 + payload_b64.len();
        let valid = jsonwebtoken::crypto::verify(
            signature_b64,
            &token.as_bytes()[..signed_len],
            key.decoding(),
            key.algorithm(),
        )
        .unwrap_or(false);
        if !valid {
            return Err(JwtError::Signature);
        }
        Ok(VerifiedJws {
            kid: kid.map(str::to_owned),
            header,
            payload,
            algorithm: key.algorithm(),
        })
    }
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("keys", &self.keys)
            .field("config", &self.config)
            .field("revocations", &self.revocations.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Jwt`]; [`build`](Self::build) validates.
pub struct JwtBuilder {
    keys: JwtKeySet,
    config: JwtConfig,
    clock: Arc<dyn Clock>,
    revocations: Option<Arc<dyn Revocations>>,
    check_revocations: bool,
}

impl JwtBuilder {
    /// The clock every time check uses (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where revocations are looked up. Required unless
    /// [`dangerous_without_revocations`](Self::dangerous_without_revocations).
    pub fn revocations(mut self, revocations: Arc<dyn Revocations>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// Verifies without looking up revocations: logout and password changes
    /// do not end access tokens early. For offline tools only.
    pub fn dangerous_without_revocations(mut self) -> Self {
        self.check_revocations = false;
        self
    }

    /// Validates the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] without revocations (unless explicitly skipped), with
    /// an empty issuer or audience that is checked, a zero lifetime or
    /// length limit, or an algorithm allow-list that no key satisfies.
    pub fn build(self) -> Result<Jwt, ConfigError> {
        let c = &self.config;
        if self.check_revocations && self.revocations.is_none() {
            return Err(ConfigError::invalid(
                "revocations",
                "a verifier needs revocations to honour logout; call dangerous_without_revocations() to skip",
            ));
        }
        if c.check_issuer && c.issuer.is_empty() {
            return Err(ConfigError::invalid("issuer", "must not be empty"));
        }
        if c.check_audience && c.audience.is_empty() {
            return Err(ConfigError::invalid("audience", "must not be empty"));
        }
        if c.access_ttl.is_zero() || c.max_len == 0 {
            return Err(ConfigError::invalid(
                "access_ttl",
                "lifetime and length limit must be above zero",
            ));
        }
        if let Some(allowed) = &c.algorithms
            && !self
                .keys
                .keys()
                .iter()
                .any(|k| allowed.contains(&k.algorithm()))
        {
            return Err(ConfigError::invalid(
                "algorithms",
                "no configured key uses an allowed algorithm",
            ));
        }
        Ok(Jwt {
            keys: Arc::new(self.keys),
            config: self.config,
            clock: self.clock,
            revocations: if self.check_revocations {
                self.revocations
            } else {
                None
            },
        })
    }
}

impl fmt::Debug for JwtBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// An optional claim that, when present, must have its type: `null` is not
/// "absent".
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Decodes one segment: unpadded base64url, canonical, nothing else.
fn decode_segment(segment: &str) -> Result<Vec<u8>, JwtError> {
    if !segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(JwtError::Malformed("segments are unpadded base64url"));
    }
    Base64UrlUnpadded::decode_vec(segment)
        .map_err(|_| JwtError::Malformed("segments are unpadded base64url"))
}

/// Serde's message without the input echoed back.
fn claims_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.find(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
