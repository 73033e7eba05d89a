//! Legacy hashes made by the real libraries (`tests/data/legacy/legacy.json`,
//! written by `make_vectors.py` with Werkzeug, Django, passlib, pyca/bcrypt,
//! argon2-cffi and Flask-Security-Too), and the published vectors of those
//! projects' own test suites (`tests/data/legacy/published.json`, see
//! `PUBLISHED.md`): every stored hash verifies with its password and asks to
//! be rehashed, and refuses a wrong one. Unicode, empty, 80-byte and
//! NFKC-changing passwords included (bcrypt: the first 72 bytes, as the
//! scheme defines), at test costs and at each library's default. Then
//! A4–A6 for every scheme through `Auth`.
#![cfg(feature = "legacy")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use tessera_core::async_trait;
use tessera_core::auth::Auth;
use tessera_core::error::{CreateUserError, StoreError};
use tessera_core::jwt::{JwtKey, JwtKeySet};
use tessera_core::memory::MemoryUserStore;
use tessera_core::password::legacy::{FlaskSecurityHmac, LegacyHasher, Scheme};
use tessera_core::password::{
    Argon2Hasher, Argon2Params, Password, PasswordPolicy, PasswordPool, PasswordVerifier, Scratch,
    Verified,
};
use tessera_core::users::{Login, NewUser, PasswordUpdate, User, UserId, UserStore};

fn vectors(file: &str) -> Vec<serde_json::Value> {
    let path = format!("{}/tests/data/legacy/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Current parameters above the vectors' (m=256): their argon2 strings,
/// tessera's own format, then also ask to be rehashed.
fn hasher_for(vector: &serde_json::Value) -> LegacyHasher {
    let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(512, 1, 1)).unwrap());
    match vector["flask_security_salt"].as_str() {
        Some(salt) => hasher.pepper(FlaskSecurityHmac::new(salt)),
        None => hasher,
    }
}

/// What a `PasswordPool` does: the policy's NFKC form, with the typed form
/// for hashes made from it.
fn verify(hasher: &LegacyHasher, typed: &str, stored: &str) -> Verified {
    let typed = Password::new(typed);
    let prepared = PasswordPolicy::default().prepare(&typed).unwrap();
    hasher
        .verify_prepared_with(&prepared, &typed, stored, &mut Scratch::new())
        .unwrap_or_else(|e| panic!("{stored}: {e}"))
}

#[test]
fn vectors_from_the_real_libraries() {
    let mut per_scheme: BTreeMap<String, usize> = BTreeMap::new();
    let mut typed_form_needed = 0;
    for vector in vectors("legacy.json") {
        // The libraries' default costs too (10^6 PBKDF2 iterations, scrypt
        // N=32768, bcrypt 12): about 20 s unoptimised in all.
        let hasher = hasher_for(&vector);
        let scheme = vector["scheme"].as_str().unwrap();
        let stored = vector["stored"].as_str().unwrap();
        let password = vector["password"].as_str().unwrap();
        let verified = verify(&hasher, password, stored);
        assert!(verified.is_valid(), "{scheme}: {stored}");
        // argon2-cffi's default (argon2id v19, m=65536, t=3, p=4) is above
        // the current parameters: a valid argon2id hash needs no rehash,
        // whoever made it.
        let stronger_argon2id = stored.starts_with("$argon2id$v=19$m=65536,t=3,p=4$");
        assert_eq!(
            verified.needs_rehash(),
            !stronger_argon2id,
            "{scheme}: a legacy match is rehashed"
        );
        let wrong = vector["wrong"].as_str().unwrap();
        assert!(
            !verify(&hasher, wrong, stored).is_valid(),
            "{scheme}: wrong password accepted for {stored}"
        );
        // A password NFKC changes was hashed as typed: the normalised form
        // alone does not match (Flask-Security normalised to NFKD itself,
        // which its pepper repeats).
        let prepared = PasswordPolicy::default()
            .prepare(&Password::new(password))
            .unwrap();
        if prepared.expose_secret() != password && vector.get("flask_security_salt").is_none() {
            assert!(
                !hasher
                    .verify_password(&prepared, stored)
                    .unwrap()
                    .is_valid(),
                "{scheme}: {stored}"
            );
            typed_form_needed += 1;
        }
        *per_scheme.entry(scheme.to_owned()).or_default() += 1;
    }
    // Every scheme of the file, each with its vectors, two of them
    // NFKC-changing passwords.
    assert_eq!(per_scheme.len(), 34, "{per_scheme:?}");
    assert!(per_scheme.values().all(|&n| n >= 5), "{per_scheme:?}");
    assert!(typed_form_needed >= 2 * 28, "{typed_form_needed}");
}

