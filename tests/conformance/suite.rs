//! The conformance tests, written once for every backend.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tessera::error::{CreateUserError, StoreError};
use tessera::jwt::RevocationCheck;
use tessera::keys::{HmacKey, HmacKeys};
use tessera::onetime::{OneTimeError, OneTimeTokens, Purpose};
use tessera::session::{LoginOptions, Moved, SessionId, SessionManager};
use tessera::throttle::{AccountLimits, Attempt, BucketKeys, RateLimit};
use tessera::token::{
    ApiKeys, Family, FamilyId, OpaqueToken, RefreshConfig, RefreshTokens, RevokeScope, Rotation,
    Successor, TokenDigest, TokenError, TokenHasher, TokenId, TokenKind, TokenRecord,
};
use tessera::users::{Login, NewUser, PasswordUpdate, UserId};

use crate::harness::{Backend, Stores};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

fn scopes(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn subject() -> UserId {
    UserId::new("alice")
}

fn clock_arc(b: &dyn Backend) -> Arc<dyn tessera::clock::Clock> {
    Arc::new(b.clock().clone())
}

fn refresh_tokens(
    b: &dyn Backend,
    s: &Stores,
    config: RefreshConfig,
    successor_keys: bool,
) -> RefreshTokens {
    let mut builder = RefreshTokens::builder(s.tokens.clone(), s.revocations.clone())
        .clock(clock_arc(b))
        .config(config);
    if successor_keys {
        builder =
            builder.successor_keys(HmacKeys::single(HmacKey::new("s1", vec![4; 32]).unwrap()));
    }
    builder.build().unwrap()
}

fn record(kind: TokenKind, digest: TokenDigest, b: &dyn Backend) -> TokenRecord {
    TokenRecord::new(
        TokenId::generate().unwrap(),
        digest,
        kind,
        subject(),
        scopes(&["read"]),
        b.clock().now(),
    )
}

fn digest_of(token: &OpaqueToken) -> TokenDigest {
    TokenHasher::sha256().digest(token)
}

use tessera::clock::Clock as _;

// ---------------------------------------------------------------- tokens

/// insert, find, record_use, list, revoke, revoke_api_key, expiry.
pub async fn tokens_api_keys(b: &dyn Backend) {
    let s = b.stores().await;
    let now = b.clock().now();
    let key = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
    let mut rec = record(TokenKind::ApiKey, digest_of(&key), b);
    rec.name = Some("ci".into());
    s.tokens.insert(rec.clone()).await.unwrap();
    // A stored record is never overwritten.
    let duplicate = s.tokens.insert(rec.clone()).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{}: {duplicate:?}",
        b.name()
    );

    let found = s.tokens.find(&rec.digest, now).await.unwrap().unwrap();
    assert_eq!(found, rec, "{}", b.name());
    let unknown = digest_of(&OpaqueToken::generate(TokenKind::ApiKey).unwrap());
    assert_eq!(s.tokens.find(&unknown, now).await.unwrap(), None);

    b.clock().advance(MINUTE);
    let later = b.clock().now();
    s.tokens.record_use(&rec.digest, later).await.unwrap();
    let listed = s.tokens.list_api_keys(&subject(), later).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(later));
    assert_eq!(listed[0].name.as_deref(), Some("ci"));
    assert!(
        s.tokens
            .list_api_keys(&UserId::new("bob"), later)
            .await
            .unwrap()
            .is_empty()
    );

    // Another subject cannot revoke it; the owner can.
    assert!(
        !s.tokens
            .revoke_api_key(&UserId::new("bob"), &rec.id)
            .await
            .unwrap()
    );
    assert!(s.tokens.find(&rec.digest, later).await.unwrap().is_some());
    assert!(s.tokens.revoke_api_key(&subject(), &rec.id).await.unwrap());
    assert!(!s.tokens.revoke_api_key(&subject(), &rec.id).await.unwrap());
    assert_eq!(s.tokens.find(&rec.digest, later).await.unwrap(), None);
    assert!(
        s.tokens
            .list_api_keys(&subject(), later)
            .await
            .unwrap()
            .is_empty()
    );

    // revoke by digest, and expiry on the given clock.
    let other = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
    let mut expiring = record(TokenKind::ApiKey, digest_of(&other), b);
    expiring.expires_at = Some(later + MINUTE);
    s.tokens.insert(expiring.clone()).await.unwrap();
    assert!(
        s.tokens
            .find(&expiring.digest, later)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.tokens
            .find(&expiring.digest, later + MINUTE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.tokens.revoke(&expiring.digest).await.unwrap());
    assert!(!s.tokens.revoke(&unknown).await.unwrap());
}

