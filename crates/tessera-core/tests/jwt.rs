//! Access-token JWTs: cases F1–F13 of SECURITY-CASES.md, key checks,
//! rotation, JWKS and revocation, all on a manual clock.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use tessera_core::async_trait;
use tessera_core::clock::{Clock, ManualClock};
use tessera_core::error::StoreError;
use tessera_core::jwt::{
    Algorithm, Grant, Jwt, JwtConfig, JwtError, JwtKey, JwtKeySet, KeyError, RevocationCheck,
    Revocations,
};
use tessera_core::memory::{MemoryRevocations, MemoryTokenStore};
use tessera_core::token::{FamilyId, RefreshTokens, RevokeScope, TokenError};
use tessera_core::users::UserId;

const SECRET: [u8; 32] = [7; 32];
const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";
/// The manual clock's default time, in Unix seconds.
const NOW: u64 = 1_700_000_000;

fn hs256_keys() -> JwtKeySet {
    JwtKeySet::new(
        JwtKey::hmac(Some("hs-1"), Algorithm::HS256, &SECRET).unwrap(),
        vec![],
    )
    .unwrap()
}

struct Rig {
    jwt: Jwt,
    clock: ManualClock,
    revocations: Arc<MemoryRevocations>,
}

fn rig_with(keys: JwtKeySet, config: JwtConfig) -> Rig {
    let clock = ManualClock::default();
    let revocations = Arc::new(MemoryRevocations::with_clock(Arc::new(clock.clone())));
    let jwt = Jwt::builder(keys, config)
        .clock(Arc::new(clock.clone()))
        .revocations(revocations.clone())
        .build()
        .unwrap();
    Rig {
        jwt,
        clock,
        revocations,
    }
}

fn rig() -> Rig {
    rig_with(hs256_keys(), JwtConfig::new(ISS, AUD))
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// A compact JWS over any header and payload, HMAC-SHA256 with `secret`.
fn hs256(header: &Value, payload: &Value, secret: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(payload).unwrap())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

fn header() -> Value {
    json!({"alg": "HS256", "typ": "at+jwt", "kid": "hs-1"})
}

fn claims() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "alice", "jti": "j-1",
        "iat": NOW, "exp": NOW + 900,
    })
}

fn with(mut value: Value, key: &str, v: Value) -> Value {
    value[key] = v;
    value
}

fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().unwrap().remove(key);
    value
}

async fn verify(rig: &Rig, token: &str) -> Result<(), JwtError> {
    rig.jwt.verify(token).await.map(|_| ())
}

#[tokio::test]
async fn a_well_formed_token_passes_and_its_claims_are_read() {
    let rig = rig();
    let token = hs256(
        &header(),
        &with(claims(), "scope", json!("notes:read notes:write")),
        &SECRET,
    );
    let verified = rig.jwt.verify(&token).await.unwrap();
    assert_eq!(verified.claims.sub, "alice");
    assert_eq!(verified.kid.as_deref(), Some("hs-1"));
    assert!(verified.claims.has_scope("notes:write"));
    assert!(!verified.claims.has_scope("notes"));
    assert!(!verified.claims.fresh);
}

/// F1: `alg: none` with an empty signature, or with any signature.
#[tokio::test]
async fn f1_alg_none_is_refused() {
    let rig = rig();
    let unsigned = format!(
        "{}.{}.",
        b64(&serde_json::to_vec(&json!({"alg": "none", "typ": "at+jwt"})).unwrap()),
        b64(&serde_json::to_vec(&claims()).unwrap())
    );
    assert!(matches!(
        verify(&rig, &unsigned).await,
        Err(JwtError::Malformed(_))
    ));
    let with_signature = hs256(&with(header(), "alg", json!("none")), &claims(), &SECRET);
    assert!(matches!(
        verify(&rig, &with_signature).await,
        Err(JwtError::Algorithm)
    ));
    let lower = hs256(&with(header(), "alg", json!("hs256")), &claims(), &SECRET);
    assert!(matches!(
        verify(&rig, &lower).await,
        Err(JwtError::Algorithm)
    ));
}