/// The vector of each scheme made from `password`, outside the default
/// costs.
fn one_per_scheme(password_len: usize) -> Vec<serde_json::Value> {
    let mut seen = BTreeSet::new();
    vectors("legacy.json")
        .into_iter()
        .filter(|v| {
            v["default"] == false
                && v["password"].as_str().unwrap().len() == password_len
                && seen.insert(v["scheme"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn auth(users: Arc<dyn UserStore>, hasher: LegacyHasher) -> Auth {
    Auth::builder()
        .in_memory()
        .users(users)
        .jwt_keys(JwtKeySet::new(JwtKey::generate_ed25519(Some("k")).unwrap(), vec![]).unwrap())
        .secret_key([7u8; 32])
        .issuer("https://auth.example.com")
        .audience("https://api.example.com")
        .public_origin("https://app.example.com")
        .password_pool(
            PasswordPool::builder()
                .hasher(hasher)
                .workers(1)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

async fn create(users: &dyn UserStore, stored: &str) -> User {
    users
        .create(
            NewUser::new(Login::parse(ALICE).unwrap(), stored.to_owned()).with_roles(["user"]),
            SystemTime::now(),
        )
        .await
        .unwrap()
}

const ALICE: &str = "alice@example.com";

/// A4 for every scheme: a wrong password changes nothing; the first
/// successful login replaces the legacy hash with argon2id of the
/// normalised password, which then keeps working.
#[tokio::test]
async fn a4_every_scheme_is_upgraded_on_login() {
    let vectors = one_per_scheme("correct horse battery".len());
    assert_eq!(vectors.len(), 34);
    for vector in vectors {
        let scheme = vector["scheme"].as_str().unwrap();
        let stored = vector["stored"].as_str().unwrap();
        let users = Arc::new(MemoryUserStore::new());
        let auth = auth(users.clone(), hasher_for(&vector));
        let user = create(users.as_ref(), stored).await;
        let password = Password::new("correct horse battery");
        assert!(
            auth.login(ALICE, &Password::new("correct horse batterz"), None)
                .await
                .is_err(),
            "{scheme}"
        );
        let unchanged = users.find_by_id(&user.id).await.unwrap().unwrap();
        assert_eq!(unchanged.password_hash, stored, "{scheme}");

        auth.login(ALICE, &password, None)
            .await
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        let upgraded = users.find_by_id(&user.id).await.unwrap().unwrap();
        assert!(
            upgraded
                .password_hash
                .starts_with("$argon2id$v=19$m=512,t=1,p=1$"),
            "{scheme}: {}",
            upgraded.password_hash
        );
        assert_eq!(
            Scheme::identify(&upgraded.password_hash),
            Some(Scheme::Argon2)
        );
        // tessera's own hash, of the password itself: no pepper involved.
        let plain = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(512, 1, 1)).unwrap());
        let verified = plain
            .verify_password(&password, &upgraded.password_hash)
            .unwrap();
        assert!(verified.is_valid() && !verified.needs_rehash(), "{scheme}");
        auth.login(ALICE, &password, None).await.unwrap();
    }
}

/// A4 with a password NFKC changes: the legacy hash was made from what
/// was typed, the replacement is of the normalised form, so the password
/// keeps working as typed and in its normalised form.
#[tokio::test]
async fn a4_a_password_hashed_as_typed_moves_to_its_normalised_form() {
    let typed = "ﬁne ｐａｓｓ";
    let normalised = PasswordPolicy::default()
        .prepare(&Password::new(typed))
        .unwrap();
    assert_eq!(normalised.expose_secret(), "fine pass");
    let vectors = one_per_scheme(typed.len());
    assert_eq!(vectors.len(), 34);
    for vector in vectors {
        let scheme = vector["scheme"].as_str().unwrap();
        assert_eq!(vector["password"], typed);
        let users = Arc::new(MemoryUserStore::new());
        let auth = auth(users.clone(), hasher_for(&vector));
        let user = create(users.as_ref(), vector["stored"].as_str().unwrap()).await;
        auth.login(ALICE, &Password::new(typed), None)
            .await
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        let upgraded = users.find_by_id(&user.id).await.unwrap().unwrap();
        let plain = Argon2Hasher::new(Argon2Params::new(512, 1, 1)).unwrap();
        assert!(
            plain
                .verify_password(&normalised, &upgraded.password_hash)
                .unwrap()
                .is_valid(),
            "{scheme}"
        );
        auth.login(ALICE, &normalised, None).await.unwrap();
        auth.login(ALICE, &Password::new(typed), None)
            .await
            .unwrap();
    }
}

/// A5 for every scheme: when the rehash write fails, the login still
/// succeeds and the legacy hash stays as it was.
#[tokio::test]
async fn a5_a_failed_rehash_write_keeps_the_legacy_hash_and_the_login() {
    for vector in one_per_scheme("correct horse battery".len()) {
        let scheme = vector["scheme"].as_str().unwrap();
        let stored = vector["stored"].as_str().unwrap();
        let users = Arc::new(NoPasswordUpdates::default());
        let auth = auth(users.clone(), hasher_for(&vector));
        let user = create(users.as_ref(), stored).await;
        users.fail.store(true, Ordering::SeqCst);
        auth.login(ALICE, &Password::new("correct horse battery"), None)
            .await
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        // The rehash was attempted, so the test cannot pass vacuously.
        assert_eq!(users.attempts.load(Ordering::SeqCst), 1, "{scheme}");
        let kept = users.find_by_id(&user.id).await.unwrap().unwrap();
        assert_eq!(kept.password_hash, stored, "{scheme}");
    }
}

/// A6 for every scheme, with the 80-byte password: before the upgrade a
/// bcrypt-based hash accepts another password with the same first 72
/// bytes, as its scheme defines, and no other scheme does; after the
/// upgrade none does.
#[tokio::test]
async fn a6_the_upgrade_lifts_bcrypts_72_byte_limit() {
    let long = "x".repeat(80);
    let same_prefix = Password::new(format!("{}{}", "x".repeat(72), "DIFFERENT"));
    let vectors = one_per_scheme(80);
    // Django's plain bcrypt hasher cannot make 80-byte hashes with
    // pyca/bcrypt 5, nor can passlib's bcrypt.
    assert_eq!(vectors.len(), 32);
    for vector in vectors {
        let scheme = vector["scheme"].as_str().unwrap();
        let stored = vector["stored"].as_str().unwrap();
        let truncates = match Scheme::identify(stored).unwrap() {
            Scheme::Bcrypt | Scheme::DjangoBcrypt => {
                // Flask-Security's pepper turns the password into 88 bytes
                // of base64 first, so the truncation applies to those.
                vector.get("flask_security_salt").is_none()
            }
            _ => false,
        };
        let hasher = hasher_for(&vector);
        let prefix_verifies = verify(&hasher, same_prefix.expose_secret(), stored).is_valid();
        assert_eq!(prefix_verifies, truncates, "{scheme}");

        let users = Arc::new(MemoryUserStore::new());
        let auth = auth(users.clone(), hasher);
        let user = create(users.as_ref(), stored).await;
        auth.login(ALICE, &Password::new(long.clone()), None)
            .await
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        let upgraded = users.find_by_id(&user.id).await.unwrap().unwrap();
        assert!(upgraded.password_hash.starts_with("$argon2id$"), "{scheme}");
        assert!(
            auth.login(ALICE, &same_prefix, None).await.is_err(),
            "{scheme}"
        );
    }
}

/// A user store whose password updates fail on demand (A5).
#[derive(Default)]
struct NoPasswordUpdates {
    inner: MemoryUserStore,
    fail: AtomicBool,
    attempts: AtomicUsize,
}

#[async_trait]
impl UserStore for NoPasswordUpdates {
    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
        self.inner.find_by_login(login).await
    }

    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.inner.find_by_id(id).await
    }

    async fn create(&self, user: NewUser, at: SystemTime) -> Result<User, CreateUserError> {
        self.inner.create(user, at).await
    }

    async fn update_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        update: PasswordUpdate,
    ) -> Result<Option<User>, StoreError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("injected password update fault"));
        }
        self.inner
            .update_password_hash(id, password_hash, update)
            .await
    }

    async fn set_roles(
        &self,
        id: &UserId,
        roles: &BTreeSet<String>,
    ) -> Result<Option<User>, StoreError> {
        self.inner.set_roles(id, roles).await
    }

    async fn set_active(&self, id: &UserId, active: bool) -> Result<Option<User>, StoreError> {
        self.inner.set_active(id, active).await
    }

    async fn record_login(&self, id: &UserId, at: SystemTime) -> Result<Option<User>, StoreError> {
        self.inner.record_login(id, at).await
    }

    async fn list_users(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.inner.list_users(after, limit).await
    }
}

