//! JWT signing and verification keys: one key, one algorithm.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Longest key id, in bytes.
pub const MAX_KID_LEN: usize = 128;

/// A key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is too weak for its algorithm (short HMAC secret, small RSA
    /// modulus, RSA exponent 1).
    #[error("key too weak for {alg}: {reason}")]
    Weak {
        /// The algorithm.
        alg: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The key does not fit its algorithm (wrong key type or curve).
    #[error("key does not fit {alg}: {reason}")]
    Mismatch {
        /// The algorithm.
        alg: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The algorithm is not a JWS signature algorithm tessera supports
    /// (`none`, encryption algorithms, ES512…).
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The key is marked for another use (`use` other than `sig`, `key_ops`
    /// without `verify`).
    #[error("key is not for signatures: {0}")]
    WrongUse(String),
    /// The key material cannot be read.
    #[error("invalid key: {0}")]
    Invalid(String),
    /// A key id is empty, too long or has characters outside
    /// `A-Z a-z 0-9 - _ . @ : +`.
    #[error("invalid key id {0:?}")]
    InvalidKid(String),
    /// Two keys of a set have the same id, or several have none.
    #[error("ambiguous key set: {0}")]
    Ambiguous(String),
    /// A JWK set mixes secret or private keys with public ones.
    #[error("JWK set mixes secret or private keys with public keys")]
    MixedKeySet,
    /// The set has no key that can sign, or signing was asked of a
    /// verify-only key.
    #[error("no signing key")]
    NoSigningKey,
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        // `Algorithm` is non-exhaustive; keys are only built for the
        // algorithms above.
        _ => "unsupported",
    }
}

/// Reads an algorithm name as it appears in a JOSE header or JWK. Only the
/// signature algorithms tessera verifies are known; `none` never is.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, KeyError> {
    Ok(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "EdDSA" => Algorithm::EdDSA,
        other => return Err(KeyError::UnsupportedAlgorithm(other.to_owned())),
    })
}

/// The name of `alg` in JOSE headers.
pub fn algorithm_name(alg: Algorithm) -> &'static str {
    alg_name(alg)
}

fn hmac_min_len(alg: Algorithm) -> Option<usize> {
    match alg {
        Algorithm::HS256 => Some(32),
        Algorithm::HS384 => Some(48),
        Algorithm::HS512 => Some(64),
        _ => None,
    }
}

fn is_rsa(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
    )
}

fn check_kid(kid: &str) -> Result<(), KeyError> {
    let ok = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b':' | b'+')
        });
    if ok {
        Ok(())
    } else {
        Err(KeyError::InvalidKid(kid.to_owned()))
    }
}

/// Whether a `kid` from a token header may be looked up at all.
pub(crate) fn kid_is_well_formed(kid: &str) -> bool {
    check_kid(kid).is_ok()
}

/// One JWT key: an algorithm, a verification key, optionally a signing key,
/// and the public JWK for a JWKS.
///
/// `Debug` shows the id and algorithm only.
#[derive(Clone)]
pub struct JwtKey {
    kid: Option<String>,
    alg: Algorithm,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// Public JWK members (`kty`, `crv`, `x`, `y`, `n`, `e`); `None` for
    /// HMAC keys, which have no public half.
    public: Option<Map<String, Value>>,
    secret: bool,
}

impl JwtKey {
    /// An HMAC key (HS256, HS384 or HS512).
    ///
    /// # Errors
    /// [`KeyError::Weak`] for a secret shorter than the hash output (32, 48,
    /// 64 bytes); [`KeyError::Mismatch`] for a non-HMAC algorithm.
    pub fn hmac(kid: Option<&str>, alg: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let Some(min) = hmac_min_len(alg) else {
            return Err(KeyError::Mismatch {
                alg: alg_name(alg),
                reason: "an HMAC secret needs HS256, HS384 or HS512".into(),
            });
        };
        if secret.len() < min {
            return Err(KeyError::Weak {
                alg: alg_name(alg),
                reason: format!(
                    "secret has {} bytes, at least {min} are needed",
                    secret.len()
                ),
            });
        }
        let encoding =
            EncodingKey::from_secret(secret).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let decoding =
            DecodingKey::from_secret(secret).map_err(|e| KeyError::Invalid(e.to_string()))?;
        Self::build(kid, alg, Some(encoding), decoding, None, true)
    }

