//! JOSE test vectors run through tessera's JWT verifier at the signature and
//! key level: Project Wycheproof's `json_web_signature_test.json` and
//! `json_web_key_test.json`, and the examples of RFC 7515 Appendix A.
//!
//! The payloads of these vectors are not claim sets, so only
//! `Jwt::verify_signature` (size, segments, header rules, key selection,
//! algorithm, signature) is exercised, never claim validation.
//!
//! The Wycheproof files are read from `$TESSERA_VECTORS_DIR/wycheproof/`
//! (CONTRACTS.md §3). Without them the test prints one line saying what it
//! skipped and passes, unless `TESSERA_TEST_STRICT=1`, which makes it fail.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]
#![allow(
    clippy::print_stdout,
    reason = "the test reports its counts, or what it skipped, on stdout"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::{env, fs};

use serde_json::{Value, json};
use tessera_core::jwt::{
    Algorithm, Jwt, JwtConfig, JwtError, JwtKey, JwtKeySet, KeyError, parse_algorithm,
};

const SIGNATURE_FILE: &str = "json_web_signature_test.json";
const KEY_FILE: &str = "json_web_key_test.json";

/// Vectors on which tessera's verdict differs from Wycheproof's `result`,
/// with why. Any other disagreement fails the test, and so does an entry
/// here whose vector no longer disagrees (or does not exist).
const EXCEPTIONS: &[(&str /*file*/, u32 /*tcId*/, &str /*reason*/)] = &[
    // "invalidBase64Padding": the token is byte-identical to tcId 357, which
    // Wycheproof itself marks valid. A verifier cannot tell them apart; the
    // signature is correct, so tessera accepts it.
    (
        SIGNATURE_FILE,
        367,
        "byte-identical to the valid tcId 357; marked invalid by mistake",
    ),
    // "invalidBase64PaddingInPayload": byte-identical to the valid tcId 357
    // as well.
    (
        SIGNATURE_FILE,
        370,
        "byte-identical to the valid tcId 357; marked invalid by mistake",
    ),
    // "InvalidCharacterInsertedInHeader": Wycheproof expects a decoder that
    // skips a `?` inside the header segment. tessera accepts canonical
    // unpadded base64url and nothing else, so it refuses the token.
    (
        SIGNATURE_FILE,
        372,
        "expects `?` inside the header segment to be skipped; tessera's base64url is strict",
    ),
    // "InvalidCharacterInsertedInPayload": the same, in the payload segment.
    (
        SIGNATURE_FILE,
        373,
        "expects `?` inside the payload segment to be skipped; tessera's base64url is strict",
    ),
    // RFC 7520 Figure 20 is a PS384 signature, but the group's key says
    // `"alg": "PS256"`. The key decides the algorithm, so the header's PS384
    // is refused.
    (
        SIGNATURE_FILE,
        346,
        "RFC 7520 Figure 20 is PS384 but the key is labelled PS256",
    ),
    // The same vector with `key_ops` on the key.
    (
        SIGNATURE_FILE,
        350,
        "RFC 7520 Figure 20 is PS384 but the key is labelled PS256",
    ),
    // RFC 7520 Figure 27 is ES512 (P-521), which `jsonwebtoken` lacks. The
    // group's key even says `"alg": "ES521"`; either way the key set is
    // refused with KeyError::UnsupportedAlgorithm.
    (
        SIGNATURE_FILE,
        347,
        "ES512 (P-521), which jsonwebtoken lacks",
    ),
    // The same vector with `key_ops` on the key.
    (
        SIGNATURE_FILE,
        351,
        "ES512 (P-521), which jsonwebtoken lacks",
    ),
    // A 2049-bit RSA key with the ROCA weakness (CVE-2017-15361). Detecting
    // it takes a fingerprint test of the modulus that tessera does not do;
    // the key is otherwise well-formed and the signature correct.
    (
        KEY_FILE,
        7,
        "ROCA-vulnerable RSA key; tessera does not fingerprint moduli",
    ),
];

