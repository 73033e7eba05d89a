//! Sessions at the core level: cases C1–C4, C6–C8, C11–C13, C15 and C17 of
//! SECURITY-CASES.md, against the in-memory store and a manual clock.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tessera_core::async_trait;
use tessera_core::clock::{Clock, ManualClock};
use tessera_core::error::StoreError;
use tessera_core::memory::MemorySessionStore;
use tessera_core::session::{
    LoginOptions, Moved, SessionConfig, SessionError, SessionId, SessionManager, SessionState,
    SessionStore,
};
use tessera_core::token::TokenDigest;
use tessera_core::users::UserId;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

struct Rig {
    sessions: SessionManager,
    store: Arc<MemorySessionStore>,
    clock: ManualClock,
}

fn rig() -> Rig {
    let store = Arc::new(MemorySessionStore::new());
    let clock = ManualClock::default();
    let sessions = SessionManager::builder(store.clone())
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    Rig {
        sessions,
        store,
        clock,
    }
}

fn alice() -> UserId {
    UserId::new("alice")
}

fn cookie(session: &tessera_core::session::Session) -> String {
    session.id().expose_secret().to_owned()
}

/// C1: an anonymous session, then login: a new id, the old one dead and
/// gone from the store; anonymous data carries over.
#[tokio::test]
async fn c1_login_rotates_the_id() {
    let rig = rig();
    let mut anonymous = rig.sessions.start(Some("Firefox")).await.unwrap();
    anonymous.insert("cart", vec!["book"]).unwrap();
    rig.sessions.save(&anonymous).await.unwrap();
    let s0 = cookie(&anonymous);
    let s0_digest = anonymous.id().digest();

    let session = rig
        .sessions
        .login(Some(anonymous), &alice(), LoginOptions::default())
        .await
        .unwrap();
    assert_ne!(cookie(&session), s0);
    assert!(rig.sessions.load(&s0).await.unwrap().is_none());
    assert!(rig.store.raw_records().iter().all(|(d, _)| *d != s0_digest));
    assert_eq!(
        session.get::<Vec<String>>("cart").unwrap(),
        Some(vec!["book".to_owned()])
    );
    assert_eq!(session.subject(), Some(alice()));
    let loaded = rig.sessions.load(&cookie(&session)).await.unwrap().unwrap();
    assert_eq!(loaded.subject(), Some(alice()));
}

/// C2: logged in as A, then B logs in with the same cookie: a new id and
/// none of A's data.
#[tokio::test]
async fn c2_another_account_gets_no_data() {
    let rig = rig();
    let mut a = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    a.insert("secret", "alice's").unwrap();
    rig.sessions.save(&a).await.unwrap();
    let a_cookie = cookie(&a);
    let b = rig
        .sessions
        .login(Some(a), &UserId::new("bob"), LoginOptions::default())
        .await
        .unwrap();
    assert_ne!(cookie(&b), a_cookie);
    assert_eq!(b.get::<String>("secret").unwrap(), None);
    assert!(rig.sessions.load(&a_cookie).await.unwrap().is_none());
}

/// C3: step-up gives a new id and freshness; a role change rotates on the
/// next request.
#[tokio::test]
async fn c3_reauthentication_and_privilege_changes_rotate() {
    let rig = rig();
    let options = LoginOptions::default().privilege_stamp("roles:user");
    let session = rig.sessions.login(None, &alice(), options).await.unwrap();
    assert!(rig.sessions.is_fresh(&session));
    rig.clock.advance(11 * MINUTE);
    let mut session = rig.sessions.load(&cookie(&session)).await.unwrap().unwrap();
    assert!(!rig.sessions.is_fresh(&session));

    let before = cookie(&session);
    rig.sessions.reauthenticate(&mut session).await.unwrap();
    assert_ne!(cookie(&session), before);
    assert!(rig.sessions.is_fresh(&session));
    assert!(rig.sessions.load(&before).await.unwrap().is_none());

    // Same privileges: nothing happens.
    let same = cookie(&session);
    assert!(
        !rig.sessions
            .check_privileges(&mut session, "roles:user")
            .await
            .unwrap()
    );
    assert_eq!(cookie(&session), same);
    // An administrator added a role: the next request rotates.
    assert!(
        rig.sessions
            .check_privileges(&mut session, "roles:admin,user")
            .await
            .unwrap()
    );
    assert_ne!(cookie(&session), same);
    assert!(rig.sessions.load(&same).await.unwrap().is_none());
    assert_eq!(
        session.state().privilege_stamp.as_deref(),
        Some("roles:admin,user")
    );
}

