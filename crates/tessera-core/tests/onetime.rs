//! One-time tokens: cases I1–I4, I8 and C14 of SECURITY-CASES.md, on a
//! manual clock.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tessera_core::clock::{Clock, ManualClock};
use tessera_core::keys::{HmacKey, HmacKeys};
use tessera_core::memory::MemoryOneTimeStore;
use tessera_core::onetime::{OneTimeError, OneTimeTokens, Purpose, account_stamp};
use tessera_core::users::{Login, User, UserId};

fn key(id: &str, byte: u8) -> HmacKey {
    HmacKey::new(id, vec![byte; 32]).unwrap()
}

fn tokens_with(keys: HmacKeys, clock: &ManualClock) -> OneTimeTokens {
    OneTimeTokens::new(keys, Arc::new(MemoryOneTimeStore::new()))
        .with_clock(Arc::new(clock.clone()))
}

fn user(login: &str, hash: &str) -> User {
    User::new(
        UserId::new("u-1"),
        Login::parse(login).unwrap(),
        hash.into(),
        SystemTime::UNIX_EPOCH,
    )
}

const RESET: Purpose = Purpose::PASSWORD_RESET;

/// I1: a reset token works once.
#[tokio::test]
async fn i1_single_use() {
    let clock = ManualClock::default();
    let tokens = tokens_with(HmacKeys::single(key("k1", 1)), &clock);
    let alice = user("alice@example.com", "$argon2id$old");
    let stamp = account_stamp(&alice);
    let token = tokens.issue(&RESET, &alice.id, &stamp).unwrap();
    assert_eq!(
        tokens
            .consume(&RESET, token.expose_secret(), &stamp)
            .await
            .unwrap(),
        alice.id
    );
    assert!(matches!(
        tokens.consume(&RESET, token.expose_secret(), &stamp).await,
        Err(OneTimeError::Used)
    ));
}

/// I2: valid until its TTL, invalid from then on.
#[tokio::test]
async fn i2_expiry() {
    let clock = ManualClock::default();
    let tokens = tokens_with(HmacKeys::single(key("k1", 1)), &clock);
    let stamp = [0u8; 32];
    let token = tokens.issue(&RESET, &UserId::new("u"), &stamp).unwrap();
    clock.advance(Duration::from_secs(3600));
    assert!(tokens.verify(&RESET, token.expose_secret(), &stamp).is_ok());
    clock.advance(Duration::from_secs(1));
    assert!(matches!(
        tokens.verify(&RESET, token.expose_secret(), &stamp),
        Err(OneTimeError::Expired)
    ));
    assert!(matches!(
        tokens.peek(token.expose_secret()),
        Err(OneTimeError::Expired)
    ));

    // Email verification lives a day.
    let verify = tokens
        .issue(&Purpose::EMAIL_VERIFICATION, &UserId::new("u"), &stamp)
        .unwrap();
    clock.advance(Duration::from_secs(23 * 3600));
    assert!(
        tokens
            .verify(&Purpose::EMAIL_VERIFICATION, verify.expose_secret(), &stamp)
            .is_ok()
    );
}

/// I3: a change of password or email after issuance kills the token.
#[tokio::test]
async fn i3_bound_to_the_account_state() {
    let clock = ManualClock::default();
    let tokens = tokens_with(HmacKeys::single(key("k1", 1)), &clock);
    let before = user("alice@example.com", "$argon2id$old");
    let token = tokens
        .issue(&RESET, &before.id, &account_stamp(&before))
        .unwrap();

    let new_password = user("alice@example.com", "$argon2id$new");
    let new_email = user("alice@example.org", "$argon2id$old");
    for after in [new_password, new_email] {
        assert!(matches!(
            tokens
                .consume(&RESET, token.expose_secret(), &account_stamp(&after))
                .await,
            Err(OneTimeError::Invalid)
        ));
    }
    // A refused attempt did not use the token up.
    assert!(
        tokens
            .consume(&RESET, token.expose_secret(), &account_stamp(&before))
            .await
            .is_ok()
    );
}