/// The verifier configuration: nothing about claims is checked.
fn config() -> JwtConfig {
    JwtConfig::new("wycheproof", "wycheproof")
        .dangerous_skip_issuer_check()
        .dangerous_skip_audience_check()
        .dangerous_accept_any_type()
}

fn verifier(keys: JwtKeySet) -> Jwt {
    Jwt::builder(keys, config())
        .dangerous_without_revocations()
        .build()
        .unwrap()
}

/// `$TESSERA_VECTORS_DIR/wycheproof`, or `None` after printing the one line
/// that says why the vectors are skipped (failing instead when strict).
fn wycheproof_dir() -> Option<PathBuf> {
    let strict = env::var("TESSERA_TEST_STRICT").is_ok_and(|v| v == "1");
    let missing = match env::var_os("TESSERA_VECTORS_DIR").filter(|d| !d.is_empty()) {
        None => "TESSERA_VECTORS_DIR is not set".to_owned(),
        Some(dir) => {
            let dir = PathBuf::from(dir).join("wycheproof");
            match [SIGNATURE_FILE, KEY_FILE]
                .into_iter()
                .find(|file| !dir.join(file).is_file())
            {
                None => return Some(dir),
                Some(file) => format!("{} does not exist", dir.join(file).display()),
            }
        }
    };
    assert!(
        !strict,
        "TESSERA_TEST_STRICT=1 and the Wycheproof JOSE vectors are missing: {missing}"
    );
    println!("skipped the Wycheproof JOSE vectors: {missing}");
    None
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    valid: usize,
    invalid: usize,
    acceptable: usize,
    exceptions: usize,
}