/// C4: unknown and malformed cookie values are no session, without panics.
#[tokio::test]
async fn c4_unknown_and_malformed_ids() {
    let rig = rig();
    let unknown = SessionId::generate().unwrap();
    let long = "a".repeat(10 * 1024);
    let non_canonical = format!("{}B", "A".repeat(42));
    for value in [
        unknown.expose_secret(),
        "$%˜\"",
        long.as_str(),
        "",
        non_canonical.as_str(),
        "é".repeat(21).as_str(),
    ] {
        assert!(
            rig.sessions.load(value).await.unwrap().is_none(),
            "{value:?}"
        );
    }
    assert!(rig.store.raw_records().is_empty(), "nothing was created");
}

/// C6: the idle timeout is extended by use and ends the session when idle.
#[tokio::test]
async fn c6_idle_timeout() {
    let rig = rig();
    let session = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let value = cookie(&session);
    rig.clock.advance(29 * MINUTE + Duration::from_secs(59));
    assert!(rig.sessions.load(&value).await.unwrap().is_some());
    rig.clock.advance(30 * MINUTE + Duration::from_secs(1));
    assert!(rig.sessions.load(&value).await.unwrap().is_none());
    assert!(rig.store.raw_records().is_empty(), "the record was deleted");
}

/// Use within the touch interval is not written back.
#[tokio::test]
async fn idle_extension_is_not_written_on_every_request() {
    let rig = rig();
    let session = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let value = cookie(&session);
    let stored = || rig.store.raw_records()[0].1.clone();
    let before = stored();
    rig.clock.advance(Duration::from_secs(30));
    rig.sessions.load(&value).await.unwrap().unwrap();
    assert_eq!(stored(), before, "a load within a minute writes nothing");
    rig.clock.advance(Duration::from_secs(31));
    rig.sessions.load(&value).await.unwrap().unwrap();
    let after = SessionState::decode(&stored()).unwrap();
    assert_eq!(after.last_seen_at, rig.clock.now());
}

/// C7: the absolute timeout holds despite constant activity.
#[tokio::test]
async fn c7_absolute_timeout() {
    let rig = rig();
    let session = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let value = cookie(&session);
    let start = rig.clock.now();
    while rig.clock.now() < start + 12 * HOUR - MINUTE {
        rig.clock.advance(MINUTE);
        assert!(rig.sessions.load(&value).await.unwrap().is_some());
    }
    rig.clock.set(start + 12 * HOUR + Duration::from_secs(1));
    assert!(rig.sessions.load(&value).await.unwrap().is_none());
}

/// Remember-me: 30 days idle and absolute, and a persistent cookie.
#[tokio::test]
async fn remember_me_lasts_thirty_days() {
    let rig = rig();
    let session = rig
        .sessions
        .login(None, &alice(), LoginOptions::default().remember(true))
        .await
        .unwrap();
    let cookie_header = rig.sessions.cookie(&session).header_value();
    assert!(cookie_header.contains("Max-Age=2592000"), "{cookie_header}");
    let plain = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    assert!(
        !rig.sessions
            .cookie(&plain)
            .header_value()
            .contains("Max-Age")
    );

    let value = cookie(&session);
    rig.clock.advance(29 * DAY);
    assert!(rig.sessions.load(&value).await.unwrap().is_some());
    rig.clock.advance(DAY);
    assert!(rig.sessions.load(&value).await.unwrap().is_none());
}

/// C8: logout, then the old cookie.
#[tokio::test]
async fn c8_logout() {
    let rig = rig();
    let session = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let value = cookie(&session);
    rig.sessions.logout(session).await.unwrap();
    assert!(rig.sessions.load(&value).await.unwrap().is_none());
    assert!(rig.store.raw_records().is_empty());
}

/// C9 at the core level: a request loaded the session, a logout completed,
/// then the request saves: the session stays dead.
#[tokio::test]
async fn c9_no_resurrection() {
    let rig = rig();
    let session = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let value = cookie(&session);
    let mut in_flight = rig.sessions.load(&value).await.unwrap().unwrap();
    let other = rig.sessions.load(&value).await.unwrap().unwrap();
    rig.sessions.logout(other).await.unwrap();
    in_flight.insert("late", 1).unwrap();
    assert!(matches!(
        rig.sessions.save(&in_flight).await,
        Err(SessionError::Ended)
    ));
    assert!(matches!(
        rig.sessions.rotate(&mut in_flight).await,
        Err(SessionError::Ended)
    ));
    assert!(rig.sessions.load(&value).await.unwrap().is_none());
    assert!(rig.store.raw_records().is_empty());
}

