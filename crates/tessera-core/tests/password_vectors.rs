//! Known-answer vectors and PHC strings from other implementations, and the
//! password cases A1, A3, A9 and A10 of SECURITY-CASES.md.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use argon2::{
    Algorithm, Argon2, AssociatedData, CustomizedPasswordHasher, Params, ParamsBuilder, Version,
};
use tessera_core::password::{
    Argon2Hasher, Argon2Params, Password, PasswordError, PasswordHasher, PasswordPool,
    PasswordVerifier,
};

/// RFC 9106 §5.3: the argon2id test vector. It uses a secret and associated
/// data, which PHC strings cannot carry, so it calls `argon2` directly with
/// the configuration tessera uses (argon2id, version 0x13).
#[test]
fn rfc9106_argon2id_known_answer() {
    let params = ParamsBuilder::new()
        .m_cost(32)
        .t_cost(3)
        .p_cost(4)
        .data(AssociatedData::new(&[0x04; 12]).unwrap())
        .output_len(32)
        .build()
        .unwrap();
    let secret = [0x03; 8];
    let argon2 =
        Argon2::new_with_secret(&secret, Algorithm::Argon2id, Version::V0x13, params).unwrap();
    let mut out = [0u8; 32];
    argon2
        .hash_password_into(&[0x01; 32], &[0x02; 16], &mut out)
        .unwrap();
    assert_eq!(
        out,
        [
            0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c, 0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b,
            0x53, 0xc9, 0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e, 0xb5, 0x25, 0x20, 0xe9,
            0x6b, 0x01, 0xe6, 0x59,
        ]
    );
}

/// PHC strings made by the C reference implementation (argon2-cffi 25.1.0
/// over libargon2), with whether tessera's defaults should ask for a rehash.
const C_REFERENCE: &[(&str, &str, bool)] = &[
    (
        "correct horse battery staple",
        "$argon2id$v=19$m=19456,t=2,p=1$i6pmiXvwLCZHFQnCVML3tw$5JM57yVfbLuOn/yPKgp2gMfXgoQtYqnM448ZCe7f49Q",
        false,
    ),
    // Less memory than the default.
    (
        "correct horse battery staple",
        "$argon2id$v=19$m=4096,t=3,p=1$+qXgPFBCp4KAuoVUTKb0ow$RCRNBanlIkpLcBPuyng4mPgrr0ZBrRFgcmdB8YQjFUc",
        true,
    ),
    // More parallelism than the default is not weaker.
    (
        "pässwörd 🔑",
        "$argon2id$v=19$m=19456,t=2,p=2$AWlspBJzCtbInmn9HthPPA$IwcGt8gM93gvOzEljaYn4EWSodUVv/vzUDV3e7hc6Mw",
        false,
    ),
    (
        "hunter22",
        "$argon2id$v=19$m=65536,t=3,p=4$OZH0AtIgkF8Gzt2sEvF1BQ$F3IfZaJ4FIKlmuDQ4/u0jAzxIIVq6G5V94g9JhSUP5o",
        false,
    ),
    // Other variants.
    (
        "hunter22",
        "$argon2i$v=19$m=19456,t=2,p=1$5jZALccad7ittguICs219Q$5dfs7mNqvPWT3ppRB7pxFkbUdK5wDRBGni8QfHpKj0A",
        true,
    ),
    (
        "hunter22",
        "$argon2d$v=19$m=19456,t=2,p=1$vU5wPoqlrmaCI8Q11jW4dw$qnKO2LAIowK2BqLqwHRfelB/pUWx0nQGX6xNNhJrBKk",
        true,
    ),
    // Version 0x10.
    (
        "hunter22",
        "$argon2id$v=16$m=19456,t=2,p=1$93pCmumJLk3+CouMFH3npQ$/KD751cCc4/OakAdxoWphQmmBibmGF+woOqMOXDt4qI",
        true,
    ),
    // No `v=`: the C reference reads it as 0x10 (this string verifies in
    // argon2-cffi); it must verify here too, and ask for a rehash.
    (
        "hunter22",
        "$argon2id$m=19456,t=2,p=1$W5fYxLgHhZly4FINjfO5LQ$8cEA+NvSn2gObejYsj/n5s2ZaUVF2H6z8LOzWl2SpLg",
        true,
    ),
];