/// Strings as RustCrypto's implementations write them: PBKDF2 in PHC form
/// (`i=`, `l=`) and in passlib's MCF form, scrypt in PHC form, SHA-crypt.
#[test]
fn rustcrypto_strings_verify() {
    use password_hash::{CustomizedPasswordHasher, PasswordHasher};

    let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap());
    let password = "pässwörd ünïcödé ✓";
    let salt = b"0123456789abcdef";
    let pbkdf2_params = pbkdf2::Params::new(1000).unwrap();
    let mut strings = Vec::new();
    for algorithm in [
        pbkdf2::Algorithm::Pbkdf2Sha256,
        pbkdf2::Algorithm::Pbkdf2Sha512,
    ] {
        let pbkdf2 = pbkdf2::Pbkdf2::new(algorithm, pbkdf2_params);
        let phc: password_hash::phc::PasswordHash = pbkdf2
            .hash_password_with_salt(password.as_bytes(), salt)
            .unwrap();
        strings.push((Scheme::Pbkdf2Phc, phc.to_string()));
        let mcf: pbkdf2::mcf::PasswordHash = pbkdf2
            .hash_password_with_salt(password.as_bytes(), salt)
            .unwrap();
        strings.push((Scheme::Pbkdf2Mcf, mcf.to_string()));
    }
    let scrypt = scrypt::Scrypt::new_with_params(scrypt::Params::new(6, 8, 1).unwrap());
    let phc: password_hash::phc::PasswordHash = scrypt
        .hash_password_with_salt(password.as_bytes(), salt)
        .unwrap();
    strings.push((Scheme::ScryptPhc, phc.to_string()));
    for (algorithm, scheme) in [
        (sha_crypt::Algorithm::Sha256Crypt, Scheme::Sha256Crypt),
        (sha_crypt::Algorithm::Sha512Crypt, Scheme::Sha512Crypt),
    ] {
        for rounds in [1000, 5000] {
            let sha_crypt =
                sha_crypt::ShaCrypt::new(algorithm, sha_crypt::Params::new(rounds).unwrap());
            let mcf: sha_crypt::PasswordHash = sha_crypt
                .hash_password_customized(
                    password.as_bytes(),
                    b"saltsalt",
                    None,
                    None,
                    sha_crypt::Params::new(rounds).unwrap(),
                )
                .unwrap();
            strings.push((scheme, mcf.to_string()));
        }
    }
    assert_eq!(strings.len(), 9);
    for (scheme, stored) in strings {
        assert_eq!(Scheme::identify(&stored), Some(scheme), "{stored}");
        let verified = verify(&hasher, password, &stored);
        assert!(verified.is_valid() && verified.needs_rehash(), "{stored}");
        assert!(
            !verify(&hasher, "pässwörd ünïcödé ✗", &stored).is_valid(),
            "{stored}"
        );
    }
}