/// F2: an Ed25519 deployment; a token "signed" with HS256 using the public
/// key as the HMAC secret.
#[tokio::test]
async fn f2_key_type_confusion_is_refused() {
    let key = JwtKey::generate_ed25519(Some("ed-1")).unwrap();
    let public_x = key.public_jwk().unwrap()["x"].as_str().unwrap().to_owned();
    let rig = rig_with(
        JwtKeySet::new(key, vec![]).unwrap(),
        JwtConfig::new(ISS, AUD),
    );
    for secret in [
        public_x.as_bytes().to_vec(),
        Base64UrlUnpadded::decode_vec(&public_x).unwrap(),
    ] {
        let forged = hs256(&with(header(), "kid", json!("ed-1")), &claims(), &secret);
        assert!(matches!(
            verify(&rig, &forged).await,
            Err(JwtError::Algorithm)
        ));
    }
    // The genuine article passes.
    let issued = rig
        .jwt
        .issue(&UserId::new("alice"), Grant::dangerous_without_family())
        .unwrap();
    assert!(verify(&rig, &issued.token).await.is_ok());
}

/// F3: header keys (`jwk`, `jku`, `x5u`, `x5c`) are never used: a token
/// signed with the attacker's embedded key is refused.
#[tokio::test]
async fn f3_embedded_and_remote_keys_are_ignored() {
    let rig = rig();
    let attacker = [9u8; 32];
    for (name, value) in [
        ("jwk", json!({"kty": "oct", "k": b64(&attacker)})),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", json!(["MIIB"])),
    ] {
        let token = hs256(&with(header(), name, value), &claims(), &attacker);
        assert!(
            matches!(verify(&rig, &token).await, Err(JwtError::Signature)),
            "{name}"
        );
    }
}

/// F4: a `kid` is only matched against configured ids; path- or SQL-shaped
/// ids are refused outright.
#[tokio::test]
async fn f4_kid_only_selects_configured_keys() {
    let rig = rig();
    for kid in ["../../dev/null", "' OR 1=1", "a b", "x/y", ""] {
        let token = hs256(&with(header(), "kid", json!(kid)), &claims(), &SECRET);
        assert!(
            matches!(verify(&rig, &token).await, Err(JwtError::Header(_))),
            "{kid:?}"
        );
    }
    let long = "k".repeat(129);
    let token = hs256(&with(header(), "kid", json!(long)), &claims(), &SECRET);
    assert!(matches!(
        verify(&rig, &token).await,
        Err(JwtError::Header(_))
    ));
    let token = hs256(&with(header(), "kid", json!(7)), &claims(), &SECRET);
    assert!(matches!(
        verify(&rig, &token).await,
        Err(JwtError::Header(_))
    ));
    let token = hs256(&with(header(), "kid", json!("hs-2")), &claims(), &SECRET);
    assert!(matches!(
        verify(&rig, &token).await,
        Err(JwtError::UnknownKey)
    ));
}

/// F5: expired at `now >= exp`; leeway is configurable.
#[tokio::test]
async fn f5_expiry_is_checked_on_the_injected_clock() {
    let rig = rig();
    let token = hs256(&header(), &claims(), &SECRET);
    rig.clock.set(UNIX_EPOCH + Duration::from_secs(NOW + 899));
    assert!(verify(&rig, &token).await.is_ok());
    rig.clock.set(UNIX_EPOCH + Duration::from_secs(NOW + 900));
    assert!(matches!(verify(&rig, &token).await, Err(JwtError::Expired)));

    let lenient = rig_with(
        hs256_keys(),
        JwtConfig::new(ISS, AUD).leeway(Duration::from_secs(60)),
    );
    lenient
        .clock
        .set(UNIX_EPOCH + Duration::from_secs(NOW + 959));
    assert!(verify(&lenient, &token).await.is_ok());
    lenient
        .clock
        .set(UNIX_EPOCH + Duration::from_secs(NOW + 961));
    assert!(matches!(
        verify(&lenient, &token).await,
        Err(JwtError::Expired)
    ));
}