/// start_family, find, rotate (Rotated, Reused, Invalid), revoke_family,
/// revoke_subject, the family's end.
pub async fn tokens_families(b: &dyn Backend) {
    let s = b.stores().await;
    let now = b.clock().now();
    let family = Family::new(
        FamilyId::generate().unwrap(),
        subject(),
        now,
        now + 30 * DAY,
    );
    let rt1 = OpaqueToken::generate(TokenKind::Refresh).unwrap();
    let mut first = record(TokenKind::Refresh, digest_of(&rt1), b);
    first.scopes = scopes(&["read", "write"]);
    first.family = Some(family.id.clone());
    first.expires_at = Some(family.expires_at);
    s.tokens
        .start_family(family.clone(), first.clone())
        .await
        .unwrap();
    assert_eq!(
        s.tokens.find(&first.digest, now).await.unwrap(),
        Some(first.clone())
    );

    // Rotation narrows to the allowed scopes and keeps the family's end.
    let rt2 = OpaqueToken::generate(TokenKind::Refresh).unwrap();
    let spec = Successor::new(
        TokenId::generate().unwrap(),
        digest_of(&rt2),
        scopes(&["read", "admin"]),
        None,
    );
    let Rotation::Rotated {
        previous,
        successor,
    } = s
        .tokens
        .rotate(&first.digest, spec, now, Duration::ZERO)
        .await
        .unwrap()
    else {
        panic!("{}: first rotation must succeed", b.name());
    };
    assert_eq!(previous.digest, first.digest);
    assert_eq!(successor.scopes, scopes(&["read"]));
    assert_eq!(successor.family.as_ref(), Some(&family.id));
    assert_eq!(successor.expires_at, Some(family.expires_at));
    assert_eq!(successor.subject, subject());
    assert_eq!(
        s.tokens.find(&first.digest, now).await.unwrap(),
        None,
        "{}: used up",
        b.name()
    );
    assert_eq!(
        s.tokens.find(&successor.digest, now).await.unwrap(),
        Some(successor.clone())
    );

    // Presenting the used token again revokes the family, newest included.
    let rt3 = OpaqueToken::generate(TokenKind::Refresh).unwrap();
    let spec = Successor::new(
        TokenId::generate().unwrap(),
        digest_of(&rt3),
        scopes(&["read"]),
        None,
    );
    match s
        .tokens
        .rotate(&first.digest, spec, now, Duration::ZERO)
        .await
        .unwrap()
    {
        Rotation::Reused { family: revoked } => assert_eq!(revoked.id, family.id),
        other => panic!("{}: expected reuse, got {other:?}", b.name()),
    }
    assert_eq!(s.tokens.find(&successor.digest, now).await.unwrap(), None);
    assert_eq!(
        s.tokens.find(&digest_of(&rt3), now).await.unwrap(),
        None,
        "no successor on reuse"
    );
    let spec = Successor::new(
        TokenId::generate().unwrap(),
        digest_of(&rt3),
        scopes(&["read"]),
        None,
    );
    // A token of the revoked family: Revoked, so the caller can re-assert
    // the revocation of its access tokens.
    match s
        .tokens
        .rotate(&successor.digest, spec, now, Duration::ZERO)
        .await
        .unwrap()
    {
        Rotation::Revoked { family: revoked } => assert_eq!(revoked.id, family.id),
        other => panic!("{}: expected Revoked, got {other:?}", b.name()),
    }

    // Unknown tokens are Invalid and change nothing.
    let unknown = digest_of(&OpaqueToken::generate(TokenKind::Refresh).unwrap());
    let spec = Successor::new(
        TokenId::generate().unwrap(),
        digest_of(&rt3),
        BTreeSet::new(),
        None,
    );
    assert_eq!(
        s.tokens
            .rotate(&unknown, spec, now, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Invalid
    );

    // A family ends at its end, whatever the rotations.
    let f2 = Family::new(FamilyId::generate().unwrap(), subject(), now, now + DAY);
    let t = OpaqueToken::generate(TokenKind::Refresh).unwrap();
    let mut r = record(TokenKind::Refresh, digest_of(&t), b);
    r.family = Some(f2.id.clone());
    r.expires_at = Some(f2.expires_at);
    s.tokens.start_family(f2.clone(), r.clone()).await.unwrap();
    assert!(
        s.tokens
            .find(&r.digest, now + DAY - MINUTE)
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.tokens.find(&r.digest, now + DAY).await.unwrap().is_none());
    let spec = Successor::new(
        TokenId::generate().unwrap(),
        digest_of(&rt3),
        BTreeSet::new(),
        None,
    );
    assert_eq!(
        s.tokens
            .rotate(&r.digest, spec, now + DAY, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Invalid
    );

    // revoke_family returns the family; revoke_subject keeps API keys unless told.
    assert_eq!(
        s.tokens.revoke_family(&f2.id).await.unwrap().map(|f| f.id),
        Some(f2.id.clone())
    );
    assert!(s.tokens.find(&r.digest, now).await.unwrap().is_none());
    assert_eq!(
        s.tokens
            .revoke_family(&FamilyId::new("nope"))
            .await
            .unwrap(),
        None
    );

    let f3 = Family::new(FamilyId::generate().unwrap(), subject(), now, now + DAY);
    let t3 = OpaqueToken::generate(TokenKind::Refresh).unwrap();
    let mut r3 = record(TokenKind::Refresh, digest_of(&t3), b);
    r3.family = Some(f3.id.clone());
    r3.expires_at = Some(f3.expires_at);
    s.tokens.start_family(f3.clone(), r3.clone()).await.unwrap();
    let key = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
    let api = record(TokenKind::ApiKey, digest_of(&key), b);
    s.tokens.insert(api.clone()).await.unwrap();
    let revoked = s
        .tokens
        .revoke_subject(&subject(), RevokeScope::RefreshTokens)
        .await
        .unwrap();
    assert!(
        revoked.iter().any(|f| f.id == f3.id),
        "{}: {revoked:?}",
        b.name()
    );
    assert!(s.tokens.find(&r3.digest, now).await.unwrap().is_none());
    assert!(s.tokens.find(&api.digest, now).await.unwrap().is_some());
    // Already revoked families are returned again, so a failed propagation
    // can be retried.
    let again = s
        .tokens
        .revoke_subject(&subject(), RevokeScope::Everything)
        .await
        .unwrap();
    assert!(
        again.iter().any(|f| f.id == f3.id),
        "{}: {again:?}",
        b.name()
    );
    assert!(s.tokens.find(&api.digest, now).await.unwrap().is_none());
}

/// H5: a rotation whose successor cannot be written changes nothing.
pub async fn tokens_rotation_is_all_or_nothing(b: &dyn Backend) {
    let s = b.stores().await;
    let now = b.clock().now();
    let family = Family::new(FamilyId::generate().unwrap(), subject(), now, now + DAY);
    let rt1 = OpaqueToken::generate(TokenKind::Refresh).unwrap();
    let mut first = record(TokenKind::Refresh, digest_of(&rt1), b);
    first.family = Some(family.id.clone());
    first.expires_at = Some(family.expires_at);
    s.tokens.start_family(family, first.clone()).await.unwrap();
    // A token already stored under the successor's digest makes the write fail.
    let taken = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
    s.tokens
        .insert(record(TokenKind::ApiKey, digest_of(&taken), b))
        .await
        .unwrap();
    let spec = Successor::new(
        TokenId::generate().unwrap(),
        digest_of(&taken),
        BTreeSet::new(),
        None,
    );
    let failed = s
        .tokens
        .rotate(&first.digest, spec, now, Duration::ZERO)
        .await;
    assert!(
        matches!(failed, Err(StoreError::Conflict(_))),
        "{}: {failed:?}",
        b.name()
    );
    // RT1 is still live and rotates normally.
    assert!(s.tokens.find(&first.digest, now).await.unwrap().is_some());
    let fresh = OpaqueToken::generate(TokenKind::Refresh).unwrap();
    let spec = Successor::new(
        TokenId::generate().unwrap(),
        digest_of(&fresh),
        BTreeSet::new(),
        None,
    );
    assert!(matches!(
        s.tokens
            .rotate(&first.digest, spec, now, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));
}

/// H3: 32 concurrent refreshes, no grace: one success, one successor, and
/// the losers' reuse revokes the family.
pub async fn tokens_concurrent_rotation(b: &dyn Backend) {
    let s = b.stores().await;
    let refresh = Arc::new(refresh_tokens(b, &s, RefreshConfig::default(), false));
    let allowed = scopes(&["read"]);
    let login = refresh.issue(&subject(), allowed.clone()).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (refresh, barrier, allowed) = (refresh.clone(), barrier.clone(), allowed.clone());
            let token = login.token.expose_secret().to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                refresh.refresh(&token, &allowed, None).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(refreshed) => winners.push(refreshed),
            Err(TokenError::Reused { .. } | TokenError::Invalid) => {}
            Err(e) => panic!("{}: unexpected {e:?}", b.name()),
        }
    }
    assert_eq!(winners.len(), 1, "{}: exactly one success", b.name());
    // The single successor is dead with its family.
    let now = b.clock().now();
    assert_eq!(
        s.tokens.find(&winners[0].record.digest, now).await.unwrap(),
        None
    );
    let check = RevocationCheck::new("jti", Some(login.family.as_str()), "alice", now);
    assert!(
        s.revocations.is_revoked(check, now).await.unwrap(),
        "{}: access tokens revoked",
        b.name()
    );
}

/// H4: with a grace window, all 32 get the same successor and the family
/// stays live.
pub async fn tokens_concurrent_rotation_with_grace(b: &dyn Backend) {
    let s = b.stores().await;
    let mut config = RefreshConfig::default();
    config.grace = Duration::from_secs(10);
    let refresh = Arc::new(refresh_tokens(b, &s, config, true));
    let allowed = scopes(&["read"]);
    let login = refresh.issue(&subject(), allowed.clone()).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (refresh, barrier, allowed) = (refresh.clone(), barrier.clone(), allowed.clone());
            let token = login.token.expose_secret().to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                refresh.refresh(&token, &allowed, None).await
            })
        })
        .collect();
    let mut successors = BTreeSet::new();
    for task in tasks {
        let refreshed = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{}: {e:?}", b.name()));
        successors.insert(refreshed.token.expose_secret().to_owned());
    }
    assert_eq!(successors.len(), 1, "{}: one successor for all", b.name());
    let successor = successors.into_iter().next().unwrap();
    assert!(
        refresh.refresh(&successor, &allowed, None).await.is_ok(),
        "{}: family live",
        b.name()
    );
}