    /// A new Ed25519 key from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] when the random number generator fails.
    pub fn generate_ed25519(kid: Option<&str>) -> Result<Self, KeyError> {
        let seed = Zeroizing::new(
            crate::random::os_bytes::<32>()
                .map_err(|e| KeyError::Invalid(format!("random number generator: {e}")))?,
        );
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let der = signing
            .to_pkcs8_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        Self::ed25519(
            kid,
            Some(der.as_bytes()),
            signing.verifying_key().as_bytes(),
        )
    }

    /// A private key in PEM: Ed25519 (PKCS#8) for EdDSA, P-256 for ES256,
    /// P-384 for ES384 (PKCS#8 or SEC1), RSA of at least 2048 bits for
    /// RS*/PS* (PKCS#8 or PKCS#1). The key must fit `alg`.
    ///
    /// # Errors
    /// [`KeyError`] for unreadable, mismatched or weak keys.
    pub fn from_private_pem(
        kid: Option<&str>,
        alg: Algorithm,
        pem: &str,
    ) -> Result<Self, KeyError> {
        match alg {
            Algorithm::EdDSA => {
                let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
                    .map_err(|_| mismatch(alg, "not an Ed25519 PKCS#8 private key"))?;
                let der = signing
                    .to_pkcs8_der()
                    .map_err(|e| KeyError::Invalid(e.to_string()))?;
                Self::ed25519(
                    kid,
                    Some(der.as_bytes()),
                    signing.verifying_key().as_bytes(),
                )
            }
            Algorithm::ES256 => {
                let secret = p256::SecretKey::from_pkcs8_pem(pem)
                    .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
                    .map_err(|_| mismatch(alg, "not a P-256 private key"))?;
                let der = secret
                    .to_pkcs8_der()
                    .map_err(|e| KeyError::Invalid(e.to_string()))?;
                let point = secret.public_key().to_sec1_point(false);
                Self::ec(kid, alg, "P-256", Some(der.as_bytes()), point.as_bytes())
            }
            Algorithm::ES384 => {
                let secret = p384::SecretKey::from_pkcs8_pem(pem)
                    .or_else(|_| p384::SecretKey::from_sec1_pem(pem))
                    .map_err(|_| mismatch(alg, "not a P-384 private key"))?;
                let der = secret
                    .to_pkcs8_der()
                    .map_err(|e| KeyError::Invalid(e.to_string()))?;
                let point = secret.public_key().to_sec1_point(false);
                Self::ec(kid, alg, "P-384", Some(der.as_bytes()), point.as_bytes())
            }
            alg if is_rsa(alg) => {
                let private = rsa::PrivateKey::from_pkcs8_pem(pem)
                    .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(pem))
                    .map_err(|_| mismatch(alg, "not an RSA private key"))?;
                let der = private
                    .to_pkcs1_der()
                    .map_err(|e| KeyError::Invalid(e.to_string()))?;
                Self::rsa(kid, alg, Some(der.as_bytes()), &private.to_public_key())
            }
            _ => Err(mismatch(
                alg,
                "an HMAC algorithm takes a secret, not a PEM key",
            )),
        }
    }

    /// A public key in PEM (SPKI, or PKCS#1 for RSA), for verification only.
    ///
    /// # Errors
    /// [`KeyError`] for unreadable, mismatched or weak keys.
    pub fn from_public_pem(kid: Option<&str>, alg: Algorithm, pem: &str) -> Result<Self, KeyError> {
        match alg {
            Algorithm::EdDSA => {
                let public = ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
                    .map_err(|_| mismatch(alg, "not an Ed25519 public key"))?;
                Self::ed25519(kid, None, public.as_bytes())
            }
            Algorithm::ES256 => {
                let public = p256::PublicKey::from_public_key_pem(pem)
                    .map_err(|_| mismatch(alg, "not a P-256 public key"))?;
                Self::ec(
                    kid,
                    alg,
                    "P-256",
                    None,
                    public.to_sec1_point(false).as_bytes(),
                )
            }
            Algorithm::ES384 => {
                let public = p384::PublicKey::from_public_key_pem(pem)
                    .map_err(|_| mismatch(alg, "not a P-384 public key"))?;
                Self::ec(
                    kid,
                    alg,
                    "P-384",
                    None,
                    public.to_sec1_point(false).as_bytes(),
                )
            }
            alg if is_rsa(alg) => {
                let public = rsa::PublicKey::from_public_key_pem(pem)
                    .or_else(|_| rsa::PublicKey::from_pkcs1_pem(pem))
                    .map_err(|_| mismatch(alg, "not an RSA public key"))?;
                Self::rsa(kid, alg, None, &public)
            }
            _ => Err(mismatch(
                alg,
                "an HMAC algorithm takes a secret, not a PEM key",
            )),
        }
    }

    /// A key from a JWK (RFC 7517), public or private.
    ///
    /// The JWK's `alg` decides the algorithm; `default_alg` is used only when
    /// it has none. `kty` and `crv` must fit the algorithm, `use` (if
    /// present) must be `sig`, `key_ops` (if present) must allow `verify`,
    /// points must be on their curve, and a private part must belong to the
    /// public one.
    ///
    /// # Errors
    /// [`KeyError`] naming what is wrong.
    pub fn from_jwk(jwk: &Value, default_alg: Option<Algorithm>) -> Result<Self, KeyError> {
        let obj = jwk
            .as_object()
            .ok_or_else(|| KeyError::Invalid("a JWK must be a JSON object".into()))?;
        let text = |name: &str| -> Result<Option<&str>, KeyError> {
            match obj.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(KeyError::Invalid(format!(
                    "JWK member {name:?} must be a string"
                ))),
            }
        };
        let bytes = |name: &str| -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
            text(name)?
                .map(|s| {
                    Base64UrlUnpadded::decode_vec(s)
                        .map(Zeroizing::new)
                        .map_err(|_| {
                            KeyError::Invalid(format!("JWK member {name:?} is not base64url"))
                        })
                })
                .transpose()
        };
        let required = |name: &str| -> Result<Zeroizing<Vec<u8>>, KeyError> {
            bytes(name)?.ok_or_else(|| KeyError::Invalid(format!("JWK member {name:?} is missing")))
        };

        let alg = match text("alg")? {
            Some(name) => parse_algorithm(name)?,
            None => default_alg.ok_or_else(|| KeyError::Invalid("JWK has no \"alg\"".into()))?,
        };
        if let Some(use_) = text("use")?
            && use_ != "sig"
        {
            return Err(KeyError::WrongUse(format!("\"use\" is {use_:?}")));
        }
        if let Some(ops) = obj.get("key_ops") {
            let ops = ops
                .as_array()
                .ok_or_else(|| KeyError::Invalid("\"key_ops\" must be an array".into()))?;
            if !ops.iter().any(|op| op.as_str() == Some("verify")) {
                return Err(KeyError::WrongUse(
                    "\"key_ops\" does not allow verify".into(),
                ));
            }
        }
        let kid = text("kid")?;
        let kty = text("kty")?.ok_or_else(|| KeyError::Invalid("JWK has no \"kty\"".into()))?;
        let crv = text("crv")?;

        match alg {
            _ if hmac_min_len(alg).is_some() => {
                expect_kty(alg, kty, "oct")?;
                Self::hmac(kid, alg, &required("k")?)
            }
            Algorithm::EdDSA => {
                expect_kty(alg, kty, "OKP")?;
                expect_crv(alg, crv, "Ed25519")?;
                let x = required("x")?;
                let x: [u8; 32] = x
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyError::Invalid("Ed25519 \"x\" must be 32 bytes".into()))?;
                let public = ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map_err(|_| KeyError::Invalid("Ed25519 \"x\" is not a curve point".into()))?;
                match bytes("d")? {
                    None => Self::ed25519(kid, None, public.as_bytes()),
                    Some(d) => {
                        let d: [u8; 32] = d.as_slice().try_into().map_err(|_| {
                            KeyError::Invalid("Ed25519 \"d\" must be 32 bytes".into())
                        })?;
                        let signing = ed25519_dalek::SigningKey::from_bytes(&d);
                        if signing.verifying_key() != public {
                            return Err(KeyError::Invalid(
                                "private and public Ed25519 parts differ".into(),
                            ));
                        }
                        let der = signing
                            .to_pkcs8_der()
                            .map_err(|e| KeyError::Invalid(e.to_string()))?;
                        Self::ed25519(kid, Some(der.as_bytes()), public.as_bytes())
                    }
                }
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                expect_kty(alg, kty, "EC")?;
                let (curve, len) = if alg == Algorithm::ES256 {
                    ("P-256", 32)
                } else {
                    ("P-384", 48)
                };
                expect_crv(alg, crv, curve)?;
                let (x, y) = (required("x")?, required("y")?);
                if x.len() != len || y.len() != len {
                    return Err(KeyError::Invalid(format!(
                        "{curve} coordinates must be {len} bytes"
                    )));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let d = bytes("d")?;
                let der = match alg {
                    Algorithm::ES256 => p256_private(&point, d.as_deref().map(Vec::as_slice))?,
                    _ => p384_private(&point, d.as_deref().map(Vec::as_slice))?,
                };
                Self::ec(
                    kid,
                    alg,
                    curve,
                    der.as_deref().map(|d| d.as_slice()),
                    &point,
                )
            }
            _ => {
                expect_kty(alg, kty, "RSA")?;
                let n = rsa::BoxedUint::from_be_slice_vartime(&required("n")?);
                let e = rsa::BoxedUint::from_be_slice_vartime(&required("e")?);
                let public = rsa::PublicKey::new(n, e)
                    .map_err(|err| rsa_weak_or_invalid(alg, &err.to_string()))?;
                match bytes("d")? {
                    None => Self::rsa(kid, alg, None, &public),
                    Some(d) => {
                        let primes = [required("p")?, required("q")?]
                            .iter()
                            .map(|p| rsa::BoxedUint::from_be_slice_vartime(p))
                            .collect();
                        let private = rsa::PrivateKey::from_components(
                            rsa::BoxedUint::from_be_slice_vartime(&public.n_bytes()),
                            public.e().clone(),
                            rsa::BoxedUint::from_be_slice_vartime(&d),
                            primes,
                        )
                        .map_err(|err| rsa_weak_or_invalid(alg, &err.to_string()))?;
                        let der = private
                            .to_pkcs1_der()
                            .map_err(|e| KeyError::Invalid(e.to_string()))?;
                        Self::rsa(kid, alg, Some(der.as_bytes()), &public)
                    }
                }
            }
        }
    }

    fn ed25519(
        kid: Option<&str>,
        pkcs8: Option<&[u8]>,
        public: &[u8; 32],
    ) -> Result<Self, KeyError> {
        let x = Base64UrlUnpadded::encode_string(public);
        let decoding =
            DecodingKey::from_ed_components(&x).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let mut jwk = Map::new();
        jwk.insert("kty".into(), json!("OKP"));
        jwk.insert("crv".into(), json!("Ed25519"));
        jwk.insert("x".into(), json!(x));
        Self::build(
            kid,
            Algorithm::EdDSA,
            pkcs8.map(EncodingKey::from_ed_der),
            decoding,
            Some(jwk),
            pkcs8.is_some(),
        )
    }

    fn ec(
        kid: Option<&str>,
        alg: Algorithm,
        curve: &str,
        pkcs8: Option<&[u8]>,
        point: &[u8],
    ) -> Result<Self, KeyError> {
        // An uncompressed SEC1 point: 0x04, then x and y of equal length.
        let coords = point
            .strip_prefix(&[4])
            .filter(|c| c.len() % 2 == 0)
            .ok_or_else(|| KeyError::Invalid("EC point must be uncompressed".into()))?;
        let (x, y) = coords.split_at(coords.len() / 2);
        let (x, y) = (
            Base64UrlUnpadded::encode_string(x),
            Base64UrlUnpadded::encode_string(y),
        );
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let mut jwk = Map::new();
        jwk.insert("kty".into(), json!("EC"));
        jwk.insert("crv".into(), json!(curve));
        jwk.insert("x".into(), json!(x));
        jwk.insert("y".into(), json!(y));
        Self::build(
            kid,
            alg,
            pkcs8.map(EncodingKey::from_ec_der),
            decoding,
            Some(jwk),
            pkcs8.is_some(),
        )
    }

    fn rsa(
        kid: Option<&str>,
        alg: Algorithm,
        pkcs1: Option<&[u8]>,
        public: &rsa::PublicKey,
    ) -> Result<Self, KeyError> {
        let bits = public.n().bit_width() as usize;
        if bits < MIN_RSA_BITS {
            return Err(KeyError::Weak {
                alg: alg_name(alg),
                reason: format!("RSA modulus has {bits} bits, at least {MIN_RSA_BITS} are needed"),
            });
        }
        let (n, e) = (public.n_bytes(), public.e_bytes());
        let decoding = DecodingKey::from_rsa_raw_components(&n, &e);
        let mut jwk = Map::new();
        jwk.insert("kty".into(), json!("RSA"));
        jwk.insert("n".into(), json!(Base64UrlUnpadded::encode_string(&n)));
        jwk.insert("e".into(), json!(Base64UrlUnpadded::encode_string(&e)));
        Self::build(
            kid,
            alg,
            pkcs1.map(EncodingKey::from_rsa_der),
            decoding,
            Some(jwk),
            pkcs1.is_some(),
        )
    }

    fn build(
        kid: Option<&str>,
        alg: Algorithm,
        encoding: Option<EncodingKey>,
        decoding: DecodingKey,
        public: Option<Map<String, Value>>,
        secret: bool,
    ) -> Result<Self, KeyError> {
        if let Some(kid) = kid {
            check_kid(kid)?;
        }
        Ok(Self {
            kid: kid.map(str::to_owned),
            alg,
            encoding,
            decoding,
            public,
            secret,
        })
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key is used with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Whether the key can sign (it holds the secret or private part).
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    /// The public JWK (with `kid`, `alg` and `use`), or `None` for an HMAC
    /// key, which must never be published.
    pub fn public_jwk(&self) -> Option<Value> {
        let mut jwk = self.public.clone()?;
        if let Some(kid) = &self.kid {
            jwk.insert("kid".into(), json!(kid));
        }
        jwk.insert("alg".into(), json!(alg_name(self.alg)));
        jwk.insert("use".into(), json!("sig"));
        Some(Value::Object(jwk))
    }

    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        self.encoding.as_ref()
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    fn holds_secret(&self) -> bool {
        self.secret
    }

    fn is_hmac(&self) -> bool {
        hmac_min_len(self.alg).is_some()
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.can_sign())
            .finish_non_exhaustive()
    }
}

