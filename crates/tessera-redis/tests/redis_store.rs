//! The Redis stores against a real server (`TESSERA_TEST_REDIS_URL`), each
//! test under its own key prefix, with a manual clock standing in 2023 while
//! the server runs on real time. Without the variable the tests print what
//! they skipped and pass, unless `TESSERA_TEST_STRICT=1`.
#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "test code: a panic is a failure, and skips are printed"
)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tessera_core::clock::Clock;
use tessera_core::error::{ConfigError, StoreError};
use tessera_core::jwt::{RevocationCheck, Revocations};
use tessera_core::onetime::OneTimeStore;
use tessera_core::session::{Moved, SessionState, SessionStore};
use tessera_core::token::{
    Family, FamilyId, OpaqueToken, RevokeScope, Rotation, Successor, TokenDigest, TokenHasher,
    TokenId, TokenKind, TokenRecord, TokenStore,
};
use tessera_core::users::UserId;
use tessera_redis::{RedisOptions, RedisStore};

use common::{Rig, rig};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

fn scopes(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn alice() -> UserId {
    UserId::new("alice")
}

fn new_digest() -> TokenDigest {
    TokenHasher::sha256().digest(&OpaqueToken::generate(TokenKind::Refresh).unwrap())
}

fn api_key(rig: &Rig, subject: &UserId) -> TokenRecord {
    let mut record = TokenRecord::new(
        TokenId::generate().unwrap(),
        new_digest(),
        TokenKind::ApiKey,
        subject.clone(),
        scopes(&["read"]),
        rig.clock.now(),
    );
    record.name = Some("ci".into());
    record
}

/// A family of `subject` ending in a day, and its first token.
fn family(rig: &Rig, subject: &UserId) -> (Family, TokenRecord) {
    let now = rig.clock.now();
    let family = Family::new(
        FamilyId::generate().unwrap(),
        subject.clone(),
        now,
        now + DAY,
    );
    let mut first = TokenRecord::new(
        TokenId::generate().unwrap(),
        new_digest(),
        TokenKind::Refresh,
        subject.clone(),
        scopes(&["read", "write"]),
        now,
    );
    first.family = Some(family.id.clone());
    first.expires_at = Some(family.expires_at);
    (family, first)
}

fn successor(allowed: &[&str]) -> Successor {
    Successor::new(
        TokenId::generate().unwrap(),
        new_digest(),
        scopes(allowed),
        None,
    )
}

fn session_state(rig: &Rig, subject: Option<&str>, idle: Duration) -> SessionState {
    // SessionState is non-exhaustive: start from a decoded record.
    let now = rig.clock.now();
    let mut state: SessionState = SessionState::decode(
        serde_json::json!({
            "subject": subject,
            "created_at": now,
            "last_seen_at": now,
            "idle_expires_at": now + idle,
            "absolute_expires_at": now + 12 * 60 * MINUTE,
            "authenticated_at": now,
            "remember": false,
            "user_agent": "UA",
            "privilege_stamp": null,
            "data": {},
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    state.data.insert("k".into(), serde_json::json!(1));
    state
}

async fn pttl(rig: &Rig, key: &str) -> i64 {
    rig.cmd(redis::cmd("PTTL").arg(key)).await
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn api_keys_insert_find_list_revoke() {
    let Some(rig) = rig("api_keys_insert_find_list_revoke").await else {
        return;
    };
    let s: &dyn TokenStore = &rig.store;
    let now = rig.clock.now();
    let key = api_key(&rig, &alice());
    s.insert(key.clone()).await.unwrap();
    assert_eq!(s.find(&key.digest, now).await.unwrap(), Some(key.clone()));
    assert_eq!(s.find(&new_digest(), now).await.unwrap(), None);
    // A record is never overwritten.
    assert!(matches!(
        s.insert(api_key(&rig, &alice()).with_digest(key.digest))
            .await,
        Err(StoreError::Conflict(_))
    ));

    let later = now + MINUTE;
    s.record_use(&key.digest, later).await.unwrap();
    s.record_use(&new_digest(), later).await.unwrap();
    assert_eq!(
        rig.keys_of("tok:").await.len(),
        1,
        "record_use never creates"
    );
    let listed = s.list_api_keys(&alice(), later).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(later));
    assert_eq!(listed[0].name.as_deref(), Some("ci"));
    assert!(
        s.list_api_keys(&UserId::new("bob"), later)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(
        !s.revoke_api_key(&UserId::new("bob"), &key.id)
            .await
            .unwrap()
    );
    assert!(s.find(&key.digest, later).await.unwrap().is_some());
    assert!(s.revoke_api_key(&alice(), &key.id).await.unwrap());
    assert!(!s.revoke_api_key(&alice(), &key.id).await.unwrap());
    assert_eq!(s.find(&key.digest, later).await.unwrap(), None);
    assert!(s.list_api_keys(&alice(), later).await.unwrap().is_empty());

    // Expiry by the given time; revoke by digest.
    let mut expiring = api_key(&rig, &alice());
    expiring.expires_at = Some(later + MINUTE);
    s.insert(expiring.clone()).await.unwrap();
    assert!(s.find(&expiring.digest, later).await.unwrap().is_some());
    assert!(
        s.find(&expiring.digest, later + MINUTE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.list_api_keys(&alice(), later + MINUTE)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.revoke(&expiring.digest).await.unwrap());
    assert!(!s.revoke(&expiring.digest).await.unwrap());
    assert!(!s.revoke(&new_digest()).await.unwrap());

    // Purge: both keys are revoked, so both go, with their index entries.
    assert_eq!(s.purge_expired(later).await.unwrap(), 2);
    assert!(rig.keys_of("tok:").await.is_empty());
    assert!(rig.keys_of("sub:keys:").await.is_empty());
    rig.finish().await;
}

trait WithDigest {
    fn with_digest(self, digest: TokenDigest) -> Self;
}

impl WithDigest for TokenRecord {
    fn with_digest(mut self, digest: TokenDigest) -> Self {
        self.digest = digest;
        self
    }
}

#[tokio::test]
async fn families_rotate_reuse_revoke() {
    let Some(rig) = rig("families_rotate_reuse_revoke").await else {
        return;
    };
    let s: &dyn TokenStore = &rig.store;
    let now = rig.clock.now();
    let (fam, first) = family(&rig, &alice());
    s.start_family(fam.clone(), first.clone()).await.unwrap();
    assert_eq!(
        s.find(&first.digest, now).await.unwrap(),
        Some(first.clone())
    );
    // The same first digest again: refused, nothing changed.
    let (other_family, _) = family(&rig, &alice());
    assert!(
        s.start_family(other_family.clone(), first.clone())
            .await
            .is_err()
    );
    assert!(
        rig.keys_of(&format!("fam:{}", other_family.id.as_str()))
            .await
            .is_empty()
    );

    let spec = successor(&["read", "admin"]);
    let Rotation::Rotated {
        previous,
        successor: next,
    } = s
        .rotate(&first.digest, spec, now, Duration::ZERO)
        .await
        .unwrap()
    else {
        panic!("the first rotation must succeed");
    };
    assert_eq!(previous, first);
    assert_eq!(next.scopes, scopes(&["read"]));
    assert_eq!(next.family.as_ref(), Some(&fam.id));
    assert_eq!(next.expires_at, Some(fam.expires_at));
    assert_eq!(next.created_at, now);
    assert_eq!(s.find(&first.digest, now).await.unwrap(), None, "used up");
    assert_eq!(s.find(&next.digest, now).await.unwrap(), Some(next.clone()));

    // The used token again, outside the (zero) grace: the family is revoked.
    let late = successor(&["read"]);
    let late_digest = late.digest;
    match s
        .rotate(&first.digest, late, now, Duration::ZERO)
        .await
        .unwrap()
    {
        Rotation::Reused { family } => assert_eq!(family, fam),
        other => panic!("expected reuse, got {other:?}"),
    }
    assert_eq!(s.find(&next.digest, now).await.unwrap(), None);
    assert_eq!(
        s.find(&late_digest, now).await.unwrap(),
        None,
        "no successor on reuse"
    );
    // Of a family revoked earlier: Revoked, nothing written.
    assert!(matches!(
        s.rotate(&next.digest, successor(&[]), now, Duration::ZERO).await.unwrap(),
        Rotation::Revoked { family } if family == fam
    ));
    assert_eq!(rig.keys_of("tok:").await.len(), 2);
    assert_eq!(
        s.rotate(&new_digest(), successor(&[]), now, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Invalid
    );

    // A family ends at its end, on the given clock.
    let (f2, r2) = family(&rig, &alice());
    s.start_family(f2.clone(), r2.clone()).await.unwrap();
    assert!(
        s.find(&r2.digest, now + DAY - MINUTE)
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.find(&r2.digest, now + DAY).await.unwrap().is_none());
    assert_eq!(
        s.rotate(&r2.digest, successor(&[]), now + DAY, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Invalid
    );
    assert_eq!(s.revoke_family(&f2.id).await.unwrap(), Some(f2.clone()));
    assert_eq!(s.revoke_family(&f2.id).await.unwrap(), Some(f2.clone()));
    assert!(s.find(&r2.digest, now).await.unwrap().is_none());
    assert_eq!(s.revoke_family(&FamilyId::new("nope")).await.unwrap(), None);

    // revoke_subject: every family of the subject; API keys only when told.
    let (f3, r3) = family(&rig, &alice());
    s.start_family(f3.clone(), r3.clone()).await.unwrap();
    let (bobs, bob_first) = family(&rig, &UserId::new("bob"));
    s.start_family(bobs, bob_first.clone()).await.unwrap();
    let key = api_key(&rig, &alice());
    s.insert(key.clone()).await.unwrap();
    let revoked: BTreeSet<FamilyId> = s
        .revoke_subject(&alice(), RevokeScope::RefreshTokens)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(revoked, [fam.id.clone(), f2.id, f3.id].into());
    assert!(s.find(&r3.digest, now).await.unwrap().is_none());
    assert!(s.find(&bob_first.digest, now).await.unwrap().is_some());
    assert!(s.find(&key.digest, now).await.unwrap().is_some());
    s.revoke_subject(&alice(), RevokeScope::Everything)
        .await
        .unwrap();
    assert!(s.find(&key.digest, now).await.unwrap().is_none());

    // Purge: alice's three families and their tokens go; bob's stay.
    let purged = s.purge_expired(now).await.unwrap();
    assert_eq!(
        purged,
        3 + 2 + 1 + 1 + 1,
        "families, tokens of fam, r2, r3, key"
    );
    assert_eq!(rig.keys_of("fam:").await.len(), 1);
    assert_eq!(rig.keys_of("tok:").await.len(), 1);
    assert!(s.find(&bob_first.digest, now).await.unwrap().is_some());
    rig.finish().await;
}

/// H5: a rotation whose successor cannot be written changes nothing.
#[tokio::test]
async fn rotation_is_all_or_nothing() {
    let Some(rig) = rig("rotation_is_all_or_nothing").await else {
        return;
    };
    let s: &dyn TokenStore = &rig.store;
    let now = rig.clock.now();
    let (fam, first) = family(&rig, &alice());
    s.start_family(fam, first.clone()).await.unwrap();
    let taken = api_key(&rig, &alice());
    s.insert(taken.clone()).await.unwrap();
    let spec = Successor::new(
        TokenId::generate().unwrap(),
        taken.digest,
        scopes(&[]),
        None,
    );
    assert!(matches!(
        s.rotate(&first.digest, spec, now, Duration::ZERO).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.find(&first.digest, now).await.unwrap().is_some());
    assert_eq!(s.find(&taken.digest, now).await.unwrap(), Some(taken));
    assert!(matches!(
        s.rotate(&first.digest, successor(&[]), now, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));
    rig.finish().await;
}

async fn rotate_concurrently(rig: &Rig, presented: TokenDigest, grace: Duration) -> Vec<Rotation> {
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let now = rig.clock.now();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = rig.store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                TokenStore::rotate(&store, &presented, successor(&["read"]), now, grace).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    results
}

/// H3: 32 concurrent rotations without grace: one Rotated, one successor
/// stored; the first loser's reuse revokes the family, the rest find it
/// revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotation_has_one_winner() {
    let Some(rig) = rig("concurrent_rotation_has_one_winner").await else {
        return;
    };
    let (fam, first) = family(&rig, &alice());
    rig.store
        .start_family(fam.clone(), first.clone())
        .await
        .unwrap();
    let results = rotate_concurrently(&rig, first.digest, Duration::ZERO).await;
    let rotated: Vec<&TokenRecord> = results
        .iter()
        .filter_map(|r| match r {
            Rotation::Rotated { successor, .. } => Some(successor),
            _ => None,
        })
        .collect();
    let reused = results
        .iter()
        .filter(|r| matches!(r, Rotation::Reused { .. }))
        .count();
    let revoked = results
        .iter()
        .filter(|r| matches!(r, Rotation::Revoked { .. }))
        .count();
    assert_eq!((rotated.len(), reused, revoked), (1, 1, 30), "{results:?}");

    // The store's state: the presented token and exactly one successor, the
    // winner's, in a revoked family.
    let tokens = rig.keys_of("tok:").await;
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    let successor_key = format!("{}tok:{}", rig.prefix, rotated[0].digest.to_hex());
    assert!(tokens.contains(&successor_key));
    let succ: Option<String> = rig
        .cmd(
            redis::cmd("HGET")
                .arg(format!("{}tok:{}", rig.prefix, first.digest.to_hex()))
                .arg("succ"),
        )
        .await;
    assert_eq!(succ, Some(rotated[0].digest.to_hex()));
    let family_revoked: Option<String> = rig
        .cmd(
            redis::cmd("HGET")
                .arg(format!("{}fam:{}", rig.prefix, fam.id.as_str()))
                .arg("revoked"),
        )
        .await;
    assert_eq!(family_revoked.as_deref(), Some("1"));
    assert_eq!(
        rig.store
            .find(&rotated[0].digest, rig.clock.now())
            .await
            .unwrap(),
        None
    );
    rig.finish().await;
}

/// H4: with a grace window, the 31 repeat presentations all get the one
/// stored successor, and the family stays live.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotation_within_grace_shares_one_successor() {
    let Some(rig) = rig("concurrent_rotation_within_grace_shares_one_successor").await else {
        return;
    };
    let (fam, first) = family(&rig, &alice());
    rig.store.start_family(fam, first.clone()).await.unwrap();
    let results = rotate_concurrently(&rig, first.digest, Duration::from_secs(10)).await;
    let mut rotated = Vec::new();
    let mut grace = Vec::new();
    for result in &results {
        match result {
            Rotation::Rotated { successor, .. } => rotated.push(successor.clone()),
            Rotation::Grace {
                successor,
                previous,
            } => {
                assert_eq!(previous.digest, first.digest);
                grace.push(successor.clone());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((rotated.len(), grace.len()), (1, 31));
    assert!(
        grace.iter().all(|s| *s == rotated[0]),
        "one successor for all"
    );
    assert_eq!(rig.keys_of("tok:").await.len(), 2);
    let now = rig.clock.now();
    assert_eq!(
        rig.store.find(&rotated[0].digest, now).await.unwrap(),
        Some(rotated[0].clone()),
        "family live"
    );
    // Past the grace window the repeat is a reuse.
    let later = now + Duration::from_secs(10);
    assert!(matches!(
        TokenStore::rotate(
            &rig.store,
            &first.digest,
            successor(&[]),
            later,
            Duration::from_secs(10)
        )
        .await
        .unwrap(),
        Rotation::Reused { .. }
    ));
    rig.finish().await;
}

/// Expiry is decided by the clock the caller uses (2023 here), and TTLs are
/// relative to it: the server's own clock (years later) does not expire the
/// keys at once.
#[tokio::test]
async fn expiry_follows_the_injected_clock() {
    let Some(rig) = rig("expiry_follows_the_injected_clock").await else {
        return;
    };
    let s = &rig.store;
    let now = rig.clock.now();
    assert!(
        now < SystemTime::now() - 365 * DAY,
        "the manual clock is in the past"
    );

    let mut key = api_key(&rig, &alice());
    key.expires_at = Some(now + MINUTE);
    s.insert(key.clone()).await.unwrap();
    let token_key = format!("{}tok:{}", rig.prefix, key.digest.to_hex());
    let ttl = pttl(&rig, &token_key).await;
    assert!((1..=65_000).contains(&ttl), "a minute plus slack: {ttl}");
    assert!(
        s.find(&key.digest, now + MINUTE - Duration::from_nanos(1))
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.find(&key.digest, now + MINUTE).await.unwrap().is_none());
    // The clock moves, not the server: the record is still there and read as
    // expired.
    rig.clock.advance(2 * MINUTE);
    assert!(
        s.find(&key.digest, rig.clock.now())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(rig.keys_of("tok:").await.len(), 1);

    // Something whose end has passed on the clock still gets a short TTL,
    // never none and never a negative one.
    let stale = now - DAY;
    s.revoke_token("old", stale).await.unwrap();
    let ttl = pttl(&rig, &format!("{}rv:jti:old", rig.prefix)).await;
    assert!((1..=5_000).contains(&ttl), "{ttl}");
    rig.finish().await;
}

// -------------------------------------------------------------- sessions

#[tokio::test]
async fn sessions_create_load_save_rotate_delete() {
    let Some(rig) = rig("sessions_create_load_save_rotate_delete").await else {
        return;
    };
    let s: &dyn SessionStore = &rig.store;
    let now = rig.clock.now();
    let digest = new_digest();
    let state = session_state(&rig, Some("alice"), 30 * MINUTE);
    assert!(s.create(&digest, &state).await.unwrap());
    assert!(
        !s.create(&digest, &session_state(&rig, None, MINUTE))
            .await
            .unwrap()
    );
    assert_eq!(s.load(&digest, now).await.unwrap(), Some(state.clone()));
    let ttl = pttl(&rig, &format!("{}sess:{}", rig.prefix, digest.to_hex())).await;
    assert!((1..=30 * 60_000 + 5_000).contains(&ttl), "{ttl}");

    let mut saved = state.clone();
    saved.data.insert("k".into(), serde_json::json!(42));
    assert!(s.save(&digest, &saved).await.unwrap());
    assert_eq!(s.load(&digest, now).await.unwrap(), Some(saved.clone()));

    let new = new_digest();
    assert_eq!(s.rotate(&digest, &new, &saved).await.unwrap(), Moved::Done);
    assert_eq!(s.load(&digest, now).await.unwrap(), None);
    assert_eq!(
        s.rotate(&digest, &new_digest(), &saved).await.unwrap(),
        Moved::Gone
    );
    let other = new_digest();
    assert!(
        s.create(&other, &session_state(&rig, None, MINUTE))
            .await
            .unwrap()
    );
    assert_eq!(s.rotate(&new, &other, &saved).await.unwrap(), Moved::Taken);
    assert_eq!(s.load(&new, now).await.unwrap(), Some(saved.clone()));
    assert_eq!(s.rotate(&new, &new, &saved).await.unwrap(), Moved::Taken);

    let listed = s.list_subject(&alice(), now).await.unwrap();
    assert_eq!(listed, vec![(new, saved.clone())]);

    assert!(s.delete(&new).await.unwrap());
    assert!(!s.delete(&new).await.unwrap());
    assert_eq!(s.load(&new, now).await.unwrap(), None);
    assert!(!s.save(&new, &saved).await.unwrap(), "no resurrection");
    assert!(s.list_subject(&alice(), now).await.unwrap().is_empty());
    // Listing pruned the index of the deleted session.
    let members: Vec<String> = rig
        .cmd(redis::cmd("SMEMBERS").arg(format!("{}sub:sess:alice", rig.prefix)))
        .await;
    assert!(members.is_empty(), "{members:?}");
    rig.finish().await;
}

#[tokio::test]
async fn sessions_index_expiry_purge_and_corruption() {
    let Some(rig) = rig("sessions_index_expiry_purge_and_corruption").await else {
        return;
    };
    let s: &dyn SessionStore = &rig.store;
    let start = rig.clock.now();
    let a = new_digest();
    let c = new_digest();
    let bob = new_digest();
    let long = new_digest();
    s.create(&a, &session_state(&rig, Some("alice"), 30 * MINUTE))
        .await
        .unwrap();
    s.create(&c, &session_state(&rig, Some("alice"), 30 * MINUTE))
        .await
        .unwrap();
    s.create(&bob, &session_state(&rig, Some("bob"), 30 * MINUTE))
        .await
        .unwrap();
    s.create(&long, &session_state(&rig, Some("carol"), 10 * 60 * MINUTE))
        .await
        .unwrap();

    let listed: BTreeSet<String> = s
        .list_subject(&alice(), start)
        .await
        .unwrap()
        .iter()
        .map(|(d, _)| d.to_hex())
        .collect();
    assert_eq!(listed, [a.to_hex(), c.to_hex()].into());
    assert_eq!(s.delete_subject(&alice(), Some(&a)).await.unwrap(), 1);
    assert!(s.load(&a, start).await.unwrap().is_some());
    assert!(s.load(&c, start).await.unwrap().is_none());
    assert!(s.load(&bob, start).await.unwrap().is_some());

    // Idle expiry decided on the given time, not the server's.
    let late = start + 31 * MINUTE;
    assert!(s.list_subject(&alice(), late).await.unwrap().is_empty());
    assert!(s.load(&bob, late).await.unwrap().is_none());
    assert!(
        rig.keys_of(&format!("sess:{}", bob.to_hex()))
            .await
            .is_empty(),
        "an expired session is deleted when loaded"
    );
    assert!(s.load(&long, late).await.unwrap().is_some());
    assert_eq!(s.purge_expired(late).await.unwrap(), 1, "a");
    assert_eq!(rig.keys_of("sess:").await.len(), 1);
    assert!(s.load(&long, late).await.unwrap().is_some());

    // K8: an undecodable record reads as no session, and goes.
    let key = format!("{}sess:{}", rig.prefix, long.to_hex());
    let _: () = rig
        .cmd(redis::cmd("SET").arg(&key).arg(b"\xff{garbage".as_slice()))
        .await;
    assert!(s.load(&long, start).await.unwrap().is_none());
    assert!(rig.keys_of("sess:").await.is_empty());

    // delete_subject leaves other subjects' and undecodable records alone.
    let d = new_digest();
    s.create(&d, &session_state(&rig, Some("alice"), 30 * MINUTE))
        .await
        .unwrap();
    let e = new_digest();
    s.create(&e, &session_state(&rig, Some("alice"), 30 * MINUTE))
        .await
        .unwrap();
    let e_key = format!("{}sess:{}", rig.prefix, e.to_hex());
    let _: () = rig.cmd(redis::cmd("SET").arg(&e_key).arg("not json")).await;
    assert_eq!(s.delete_subject(&alice(), None).await.unwrap(), 1);
    assert_eq!(rig.keys_of("sess:").await, vec![e_key]);
    assert_eq!(s.purge_expired(start).await.unwrap(), 1, "undecodable");
    rig.finish().await;
}

/// C9: a save racing a delete never brings the session back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn save_racing_delete_leaves_it_deleted() {
    let Some(rig) = rig("save_racing_delete_leaves_it_deleted").await else {
        return;
    };
    let now = rig.clock.now();
    for _ in 0..20 {
        let digest = new_digest();
        let state = session_state(&rig, Some("alice"), 30 * MINUTE);
        assert!(rig.store.create(&digest, &state).await.unwrap());
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let (saver, deleter) = (rig.store.clone(), rig.store.clone());
        let b = barrier.clone();
        let save = tokio::spawn(async move {
            b.wait().await;
            saver.save(&digest, &state).await
        });
        let delete = tokio::spawn(async move {
            barrier.wait().await;
            deleter.delete(&digest).await
        });
        save.await.unwrap().unwrap();
        assert!(delete.await.unwrap().unwrap());
        assert_eq!(rig.store.load(&digest, now).await.unwrap(), None);
        let exists: i64 = rig
            .cmd(redis::cmd("EXISTS").arg(format!("{}sess:{}", rig.prefix, digest.to_hex())))
            .await;
        assert_eq!(exists, 0, "resurrected");
    }
    assert!(
        rig.store
            .list_subject(&alice(), now)
            .await
            .unwrap()
            .is_empty()
    );
    rig.finish().await;
}

// ----------------------------------------------------------- revocations

#[tokio::test]
async fn revocations_by_token_family_and_subject() {
    let Some(rig) = rig("revocations_by_token_family_and_subject").await else {
        return;
    };
    let s: &dyn Revocations = &rig.store;
    let other = rig.other_instance().await;
    let other: &dyn Revocations = &other;
    let now = rig.clock.now();
    let until = now + 15 * MINUTE;
    let check = RevocationCheck::new;
    assert!(
        !s.is_revoked(check("j1", Some("f1"), "alice", now), now)
            .await
            .unwrap()
    );

    s.revoke_token("j1", until).await.unwrap();
    assert!(
        other
            .is_revoked(check("j1", None, "alice", now), now)
            .await
            .unwrap()
    );
    assert!(
        !other
            .is_revoked(check("j2", None, "alice", now), now)
            .await
            .unwrap()
    );
    assert!(
        !other
            .is_revoked(check("j1", None, "alice", now), until)
            .await
            .unwrap()
    );
    // An earlier `until` never shortens an entry.
    s.revoke_token("j1", now).await.unwrap();
    assert!(
        other
            .is_revoked(check("j1", None, "alice", now), now)
            .await
            .unwrap()
    );

    s.revoke_family(&FamilyId::new("f1"), until).await.unwrap();
    assert!(
        other
            .is_revoked(check("j3", Some("f1"), "alice", now), now)
            .await
            .unwrap()
    );
    assert!(
        !other
            .is_revoked(check("j3", Some("f2"), "alice", now), now)
            .await
            .unwrap()
    );
    assert!(
        !other
            .is_revoked(check("j3", Some("f1"), "alice", now), until)
            .await
            .unwrap()
    );

    s.revoke_subject_before(&alice(), now, until).await.unwrap();
    assert!(
        other
            .is_revoked(check("j4", None, "alice", now - MINUTE), now)
            .await
            .unwrap()
    );
    assert!(
        !other
            .is_revoked(check("j4", None, "alice", now), now)
            .await
            .unwrap()
    );
    assert!(
        !other
            .is_revoked(check("j4", None, "bob", now - MINUTE), now)
            .await
            .unwrap()
    );
    // A later cut-off replaces an earlier one; an earlier one undoes nothing.
    s.revoke_subject_before(&alice(), now + MINUTE, until)
        .await
        .unwrap();
    s.revoke_subject_before(&alice(), now - DAY, now)
        .await
        .unwrap();
    assert!(
        other
            .is_revoked(check("j5", None, "alice", now), now)
            .await
            .unwrap()
    );
    assert!(
        !other
            .is_revoked(check("j5", None, "alice", now), until)
            .await
            .unwrap()
    );

    // An unreadable entry revokes: a check never fails open.
    let _: () = rig
        .cmd(
            redis::cmd("SET")
                .arg(format!("{}rv:jti:j9", rig.prefix))
                .arg("garbage"),
        )
        .await;
    assert!(
        s.is_revoked(check("j9", None, "carol", now), now)
            .await
            .unwrap()
    );
    rig.finish().await;
}

// -------------------------------------------------------------- one-time

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_time_tokens_are_consumed_once() {
    let Some(rig) = rig("one_time_tokens_are_consumed_once").await else {
        return;
    };
    let id = new_digest();
    let until = rig.clock.now() + 60 * MINUTE;
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = rig.store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.consume(&id, until).await
            })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1);
    assert_eq!(rig.keys_of("ot:").await.len(), 1);

    // Remembered until `until` on the given clock, then purged.
    let s: &dyn OneTimeStore = &rig.store;
    assert_eq!(s.purge_expired(until - MINUTE).await.unwrap(), 0);
    assert!(!s.consume(&id, until).await.unwrap());
    assert_eq!(s.purge_expired(until).await.unwrap(), 1);
    assert!(s.consume(&id, until).await.unwrap());
    rig.finish().await;
}

// ------------------------------------------------------------ key layout

/// Everything lives under the prefix, has a TTL no longer than its end plus
/// the slack (except what never ends), and holds no raw secret.
#[tokio::test]
async fn keys_are_prefixed_bounded_and_hold_no_secrets() {
    let Some(rig) = rig("keys_are_prefixed_bounded_and_hold_no_secrets").await else {
        return;
    };
    let s = &rig.store;
    let tokens: &dyn TokenStore = s;
    let now = rig.clock.now();
    let hasher = TokenHasher::sha256();
    let refresh = OpaqueToken::generate(TokenKind::Refresh).unwrap();
    let key_token = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
    let (fam, mut first) = family(&rig, &alice());
    first.digest = hasher.digest(&refresh);
    s.start_family(fam, first.clone()).await.unwrap();
    let mut key = api_key(&rig, &alice());
    key.digest = hasher.digest(&key_token);
    s.insert(key).await.unwrap();
    let mut expiring = api_key(&rig, &alice());
    expiring.expires_at = Some(now + MINUTE);
    s.insert(expiring).await.unwrap();
    tokens
        .rotate(&first.digest, successor(&["read"]), now, Duration::ZERO)
        .await
        .unwrap();
    let session_id = "sessionid-raw-value-that-must-not-be-stored";
    let session_digest = TokenDigest::from_bytes([7; 32]);
    s.create(
        &session_digest,
        &session_state(&rig, Some("alice"), 30 * MINUTE),
    )
    .await
    .unwrap();
    s.consume(&new_digest(), now + MINUTE).await.unwrap();
    Revocations::revoke_family(s, &FamilyId::new("f"), now + 15 * MINUTE)
        .await
        .unwrap();
    s.revoke_subject_before(&alice(), now, now + 15 * MINUTE)
        .await
        .unwrap();

    let secrets = [
        refresh.expose_secret(),
        key_token.expose_secret(),
        session_id,
    ];
    let keys = rig.keys().await;
    assert!(keys.len() >= 10, "{keys:?}");
    for k in &keys {
        assert!(k.starts_with(&rig.prefix));
        let kind: String = rig.cmd(redis::cmd("TYPE").arg(k)).await;
        let dump: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![rig.cmd(redis::cmd("GET").arg(k)).await],
            "hash" => rig.cmd(redis::cmd("HGETALL").arg(k)).await,
            "set" => rig.cmd(redis::cmd("SMEMBERS").arg(k)).await,
            other => panic!("unexpected type {other} of {k}"),
        };
        for secret in secrets {
            let core = &secret[secret.len() - 40..];
            assert!(!k.contains(core));
            for item in &dump {
                assert!(!String::from_utf8_lossy(item).contains(core), "{k}");
            }
        }
        let ttl = pttl(&rig, k).await;
        let never_ends = k.ends_with(&format!("sub:keys:{}", alice().as_str()))
            || dump.iter().any(|item| item.as_slice() == b"api_key")
                && !dump.iter().any(|item| item.as_slice() == b"exp");
        if never_ends {
            assert_eq!(ttl, -1, "{k}");
        } else {
            // At most a day (the family) plus the slack.
            assert!((1..=86_405_000).contains(&ttl), "{k}: {ttl}");
        }
    }
    rig.finish().await;
}

// --------------------------------------------------------------- faults

/// A server that accepts connections and never answers.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

fn short() -> RedisOptions {
    RedisOptions::default().timeout(Duration::from_millis(200))
}

/// A store that hangs fails with Unavailable within its timeout, for every
/// trait; nothing passes. Needs no Redis.
#[tokio::test]
async fn a_silent_server_makes_every_operation_unavailable() {
    let (url, server) = silent_server().await;
    // The guard keeps a broken timeout from hanging the suite; it asserts no
    // duration.
    tokio::time::timeout(Duration::from_secs(30), async {
        let eager = RedisStore::connect(&url, short()).await;
        assert!(matches!(eager, Err(ConfigError::Setup { .. })), "{eager:?}");

        let store = RedisStore::connect_lazy(&url, short()).unwrap();
        let now = SystemTime::now();
        let digest = TokenDigest::from_bytes([1; 32]);
        let unavailable = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Unavailable(_)));
        assert!(unavailable(store.find(&digest, now).await.map(drop)));
        assert!(unavailable(
            TokenStore::rotate(&store, &digest, successor(&[]), now, Duration::ZERO)
                .await
                .map(drop)
        ));
        assert!(unavailable(
            store
                .is_revoked(RevocationCheck::new("j", Some("f"), "alice", now), now)
                .await
                .map(drop)
        ));
        assert!(unavailable(store.load(&digest, now).await.map(drop)));
        assert!(unavailable(store.consume(&digest, now).await.map(drop)));
        assert!(unavailable(
            SessionStore::purge_expired(&store, now).await.map(drop)
        ));
    })
    .await
    .expect("operations must give up on their own");
    server.abort();
}

/// A refused connection is Unavailable too. Needs no Redis.
#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", listener.local_addr().unwrap());
    drop(listener);
    tokio::time::timeout(Duration::from_secs(30), async {
        assert!(matches!(
            RedisStore::connect(&url, short()).await,
            Err(ConfigError::Setup { .. })
        ));
        let store = RedisStore::connect_lazy(&url, short()).unwrap();
        let digest = TokenDigest::from_bytes([1; 32]);
        assert!(matches!(
            store.find(&digest, SystemTime::now()).await,
            Err(StoreError::Unavailable(_))
        ));
    })
    .await
    .expect("operations must give up on their own");
}

#[tokio::test]
async fn bad_configuration_fails_at_construction() {
    assert!(matches!(
        RedisStore::connect("http://example.com/", RedisOptions::default()).await,
        Err(ConfigError::Invalid { .. })
    ));
    let err =
        RedisStore::connect_lazy("redis://user:hunter2@[bad", RedisOptions::default()).unwrap_err();
    assert!(
        !format!("{err:?} {err}").contains("hunter2"),
        "the password leaked"
    );
    assert!(matches!(
        RedisStore::connect_lazy("redis://127.0.0.1/", RedisOptions::default().prefix("")),
        Err(ConfigError::Invalid {
            setting: "prefix",
            ..
        })
    ));
    assert!(matches!(
        RedisStore::connect_lazy(
            "redis://127.0.0.1/",
            RedisOptions::default().timeout(Duration::ZERO)
        ),
        Err(ConfigError::Invalid {
            setting: "timeout",
            ..
        })
    ));
}

#[test]
fn lazy_connection_outside_a_runtime_is_a_configuration_error() {
    assert!(matches!(
        RedisStore::connect_lazy("redis://127.0.0.1/", RedisOptions::default()),
        Err(ConfigError::Invalid {
            setting: "runtime",
            ..
        })
    ));
}