/// Runs every test of one Wycheproof file; returns its counts and
/// `numberOfTests`, and appends every disagreement to `problems`.
fn run_file(
    dir: &Path,
    file: &'static str,
    seen: &mut BTreeSet<(&'static str, u32)>,
    problems: &mut Vec<String>,
) -> (Counts, usize) {
    let text = fs::read_to_string(dir.join(file)).unwrap();
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let declared = usize::try_from(vectors["numberOfTests"].as_u64().unwrap()).unwrap();
    let mut counts = Counts::default();

    for group in vectors["testGroups"].as_array().unwrap() {
        let jwks = group
            .get("public")
            .or_else(|| group.get("private"))
            .unwrap();
        // A key set tessera refuses makes every test of the group "invalid".
        let jwt = JwtKeySet::from_jwks(jwks, None)
            .map(verifier)
            .map_err(|e| format!("key set refused: {e:?}"));

        for test in group["tests"].as_array().unwrap() {
            let tc_id = u32::try_from(test["tcId"].as_u64().unwrap()).unwrap();
            let comment = test["comment"].as_str().unwrap_or_default();
            let expected = test["result"].as_str().unwrap();
            // A JWS in JSON serialization may come as an object; tessera only
            // reads the compact form, so it gets the JSON text and refuses it.
            let jws = match &test["jws"] {
                Value::String(jws) => jws.clone(),
                other => other.to_string(),
            };
            let outcome = match &jwt {
                Ok(jwt) => jwt
                    .verify_signature(&jws)
                    .map(drop)
                    .map_err(|e| format!("{e:?}")),
                Err(refused) => Err(refused.clone()),
            };
            let got = match &outcome {
                Ok(()) => "accepted".to_owned(),
                Err(e) => format!("refused ({e})"),
            };
            let matched = match expected {
                "valid" => outcome.is_ok(),
                "invalid" => outcome.is_err(),
                "acceptable" => true,
                other => panic!("{file} tcId {tc_id}: unknown result {other:?}"),
            };

            counts.total += 1;
            let exception = EXCEPTIONS
                .iter()
                .find(|(f, id, _)| *f == file && *id == tc_id);
            match (exception, matched) {
                (Some((_, _, reason)), true) => problems.push(format!(
                    "stale exception: {file} tcId {tc_id} ({comment}) is {expected} and was \
                     {got}, as expected; remove its entry ({reason})"
                )),
                (Some(_), false) => counts.exceptions += 1,
                (None, false) => problems.push(format!(
                    "mismatch: {file} tcId {tc_id} ({comment}): expected {expected}, got {got}"
                )),
                (None, true) => match expected {
                    "valid" => counts.valid += 1,
                    "invalid" => counts.invalid += 1,
                    _ => counts.acceptable += 1,
                },
            }
            if exception.is_some() {
                seen.insert((file, tc_id));
            }
        }
    }
    (counts, declared)
}

#[test]
fn wycheproof_jose_vectors() {
    let Some(dir) = wycheproof_dir() else {
        return;
    };
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    let mut totals = Vec::new();
    for file in [SIGNATURE_FILE, KEY_FILE] {
        let (counts, declared) = run_file(&dir, file, &mut seen, &mut problems);
        println!(
            "{file}: {} tests, {} valid accepted, {} invalid refused, {} acceptable, {} exceptions",
            counts.total, counts.valid, counts.invalid, counts.acceptable, counts.exceptions
        );
        totals.push((file, counts, declared));
    }
    for &(file, tc_id, reason) in EXCEPTIONS {
        if !seen.contains(&(file, tc_id)) {
            problems.push(format!(
                "stale exception: {file} has no tcId {tc_id} ({reason})"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    for (file, counts, declared) in totals {
        // Without problems, every test landed in exactly one column.
        assert_eq!(
            counts.valid + counts.invalid + counts.acceptable + counts.exceptions,
            counts.total,
            "{file}"
        );
        assert_eq!(counts.total, declared, "{file}: tests run vs numberOfTests");
    }
}

/// The payload of RFC 7515 A.1 to A.3 and A.5, base64url: not a claim set
/// tessera would accept (no `sub`, `aud`, `jti`…), so only signatures are
/// checked.
const RFC7515_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

/// RFC 7515 A.1.1.
const A1_HS256: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// RFC 7515 A.2.1.
const A2_RS256: &str = concat!(
    "eyJhbGciOiJSUzI1NiJ9",
    ".",
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
    ".",
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7",
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4",
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K",
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv",
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB",
    "p0igcN_IoypGlUPQGe77Rw",
);

/// RFC 7515 A.3.1. ECDSA signatures are randomized; this is the one the
/// RFC prints, and it verifies with the RFC's public key.
const A3_ES256: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/// RFC 7515 A.5: an unsecured JWS (`"alg": "none"`, empty signature).
const A5_NONE: &str = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.";

/// The JWK of A.1 (no `alg`: HS256 is given as the default).
fn a1_key() -> Value {
    json!({
        "kty": "oct",
        "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
    })
}

/// The JWK of A.2, private part included as the RFC prints it.
fn a2_key() -> Value {
    json!({
        "kty": "RSA",
        "n": "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
        "e": "AQAB",
        "d": "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ",
        "p": "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc",
        "q": "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc",
        "dp": "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0",
        "dq": "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU",
        "qi": "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"
    })
}

/// The JWK of A.3, private part included as the RFC prints it.
fn a3_key() -> Value {
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
    })
}

/// The same JWK without its private members.
fn public_part(jwk: &Value, members: &[&str]) -> Value {
    Value::Object(
        members
            .iter()
            .map(|m| ((*m).to_owned(), jwk[*m].clone()))
            .collect(),
    )
}

fn rfc_verifier(jwk: &Value, alg: Algorithm) -> Jwt {
    let key = JwtKey::from_jwk(jwk, Some(alg)).unwrap();
    assert_eq!(key.algorithm(), alg);
    verifier(JwtKeySet::verify_only(vec![key]).unwrap())
}

/// `token` with the first character of its signature replaced by another
/// one. The first character carries the top six bits of the first byte, so
/// the segment stays canonical base64url and only the signature changes.
fn with_changed_signature_char(token: &str) -> String {
    let at = token.rfind('.').unwrap() + 1;
    let replacement = if token[at..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    let mut changed = token.to_owned();
    changed.replace_range(at..=at, replacement);
    assert_ne!(changed, token);
    changed
}

#[test]
fn rfc7515_appendix_a() {
    let payload =
        b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    assert!(A1_HS256.contains(RFC7515_PAYLOAD));
    assert!(A2_RS256.contains(RFC7515_PAYLOAD));
    assert!(A3_ES256.contains(RFC7515_PAYLOAD));
    assert!(A5_NONE.contains(RFC7515_PAYLOAD));

    let hs256 = rfc_verifier(&a1_key(), Algorithm::HS256);
    let rs256 = rfc_verifier(&a2_key(), Algorithm::RS256);
    let rs256_public = rfc_verifier(
        &public_part(&a2_key(), &["kty", "n", "e"]),
        Algorithm::RS256,
    );
    let es256 = rfc_verifier(&a3_key(), Algorithm::ES256);
    let es256_public = rfc_verifier(
        &public_part(&a3_key(), &["kty", "crv", "x", "y"]),
        Algorithm::ES256,
    );

    for (name, jwt, token, alg) in [
        ("A.1", &hs256, A1_HS256, Algorithm::HS256),
        ("A.2", &rs256, A2_RS256, Algorithm::RS256),
        (
            "A.2 (public key)",
            &rs256_public,
            A2_RS256,
            Algorithm::RS256,
        ),
        ("A.3", &es256, A3_ES256, Algorithm::ES256),
        (
            "A.3 (public key)",
            &es256_public,
            A3_ES256,
            Algorithm::ES256,
        ),
    ] {
        let verified = jwt
            .verify_signature(token)
            .unwrap_or_else(|e| panic!("RFC 7515 {name} refused: {e:?}"));
        assert_eq!(verified.payload, payload, "{name}");
        assert_eq!(verified.algorithm, alg, "{name}");

        let changed = with_changed_signature_char(token);
        let refused = jwt.verify_signature(&changed);
        assert!(
            matches!(refused, Err(JwtError::Signature)),
            "{name} with a changed signature character: {refused:?}"
        );
    }

    // A.4 is ES512 (P-521), which `jsonwebtoken` does not implement, so
    // tessera refuses the key rather than half-support it. The RFC's JWK has
    // no `alg`; it is added here because `Algorithm` has no ES512 to pass as
    // the default.
    let es512 = json!({
        "kty": "EC",
        "crv": "P-521",
        "alg": "ES512",
        "x": "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk",
        "y": "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2",
        "d": "AY5pb7A0UFiB3RELSD64fTLOSV_jazdF7fLYyuTw8lOfRhWg6Y6rUrPAxerEzgdRhajnu0ferB0d53vM9mE15j2C"
    });
    assert_eq!(
        JwtKey::from_jwk(&es512, None).unwrap_err(),
        KeyError::UnsupportedAlgorithm("ES512".into())
    );
    assert_eq!(
        parse_algorithm("ES512").unwrap_err(),
        KeyError::UnsupportedAlgorithm("ES512".into())
    );

    // A.5, unsecured: refused whatever the key, both as printed (empty
    // signature) and with a signature stuck on, which the `alg` rule refuses.
    let a1_signature = &A1_HS256[A1_HS256.rfind('.').unwrap() + 1..];
    let none_with_signature = format!("{A5_NONE}{a1_signature}");
    for jwt in [&hs256, &rs256, &es256] {
        let refused = jwt.verify_signature(A5_NONE);
        assert!(refused.is_err(), "A.5 accepted: {refused:?}");
        let refused = jwt.verify_signature(&none_with_signature);
        assert!(
            matches!(refused, Err(JwtError::Algorithm)),
            "A.5 with a signature: {refused:?}"
        );
    }
}