fn mismatch(alg: Algorithm, reason: &str) -> KeyError {
    KeyError::Mismatch {
        alg: alg_name(alg),
        reason: reason.to_owned(),
    }
}

fn expect_kty(alg: Algorithm, kty: &str, expected: &str) -> Result<(), KeyError> {
    if kty == expected {
        Ok(())
    } else {
        Err(mismatch(
            alg,
            &format!("\"kty\" is {kty:?}, {expected:?} is needed"),
        ))
    }
}

fn expect_crv(alg: Algorithm, crv: Option<&str>, expected: &str) -> Result<(), KeyError> {
    if crv == Some(expected) {
        Ok(())
    } else {
        Err(mismatch(
            alg,
            &format!("\"crv\" is {crv:?}, {expected:?} is needed"),
        ))
    }
}

fn rsa_weak_or_invalid(alg: Algorithm, reason: &str) -> KeyError {
    KeyError::Weak {
        alg: alg_name(alg),
        reason: format!("RSA key refused: {reason}"),
    }
}

macro_rules! ec_private {
    ($name:ident, $curve:ident) => {
        /// Checks an EC public point (and the private scalar, if any,
        /// against it) and returns the PKCS#8 DER of the private key.
        fn $name(point: &[u8], d: Option<&[u8]>) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
            let public = $curve::PublicKey::from_sec1_bytes(point).map_err(|_| {
                KeyError::Invalid("EC \"x\", \"y\" are not a point on the curve".into())
            })?;
            let Some(d) = d else {
                return Ok(None);
            };
            let secret = $curve::SecretKey::from_slice(d)
                .map_err(|_| KeyError::Invalid("EC \"d\" is not a valid scalar".into()))?;
            if secret.public_key() != public {
                return Err(KeyError::Invalid(
                    "private and public EC parts differ".into(),
                ));
            }
            let der = secret
                .to_pkcs8_der()
                .map_err(|e| KeyError::Invalid(e.to_string()))?;
            Ok(Some(Zeroizing::new(der.as_bytes().to_vec())))
        }
    };
}