/// Stored strings are untrusted: every vector cut short at every byte, and
/// with each character replaced, is an error or a mismatch, never a panic
/// and never a match.
#[test]
fn damaged_vectors_never_panic_or_match() {
    let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap());
    let mut checked = 0;
    for vector in vectors("legacy.json") {
        if vector["default"] == true || vector["password"] != "correct horse battery" {
            continue;
        }
        let stored = vector["stored"].as_str().unwrap();
        let password = Password::new("correct horse battery");
        let mut damaged: Vec<String> = (0..stored.len())
            .filter(|&end| stored.is_char_boundary(end))
            .map(|end| stored[..end].to_owned())
            .collect();
        for (i, c) in stored.char_indices() {
            for replacement in ['$', '0', 'é', ':'] {
                if c != replacement {
                    damaged.push(format!(
                        "{}{replacement}{}",
                        &stored[..i],
                        &stored[i + c.len_utf8()..]
                    ));
                }
            }
        }
        for text in damaged {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                hasher.verify_password(&password, &text)
            }));
            match outcome {
                Ok(Ok(verified)) => {
                    // Two damaged strings may still match, as their schemes
                    // define: a replaced character in bits bcrypt ignores
                    // (the salt's and hash's last character), and
                    // passlib's 64-byte PBKDF2-SHA512 checksum cut to the
                    // 32 bytes RustCrypto writes (a prefix of it).
                    if verified.is_valid() {
                        // The replaced character is the salt's or the
                        // hash's last one, whose low bits encode nothing.
                        let changed = stored
                            .bytes()
                            .zip(text.bytes())
                            .position(|(a, b)| a != b)
                            .map(|i| stored.len() - i);
                        let bcrypt = matches!(
                            Scheme::identify(&text),
                            Some(
                                Scheme::Bcrypt
                                    | Scheme::DjangoBcrypt
                                    | Scheme::DjangoBcryptSha256
                                    | Scheme::BcryptSha256
                            )
                        ) && text.len() == stored.len()
                            && matches!(changed, Some(1 | 32 | 33));
                        let pbkdf2_sha512_prefix = text.starts_with("$pbkdf2-sha512$")
                            && stored.starts_with(&text)
                            && text.rsplit('$').next().map(str::len) == Some(43);
                        assert!(bcrypt || pbkdf2_sha512_prefix, "{text} matched");
                    }
                }
                Ok(Err(_)) => {}
                Err(_) => panic!("verifying {text:?} panicked"),
            }
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked}");
}