/// F6: `nbf` in the future; and an `iat` in the future.
#[tokio::test]
async fn f6_not_before_and_future_issue_time() {
    let rig = rig();
    let early = hs256(
        &header(),
        &with(claims(), "nbf", json!(NOW + 3600)),
        &SECRET,
    );
    assert!(matches!(
        verify(&rig, &early).await,
        Err(JwtError::NotYetValid)
    ));
    rig.clock.set(UNIX_EPOCH + Duration::from_secs(NOW + 3600));
    let later = hs256(
        &header(),
        &with(
            with(claims(), "nbf", json!(NOW + 3600)),
            "exp",
            json!(NOW + 7200),
        ),
        &SECRET,
    );
    assert!(verify(&rig, &later).await.is_ok());

    let rig = self::rig();
    let future = hs256(
        &header(),
        &with(
            with(claims(), "iat", json!(NOW + 10)),
            "exp",
            json!(NOW + 900),
        ),
        &SECRET,
    );
    assert!(matches!(
        verify(&rig, &future).await,
        Err(JwtError::IssuedInFuture)
    ));
}

/// F7 and rule 4: `exp`, `iat`, `iss`, `aud`, `sub` and `jti` are required.
#[tokio::test]
async fn f7_required_claims() {
    let rig = rig();
    for claim in ["exp", "iat", "iss", "aud", "sub", "jti"] {
        let token = hs256(&header(), &without(claims(), claim), &SECRET);
        assert!(
            matches!(verify(&rig, &token).await, Err(JwtError::Claims(_))),
            "{claim}"
        );
    }
}

/// F8: claims of the wrong JSON type.
#[tokio::test]
async fn f8_claims_of_the_wrong_type() {
    let rig = rig();
    for (claim, value) in [
        ("exp", json!("9999999999")),
        ("nbf", json!("0")),
        ("iat", json!(1.5)),
        ("exp", json!(-1)),
        ("sub", json!(42)),
        ("aud", json!({"a": 1})),
        ("scope", json!(["a"])),
        ("fresh", json!("true")),
        ("nbf", Value::Null),
        ("sid", Value::Null),
        ("sid", json!(7)),
        ("sub", json!("")),
        ("jti", json!("")),
    ] {
        let token = hs256(&header(), &with(claims(), claim, value.clone()), &SECRET);
        assert!(
            matches!(verify(&rig, &token).await, Err(JwtError::Claims(_))),
            "{claim}: {value}"
        );
    }
    let payload_not_object = hs256(&header(), &json!([1, 2]), &SECRET);
    assert!(matches!(
        verify(&rig, &payload_not_object).await,
        Err(JwtError::Claims(_))
    ));
}

/// F9: wrong audience, wrong issuer; an audience list that holds ours.
#[tokio::test]
async fn f9_issuer_and_audience() {
    let rig = rig();
    let token = hs256(
        &header(),
        &with(claims(), "aud", json!("https://other.example.com")),
        &SECRET,
    );
    assert!(matches!(
        verify(&rig, &token).await,
        Err(JwtError::Audience)
    ));
    let token = hs256(
        &header(),
        &with(claims(), "iss", json!("https://evil.example.com")),
        &SECRET,
    );
    assert!(matches!(verify(&rig, &token).await, Err(JwtError::Issuer)));
    let token = hs256(
        &header(),
        &with(claims(), "aud", json!(["x", AUD])),
        &SECRET,
    );
    assert!(verify(&rig, &token).await.is_ok());
    let token = hs256(
        &header(),
        &with(claims(), "aud", json!(["x", "y"])),
        &SECRET,
    );
    assert!(matches!(
        verify(&rig, &token).await,
        Err(JwtError::Audience)
    ));
}

