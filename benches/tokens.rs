//! Token costs: issuing and verifying an access-token JWT per algorithm, and
//! generating, digesting and looking up an opaque token.
//!
//! ```sh
//! cargo bench --bench tokens
//! cargo bench --bench tokens -- jwt/verify   # one group
//! ```
//!
//! `jwt/verify` runs tessera's whole verifier (segments, header rules,
//! signature, claims, the clock, an in-memory revocation lookup), which is
//! what every authenticated request pays. RSA signing is the slow, legacy
//! choice; EdDSA is the default.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use p256::pkcs8::EncodePrivateKey;
use tessera::jwt::{Algorithm, Grant, Jwt, JwtConfig, JwtKey, JwtKeySet};
use tessera::memory::{MemoryRevocations, MemoryTokenStore};
use tessera::token::{OpaqueToken, TokenHasher, TokenId, TokenKind, TokenRecord, TokenStore};
use tessera::users::UserId;

fn keys() -> Vec<(&'static str, JwtKey)> {
    let p256 = p256::SecretKey::from_slice(&[0x42; 32]).unwrap();
    let p256_pem = p256.to_pkcs8_pem(Default::default()).unwrap();
    let mut rng = rand::rngs::SysRng;
    let rsa = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
    let rsa_pem = rsa.to_pkcs8_pem(Default::default()).unwrap();
    vec![
        (
            "HS256",
            JwtKey::hmac(Some("hs"), Algorithm::HS256, &[7; 32]).unwrap(),
        ),
        ("EdDSA", JwtKey::generate_ed25519(Some("ed")).unwrap()),
        (
            "ES256",
            JwtKey::from_private_pem(Some("es"), Algorithm::ES256, &p256_pem).unwrap(),
        ),
        (
            "RS256",
            JwtKey::from_private_pem(Some("rs"), Algorithm::RS256, &rsa_pem).unwrap(),
        ),
    ]
}

fn jwt(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let subject = UserId::new("0123456789abcdef0123456789abcdef");
    let mut issue = c.benchmark_group("jwt/issue");
    let mut verifiers = Vec::new();
    for (name, key) in keys() {
        let jwt = Jwt::builder(
            JwtKeySet::new(key, vec![]).unwrap(),
            JwtConfig::new("https://auth.example.com", "https://api.example.com"),
        )
        .revocations(Arc::new(MemoryRevocations::new()))
        .build()
        .unwrap();
        let grant = Grant::for_family(&tessera::token::FamilyId::new("bench"))
            .scopes(["notes:read", "notes:write"])
            .roles(["user"]);
        issue.throughput(Throughput::Elements(1));
        issue.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| jwt.issue(&subject, grant.clone()).unwrap());
        });
        let token = jwt.issue(&subject, grant).unwrap().token;
        verifiers.push((name, jwt, token));
    }
    issue.finish();

    let mut verify = c.benchmark_group("jwt/verify");
    for (name, jwt, token) in &verifiers {
        verify.throughput(Throughput::Elements(1));
        verify.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| runtime.block_on(jwt.verify(token)).unwrap());
        });
    }
    verify.finish();
}

fn opaque(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("opaque");
    group.throughput(Throughput::Elements(1));
    group.bench_function("generate", |b| {
        b.iter(|| OpaqueToken::generate(TokenKind::ApiKey).unwrap());
    });
    let token = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
    group.bench_function("parse", |b| {
        b.iter(|| OpaqueToken::parse(TokenKind::ApiKey, token.expose_secret()).unwrap());
    });
    let hasher = TokenHasher::sha256();
    group.bench_function("digest", |b| b.iter(|| hasher.digest(&token)));

    // A store with 100 000 keys, then a lookup of one of them.
    let store = MemoryTokenStore::new();
    let now = std::time::SystemTime::now();
    let subject = UserId::new("alice");
    let mut probe = None;
    for i in 0..100_000 {
        let token = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
        let digest = hasher.digest(&token);
        let record = TokenRecord::new(
            TokenId::generate().unwrap(),
            digest,
            TokenKind::ApiKey,
            subject.clone(),
            Default::default(),
            now,
        );
        runtime.block_on(store.insert(record)).unwrap();
        if i == 50_000 {
            probe = Some(token);
        }
    }
    let probe = probe.unwrap();
    group.bench_function("parse+digest+lookup", |b| {
        b.iter(|| {
            let token = OpaqueToken::parse(TokenKind::ApiKey, probe.expose_secret()).unwrap();
            let digest = hasher.digest(&token);
            runtime.block_on(store.find(&digest, now)).unwrap().unwrap()
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = jwt, opaque
}
criterion_main!(benches);