/// The published vectors of the libraries' own test suites
/// (`published.json`, provenance in `PUBLISHED.md`): each right password
/// verifies and asks to be rehashed, each wrong one does not, and the few
/// over tessera's ceilings are refused without hashing. All of them, at
/// whatever cost their source chose (about 30 s unoptimised).
#[test]
fn published_vectors_of_the_libraries_test_suites() {
    use tessera_core::error::PasswordError;

    let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap());
    let mut per_scheme: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut refused = Vec::new();
    let mut failures = Vec::new();
    for vector in vectors("published.json") {
        let scheme = vector["scheme"].as_str().unwrap();
        let stored = vector["hash"].as_str().unwrap();
        let password = vector["password"].as_str().unwrap();
        let source = vector["source"].as_str().unwrap();
        if vector["over_ceiling"] == true {
            let result = hasher.verify_password(&Password::new(password), stored);
            if !matches!(result, Err(PasswordError::ParamsOutOfBounds { .. })) {
                failures.push(format!("{stored}: over the ceilings, yet {result:?}"));
            }
            refused.push(stored.to_owned());
            continue;
        }
        if let Some(reason) = refused_by_design(stored) {
            let result = hasher.verify_password(&Password::new(password), stored);
            if !matches!(result, Err(PasswordError::MalformedHash(_))) {
                failures.push(format!("{stored}: {reason}, yet {result:?}"));
            }
            refused.push(stored.to_owned());
            continue;
        }
        let typed = Password::new(password);
        let prepared = PasswordPolicy::default().prepare(&typed).unwrap();
        let verified = hasher.verify_prepared_with(&prepared, &typed, stored, &mut Scratch::new());
        let counts = per_scheme.entry(scheme.to_owned()).or_default();
        match (verified, vector["valid"] == true) {
            (Ok(v), true) if v.is_valid() && v.needs_rehash() => counts.0 += 1,
            (Ok(v), false) if !v.is_valid() => counts.1 += 1,
            (outcome, valid) => {
                failures.push(format!(
                    "{scheme} {stored} ({source}): valid {valid}, got {outcome:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Four over the ceilings, and those `refused_by_design` names.
    assert_eq!(refused.len(), 6, "{refused:?}");
    // Every scheme of the file has right-password vectors.
    assert!(per_scheme.len() >= 16, "{per_scheme:?}");
    assert!(
        per_scheme.values().all(|&(right, _)| right >= 1),
        "{per_scheme:?}"
    );
}

/// Published vectors tessera refuses on purpose, and why.
fn refused_by_design(stored: &str) -> Option<&'static str> {
    // argon2-cffi's test-only CHEAPEST profile writes 4-byte tags; the PHC
    // format's minimum, and tessera's, is 10 bytes (a 4-byte tag matches
    // one random password in 2³²).
    if stored.starts_with("$argon2") && stored.rsplit('$').next().is_some_and(|t| t.len() < 14) {
        return Some("a tag under 10 bytes");
    }
    // RFC 7914's first row, in passlib's tests: no salt at all. Libraries
    // always write one; PHC strings need 8 bytes or more.
    if stored.starts_with("$scrypt$") && stored.contains("$$") {
        return Some("an empty salt");
    }
    None
}

/// Fast digests of old Werkzeug and Django releases (`legacy-old.json`,
/// made by Werkzeug 2.2.3 and Django 4.2): unsupported by default, verified
/// and rehashed with `dangerous_accept_fast_digests`.
#[test]
fn fast_digests_only_when_accepted_dangerously() {
    use tessera_core::error::PasswordError;

    let strict = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap());
    let accepting = strict.clone().dangerous_accept_fast_digests();
    let mut schemes = BTreeSet::new();
    for vector in vectors("legacy-old.json") {
        let scheme = vector["scheme"].as_str().unwrap();
        let stored = vector["stored"].as_str().unwrap();
        let password = vector["password"].as_str().unwrap();
        assert_eq!(
            Scheme::identify(stored),
            Some(Scheme::FastDigest),
            "{stored}"
        );
        let refused = strict.verify_password(&Password::new(password), stored);
        let Err(PasswordError::UnsupportedScheme(prefix)) = refused else {
            panic!("{stored}: {refused:?}");
        };
        assert!(
            [
                "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "plain"
            ]
            .contains(&prefix.as_str())
        );
        let verified = verify(&accepting, password, stored);
        assert!(
            verified.is_valid() && verified.needs_rehash(),
            "{scheme}: {stored}"
        );
        let wrong = vector["wrong"].as_str().unwrap();
        assert!(
            !verify(&accepting, wrong, stored).is_valid(),
            "{scheme}: {stored}"
        );
        schemes.insert(scheme.to_owned());
    }
    assert_eq!(schemes.len(), 10, "{schemes:?}");
    // A plain-text row never reaches an error message.
    let Err(PasswordError::UnsupportedScheme(prefix)) =
        strict.verify_password(&Password::new("x"), "plain$$hunter2")
    else {
        panic!("plain$$ accepted without the opt-in");
    };
    assert_eq!(prefix, "plain");
}

/// What `generate_password_hash` wrote by default in each Werkzeug release
/// line since 0.9 (`werkzeug-history.json`, made by Werkzeug 0.9.6, 0.15.6,
/// 1.0.1, 2.0.3, 2.3.8, 3.0.6 and 3.1.9 themselves): PBKDF2-SHA1 at 1000,
/// PBKDF2-SHA256 at 150 000, 260 000 and 600 000, then scrypt.
#[test]
fn every_werkzeug_default_since_0_9() {
    let hasher = LegacyHasher::new(Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap());
    let mut methods = BTreeSet::new();
    let mut releases = BTreeSet::new();
    for vector in vectors("werkzeug-history.json") {
        let stored = vector["stored"].as_str().unwrap();
        let library = vector["library"].as_str().unwrap();
        let verified = verify(&hasher, vector["password"].as_str().unwrap(), stored);
        assert!(
            verified.is_valid() && verified.needs_rehash(),
            "{library}: {stored}"
        );
        assert!(
            !verify(&hasher, vector["wrong"].as_str().unwrap(), stored).is_valid(),
            "{library}: {stored}"
        );
        methods.insert(stored.split('$').next().unwrap().to_owned());
        releases.insert(library.to_owned());
    }
    assert_eq!(releases.len(), 7, "{releases:?}");
    assert_eq!(
        methods.into_iter().collect::<Vec<_>>(),
        [
            "pbkdf2:sha1:1000",
            "pbkdf2:sha256:150000",
            "pbkdf2:sha256:260000",
            "pbkdf2:sha256:600000",
            "scrypt:32768:8:1"
        ]
    );
}
