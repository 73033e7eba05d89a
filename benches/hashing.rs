//! Password hashing costs, side by side.
//!
//! ```sh
//! cargo bench --bench hashing                       # everything
//! cargo bench --bench hashing -- owasp              # one group
//! cargo bench --bench hashing --features legacy -- legacy
//! ```
//!
//! - `owasp`: the OWASP Password Storage Cheat Sheet's argon2id rows, which
//!   are meant to cost about the same; the ones with more memory resist GPUs
//!   better.
//! - `rfc9106`: RFC 9106's second recommended option (64 MiB, t=3, p=4).
//!   This argon2 build computes lanes one after the other, so p=4 costs four
//!   lanes' worth of time on one core.
//! - `default`: hashing against verifying at the default parameters.
//! - `pool`: verifications per second through a `PasswordPool` with the
//!   default worker count, at 1, 2, 8 and 32 concurrent callers. Throughput
//!   stops growing at the number of workers; extra callers wait in the queue.
//! - `legacy` (feature `legacy`): verification time of each legacy scheme
//!   at its library's current default cost (the `default` vectors of
//!   `crates/tessera-core/tests/data/legacy/legacy.json`, made by the
//!   libraries themselves), next to argon2id at tessera's default, so a team
//!   knows what importing a user table costs per login until each hash is
//!   upgraded.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tessera::password::{
    Argon2Hasher, Argon2Params, Password, PasswordHasher, PasswordPool, PasswordVerifier, Scratch,
};

fn label(p: Argon2Params) -> String {
    format!("m={},t={},p={}", p.m_cost, p.t_cost, p.p_cost)
}

fn owasp_rows(c: &mut Criterion) {
    let mut group = c.benchmark_group("owasp");
    let password = Password::new("correct horse battery staple");
    for params in Argon2Params::OWASP_ROWS {
        let hasher = Argon2Hasher::new(params).unwrap();
        let mut scratch = Scratch::new();
        group.bench_function(BenchmarkId::new("hash", label(params)), |b| {
            b.iter(|| hasher.hash_password_with(&password, &mut scratch).unwrap());
        });
    }
    group.finish();
}

fn rfc9106_second(c: &mut Criterion) {
    let mut group = c.benchmark_group("rfc9106");
    let params = Argon2Params::RFC9106_SECOND;
    let hasher = Argon2Hasher::new(params).unwrap();
    let password = Password::new("correct horse battery staple");
    let mut scratch = Scratch::new();
    group.bench_function(BenchmarkId::new("hash", label(params)), |b| {
        b.iter(|| hasher.hash_password_with(&password, &mut scratch).unwrap());
    });
    group.finish();
}

fn hash_vs_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("default");
    let hasher = Argon2Hasher::default();
    let password = Password::new("correct horse battery staple");
    let stored = hasher.hash_password(&password).unwrap();
    let mut scratch = Scratch::new();
    group.bench_function("hash", |b| {
        b.iter(|| hasher.hash_password_with(&password, &mut scratch).unwrap());
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            let verified = hasher
                .verify_password_with(&password, &stored, &mut scratch)
                .unwrap();
            assert!(verified.is_valid());
        });
    });
    group.bench_function("verify_dummy", |b| {
        b.iter(|| hasher.verify_dummy_with(&password, &mut scratch).unwrap());
    });
    group.finish();
}

fn pool_throughput(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Default workers (the available parallelism); a queue deep enough that
    // 32 callers are queued, not refused.
    let pool = PasswordPool::builder().queue_capacity(32).build().unwrap();
    let password = Password::new("correct horse battery staple");
    let stored = Argon2Hasher::default().hash_password(&password).unwrap();

    let mut group = c.benchmark_group("pool");
    for callers in [1u64, 2, 8, 32] {
        group.throughput(Throughput::Elements(callers));
        group.bench_function(
            BenchmarkId::new("verify", format!("{callers} callers")),
            |b| {
                b.to_async(&runtime).iter(|| async {
                    let mut tasks = tokio::task::JoinSet::new();
                    for _ in 0..callers {
                        let pool = pool.clone();
                        let password = password.clone();
                        let stored = stored.clone();
                        tasks.spawn(async move { pool.verify(&password, &stored).await });
                    }
                    while let Some(result) = tasks.join_next().await {
                        assert!(result.unwrap().unwrap().is_valid());
                    }
                });
            },
        );
    }
    group.finish();
}

#[cfg(feature = "legacy")]
fn legacy(c: &mut Criterion) {
    use tessera::password::legacy::LegacyHasher;

    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/tessera-core/tests/data/legacy/legacy.json"
    ))
    .unwrap();
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let hasher = LegacyHasher::new(Argon2Hasher::default());
    let mut group = c.benchmark_group("legacy");
    for vector in vectors.iter().filter(|v| v["default"] == true) {
        let scheme = vector["scheme"].as_str().unwrap();
        let stored = vector["stored"].as_str().unwrap().to_owned();
        let password = Password::new(vector["password"].as_str().unwrap());
        let name = format!("{scheme} ({})", vector["library"].as_str().unwrap());
        group.bench_function(BenchmarkId::new("verify", name), |b| {
            b.iter(|| {
                let verified = hasher.verify_password(&password, &stored).unwrap();
                assert!(verified.is_valid());
            });
        });
    }
    // RustCrypto's PHC strings at their defaults (PBKDF2-SHA256 600 000
    // rounds; scrypt ln=17, r=8, p=1).
    let password = Password::new("correct horse battery");
    let rustcrypto = {
        use password_hash::PasswordHasher as _;
        let salt = b"0123456789abcdef";
        let pbkdf2: password_hash::phc::PasswordHash = pbkdf2::Pbkdf2::default()
            .hash_password_with_salt(password.expose_secret().as_bytes(), salt)
            .unwrap();
        let scrypt: password_hash::phc::PasswordHash = scrypt::Scrypt::default()
            .hash_password_with_salt(password.expose_secret().as_bytes(), salt)
            .unwrap();
        [
            ("pbkdf2-phc (RustCrypto pbkdf2 0.13)", pbkdf2.to_string()),
            ("scrypt-phc (RustCrypto scrypt 0.12)", scrypt.to_string()),
        ]
    };
    for (name, stored) in rustcrypto {
        group.bench_function(BenchmarkId::new("verify", name), |b| {
            b.iter(|| {
                let verified = hasher.verify_password(&password, &stored).unwrap();
                assert!(verified.is_valid());
            });
        });
    }
    let argon2 = Argon2Hasher::default().hash_password(&password).unwrap();
    group.bench_function(
        BenchmarkId::new("verify", "argon2id (tessera default)"),
        |b| {
            b.iter(|| {
                let verified = hasher.verify_password(&password, &argon2).unwrap();
                assert!(verified.is_valid());
            });
        },
    );
    group.finish();
}

/// Without the feature there is nothing to time.
#[cfg(not(feature = "legacy"))]
fn legacy(_: &mut Criterion) {}

fn config() -> Criterion {
    // Each hash takes tens of milliseconds: few samples are enough.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = owasp_rows, rfc9106_second, hash_vs_verify, pool_throughput, legacy
}
criterion_main!(benches);