// -------------------------------------------------------------- sessions

fn sessions(b: &dyn Backend, s: &Stores) -> SessionManager {
    SessionManager::builder(s.sessions.clone())
        .clock(clock_arc(b))
        .build()
        .unwrap()
}

/// create, load, save, rotate, delete, collisions.
pub async fn sessions_lifecycle(b: &dyn Backend) {
    let s = b.stores().await;
    let manager = sessions(b, &s);
    let now = b.clock().now();
    let mut session = manager
        .login(None, &subject(), LoginOptions::default())
        .await
        .unwrap();
    let digest = session.id().digest();
    assert_eq!(
        s.sessions.load(&digest, now).await.unwrap().as_ref(),
        Some(session.state())
    );
    // A second create under the same digest changes nothing.
    let other = manager.start(None).await.unwrap();
    assert!(
        !s.sessions.create(&digest, other.state()).await.unwrap(),
        "{}",
        b.name()
    );
    assert_eq!(
        s.sessions
            .load(&digest, now)
            .await
            .unwrap()
            .unwrap()
            .subject
            .as_deref(),
        Some("alice")
    );

    session.insert("k", 42).unwrap();
    manager.save(&session).await.unwrap();
    let loaded = s.sessions.load(&digest, now).await.unwrap().unwrap();
    assert_eq!(loaded.data.get("k").and_then(|v| v.as_i64()), Some(42));

    // rotate: Done, then the old digest is Gone; a taken target is Taken.
    let new = SessionId::generate().unwrap().digest();
    assert_eq!(
        s.sessions.rotate(&digest, &new, &loaded).await.unwrap(),
        Moved::Done
    );
    assert_eq!(s.sessions.load(&digest, now).await.unwrap(), None);
    assert_eq!(
        s.sessions
            .rotate(&digest, &SessionId::generate().unwrap().digest(), &loaded)
            .await
            .unwrap(),
        Moved::Gone
    );
    let taken = other.id().digest();
    assert_eq!(
        s.sessions.rotate(&new, &taken, &loaded).await.unwrap(),
        Moved::Taken
    );
    assert!(s.sessions.load(&new, now).await.unwrap().is_some());

    assert!(s.sessions.delete(&new).await.unwrap());
    assert!(!s.sessions.delete(&new).await.unwrap());
    assert_eq!(s.sessions.load(&new, now).await.unwrap(), None);
}

