//! What the SQLite and PostgreSQL tests share: one pass over every trait,
//! and the concurrency checks. The stores are reached only through the
//! traits, so both backends are held to the same behaviour.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_core::error::{CreateUserError, StoreError};
use tessera_core::jwt::{RevocationCheck, Revocations};
use tessera_core::onetime::OneTimeStore;
use tessera_core::session::{Moved, SessionState, SessionStore};
use tessera_core::token::{
    Family, FamilyId, RevokeScope, Rotation, Successor, TokenDigest, TokenId, TokenKind,
    TokenRecord, TokenStore,
};
use tessera_core::users::{Login, NewUser, PasswordUpdate, UserId, UserStore};

/// Every trait at once.
pub(crate) trait AllStores:
    UserStore + TokenStore + Revocations + SessionStore + OneTimeStore + 'static
{
}

impl<S: UserStore + TokenStore + Revocations + SessionStore + OneTimeStore + 'static> AllStores
    for S
{
}

/// 2023-11-14 22:13:20 UTC, the manual clock's default.
pub(crate) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A random lower-case hex string of 32 characters.
pub(crate) fn random_hex() -> String {
    TokenId::generate().unwrap().as_str().to_owned()
}

/// A random digest.
pub(crate) fn digest() -> TokenDigest {
    let hex = random_hex() + &random_hex();
    TokenDigest::from_hex(&hex).unwrap()
}