/// I4: another account's token, another purpose's token, and forgeries.
#[tokio::test]
async fn i4_other_accounts_purposes_and_forgeries() {
    let clock = ManualClock::default();
    let tokens = tokens_with(HmacKeys::single(key("k1", 1)), &clock);
    let alice = user("alice@example.com", "$argon2id$a");
    let mut bob = user("bob@example.com", "$argon2id$b");
    bob.id = UserId::new("u-2");
    let alice_token = tokens
        .issue(&RESET, &alice.id, &account_stamp(&alice))
        .unwrap();

    // The token names Alice: checked against Bob's state it fails.
    assert_eq!(tokens.peek(alice_token.expose_secret()).unwrap(), alice.id);
    assert!(matches!(
        tokens.verify(&RESET, alice_token.expose_secret(), &account_stamp(&bob)),
        Err(OneTimeError::Invalid)
    ));
    // An email-verification token is not a reset token.
    let verification = tokens
        .issue(
            &Purpose::EMAIL_VERIFICATION,
            &alice.id,
            &account_stamp(&alice),
        )
        .unwrap();
    assert!(matches!(
        tokens.verify(&RESET, verification.expose_secret(), &account_stamp(&alice)),
        Err(OneTimeError::Invalid)
    ));
    // Swapping the account id inside a token breaks its signature.
    let raw = alice_token.expose_secret();
    let (head, mac) = raw.rsplit_once('.').unwrap();
    let (kid, payload) = head.rsplit_once('.').unwrap();
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut bytes = Base64UrlUnpadded::decode_vec(payload).unwrap();
    let at = bytes.len() - 1;
    bytes[at] = b'2';
    let forged = format!("{kid}.{}.{mac}", Base64UrlUnpadded::encode_string(&bytes));
    assert_eq!(tokens.peek(&forged).unwrap(), UserId::new("u-2"));
    assert!(matches!(
        tokens.verify(&RESET, &forged, &account_stamp(&bob)),
        Err(OneTimeError::Invalid)
    ));
    // Malformed strings.
    for bad in [
        "",
        "tsp_",
        "tsp_k1..",
        "tsr_x.y.z",
        &"tsp_a.".repeat(300),
        "tsp_k1.AAAA.AAAA",
    ] {
        assert!(
            matches!(tokens.peek(bad), Err(OneTimeError::Malformed)),
            "{bad}"
        );
    }
    // A token from another deployment's key.
    let elsewhere = tokens_with(HmacKeys::single(key("k1", 9)), &clock);
    let foreign = elsewhere
        .issue(&RESET, &alice.id, &account_stamp(&alice))
        .unwrap();
    assert!(matches!(
        tokens.verify(&RESET, foreign.expose_secret(), &account_stamp(&alice)),
        Err(OneTimeError::Invalid)
    ));
}

/// I8: concurrent confirmations of one token: exactly one succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn i8_concurrent_consumption() {
    let clock = ManualClock::default();
    let tokens = Arc::new(tokens_with(HmacKeys::single(key("k1", 1)), &clock));
    let stamp = [3u8; 32];
    let token = tokens.issue(&RESET, &UserId::new("u"), &stamp).unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (tokens, token, barrier) = (tokens.clone(), token.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                tokens.consume(&RESET, token.expose_secret(), &stamp).await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(OneTimeError::Used) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 1);
}

/// C14: key rotation for one-time tokens.
#[tokio::test]
async fn c14_key_rotation() {
    let clock = ManualClock::default();
    let stamp = [1u8; 32];
    let old = tokens_with(HmacKeys::single(key("old", 1)), &clock);
    let token = old.issue(&RESET, &UserId::new("u"), &stamp).unwrap();
    let rotated = tokens_with(
        HmacKeys::new(vec![key("new", 2), key("old", 1)]).unwrap(),
        &clock,
    );
    assert!(
        rotated
            .verify(&RESET, token.expose_secret(), &stamp)
            .is_ok()
    );
    assert!(
        rotated
            .issue(&RESET, &UserId::new("u"), &stamp)
            .unwrap()
            .expose_secret()
            .starts_with("tsp_new.")
    );
    let dropped = tokens_with(HmacKeys::single(key("new", 2)), &clock);
    assert!(matches!(
        dropped.verify(&RESET, token.expose_secret(), &stamp),
        Err(OneTimeError::Invalid)
    ));
    assert!(!format!("{token:?}").contains("tsp_"));
}

/// Used tokens are remembered until they expire, then forgotten.
#[tokio::test]
async fn used_tokens_are_purged_after_expiry() {
    use tessera_core::onetime::OneTimeStore;
    let store = MemoryOneTimeStore::new();
    let clock = ManualClock::default();
    let id = tessera_core::token::TokenDigest::from_bytes([5; 32]);
    assert!(
        store
            .consume(&id, clock.now() + Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert_eq!(store.purge_expired(clock.now()).await.unwrap(), 0);
    assert!(
        !store
            .consume(&id, clock.now() + Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .purge_expired(clock.now() + Duration::from_secs(61))
            .await
            .unwrap(),
        1
    );
}