/// F10: typed tokens. A JWT without `typ: at+jwt` (an ID token, say) is not
/// an access token; an opaque refresh token or API key is not a JWT; a JWT
/// is not a refresh token.
#[tokio::test]
async fn f10_token_types_do_not_cross() {
    let rig = rig();
    for typ in [json!("JWT"), json!("id_token+jwt"), Value::Null] {
        let token = hs256(&with(header(), "typ", typ.clone()), &claims(), &SECRET);
        assert!(
            matches!(verify(&rig, &token).await, Err(JwtError::Type)),
            "{typ}"
        );
    }
    let full = hs256(
        &with(header(), "typ", json!("application/AT+JWT")),
        &claims(),
        &SECRET,
    );
    assert!(verify(&rig, &full).await.is_ok());

    let store = Arc::new(MemoryTokenStore::new());
    let refresh = RefreshTokens::builder(store, rig.revocations.clone())
        .clock(Arc::new(rig.clock.clone()))
        .build()
        .unwrap();
    let issued = refresh
        .issue(&UserId::new("alice"), Default::default())
        .await
        .unwrap();
    assert!(matches!(
        verify(&rig, issued.token.expose_secret()).await,
        Err(JwtError::Malformed(_))
    ));
    let jwt = hs256(&header(), &claims(), &SECRET);
    assert!(matches!(
        refresh.refresh(&jwt, &Default::default(), None).await,
        Err(TokenError::Malformed)
    ));
}

/// F11: any `crit` is refused, and so is `b64`.
#[tokio::test]
async fn f11_critical_headers_are_refused() {
    let rig = rig();
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("crit", json!([])),
        ("b64", json!(false)),
    ] {
        let token = hs256(&with(header(), name, value), &claims(), &SECRET);
        assert!(
            matches!(verify(&rig, &token).await, Err(JwtError::Header(_))),
            "{name}"
        );
    }
}

/// F12: logout-all and password changes end earlier tokens, through their
/// family and through the account's cut-off; a revoked `jti` is refused.
#[tokio::test]
async fn f12_revocation_by_family_subject_and_jti() {
    let rig = rig();
    let store = Arc::new(MemoryTokenStore::new());
    let refresh = RefreshTokens::builder(store, rig.revocations.clone())
        .clock(Arc::new(rig.clock.clone()))
        .build()
        .unwrap();
    let alice = UserId::new("alice");
    let login = refresh.issue(&alice, Default::default()).await.unwrap();
    let access = rig
        .jwt
        .issue(&alice, Grant::for_family(&login.family))
        .unwrap();
    let bob_login = refresh
        .issue(&UserId::new("bob"), Default::default())
        .await
        .unwrap();
    let bob = rig
        .jwt
        .issue(&UserId::new("bob"), Grant::for_family(&bob_login.family))
        .unwrap();
    assert!(verify(&rig, &access.token).await.is_ok());

    // Logout of this login: its family.
    refresh.revoke_family(&login.family).await.unwrap();
    assert!(matches!(
        verify(&rig, &access.token).await,
        Err(JwtError::Revoked)
    ));
    assert!(verify(&rig, &bob.token).await.is_ok());

    // Logout-all, the same second as issuance: the family catches it, not
    // clock precision.
    let second = refresh.issue(&alice, Default::default()).await.unwrap();
    let same_second = rig
        .jwt
        .issue(&alice, Grant::for_family(&second.family))
        .unwrap();
    refresh
        .revoke_subject(&alice, RevokeScope::RefreshTokens)
        .await
        .unwrap();
    assert!(matches!(
        verify(&rig, &same_second.token).await,
        Err(JwtError::Revoked)
    ));
    // A token minted outside any family before the cut-off is caught by it.
    let outside = hs256(&header(), &with(claims(), "iat", json!(NOW - 1)), &SECRET);
    assert!(matches!(
        verify(&rig, &outside).await,
        Err(JwtError::Revoked)
    ));
    // A new login afterwards works.
    rig.clock.advance(Duration::from_secs(1));
    let third = refresh.issue(&alice, Default::default()).await.unwrap();
    let fresh = rig
        .jwt
        .issue(&alice, Grant::for_family(&third.family))
        .unwrap();
    assert!(verify(&rig, &fresh.token).await.is_ok());

    // One token by its jti.
    rig.revocations
        .revoke_token(&fresh.claims.jti, fresh.expires_at)
        .await
        .unwrap();
    assert!(matches!(
        verify(&rig, &fresh.token).await,
        Err(JwtError::Revoked)
    ));
    assert!(verify(&rig, &bob.token).await.is_ok());
}