/// C9: a save after a delete never brings the session back, also when
/// they race.
pub async fn sessions_no_resurrection(b: &dyn Backend) {
    let s = b.stores().await;
    let manager = sessions(b, &s);
    let now = b.clock().now();
    let session = manager
        .login(None, &subject(), LoginOptions::default())
        .await
        .unwrap();
    let digest = session.id().digest();
    assert!(s.sessions.delete(&digest).await.unwrap());
    assert!(!s.sessions.save(&digest, session.state()).await.unwrap());
    assert_eq!(s.sessions.load(&digest, now).await.unwrap(), None);

    for _ in 0..20 {
        let session = manager
            .login(None, &subject(), LoginOptions::default())
            .await
            .unwrap();
        let digest = session.id().digest();
        let (a, d) = (s.sessions.clone(), s.sessions.clone());
        let state = session.state().clone();
        let save = tokio::spawn(async move { a.save(&digest, &state).await });
        let delete = tokio::spawn(async move { d.delete(&digest).await });
        save.await.unwrap().unwrap();
        assert!(delete.await.unwrap().unwrap());
        assert_eq!(
            s.sessions.load(&digest, now).await.unwrap(),
            None,
            "{}: resurrected",
            b.name()
        );
    }
}

/// Expiry on the injected clock, list, delete_subject, purge, corruption.
pub async fn sessions_expiry_index_and_corruption(b: &dyn Backend) {
    let s = b.stores().await;
    let manager = sessions(b, &s);
    let start = b.clock().now();
    let a = manager
        .login(
            None,
            &subject(),
            LoginOptions::default().user_agent(Some("UA")),
        )
        .await
        .unwrap();
    let c = manager
        .login(None, &subject(), LoginOptions::default())
        .await
        .unwrap();
    let bob = manager
        .login(None, &UserId::new("bob"), LoginOptions::default())
        .await
        .unwrap();
    let remembered = manager
        .login(
            None,
            &UserId::new("carol"),
            LoginOptions::default().remember(true),
        )
        .await
        .unwrap();

    let listed = s.sessions.list_subject(&subject(), start).await.unwrap();
    assert_eq!(listed.len(), 2, "{}", b.name());
    assert!(
        listed
            .iter()
            .any(|(d, st)| *d == a.id().digest() && st.user_agent.as_deref() == Some("UA"))
    );

    assert_eq!(
        s.sessions
            .delete_subject(&subject(), Some(&a.id().digest()))
            .await
            .unwrap(),
        1
    );
    assert!(
        s.sessions
            .load(&a.id().digest(), start)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.sessions
            .load(&c.id().digest(), start)
            .await
            .unwrap()
            .is_none()
    );

    // Idle expiry (30 min) decided on the given time, not the server's.
    let late = start + 31 * MINUTE;
    assert!(
        s.sessions
            .load(&bob.id().digest(), late)
            .await
            .unwrap()
            .is_none(),
        "{}",
        b.name()
    );
    assert!(
        s.sessions
            .list_subject(&subject(), late)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.sessions
            .load(&remembered.id().digest(), late)
            .await
            .unwrap()
            .is_some()
    );
    let purged = s.sessions.purge_expired(late).await.unwrap();
    assert!(purged >= 1, "{}: purged {purged}", b.name());
    assert!(
        s.sessions
            .load(&remembered.id().digest(), late)
            .await
            .unwrap()
            .is_some()
    );

    // K8: an undecodable record reads as no session.
    b.corrupt_session(&remembered.id().digest()).await;
    assert!(
        s.sessions
            .load(&remembered.id().digest(), start)
            .await
            .unwrap()
            .is_none()
    );
}

// ----------------------------------------------------------- revocations