/// C11: a password change from one of three sessions: the others end, the
/// current one is rotated and kept.
#[tokio::test]
async fn c11_password_change_keeps_only_the_current_session() {
    let rig = rig();
    let mut current = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let second = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let third = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let bob = rig
        .sessions
        .login(None, &UserId::new("bob"), LoginOptions::default())
        .await
        .unwrap();

    assert_eq!(rig.sessions.revoke_others(&current).await.unwrap(), 2);
    let before = cookie(&current);
    rig.sessions.reauthenticate(&mut current).await.unwrap();
    assert!(rig.sessions.load(&before).await.unwrap().is_none());
    assert!(
        rig.sessions
            .load(&cookie(&current))
            .await
            .unwrap()
            .is_some()
    );
    assert!(rig.sessions.load(&cookie(&second)).await.unwrap().is_none());
    assert!(rig.sessions.load(&cookie(&third)).await.unwrap().is_none());
    assert!(rig.sessions.load(&cookie(&bob)).await.unwrap().is_some());
}

/// C12: deactivation ends every session of the account.
#[tokio::test]
async fn c12_revoke_all() {
    let rig = rig();
    let a = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let b = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(rig.sessions.revoke_all(&alice()).await.unwrap(), 2);
    assert!(rig.sessions.load(&cookie(&a)).await.unwrap().is_none());
    assert!(rig.sessions.load(&cookie(&b)).await.unwrap().is_none());
}

/// Listing and revoking one session by its handle, only one's own.
#[tokio::test]
async fn list_and_revoke_one() {
    let rig = rig();
    let first = rig
        .sessions
        .login(
            None,
            &alice(),
            LoginOptions::default().user_agent(Some("Firefox\u{7}/1")),
        )
        .await
        .unwrap();
    rig.clock.advance(MINUTE);
    let second = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let bob = rig
        .sessions
        .login(None, &UserId::new("bob"), LoginOptions::default())
        .await
        .unwrap();

    let list = rig.sessions.list(&alice(), Some(&second)).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].handle, first.handle());
    assert_eq!(
        list[0].user_agent.as_deref(),
        Some("Firefox/1"),
        "control characters are dropped"
    );
    assert!(!list[0].current && list[1].current);
    assert!(
        list.iter()
            .all(|i| !i.handle.contains(first.id().expose_secret()))
    );

    // Bob cannot end Alice's session, and a garbage handle does nothing.
    assert!(
        !rig.sessions
            .revoke(&UserId::new("bob"), &first.handle())
            .await
            .unwrap()
    );
    assert!(!rig.sessions.revoke(&alice(), "zz").await.unwrap());
    assert!(rig.sessions.load(&cookie(&first)).await.unwrap().is_some());
    assert!(
        rig.sessions
            .revoke(&alice(), &first.handle())
            .await
            .unwrap()
    );
    assert!(rig.sessions.load(&cookie(&first)).await.unwrap().is_none());
    assert!(rig.sessions.load(&cookie(&bob)).await.unwrap().is_some());
}

/// A store whose next create reports a collision.
struct Colliding {
    inner: MemorySessionStore,
    collide: AtomicBool,
    first_attempt: std::sync::Mutex<Option<TokenDigest>>,
}