ec_private!(p256_private, p256);
ec_private!(p384_private, p384);

/// The keys a service signs and verifies access tokens with.
///
/// One key signs (the newest); older keys stay listed for verification
/// until the tokens they signed have expired, so a key rotation logs
/// nobody out. Key ids are unique; a token's `kid` selects among these keys
/// and nothing else.
#[derive(Clone, Debug)]
pub struct JwtKeySet {
    keys: Vec<JwtKey>,
    signing: Option<usize>,
}

impl JwtKeySet {
    /// A set whose first key signs; the rest verify only.
    ///
    /// # Errors
    /// [`KeyError::NoSigningKey`] when the first key cannot sign;
    /// [`KeyError::Ambiguous`] for duplicate ids, or several keys and one
    /// without an id.
    pub fn new(signing: JwtKey, verify_only: Vec<JwtKey>) -> Result<Self, KeyError> {
        if !signing.can_sign() {
            return Err(KeyError::NoSigningKey);
        }
        let mut keys = vec![signing];
        keys.extend(verify_only);
        Self::validate(&keys)?;
        Ok(Self {
            keys,
            signing: Some(0),
        })
    }

    /// A set that only verifies, for example tokens of another issuer.
    ///
    /// # Errors
    /// [`KeyError::Ambiguous`] as for [`new`](Self::new), or an empty set.
    pub fn verify_only(keys: Vec<JwtKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::Ambiguous(
                "a key set needs at least one key".into(),
            ));
        }
        Self::validate(&keys)?;
        Ok(Self {
            keys,
            signing: None,
        })
    }

    /// A verification set from a JWK set (`{"keys": [...]}`) or a single
    /// JWK. A set must not mix secret or private keys with public ones.
    ///
    /// # Errors
    /// [`KeyError`] for any unusable key, a mixed set, or duplicate ids.
    pub fn from_jwks(jwks: &Value, default_alg: Option<Algorithm>) -> Result<Self, KeyError> {
        let members: Vec<&Value> = match jwks.get("keys") {
            Some(Value::Array(keys)) => keys.iter().collect(),
            Some(_) => return Err(KeyError::Invalid("\"keys\" must be an array".into())),
            None => vec![jwks],
        };
        let keys = members
            .into_iter()
            .map(|jwk| JwtKey::from_jwk(jwk, default_alg))
            .collect::<Result<Vec<_>, _>>()?;
        let secrets = keys.iter().filter(|k| k.holds_secret()).count();
        if secrets != 0 && secrets != keys.len() {
            return Err(KeyError::MixedKeySet);
        }
        Self::verify_only(keys)
    }

    fn validate(keys: &[JwtKey]) -> Result<(), KeyError> {
        for (i, key) in keys.iter().enumerate() {
            match &key.kid {
                None if keys.len() > 1 => {
                    return Err(KeyError::Ambiguous(
                        "every key of a set with several keys needs a kid".into(),
                    ));
                }
                Some(kid) if keys[..i].iter().any(|k| k.kid.as_deref() == Some(kid)) => {
                    return Err(KeyError::Ambiguous(format!("kid {kid:?} is listed twice")));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The signing key.
    pub fn signing_key(&self) -> Option<&JwtKey> {
        self.signing.map(|i| &self.keys[i])
    }

    /// Every key.
    pub fn keys(&self) -> &[JwtKey] {
        &self.keys
    }

    /// The key a token header selects: by `kid`, or the only key when the
    /// header has none.
    pub(crate) fn select(&self, kid: Option<&str>) -> Option<&JwtKey> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }

    /// The public keys as a JWK set (RFC 7517 §5), for
    /// `/.well-known/jwks.json`. HMAC keys are never included: an HS256
    /// deployment publishes an empty set.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| !k.is_hmac())
            .filter_map(JwtKey::public_jwk)
            .collect();
        json!({ "keys": keys })
    }
}