fn scopes(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A session state for `subject`, created at `at`, ending `life` later.
pub(crate) fn session_state(subject: Option<&str>, at: SystemTime, life: Duration) -> SessionState {
    let time = |t: SystemTime| {
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        serde_json::json!({"secs_since_epoch": d.as_secs(), "nanos_since_epoch": d.subsec_nanos()})
    };
    let value = serde_json::json!({
        "subject": subject,
        "created_at": time(at),
        "last_seen_at": time(at),
        "idle_expires_at": time(at + life),
        "absolute_expires_at": time(at + life * 2),
        "authenticated_at": time(at),
        "remember": false,
        "user_agent": "test",
        "privilege_stamp": null,
        "data": {"theme": "dark"},
    });
    SessionState::decode(value.to_string().as_bytes()).expect("a valid session state")
}

/// A refresh family of `subject` starting at t0 and living a day, with its
/// first token.
pub(crate) async fn start_family<S: AllStores>(store: &S, subject: &str) -> (Family, TokenRecord) {
    let family = Family::new(
        FamilyId::generate().unwrap(),
        UserId::new(subject),
        t0(),
        t0() + secs(86_400),
    );
    let mut first = TokenRecord::new(
        TokenId::generate().unwrap(),
        digest(),
        TokenKind::Refresh,
        UserId::new(subject),
        scopes(&["notes:read", "notes:write"]),
        t0(),
    );
    first.family = Some(family.id.clone());
    first.expires_at = Some(family.expires_at);
    store
        .start_family(family.clone(), first.clone())
        .await
        .unwrap();
    (family, first)
}

pub(crate) fn successor() -> Successor {
    Successor::new(
        TokenId::generate().unwrap(),
        digest(),
        scopes(&["notes:read"]),
        None,
    )
}

pub(crate) async fn exercise_users<S: AllStores>(store: &S) {
    let login = Login::parse("Alice@Example.com").unwrap();
    let alice = UserStore::create(
        store,
        NewUser::new(login.clone(), "$hash-1$".into()).with_roles(["user", "admin"]),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(alice.id.as_str().len(), 32);
    assert!(alice.id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(alice.login.as_str(), "alice@example.com");
    assert_eq!(alice.roles, scopes(&["admin", "user"]));
    assert!(alice.active);
    assert_eq!(alice.created_at, t0());
    assert_eq!(alice.password_changed_at, t0());
    assert_eq!(alice.last_login_at, None);
    assert_eq!(
        store.find_by_login(&login).await.unwrap().as_ref(),
        Some(&alice)
    );
    assert_eq!(
        store.find_by_id(&alice.id).await.unwrap().as_ref(),
        Some(&alice)
    );
    let unknown = UserId::new("unknown");
    assert_eq!(store.find_by_id(&unknown).await.unwrap(), None);
    assert_eq!(
        store
            .find_by_login(&Login::parse("bob@example.com").unwrap())
            .await
            .unwrap(),
        None
    );

    let again = UserStore::create(
        store,
        NewUser::new(Login::parse(" ALICE@example.com ").unwrap(), "$x$".into()),
        t0(),
    )
    .await;
    assert!(
        matches!(again, Err(CreateUserError::LoginTaken)),
        "{again:?}"
    );

    // A rehash is a compare-and-swap on the previous hash.
    let changed = store
        .update_password_hash(
            &alice.id,
            "$hash-2$",
            PasswordUpdate::Changed {
                at: t0() + secs(60),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.password_hash, "$hash-2$");
    assert_eq!(changed.password_changed_at, t0() + secs(60));
    let stale = store
        .update_password_hash(
            &alice.id,
            "$rehash-of-1$",
            PasswordUpdate::Rehash {
                previous: "$hash-1$".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(stale, None);
    let rehashed = store
        .update_password_hash(
            &alice.id,
            "$rehash-of-2$",
            PasswordUpdate::Rehash {
                previous: "$hash-2$".into(),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rehashed.password_hash, "$rehash-of-2$");
    assert_eq!(rehashed.password_changed_at, t0() + secs(60));

    let roles = scopes(&["editor"]);
    assert_eq!(
        store
            .set_roles(&alice.id, &roles)
            .await
            .unwrap()
            .unwrap()
            .roles,
        roles
    );
    assert!(
        !store
            .set_active(&alice.id, false)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    let logged_in = store
        .record_login(&alice.id, t0() + secs(90))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(logged_in.last_login_at, Some(t0() + secs(90)));
    assert_eq!(store.find_by_id(&alice.id).await.unwrap(), Some(logged_in));
    assert_eq!(store.set_roles(&unknown, &roles).await.unwrap(), None);
    assert_eq!(store.set_active(&unknown, true).await.unwrap(), None);
    assert_eq!(store.record_login(&unknown, t0()).await.unwrap(), None);
    assert_eq!(
        store
            .update_password_hash(&unknown, "x", PasswordUpdate::Changed { at: t0() })
            .await
            .unwrap(),
        None
    );
}

pub(crate) async fn exercise_tokens<S: AllStores>(store: &S) {
    // API keys.
    let mut key = TokenRecord::new(
        TokenId::generate().unwrap(),
        digest(),
        TokenKind::ApiKey,
        UserId::new("alice"),
        scopes(&["notes:read"]),
        t0(),
    );
    key.name = Some("ci".into());
    store.insert(key.clone()).await.unwrap();
    // A stored digest is never overwritten.
    let mut twin = key.clone();
    twin.subject = UserId::new("mallory");
    let duplicate = store.insert(twin).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    let mut expiring = TokenRecord::new(
        TokenId::generate().unwrap(),
        digest(),
        TokenKind::ApiKey,
        UserId::new("alice"),
        BTreeSet::new(),
        t0() + secs(1),
    );
    expiring.expires_at = Some(t0() + secs(100));
    store.insert(expiring.clone()).await.unwrap();
    assert_eq!(
        store.find(&key.digest, t0()).await.unwrap().as_ref(),
        Some(&key)
    );
    assert_eq!(store.find(&digest(), t0()).await.unwrap(), None);
    assert_eq!(
        store
            .list_api_keys(&UserId::new("alice"), t0())
            .await
            .unwrap(),
        vec![key.clone(), expiring.clone()]
    );
    assert_eq!(
        store
            .list_api_keys(&UserId::new("alice"), t0() + secs(100))
            .await
            .unwrap(),
        vec![key.clone()]
    );
    assert_eq!(
        store
            .find(&expiring.digest, t0() + secs(100))
            .await
            .unwrap(),
        None
    );
    store.record_use(&key.digest, t0() + secs(5)).await.unwrap();
    assert_eq!(
        store
            .find(&key.digest, t0())
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t0() + secs(5))
    );
    assert!(
        !store
            .revoke_api_key(&UserId::new("mallory"), &key.id)
            .await
            .unwrap()
    );
    assert!(
        store
            .revoke_api_key(&UserId::new("alice"), &key.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_api_key(&UserId::new("alice"), &key.id)
            .await
            .unwrap()
    );
    assert_eq!(store.find(&key.digest, t0()).await.unwrap(), None);

    // A refresh family: rotation, then reuse revokes the family.
    let (family, first) = start_family(store, "alice").await;
    assert_eq!(
        store.find(&first.digest, t0()).await.unwrap().as_ref(),
        Some(&first)
    );
    let spec = successor();
    let now = t0() + secs(10);
    let Rotation::Rotated {
        previous,
        successor: next,
    } = TokenStore::rotate(store, &first.digest, spec.clone(), now, Duration::ZERO)
        .await
        .unwrap()
    else {
        panic!("not rotated")
    };
    assert_eq!(previous, first);
    assert_eq!(next, spec.record(&first, &family, now));
    assert_eq!(next.scopes, scopes(&["notes:read"]));
    assert_eq!(store.find(&first.digest, now).await.unwrap(), None);
    assert_eq!(
        store.find(&next.digest, now).await.unwrap().as_ref(),
        Some(&next)
    );
    let reused = TokenStore::rotate(store, &first.digest, successor(), now, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        reused,
        Rotation::Reused {
            family: family.clone()
        }
    );
    assert_eq!(store.find(&next.digest, now).await.unwrap(), None);
    // A token of the revoked family reports the family, changing nothing.
    assert_eq!(
        TokenStore::rotate(store, &next.digest, successor(), now, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Revoked {
            family: family.clone()
        }
    );
    assert_eq!(
        TokenStore::rotate(store, &digest(), successor(), now, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Invalid
    );
    assert_eq!(
        TokenStore::rotate(store, &expiring.digest, successor(), t0(), Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Invalid,
        "an API key is not rotated"
    );

    // With a grace window a repeat gets the same successor.
    let (_, first) = start_family(store, "alice").await;
    let Rotation::Rotated {
        successor: next, ..
    } = TokenStore::rotate(store, &first.digest, successor(), now, secs(30))
        .await
        .unwrap()
    else {
        panic!("not rotated")
    };
    let Rotation::Grace {
        successor: again, ..
    } = TokenStore::rotate(store, &first.digest, successor(), now + secs(29), secs(30))
        .await
        .unwrap()
    else {
        panic!("no grace")
    };
    assert_eq!(again, next);
    assert!(matches!(
        TokenStore::rotate(store, &first.digest, successor(), now + secs(30), secs(30))
            .await
            .unwrap(),
        Rotation::Reused { .. }
    ));

    // A successor whose digest is taken: an error, and nothing changed.
    let (_, first) = start_family(store, "alice").await;
    let mut clash = successor();
    clash.digest = expiring.digest;
    let err = TokenStore::rotate(store, &first.digest, clash, now, Duration::ZERO).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert_eq!(
        store.find(&first.digest, now).await.unwrap().as_ref(),
        Some(&first)
    );
    assert!(matches!(
        TokenStore::rotate(store, &first.digest, successor(), now, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));

    // Revocation of one token, a family, a subject.
    assert!(store.revoke(&expiring.digest).await.unwrap());
    assert!(!store.revoke(&expiring.digest).await.unwrap());
    assert!(!store.revoke(&digest()).await.unwrap());
    let (bob_family, bob_first) = start_family(store, "bob").await;
    assert_eq!(
        TokenStore::revoke_family(store, &bob_family.id)
            .await
            .unwrap(),
        Some(bob_family.clone())
    );
    assert_eq!(store.find(&bob_first.digest, t0()).await.unwrap(), None);
    assert_eq!(
        TokenStore::rotate(store, &bob_first.digest, successor(), t0(), Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Revoked {
            family: bob_family.clone()
        }
    );
    // A family whose first token's digest is taken is not started at all.
    let orphan = Family::new(
        FamilyId::generate().unwrap(),
        UserId::new("bob"),
        t0(),
        t0() + secs(60),
    );
    let mut taken = bob_first.clone();
    taken.family = Some(orphan.id.clone());
    let clash = store.start_family(orphan.clone(), taken).await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert_eq!(
        TokenStore::revoke_family(store, &orphan.id).await.unwrap(),
        None
    );
    assert_eq!(
        TokenStore::revoke_family(store, &FamilyId::new("none"))
            .await
            .unwrap(),
        None
    );
    let (carol_family, _) = start_family(store, "carol").await;
    let mut carol_key = key.clone();
    carol_key.digest = digest();
    carol_key.subject = UserId::new("carol");
    store.insert(carol_key.clone()).await.unwrap();
    assert_eq!(
        store
            .revoke_subject(&UserId::new("carol"), RevokeScope::RefreshTokens)
            .await
            .unwrap(),
        vec![carol_family.clone()]
    );
    assert!(store.find(&carol_key.digest, t0()).await.unwrap().is_some());
    // Already revoked families come back again, for re-propagation.
    assert_eq!(
        store
            .revoke_subject(&UserId::new("carol"), RevokeScope::Everything)
            .await
            .unwrap(),
        vec![carol_family]
    );
    assert_eq!(store.find(&carol_key.digest, t0()).await.unwrap(), None);

    // Everything above is revoked, used up in a dead family, or expired a
    // day later; a live family and its tokens stay.
    let (_, live) = start_family(store, "dave").await;
    let purged = TokenStore::purge_expired(store, t0() + secs(3600))
        .await
        .unwrap();
    assert!(purged > 0);
    assert_eq!(
        TokenStore::purge_expired(store, t0() + secs(3600))
            .await
            .unwrap(),
        0
    );
    assert!(
        store
            .find(&live.digest, t0() + secs(3600))
            .await
            .unwrap()
            .is_some()
    );
}

pub(crate) async fn exercise_revocations<S: AllStores>(store: &S) {
    let check = |jti: &'static str, family: Option<&'static str>, subject: &'static str, iat| {
        RevocationCheck::new(jti, family, subject, iat)
    };
    let now = t0();
    assert!(
        !store
            .is_revoked(check("j1", Some("f1"), "s1", now), now)
            .await
            .unwrap()
    );
    store.revoke_token("j1", now + secs(60)).await.unwrap();
    assert!(
        store
            .is_revoked(check("j1", None, "s1", now), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(check("j1", None, "s1", now), now + secs(60))
            .await
            .unwrap()
    );
    // A later `until` extends, an earlier one does not shorten.
    store.revoke_token("j1", now + secs(120)).await.unwrap();
    store.revoke_token("j1", now + secs(30)).await.unwrap();
    assert!(
        store
            .is_revoked(check("j1", None, "s1", now), now + secs(90))
            .await
            .unwrap()
    );

    Revocations::revoke_family(store, &FamilyId::new("f1"), now + secs(60))
        .await
        .unwrap();
    assert!(
        store
            .is_revoked(check("j2", Some("f1"), "s1", now), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(check("j2", Some("f2"), "s1", now), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(check("j2", None, "s1", now), now)
            .await
            .unwrap()
    );

    store
        .revoke_subject_before(&UserId::new("s1"), now + secs(10), now + secs(60))
        .await
        .unwrap();
    assert!(
        store
            .is_revoked(check("j3", None, "s1", now + secs(9)), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(check("j3", None, "s1", now + secs(10)), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(check("j3", None, "s2", now), now)
            .await
            .unwrap()
    );
    // A later cut-off replaces an earlier one, never the reverse.
    store
        .revoke_subject_before(&UserId::new("s1"), now + secs(20), now + secs(60))
        .await
        .unwrap();
    store
        .revoke_subject_before(&UserId::new("s1"), now + secs(5), now + secs(60))
        .await
        .unwrap();
    assert!(
        store
            .is_revoked(check("j3", None, "s1", now + secs(15)), now)
            .await
            .unwrap()
    );
    // A cut-off a fraction of a millisecond after `iat` still revokes.
    store
        .revoke_subject_before(
            &UserId::new("s3"),
            now + Duration::from_micros(300),
            now + secs(60),
        )
        .await
        .unwrap();
    assert!(
        store
            .is_revoked(check("j4", None, "s3", now), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(check("j4", None, "s3", now), now + secs(61))
            .await
            .unwrap()
    );
}

pub(crate) async fn exercise_sessions<S: AllStores>(store: &S) -> TokenDigest {
    let now = t0();
    let life = secs(1800);
    let a = digest();
    let state = session_state(Some("alice"), now, life);
    assert!(SessionStore::create(store, &a, &state).await.unwrap());
    assert!(!SessionStore::create(store, &a, &state).await.unwrap());
    assert_eq!(store.load(&a, now).await.unwrap().as_ref(), Some(&state));
    assert_eq!(store.load(&digest(), now).await.unwrap(), None);

    let mut saved = state.clone();
    saved.data.insert("k".into(), serde_json::json!(1));
    assert!(store.save(&a, &saved).await.unwrap());
    assert_eq!(store.load(&a, now).await.unwrap().as_ref(), Some(&saved));

    // Rotation: the old id is dead at once.
    let b = digest();
    assert_eq!(
        SessionStore::rotate(store, &a, &b, &saved).await.unwrap(),
        Moved::Done
    );
    assert_eq!(store.load(&a, now).await.unwrap(), None);
    assert_eq!(store.load(&b, now).await.unwrap().as_ref(), Some(&saved));
    assert_eq!(
        SessionStore::rotate(store, &a, &digest(), &saved)
            .await
            .unwrap(),
        Moved::Gone
    );
    let c = digest();
    assert!(
        SessionStore::create(store, &c, &session_state(Some("alice"), now, life))
            .await
            .unwrap()
    );
    assert_eq!(
        SessionStore::rotate(store, &b, &c, &saved).await.unwrap(),
        Moved::Taken
    );
    assert_eq!(store.load(&b, now).await.unwrap().as_ref(), Some(&saved));
    assert_eq!(
        SessionStore::rotate(store, &b, &b, &saved).await.unwrap(),
        Moved::Taken
    );

    // No resurrection: a save after a delete writes nothing.
    assert!(store.delete(&b).await.unwrap());
    assert!(!store.delete(&b).await.unwrap());
    assert!(!store.save(&b, &saved).await.unwrap());
    assert_eq!(store.load(&b, now).await.unwrap(), None);

    // Lists and per-account deletion.
    let anonymous = digest();
    assert!(
        SessionStore::create(store, &anonymous, &session_state(None, now, life))
            .await
            .unwrap()
    );
    let d = digest();
    assert!(
        SessionStore::create(
            store,
            &d,
            &session_state(Some("alice"), now + secs(1), life)
        )
        .await
        .unwrap()
    );
    let listed: Vec<TokenDigest> = store
        .list_subject(&UserId::new("alice"), now)
        .await
        .unwrap()
        .into_iter()
        .map(|(digest, _)| digest)
        .collect();
    assert_eq!(listed, vec![c, d]);
    assert!(
        store
            .list_subject(&UserId::new("alice"), now + life + secs(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .delete_subject(&UserId::new("alice"), Some(&d))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.load(&c, now).await.unwrap(), None);
    assert!(store.load(&d, now).await.unwrap().is_some());
    assert_eq!(
        store
            .delete_subject(&UserId::new("alice"), None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_subject(&UserId::new("alice"), None)
            .await
            .unwrap(),
        0
    );

    // Expiry is enforced on load; purge removes what is left.
    let e = digest();
    assert!(
        SessionStore::create(store, &e, &session_state(Some("erin"), now, secs(10)))
            .await
            .unwrap()
    );
    assert!(store.load(&e, now + secs(9)).await.unwrap().is_some());
    assert_eq!(store.load(&e, now + secs(10)).await.unwrap(), None);
    assert!(
        !store.save(&e, &saved).await.unwrap(),
        "expired and removed on load"
    );
    let f = digest();
    assert!(
        SessionStore::create(store, &f, &session_state(Some("frank"), now, secs(10)))
            .await
            .unwrap()
    );
    assert_eq!(
        SessionStore::purge_expired(store, now + secs(10))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        SessionStore::purge_expired(store, now + life)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.load(&anonymous, now).await.unwrap(), None);

    // A session for the backend's corruption check.
    let g = digest();
    assert!(
        SessionStore::create(store, &g, &session_state(Some("gina"), now, life))
            .await
            .unwrap()
    );
    g
}

pub(crate) async fn exercise_onetime<S: AllStores>(store: &S) {
    let id = digest();
    assert!(store.consume(&id, t0() + secs(60)).await.unwrap());
    assert!(!store.consume(&id, t0() + secs(60)).await.unwrap());
    assert!(store.consume(&digest(), t0() + secs(120)).await.unwrap());
    assert_eq!(
        OneTimeStore::purge_expired(store, t0() + secs(59))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        OneTimeStore::purge_expired(store, t0() + secs(60))
            .await
            .unwrap(),
        1
    );
    assert!(
        store.consume(&id, t0() + secs(60)).await.unwrap(),
        "forgotten after purge"
    );
}

/// 32 concurrent rotations of one refresh token: exactly one `Rotated`;
/// with no grace window the next sees reuse (which revokes the family) and
/// the rest a revoked family.
/// Returns the family, whose rows the caller counts.
pub(crate) async fn concurrent_rotation<S: AllStores>(store: Arc<S>) -> FamilyId {
    let (family, first) = start_family(&*store, "racer").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            let presented = first.digest;
            tokio::spawn(async move {
                barrier.wait().await;
                TokenStore::rotate(
                    &*store,
                    &presented,
                    successor(),
                    t0() + secs(1),
                    Duration::ZERO,
                )
                .await
            })
        })
        .collect();
    let (mut rotated, mut reused, mut revoked) = (0, 0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Rotation::Rotated { .. } => rotated += 1,
            Rotation::Reused { .. } => reused += 1,
            Rotation::Revoked { family: f } => {
                assert_eq!(f.id, family.id);
                revoked += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        (rotated, reused, revoked),
        (1, 1, 30),
        "one rotation, one reuse, then a revoked family"
    );
    family.id
}

/// 32 concurrent consumptions of one one-time token, and 32 concurrent
/// registrations of one login: one success each.
pub(crate) async fn concurrent_single_use<S: AllStores>(store: Arc<S>) {
    let id = digest();
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let consumed = store.consume(&id, t0() + secs(60)).await.unwrap();
                let login = Login::parse(if i % 2 == 0 {
                    "zed@example.com"
                } else {
                    " ZED@example.com"
                })
                .unwrap();
                let created =
                    UserStore::create(&*store, NewUser::new(login, "$h$".into()), t0()).await;
                (consumed, created)
            })
        })
        .collect();
    let (mut consumed, mut created, mut taken) = (0, 0, 0);
    for task in tasks {
        let (c, u) = task.await.unwrap();
        consumed += usize::from(c);
        match u {
            Ok(_) => created += 1,
            Err(CreateUserError::LoginTaken) => taken += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((consumed, created, taken), (1, 1, 31));
}
