//! Verification time of each legacy scheme at its library's current
//! default cost (the `default` vectors of
//! `crates/tessera-core/tests/data/legacy/legacy.json`, made by Werkzeug,
//! Django and pyca/bcrypt), next to argon2id at tessera's default, so a
//! team knows what importing a user table costs per login until each hash
//! is upgraded.
//!
//! ```sh
//! cargo bench --bench legacy --features legacy
//! ```
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tessera::password::legacy::LegacyHasher;
use tessera::password::{Argon2Hasher, Password, PasswordHasher, PasswordVerifier};

fn legacy(c: &mut Criterion) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/tessera-core/tests/data/legacy/legacy.json"
    ))
    .unwrap();
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let hasher = LegacyHasher::new(Argon2Hasher::default());
    let mut group = c.benchmark_group("legacy/verify");
    for vector in vectors.iter().filter(|v| v["default"] == true) {
        let scheme = vector["scheme"].as_str().unwrap();
        let stored = vector["stored"].as_str().unwrap().to_owned();
        let password = Password::new(vector["password"].as_str().unwrap());
        let name = format!("{scheme} ({})", vector["library"].as_str().unwrap());
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let verified = hasher.verify_password(&password, &stored).unwrap();
                assert!(verified.is_valid());
            });
        });
    }
    let password = Password::new("correct horse battery");
    let argon2 = Argon2Hasher::default().hash_password(&password).unwrap();
    group.bench_function(
        BenchmarkId::from_parameter("argon2id (tessera default)"),
        |b| {
            b.iter(|| {
                assert!(
                    hasher
                        .verify_password(&password, &argon2)
                        .unwrap()
                        .is_valid()
                )
            });
        },
    );
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = benches;
    config = config();
    targets = legacy
}
criterion_main!(benches);