#[test]
fn c_reference_hashes_verify_with_the_expected_rehash_verdict() {
    let hasher = Argon2Hasher::default();
    for &(password, stored, needs_rehash) in C_REFERENCE {
        let verified = hasher
            .verify_password(&Password::new(password), stored)
            .unwrap();
        assert!(verified.is_valid(), "{stored}");
        assert_eq!(verified.needs_rehash(), needs_rehash, "{stored}");

        let wrong = format!("{password}!");
        let verified = hasher
            .verify_password(&Password::new(wrong), stored)
            .unwrap();
        assert!(!verified.is_valid(), "{stored}");
        assert!(!verified.needs_rehash(), "{stored}");
    }
}

#[test]
fn a_missing_version_is_0x10_not_a_mismatch() {
    // The same hash read as 0x13 would not match: the version is really used.
    let (password, stored, _) = C_REFERENCE[7];
    let as_v19 = stored.replacen("$argon2id$", "$argon2id$v=19$", 1);
    let hasher = Argon2Hasher::default();
    assert!(
        hasher
            .verify_password(&Password::new(password), stored)
            .unwrap()
            .is_valid()
    );
    assert!(
        !hasher
            .verify_password(&Password::new(password), &as_v19)
            .unwrap()
            .is_valid()
    );
}