pub async fn revocations(b: &dyn Backend) {
    let s = b.stores().await;
    let now = b.clock().now();
    let until = now + 15 * MINUTE;
    let check = |jti, family, subject, iat| RevocationCheck::new(jti, family, subject, iat);
    assert!(
        !s.revocations
            .is_revoked(check("j1", Some("f1"), "alice", now), now)
            .await
            .unwrap()
    );

    s.revocations.revoke_token("j1", until).await.unwrap();
    assert!(
        s.revocations
            .is_revoked(check("j1", None, "alice", now), now)
            .await
            .unwrap()
    );
    assert!(
        !s.revocations
            .is_revoked(check("j2", None, "alice", now), now)
            .await
            .unwrap()
    );
    // Forgotten once `until` has passed, on the given clock.
    assert!(
        !s.revocations
            .is_revoked(check("j1", None, "alice", now), until)
            .await
            .unwrap()
    );

    s.revocations
        .revoke_family(&FamilyId::new("f1"), until)
        .await
        .unwrap();
    assert!(
        s.revocations
            .is_revoked(check("j3", Some("f1"), "alice", now), now)
            .await
            .unwrap()
    );
    assert!(
        !s.revocations
            .is_revoked(check("j3", Some("f2"), "alice", now), now)
            .await
            .unwrap()
    );

    s.revocations
        .revoke_subject_before(&subject(), now, until)
        .await
        .unwrap();
    assert!(
        s.revocations
            .is_revoked(check("j4", None, "alice", now - MINUTE), now)
            .await
            .unwrap()
    );
    assert!(
        !s.revocations
            .is_revoked(check("j4", None, "alice", now), now)
            .await
            .unwrap()
    );
    assert!(
        !s.revocations
            .is_revoked(check("j4", None, "bob", now - MINUTE), now)
            .await
            .unwrap()
    );
    // A later cut-off replaces an earlier one; an earlier one does not undo it.
    s.revocations
        .revoke_subject_before(&subject(), now + MINUTE, until)
        .await
        .unwrap();
    s.revocations
        .revoke_subject_before(&subject(), now - DAY, until)
        .await
        .unwrap();
    assert!(
        s.revocations
            .is_revoked(check("j5", None, "alice", now), now)
            .await
            .unwrap(),
        "{}",
        b.name()
    );
}

// -------------------------------------------------------------- one-time

/// I8 at the store: 32 concurrent consumptions, one success.
pub async fn onetime_single_use(b: &dyn Backend) {
    let s = b.stores().await;
    let tokens = Arc::new(
        OneTimeTokens::new(
            HmacKeys::single(HmacKey::new("o1", vec![6; 32]).unwrap()),
            s.onetime.clone(),
        )
        .with_clock(clock_arc(b)),
    );
    let stamp = [1u8; 32];
    let token = tokens
        .issue(&Purpose::PASSWORD_RESET, &subject(), &stamp)
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (tokens, barrier, token) = (tokens.clone(), barrier.clone(), token.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                tokens
                    .consume(&Purpose::PASSWORD_RESET, token.expose_secret(), &stamp)
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(OneTimeError::Used) => {}
            Err(e) => panic!("{}: {e:?}", b.name()),
        }
    }
    assert_eq!(ok, 1, "{}", b.name());
    let now = b.clock().now();
    let id = TokenDigest::from_bytes([9; 32]);
    assert!(s.onetime.consume(&id, now + MINUTE).await.unwrap());
    assert!(!s.onetime.consume(&id, now + MINUTE).await.unwrap());
    s.onetime.purge_expired(now).await.unwrap();
    assert!(
        !s.onetime.consume(&id, now + MINUTE).await.unwrap(),
        "{}: purged too early",
        b.name()
    );
}

// ----------------------------------------------------------------- users