/// A password change's new token pair, minted in the same second as the
/// cut-off that ends the old ones, is not refused by it.
#[tokio::test]
async fn a_cut_off_spares_tokens_of_its_own_second() {
    let rig = rig();
    rig.clock
        .set(UNIX_EPOCH + Duration::from_millis(NOW * 1000 + 500));
    let store = Arc::new(MemoryTokenStore::new());
    let refresh = RefreshTokens::builder(store, rig.revocations.clone())
        .clock(Arc::new(rig.clock.clone()))
        .build()
        .unwrap();
    let alice = UserId::new("alice");
    let old = refresh.issue(&alice, Default::default()).await.unwrap();
    let old_access = rig
        .jwt
        .issue(&alice, Grant::for_family(&old.family))
        .unwrap();
    refresh
        .revoke_subject(&alice, RevokeScope::RefreshTokens)
        .await
        .unwrap();
    rig.clock.advance(Duration::from_millis(300));
    let new = refresh.issue(&alice, Default::default()).await.unwrap();
    let new_access = rig
        .jwt
        .issue(&alice, Grant::for_family(&new.family))
        .unwrap();
    assert_eq!(new_access.claims.iat, old_access.claims.iat, "same second");
    assert!(verify(&rig, &new_access.token).await.is_ok());
    assert!(matches!(
        verify(&rig, &old_access.token).await,
        Err(JwtError::Revoked)
    ));
    let earlier = hs256(&header(), &with(claims(), "iat", json!(NOW - 1)), &SECRET);
    assert!(matches!(
        verify(&rig, &earlier).await,
        Err(JwtError::Revoked)
    ));
    assert!(!format!("{new_access:?}").contains(&new_access.token));
}

/// F13: oversized tokens are refused before parsing; many segments and
/// padded or foreign characters are malformed.
#[tokio::test]
async fn f13_size_and_shape_limits() {
    let rig = rig();
    let huge = "a".repeat(1 << 20);
    assert!(matches!(
        verify(&rig, &huge).await,
        Err(JwtError::TooLarge { max: 8192 })
    ));
    let segments = "a.".repeat(4000);
    assert!(matches!(
        verify(&rig, &segments).await,
        Err(JwtError::Malformed(_))
    ));
    let good = hs256(&header(), &claims(), &SECRET);
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1].push('=');
    assert!(matches!(
        verify(&rig, &parts.join(".")).await,
        Err(JwtError::Malformed(_))
    ));
    for bad in [
        good.replacen('.', "+", 1),
        format!("{good}."),
        format!(" {good}"),
        format!("{good}+"),
        format!("{good}/"),
        "..".into(),
        String::new(),
    ] {
        assert!(verify(&rig, &bad).await.is_err(), "{bad}");
    }
    // A header that is not a JSON object.
    let token = format!("{}.{}.{}", b64(b"[1]"), b64(b"{}"), b64(b"sig"));
    assert!(matches!(
        verify(&rig, &token).await,
        Err(JwtError::Malformed(_))
    ));
}

/// A revocation store that cannot answer fails closed.
#[tokio::test]
async fn a_failing_revocation_store_fails_closed() {
    struct Down;

    #[async_trait]
    impl Revocations for Down {
        async fn revoke_token(&self, _: &str, _: std::time::SystemTime) -> Result<(), StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn revoke_family(
            &self,
            _: &FamilyId,
            _: std::time::SystemTime,
        ) -> Result<(), StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn revoke_subject_before(
            &self,
            _: &UserId,
            _: std::time::SystemTime,
            _: std::time::SystemTime,
        ) -> Result<(), StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn is_revoked(
            &self,
            _: RevocationCheck<'_>,
            _: std::time::SystemTime,
        ) -> Result<bool, StoreError> {
            Err(StoreError::unavailable("down"))
        }
    }

    let clock = ManualClock::default();
    let jwt = Jwt::builder(hs256_keys(), JwtConfig::new(ISS, AUD))
        .clock(Arc::new(clock))
        .revocations(Arc::new(Down))
        .build()
        .unwrap();
    let token = hs256(&header(), &claims(), &SECRET);
    assert!(matches!(jwt.verify(&token).await, Err(JwtError::Store(_))));
}