#[test]
fn round_trip_and_wrong_password() {
    let hasher = Argon2Hasher::new(Argon2Params::new(1024, 1, 1)).unwrap();
    let stored = hasher
        .hash_password(&Password::new("correct horse battery staple"))
        .unwrap();
    assert!(stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    let ok = hasher
        .verify_password(&Password::new("correct horse battery staple"), &stored)
        .unwrap();
    assert!(ok.is_valid());
    assert!(!ok.needs_rehash());
    let wrong = hasher
        .verify_password(&Password::new("correct horse battery stapl"), &stored)
        .unwrap();
    assert!(!wrong.is_valid());
}

#[test]
fn weaker_parameters_need_a_rehash() {
    let current = Argon2Hasher::new(Argon2Params::new(2048, 2, 2)).unwrap();
    let password = Password::new("correct horse battery staple");
    for (weaker, expected) in [
        (Argon2Params::new(1024, 2, 2), true),
        (Argon2Params::new(2048, 1, 2), true),
        (Argon2Params::new(2048, 2, 1), true),
        (Argon2Params::new(2048, 2, 2), false),
        (Argon2Params::new(4096, 3, 2), false),
    ] {
        let stored = Argon2Hasher::new(weaker)
            .unwrap()
            .hash_password(&password)
            .unwrap();
        let verified = current.verify_password(&password, &stored).unwrap();
        assert!(verified.is_valid());
        assert_eq!(verified.needs_rehash(), expected, "{weaker:?}");
    }
}

/// The C-reference strings through the pool: the path a login takes, with
/// the policy's normalisation in front of the verifier.
#[tokio::test]
async fn c_reference_hashes_verify_through_the_pool() {
    let pool = PasswordPool::builder().workers(2).build().unwrap();
    for &(password, stored, needs_rehash) in C_REFERENCE {
        let verified = pool.verify(&Password::new(password), stored).await.unwrap();
        assert!(verified.is_valid(), "{stored}");
        assert_eq!(verified.needs_rehash(), needs_rehash, "{stored}");
    }
}

/// A salt or an output shorter than tessera's is weaker too.
#[test]
fn short_salts_and_outputs_need_a_rehash() {
    let password = b"correct horse battery staple";
    let current = Argon2Hasher::new(Argon2Params::new(1024, 1, 1)).unwrap();
    let argon2 = Argon2::default();
    for (salt, output_len) in [(&b"8bytesal"[..], 32), (&b"sixteen byte salt"[..16], 16)] {
        let params = Params::new(1024, 1, 1, Some(output_len)).unwrap();
        let stored = argon2
            .hash_password_customized(password, salt, None, None, params)
            .unwrap()
            .to_string();
        let verified = current
            .verify_password(&Password::new("correct horse battery staple"), &stored)
            .unwrap();
        assert!(verified.is_valid(), "{stored}");
        assert!(verified.needs_rehash(), "{stored}");
    }
}

/// A9: no case folding.
#[test]
fn a9_passwords_are_case_sensitive() {
    let hasher = Argon2Hasher::new(Argon2Params::new(1024, 1, 1)).unwrap();
    let stored = hasher.hash_password(&Password::new("password")).unwrap();
    assert!(
        !hasher
            .verify_password(&Password::new("Password"), &stored)
            .unwrap()
            .is_valid()
    );
    assert!(
        hasher
            .verify_password(&Password::new("password"), &stored)
            .unwrap()
            .is_valid()
    );
}

/// A10: the same password twice gives different salts and hashes.
#[test]
fn a10_same_password_different_salts() {
    let hasher = Argon2Hasher::new(Argon2Params::new(1024, 1, 1)).unwrap();
    let password = Password::new("shared password");
    let a = hasher.hash_password(&password).unwrap();
    let b = hasher.hash_password(&password).unwrap();
    let salt = |s: &str| s.split('$').nth(4).unwrap().to_owned();
    let output = |s: &str| s.split('$').nth(5).unwrap().to_owned();
    assert_ne!(salt(&a), salt(&b));
    assert_ne!(output(&a), output(&b));
    assert!(hasher.verify_password(&password, &a).unwrap().is_valid());
    assert!(hasher.verify_password(&password, &b).unwrap().is_valid());
}

/// A3 (and the schemes of A2, which tessera does not verify): unknown
/// algorithms, garbage and empty strings are `UnknownAlgorithm`, never a
/// panic and never a match.
#[test]
fn a3_unknown_algorithms_and_garbage() {
    let hasher = Argon2Hasher::default();
    let password = Password::new("hunter22");
    for stored in [
        "",
        "$",
        "$$",
        "garbage",
        "argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        "$md4$abc$def",
        "$argon2$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$ARGON2ID$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$scrypt$ln=2097153,r=8,p=1$c2FsdA$aGFzaA",
        "$pbkdf2-sha256$i=1000000000$c2FsdA$aGFzaA",
        "$2a$20$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
        "\u{0}\u{ffff}",
    ] {
        let err = hasher.verify_password(&password, stored).unwrap_err();
        assert!(
            matches!(err, PasswordError::UnknownAlgorithm),
            "{stored:?}: {err:?}"
        );
    }
}

/// A1: cost parameters above the ceilings are refused with their own error.
/// (`alloc_bounds.rs` shows that nothing is allocated on the way.)
#[test]
fn a1_excessive_costs_are_refused() {
    let hasher = Argon2Hasher::default();
    let password = Password::new("hunter22");
    for (stored, param, value) in [
        (
            "$argon2id$v=19$m=8388608,t=2,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "m",
            8_388_608,
        ),
        (
            "$argon2id$v=19$m=19456,t=17,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "t",
            17,
        ),
        (
            "$argon2id$v=19$m=19456,t=2,p=17$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "p",
            17,
        ),
        (
            "$argon2i$v=19$m=4294967295,t=4294967295,p=16777215$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "m",
            4_294_967_295,
        ),
    ] {
        match hasher.verify_password(&password, stored) {
            Err(PasswordError::ParamsOutOfBounds {
                param: p, value: v, ..
            }) => {
                assert_eq!((p, v), (param, value), "{stored}");
            }
            other => panic!("{stored}: {other:?}"),
        }
    }
}