pub async fn users(b: &dyn Backend) {
    let s = b.stores().await;
    let Some(users) = s.users.clone() else {
        return;
    };
    let now = b.clock().now();
    let login = Login::parse("alice@example.com").unwrap();
    let created = users
        .create(
            NewUser::new(login.clone(), "$h1$".into()).with_roles(["user"]),
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        users.find_by_login(&login).await.unwrap().as_ref(),
        Some(&created),
        "{}",
        b.name()
    );
    assert_eq!(
        users.find_by_id(&created.id).await.unwrap().as_ref(),
        Some(&created)
    );
    let again = users
        .create(
            NewUser::new(Login::parse(" Alice@Example.com").unwrap(), "$h$".into()),
            now,
        )
        .await;
    assert!(
        matches!(again, Err(CreateUserError::LoginTaken)),
        "{}",
        b.name()
    );

    let roles = scopes(&["admin", "user"]);
    assert_eq!(
        users
            .set_roles(&created.id, &roles)
            .await
            .unwrap()
            .unwrap()
            .roles,
        roles
    );
    assert!(
        !users
            .set_active(&created.id, false)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    let at = now + MINUTE;
    assert_eq!(
        users
            .record_login(&created.id, at)
            .await
            .unwrap()
            .unwrap()
            .last_login_at,
        Some(at)
    );
    let stale = users
        .update_password_hash(
            &created.id,
            "$x$",
            PasswordUpdate::Rehash {
                previous: "$other$".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(stale, None);
    let rehashed = users
        .update_password_hash(
            &created.id,
            "$h2$",
            PasswordUpdate::Rehash {
                previous: "$h1$".into(),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            rehashed.password_hash.as_str(),
            rehashed.password_changed_at
        ),
        ("$h2$", now)
    );
    let changed = users
        .update_password_hash(&created.id, "$h3$", PasswordUpdate::Changed { at })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.password_changed_at, at);
    let nobody = UserId::new("nobody");
    assert_eq!(users.find_by_id(&nobody).await.unwrap(), None);
    assert_eq!(users.set_active(&nobody, true).await.unwrap(), None);

    // Listing, a page at a time, ordered by id.
    let bob = users
        .create(
            NewUser::new(Login::parse("bob@example.com").unwrap(), "$h$".into()),
            now,
        )
        .await
        .unwrap();
    let all = users.list_users(None, 10).await.unwrap();
    assert_eq!(all.len(), 2, "{}", b.name());
    assert!(all[0].id < all[1].id);
    let first = users.list_users(None, 1).await.unwrap();
    let second = users.list_users(Some(&first[0].id), 1).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(first[0].id, second[0].id);
    assert!(
        users
            .list_users(Some(&second[0].id), 1)
            .await
            .unwrap()
            .is_empty()
    );
    assert!([&first[0].id, &second[0].id].contains(&&bob.id));

    // Concurrent creates of one login: one success.
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (users, barrier) = (users.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                users
                    .create(
                        NewUser::new(Login::parse("carol@example.com").unwrap(), "$h$".into()),
                        now,
                    )
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(CreateUserError::LoginTaken) => {}
            Err(e) => panic!("{}: {e:?}", b.name()),
        }
    }
    assert_eq!(ok, 1, "{}", b.name());
}

// -------------------------------------------------------- secrets at rest

/// G6: no raw refresh token, API key or session id is stored anywhere.
pub async fn secrets_at_rest(b: &dyn Backend) {
    let s = b.stores().await;
    let refresh = refresh_tokens(b, &s, RefreshConfig::default(), false);
    let api = ApiKeys::new(s.tokens.clone(), TokenHasher::sha256(), clock_arc(b));
    let manager = sessions(b, &s);
    let mut secrets = Vec::new();
    let login = refresh.issue(&subject(), scopes(&["read"])).await.unwrap();
    secrets.push(login.token.expose_secret().to_owned());
    let next = refresh
        .refresh(login.token.expose_secret(), &scopes(&["read"]), None)
        .await
        .unwrap();
    secrets.push(next.token.expose_secret().to_owned());
    let key = api
        .issue(&subject(), "ci", scopes(&["read"]), &scopes(&["read"]))
        .await
        .unwrap();
    secrets.push(key.token.expose_secret().to_owned());
    let session = manager
        .login(None, &subject(), LoginOptions::default())
        .await
        .unwrap();
    secrets.push(session.id().expose_secret().to_owned());
    // A failed login, through `Auth` over this backend's throttle store:
    // counted under a keyed digest, never the login or the address.
    let auth = tessera::auth::Auth::builder()
        .in_memory()
        .throttle_store(s.throttle.clone())
        .jwt_keys(
            tessera::jwt::JwtKeySet::new(
                tessera::jwt::JwtKey::generate_ed25519(Some("k")).unwrap(),
                vec![],
            )
            .unwrap(),
        )
        .secret_key([7u8; 32])
        .issuer("https://auth.example.com")
        .audience("https://api.example.com")
        .public_origin("https://app.example.com")
        .password_pool(
            tessera::password::PasswordPool::builder()
                .hasher(
                    tessera::password::Argon2Hasher::new(tessera::password::Argon2Params::new(
                        64, 1, 1,
                    ))
                    .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let client = tessera::throttle::Client::at("198.51.100.23".parse().unwrap());
    assert!(
        auth.from_client(client)
            .login(
                "carol.at.rest@example.com",
                &tessera::password::Password::new("not her password"),
                None,
            )
            .await
            .is_err()
    );

    let dump = b.dump().await;
    assert!(
        dump.iter().all(|item| !item.contains("carol.at.rest")),
        "{}: a login in clear at rest",
        b.name()
    );
    assert!(
        dump.iter().all(|item| !item.contains("198.51.100.23")),
        "{}: a client address in clear at rest",
        b.name()
    );
    assert!(
        dump.iter().any(|item| item.contains("login:")),
        "{}: the throttled login is not in the dump",
        b.name()
    );
    assert!(!dump.is_empty(), "{}: the dump saw nothing", b.name());
    for secret in &secrets {
        // The random part alone, in case a prefix was stripped.
        let core = &secret[secret.len() - 40..];
        for item in &dump {
            assert!(
                !item.contains(core),
                "{}: a raw secret is stored: {item}",
                b.name()
            );
        }
    }
}

// ----------------------------------------------------------------- faults

/// Stores that hang or fail give StoreError, never a pass.
pub async fn faults(b: &dyn Backend) {
    for stall in [false, true] {
        let s = b.faulty(stall).await;
        let now = b.clock().now();
        let digest = TokenDigest::from_bytes([1; 32]);
        let check = RevocationCheck::new("j", Some("f"), "alice", now);
        let revoked = s.revocations.is_revoked(check, now).await;
        assert!(
            matches!(revoked, Err(StoreError::Unavailable(_))),
            "{} stall={stall}: {revoked:?}",
            b.name()
        );
        assert!(matches!(
            s.tokens.find(&digest, now).await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            s.sessions.load(&digest, now).await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            s.onetime.consume(&digest, now).await,
            Err(StoreError::Unavailable(_))
        ));
        // K7: throttling fails closed, it never starts a fresh count.
        assert!(matches!(
            s.throttle
                .begin_attempt("login:x", &AccountLimits::default(), now)
                .await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            s.throttle
                .hit("login-address:x", &RateLimit::new(5, MINUTE), now)
                .await,
            Err(StoreError::Unavailable(_))
        ));
        // Through the services: refresh fails with a store error, not a pass.
        let refresh = refresh_tokens(b, &s, RefreshConfig::default(), false);
        let token = OpaqueToken::generate(TokenKind::Refresh).unwrap();
        assert!(matches!(
            refresh
                .refresh(token.expose_secret(), &BTreeSet::new(), None)
                .await,
            Err(TokenError::Store(_))
        ));
    }
}

/// A server that stalls, then is cut off, mid-life: calls fail with
/// `Unavailable` within the timeout, and the stores recover once the
/// network does.
pub async fn faults_mid_life(b: &dyn Backend) {
    let Some((s, proxy)) = b.proxied().await else {
        return;
    };
    let now = b.clock().now();
    let until = now + MINUTE;
    let check = || RevocationCheck::new("j1", None, "alice", now);
    s.revocations.revoke_token("j1", until).await.unwrap();
    assert!(
        s.revocations.is_revoked(check(), now).await.unwrap(),
        "{}",
        b.name()
    );

    for (name, fail) in [("stall", 0), ("cut", 1)] {
        if fail == 0 {
            proxy.stall();
        } else {
            proxy.cut();
        }
        let revoked = s.revocations.is_revoked(check(), now).await;
        assert!(
            matches!(revoked, Err(StoreError::Unavailable(_))),
            "{} {name}: {revoked:?}",
            b.name()
        );
        let digest = TokenDigest::from_bytes([2; 32]);
        assert!(matches!(
            s.sessions.load(&digest, now).await,
            Err(StoreError::Unavailable(_))
        ));
        proxy.forward();
        // The pool or connection manager reconnects; each failed attempt
        // ends within the store's timeout, so a few tries suffice.
        let mut recovered = false;
        for _ in 0..20 {
            if let Ok(true) = s.revocations.is_revoked(check(), now).await {
                recovered = true;
                break;
            }
        }
        assert!(recovered, "{}: no recovery after {name}", b.name());
    }
}

// ------------------------------------------------------ several instances

/// K9, G4: what one instance does, the other sees on its next call.
pub async fn several_instances(b: &dyn Backend) {
    let a = b.stores().await;
    let other = b.stores().await;
    let now = b.clock().now();

    // G4: an API key revoked on A is refused on B.
    let api_a = ApiKeys::new(a.tokens.clone(), TokenHasher::sha256(), clock_arc(b));
    let api_b = ApiKeys::new(other.tokens.clone(), TokenHasher::sha256(), clock_arc(b));
    let key = api_a
        .issue(&subject(), "k", BTreeSet::new(), &BTreeSet::new())
        .await
        .unwrap();
    assert!(
        api_b.authenticate(key.token.expose_secret()).await.is_ok(),
        "{}",
        b.name()
    );
    assert!(api_a.revoke(&subject(), &key.record.id).await.unwrap());
    assert!(matches!(
        api_b.authenticate(key.token.expose_secret()).await,
        Err(TokenError::Invalid)
    ));

    // K9: a logout on A ends the session on B.
    let sessions_a = sessions(b, &a);
    let sessions_b = sessions(b, &other);
    let session = sessions_a
        .login(None, &subject(), LoginOptions::default())
        .await
        .unwrap();
    let cookie = session.id().expose_secret().to_owned();
    assert!(sessions_b.load(&cookie).await.unwrap().is_some());
    sessions_a.logout(session).await.unwrap();
    assert!(sessions_b.load(&cookie).await.unwrap().is_none());

    // A rotation on A makes the old token a reuse on B; the revocation is
    // seen by B's access-token check.
    let refresh_a = refresh_tokens(b, &a, RefreshConfig::default(), false);
    let refresh_b = refresh_tokens(b, &other, RefreshConfig::default(), false);
    let login = refresh_a.issue(&subject(), BTreeSet::new()).await.unwrap();
    refresh_a
        .refresh(login.token.expose_secret(), &BTreeSet::new(), None)
        .await
        .unwrap();
    assert!(matches!(
        refresh_b
            .refresh(login.token.expose_secret(), &BTreeSet::new(), None)
            .await,
        Err(TokenError::Reused { .. })
    ));
    let check = RevocationCheck::new("j", Some(login.family.as_str()), "alice", now);
    assert!(other.revocations.is_revoked(check, now).await.unwrap());
}

// ---------------------------------------------------------------------------
// Throttling.

/// B5–B7 at the store: free failures, then waits that refuse without
/// counting, a lock, clearing, and failures forgotten after the lock
/// window; another instance sees the same counts.
pub async fn throttle_account_buckets(b: &dyn Backend) {
    let s = b.stores().await;
    let other = b.stores().await;
    let limits = AccountLimits::default().lock_after(8);
    let key = bucket_key("login", "alice@example.com");
    let t0 = b.clock().now();
    for n in 1..=5 {
        assert_eq!(
            s.throttle.begin_attempt(&key, &limits, t0).await.unwrap(),
            Attempt::Allowed { failures: n },
            "{}",
            b.name()
        );
    }
    match other
        .throttle
        .begin_attempt(&key, &limits, t0)
        .await
        .unwrap()
    {
        Attempt::Delayed { retry_after } => assert_eq!(retry_after, Duration::from_secs(1)),
        refusal => panic!("{}: {refusal:?}", b.name()),
    }
    assert_eq!(other.throttle.failures(&key, &limits, t0).await.unwrap(), 5);
    // Past each wait, evaluated again, up to the lock.
    let mut now = t0;
    for n in 6..=8 {
        now += limits.delay(n - 1);
        assert_eq!(
            s.throttle.begin_attempt(&key, &limits, now).await.unwrap(),
            Attempt::Allowed { failures: n },
            "{}",
            b.name()
        );
    }
    let later = now + Duration::from_secs(3600);
    match s
        .throttle
        .begin_attempt(&key, &limits, later)
        .await
        .unwrap()
    {
        Attempt::Locked { retry_after } => {
            assert_eq!(retry_after, limits.lock_window - Duration::from_secs(3600));
        }
        refusal => panic!("{}: {refusal:?}", b.name()),
    }
    assert_eq!(s.throttle.failures(&key, &limits, later).await.unwrap(), 8);
    // The lock window ends: everything is forgotten.
    let over = now + limits.lock_window;
    assert_eq!(s.throttle.failures(&key, &limits, over).await.unwrap(), 0);
    assert_eq!(
        s.throttle.begin_attempt(&key, &limits, over).await.unwrap(),
        Attempt::Allowed { failures: 1 }
    );
    // Cleared by a success, a reset or an unlock.
    other.throttle.clear(&key).await.unwrap();
    assert_eq!(s.throttle.failures(&key, &limits, over).await.unwrap(), 0);
    // Keys are independent.
    let bob = bucket_key("login", "bob@example.com");
    assert_eq!(s.throttle.failures(&bob, &limits, over).await.unwrap(), 0);
}

/// B9 at the store: 50 concurrent failures count exactly 50, and 50
/// concurrent hits of a rate bucket count 1 to 50, each once.
pub async fn throttle_concurrent_counts(b: &dyn Backend) {
    let limits = AccountLimits::default().free_failures(1000);
    let key = bucket_key("login", "concurrent@example.com");
    let now = b.clock().now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let s = b.stores().await;
        let (limits, key) = (limits.clone(), key.clone());
        tasks.spawn(async move { s.throttle.begin_attempt(&key, &limits, now).await });
    }
    let mut counted = Vec::new();
    while let Some(result) = tasks.join_next().await {
        match result.unwrap().unwrap() {
            Attempt::Allowed { failures } => counted.push(failures),
            other => panic!("{}: {other:?}", b.name()),
        }
    }
    counted.sort_unstable();
    assert_eq!(counted, (1..=50).collect::<Vec<_>>(), "{}", b.name());
    let s = b.stores().await;
    assert_eq!(s.throttle.failures(&key, &limits, now).await.unwrap(), 50);

    let rate = RateLimit::new(1000, MINUTE);
    let address = bucket_key("login-address", "203.0.113.7");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let s = b.stores().await;
        let address = address.clone();
        tasks.spawn(async move { s.throttle.hit(&address, &rate, now).await });
    }
    let mut counts = Vec::new();
    while let Some(result) = tasks.join_next().await {
        counts.push(result.unwrap().unwrap().count);
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<_>>(), "{}", b.name());
}

/// Rate buckets: the limit, `Retry-After` to the window's end, a new
/// window, forgiveness.
pub async fn throttle_rate_buckets(b: &dyn Backend) {
    let s = b.stores().await;
    let rate = RateLimit::new(3, Duration::from_secs(300));
    let key = bucket_key("register-address", "198.51.100.4");
    let t0 = b.clock().now();
    for n in 1..=3 {
        let hit = s.throttle.hit(&key, &rate, t0).await.unwrap();
        assert!(hit.allowed && hit.count == n, "{}: {hit:?}", b.name());
    }
    s.throttle.forgive(&key, &rate, t0).await.unwrap();
    let hit = s.throttle.hit(&key, &rate, t0).await.unwrap();
    assert!(hit.allowed, "{}: {hit:?}", b.name());
    assert_eq!(hit.window_start, t0, "{}", b.name());
    let refused = s
        .throttle
        .hit(&key, &rate, t0 + Duration::from_secs(100))
        .await
        .unwrap();
    assert!(!refused.allowed, "{}: {refused:?}", b.name());
    assert_eq!(
        refused.retry_after,
        Duration::from_secs(200),
        "{}",
        b.name()
    );
    let next = s
        .throttle
        .hit(&key, &rate, t0 + Duration::from_secs(300))
        .await
        .unwrap();
    assert!(next.allowed && next.count == 1, "{}: {next:?}", b.name());
    // Forgiving an event of the ended window does not reach into this one.
    s.throttle.forgive(&key, &rate, t0).await.unwrap();
    let again = s
        .throttle
        .hit(&key, &rate, t0 + Duration::from_secs(301))
        .await
        .unwrap();
    assert_eq!(again.count, 2, "{}: {again:?}", b.name());
}

/// Store keys as `Auth` makes them, under a test key.
fn bucket_key(bucket: &str, value: &str) -> String {
    BucketKeys::new(HmacKey::new("test", [9u8; 32]).unwrap()).key(bucket, value)
}