/// Rule 6: key strength and fit are checked when keys are built.
#[test]
fn weak_and_mismatched_keys_are_refused() {
    for (alg, len) in [
        (Algorithm::HS256, 31),
        (Algorithm::HS384, 47),
        (Algorithm::HS512, 63),
    ] {
        assert!(matches!(
            JwtKey::hmac(None, alg, &vec![1; len]),
            Err(KeyError::Weak { .. })
        ));
        assert!(JwtKey::hmac(None, alg, &vec![1; len + 1]).is_ok());
    }
    assert!(matches!(
        JwtKey::hmac(None, Algorithm::RS256, &[1; 64]),
        Err(KeyError::Mismatch { .. })
    ));
    // A 1024-bit RSA modulus.
    let mut n = vec![0u8; 128];
    n[0] = 0x80;
    n[127] = 1;
    let rsa = json!({"kty": "RSA", "alg": "RS256", "n": b64(&n), "e": "AQAB"});
    assert!(matches!(
        JwtKey::from_jwk(&rsa, None),
        Err(KeyError::Weak { .. })
    ));
    // A P-384 key offered for ES256, and an Ed25519 key offered for ES256.
    let p384 = p384::SecretKey::from_slice(&[3; 48]).unwrap();
    let pem = p384::pkcs8::EncodePrivateKey::to_pkcs8_pem(&p384, Default::default()).unwrap();
    assert!(matches!(
        JwtKey::from_private_pem(None, Algorithm::ES256, &pem),
        Err(KeyError::Mismatch { .. })
    ));
    assert!(JwtKey::from_private_pem(None, Algorithm::ES384, &pem).is_ok());
    let ed = JwtKey::generate_ed25519(None)
        .unwrap()
        .public_jwk()
        .unwrap();
    assert!(matches!(
        JwtKey::from_jwk(&with(ed.clone(), "alg", json!("ES256")), None),
        Err(KeyError::Mismatch { .. })
    ));
    assert!(matches!(
        JwtKey::from_jwk(&with(ed.clone(), "use", json!("enc")), None),
        Err(KeyError::WrongUse(_))
    ));
    assert!(matches!(
        JwtKey::from_jwk(&with(ed.clone(), "alg", json!("none")), None),
        Err(KeyError::UnsupportedAlgorithm(_))
    ));
    assert!(JwtKey::from_jwk(&ed, None).is_ok());
    // Duplicate ids, and ids in a set that lacks them.
    let a = JwtKey::hmac(Some("same"), Algorithm::HS256, &SECRET).unwrap();
    assert!(matches!(
        JwtKeySet::new(a.clone(), vec![a]),
        Err(KeyError::Ambiguous(_))
    ));
    let unnamed = JwtKey::hmac(None, Algorithm::HS256, &SECRET).unwrap();
    let named = JwtKey::hmac(Some("n"), Algorithm::HS256, &SECRET).unwrap();
    assert!(matches!(
        JwtKeySet::new(named, vec![unnamed]),
        Err(KeyError::Ambiguous(_))
    ));
    // A verify-only key cannot head a signing set.
    assert!(matches!(
        JwtKeySet::new(JwtKey::from_jwk(&ed, None).unwrap(), vec![]),
        Err(KeyError::NoSigningKey)
    ));
}

