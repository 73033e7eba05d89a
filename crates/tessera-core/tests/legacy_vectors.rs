//! Legacy hashes made by the real libraries (`tests/data/legacy/legacy.json`,
//! written by `make_vectors.py` with Werkzeug, Django and pyca/bcrypt):
//! every stored hash verifies with its password and asks to be rehashed,
//! and refuses a wrong one. Unicode, empty and 80-byte passwords included
//! (bcrypt: the first 72 bytes, as the scheme defines). The vectors at the
//! libraries' default costs run in release builds only.
#![cfg(feature = "legacy")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failure"
)]

use std::collections::BTreeMap;

use tessera_core::password::legacy::LegacyHasher;
use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordVerifier};

#[test]
fn vectors_from_the_real_libraries() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/legacy/legacy.json"
    ))
    .unwrap();
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    // Current parameters above the vectors' (m=256): their argon2 strings,
    // tessera's own format, then also ask to be rehashed.
    let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(512, 1, 1)).unwrap());
    let mut per_scheme: BTreeMap<String, usize> = BTreeMap::new();
    for vector in &vectors {
        // The libraries' default costs (10^6 PBKDF2 iterations, scrypt
        // N=32768, bcrypt 12) take seconds unoptimised, where the generic
        // PBKDF2 code is compiled into this crate: they run in release
        // builds (`cargo test --release`) and in the hashing bench.
        if vector["default"] == true && cfg!(debug_assertions) {
            continue;
        }
        let scheme = vector["scheme"].as_str().unwrap();
        let stored = vector["stored"].as_str().unwrap();
        let password = Password::new(vector["password"].as_str().unwrap());
        let wrong = Password::new(vector["wrong"].as_str().unwrap());
        let verified = hasher
            .verify_password(&password, stored)
            .unwrap_or_else(|e| panic!("{scheme} {stored}: {e}"));
        assert!(verified.is_valid(), "{scheme}: {stored}");
        assert!(
            verified.needs_rehash(),
            "{scheme}: a legacy match is rehashed"
        );
        assert!(
            !hasher.verify_password(&wrong, stored).unwrap().is_valid(),
            "{scheme}: wrong password accepted for {stored}"
        );
        *per_scheme.entry(scheme.to_owned()).or_default() += 1;
    }
    // Every scheme of the file, each with its vectors.
    assert_eq!(per_scheme.len(), 18, "{per_scheme:?}");
    assert!(per_scheme.values().all(|&n| n >= 4), "{per_scheme:?}");
}

/// bcrypt reads 72 bytes: a password that differs only after them
/// verifies too (documented); the argon2id hash that replaces it on login
/// does not share that limit.
#[test]
fn bcrypt_uses_the_first_72_bytes() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/legacy/legacy.json"
    ))
    .unwrap();
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let long = vectors
        .iter()
        .find(|v| {
            v["scheme"].as_str().unwrap().starts_with("bcrypt")
                && v["password"].as_str().unwrap().len() == 80
        })
        .unwrap();
    let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap());
    let stored = long["stored"].as_str().unwrap();
    let same_prefix = Password::new(format!("{}{}", "x".repeat(72), "DIFFERENT"));
    assert!(
        hasher
            .verify_password(&same_prefix, stored)
            .unwrap()
            .is_valid()
    );
}

/// A4 with a legacy hash: the first successful login replaces a Werkzeug
/// hash with argon2id; the password keeps working, a wrong one does not.
#[tokio::test]
async fn a_login_upgrades_a_legacy_hash_to_argon2id() {
    use std::sync::Arc;
    use tessera_core::auth::Auth;
    use tessera_core::jwt::{JwtKey, JwtKeySet};
    use tessera_core::memory::MemoryUserStore;
    use tessera_core::password::PasswordPool;
    use tessera_core::users::{Login, NewUser, UserStore};

    let users = Arc::new(MemoryUserStore::new());
    // Werkzeug: generate_password_hash("correct horse battery", "pbkdf2:sha256:1000")
    let werkzeug = "pbkdf2:sha256:1000$esgmF7PaDkpgjcPH$e7baecf4da3781f0964fe194269c482e1bb0b329630552bb40e1d41da77c6dba";
    let login = Login::parse("alice@example.com").unwrap();
    let user = users
        .create(
            NewUser::new(login.clone(), werkzeug.to_owned()).with_roles(["user"]),
            std::time::SystemTime::now(),
        )
        .await
        .unwrap();
    let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap());
    let auth = Auth::builder()
        .in_memory()
        .users(users.clone())
        .jwt_keys(JwtKeySet::new(JwtKey::generate_ed25519(Some("k")).unwrap(), vec![]).unwrap())
        .secret_key([7u8; 32])
        .issuer("https://auth.example.com")
        .audience("https://api.example.com")
        .public_origin("https://app.example.com")
        .password_pool(PasswordPool::builder().hasher(hasher).build().unwrap())
        .build()
        .unwrap();
    let password = Password::new("correct horse battery");
    assert!(
        auth.login(
            "alice@example.com",
            &Password::new("wrong horse battery"),
            None
        )
        .await
        .is_err()
    );
    auth.login("alice@example.com", &password, None)
        .await
        .unwrap();
    let upgraded = users.find_by_id(&user.id).await.unwrap().unwrap();
    assert!(
        upgraded.password_hash.starts_with("$argon2id$"),
        "{}",
        upgraded.password_hash
    );
    auth.login("alice@example.com", &password, None)
        .await
        .unwrap();
}