#[async_trait]
impl SessionStore for Colliding {
    async fn create(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        if self.collide.swap(false, Ordering::SeqCst) {
            *self.first_attempt.lock().unwrap() = Some(*digest);
            return Ok(false);
        }
        self.inner.create(digest, state).await
    }
    async fn load(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<SessionState>, StoreError> {
        self.inner.load(digest, now).await
    }
    async fn save(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        self.inner.save(digest, state).await
    }
    async fn rotate(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        state: &SessionState,
    ) -> Result<Moved, StoreError> {
        self.inner.rotate(old, new, state).await
    }
    async fn delete(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.inner.delete(digest).await
    }
    async fn list_subject(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<(TokenDigest, SessionState)>, StoreError> {
        self.inner.list_subject(subject, now).await
    }
    async fn delete_subject(
        &self,
        subject: &UserId,
        keep: Option<&TokenDigest>,
    ) -> Result<u64, StoreError> {
        self.inner.delete_subject(subject, keep).await
    }
    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.inner.purge_expired(now).await
    }
}

/// C13: a create that collides leaves the existing session untouched and
/// retries with another id.
#[tokio::test]
async fn c13_id_collision() {
    // At the store: the second create under one digest changes nothing.
    let store = MemorySessionStore::new();
    let digest = SessionId::generate().unwrap().digest();
    let clock = ManualClock::default();
    let sessions = SessionManager::builder(Arc::new(MemorySessionStore::new()))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let first = sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    let second = sessions
        .login(None, &UserId::new("bob"), LoginOptions::default())
        .await
        .unwrap();
    assert!(store.create(&digest, first.state()).await.unwrap());
    assert!(!store.create(&digest, second.state()).await.unwrap());
    let kept = store.load(&digest, clock.now()).await.unwrap().unwrap();
    assert_eq!(kept.subject.as_deref(), Some("alice"));

    // Through the manager: a collision means another id, not an error.
    let colliding = Arc::new(Colliding {
        inner: MemorySessionStore::new(),
        collide: AtomicBool::new(true),
        first_attempt: std::sync::Mutex::new(None),
    });
    let sessions = SessionManager::builder(colliding.clone()).build().unwrap();
    let session = sessions.start(None).await.unwrap();
    let refused = colliding.first_attempt.lock().unwrap().unwrap();
    assert_ne!(session.id().digest(), refused);
    assert!(sessions.load(&cookie(&session)).await.unwrap().is_some());
}

/// C15: data over the limit is an error at write time; nothing is dropped.
#[tokio::test]
async fn c15_data_size_limit() {
    let store = Arc::new(MemorySessionStore::new());
    let mut config = SessionConfig::default();
    config.max_data_bytes = 100;
    let sessions = SessionManager::builder(store)
        .config(config)
        .build()
        .unwrap();
    let mut session = sessions.start(None).await.unwrap();
    session.insert("small", "ok").unwrap();
    let err = session.insert("big", "x".repeat(200)).unwrap_err();
    assert!(
        matches!(err, SessionError::TooLarge { max: 100, .. }),
        "{err:?}"
    );
    assert_eq!(
        session.get::<String>("small").unwrap().as_deref(),
        Some("ok")
    );
    assert_eq!(session.get::<String>("big").unwrap(), None);
    // A value of the wrong type is an error, not a panic.
    assert!(matches!(
        session.get::<u32>("small"),
        Err(SessionError::Value(_))
    ));
}

/// K8 at the core level: a corrupted record reads as no session.
#[tokio::test]
async fn corrupted_records_read_as_no_session() {
    let rig = rig();
    let id = SessionId::generate().unwrap();
    rig.store.insert_raw(id.digest(), b"{not json".to_vec());
    assert!(
        rig.sessions
            .load(id.expose_secret())
            .await
            .unwrap()
            .is_none()
    );
}

/// C17: ids are 256 random bits (43 base64url characters), not UUIDs, with
/// no duplicates among many; the store keys by digest only.
#[tokio::test]
async fn c17_ids_are_random_and_stored_as_digests() {
    let mut seen = HashSet::new();
    for _ in 0..100_000 {
        let id = SessionId::generate().unwrap();
        let value = id.expose_secret().to_owned();
        assert_eq!(value.len(), 43);
        assert!(seen.insert(value));
    }
    let rig = rig();
    let session = rig
        .sessions
        .login(None, &alice(), LoginOptions::default())
        .await
        .unwrap();
    for (digest, bytes) in rig.store.raw_records() {
        assert_ne!(digest.to_hex(), cookie(&session));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&cookie(&session)),
            "the id is in the stored record"
        );
    }
    assert!(!format!("{session:?}").contains(&cookie(&session)));
}

/// Configuration that cannot work is refused at build time.
#[test]
fn configuration_is_validated() {
    let store = || Arc::new(MemorySessionStore::new());
    let mut bad = SessionConfig::default();
    bad.idle_timeout = 13 * HOUR;
    assert!(
        SessionManager::builder(store())
            .config(bad)
            .build()
            .is_err()
    );
    let mut bad = SessionConfig::default();
    bad.max_data_bytes = 0;
    assert!(
        SessionManager::builder(store())
            .config(bad)
            .build()
            .is_err()
    );
    let mut bad = SessionConfig::default();
    bad.touch_after = 31 * MINUTE;
    assert!(
        SessionManager::builder(store())
            .config(bad)
            .build()
            .is_err()
    );
}