/// Rule 7: a new key signs while the old one still verifies; once the old
/// key is dropped its tokens are refused.
#[tokio::test]
async fn key_rotation_keeps_old_tokens_until_the_key_goes() {
    let old = JwtKey::generate_ed25519(Some("2026-01")).unwrap();
    let new = JwtKey::generate_ed25519(Some("2026-06")).unwrap();
    let before = rig_with(
        JwtKeySet::new(old.clone(), vec![]).unwrap(),
        JwtConfig::new(ISS, AUD),
    );
    let old_token = before
        .jwt
        .issue(&UserId::new("alice"), Grant::dangerous_without_family())
        .unwrap()
        .token;

    let old_public = JwtKey::from_jwk(&old.public_jwk().unwrap(), None).unwrap();
    let rotated = rig_with(
        JwtKeySet::new(new.clone(), vec![old_public]).unwrap(),
        JwtConfig::new(ISS, AUD),
    );
    assert!(verify(&rotated, &old_token).await.is_ok());
    let new_token = rotated
        .jwt
        .issue(&UserId::new("alice"), Grant::dangerous_without_family())
        .unwrap();
    assert_eq!(
        rotated
            .jwt
            .verify(&new_token.token)
            .await
            .unwrap()
            .kid
            .as_deref(),
        Some("2026-06")
    );

    let after = rig_with(
        JwtKeySet::new(new, vec![]).unwrap(),
        JwtConfig::new(ISS, AUD),
    );
    assert!(matches!(
        verify(&after, &old_token).await,
        Err(JwtError::UnknownKey)
    ));
}

/// Rule 10: the JWKS lists public keys only, never HMAC secrets.
#[test]
fn jwks_publishes_public_keys_only() {
    let signing = JwtKey::generate_ed25519(Some("ed-new")).unwrap();
    let older = JwtKey::generate_ed25519(Some("ed-old")).unwrap();
    let set = JwtKeySet::new(signing, vec![older]).unwrap();
    let jwks = set.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["alg"], "EdDSA");
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "{key}");
        // Each published key loads back as a verification key.
        assert!(!JwtKey::from_jwk(key, None).unwrap().can_sign());
    }
    assert_eq!(hs256_keys().jwks(), json!({"keys": []}));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tenant {
    tenant: String,
}

/// Rule 9: `fresh`, roles, scopes and application claims round-trip.
#[tokio::test]
async fn issued_claims_round_trip() {
    let rig = rig();
    let family = FamilyId::new("fam-1");
    let issued = rig
        .jwt
        .issue(
            &UserId::new("alice"),
            Grant::for_family(&family)
                .scopes(["notes:write", "notes:read"])
                .roles(["user"])
                .fresh(true)
                .extra(Tenant {
                    tenant: "acme".into(),
                }),
        )
        .unwrap();
    assert_eq!(
        issued.expires_at,
        rig.clock.now() + Duration::from_secs(900)
    );
    let verified = rig.jwt.verify_with::<Tenant>(&issued.token).await.unwrap();
    let claims = verified.claims;
    assert_eq!(claims.scope, "notes:read notes:write");
    assert_eq!(claims.roles, ["user"]);
    assert!(claims.fresh);
    assert_eq!(claims.sid.as_deref(), Some("fam-1"));
    assert_eq!(
        claims.extra,
        Tenant {
            tenant: "acme".into()
        }
    );
    assert_eq!(verified.header["typ"], "at+jwt");
    assert_eq!(verified.header["alg"], "HS256");
    // Application claims are required when asked for.
    let plain = rig
        .jwt
        .issue(&UserId::new("bob"), Grant::dangerous_without_family())
        .unwrap();
    assert!(matches!(
        rig.jwt.verify_with::<Tenant>(&plain.token).await,
        Err(JwtError::Claims(_))
    ));
    let refreshed = rig.jwt.verify(&plain.token).await.unwrap();
    assert!(!refreshed.claims.fresh);
}

/// The builder refuses configurations that cannot work.
#[test]
fn builder_validation() {
    assert!(
        Jwt::builder(hs256_keys(), JwtConfig::new(ISS, AUD))
            .build()
            .is_err()
    );
    assert!(
        Jwt::builder(hs256_keys(), JwtConfig::new("", AUD))
            .dangerous_without_revocations()
            .build()
            .is_err()
    );
    assert!(
        Jwt::builder(
            hs256_keys(),
            JwtConfig::new(ISS, AUD).algorithms(&[Algorithm::EdDSA])
        )
        .dangerous_without_revocations()
        .build()
        .is_err()
    );
    assert!(
        Jwt::builder(hs256_keys(), JwtConfig::new(ISS, AUD))
            .dangerous_without_revocations()
            .build()
            .is_ok()
    );
}
