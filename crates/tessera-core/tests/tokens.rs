//! Refresh-token families and API keys: cases G5, G6, H1–H4, H6–H8 and H10
//! of SECURITY-CASES.md, against the in-memory stores and a manual clock.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use tessera_core::async_trait;
use tessera_core::clock::{Clock, ManualClock};
use tessera_core::jwt::{RevocationCheck, Revocations};
use tessera_core::keys::{HmacKey, HmacKeys};
use tessera_core::memory::{MemoryRevocations, MemoryTokenStore};
use tessera_core::token::{
    ApiKeys, Family, FamilyId, OpaqueToken, RefreshConfig, RefreshTokens, RefreshTokensBuilder,
    Refreshed, RevokeScope, Rotation, StoreError, Successor, TokenDigest, TokenError, TokenHasher,
    TokenId, TokenKind, TokenRecord, TokenStore,
};
use tessera_core::users::UserId;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn alice() -> UserId {
    UserId::new("alice")
}

fn bob() -> UserId {
    UserId::new("bob")
}

fn scopes(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn grace(secs: u64) -> RefreshConfig {
    let mut config = RefreshConfig::default();
    config.grace = Duration::from_secs(secs);
    config
}

fn successor_keys() -> HmacKeys {
    HmacKeys::single(HmacKey::generate("s1").unwrap())
}

/// `RefreshTokens` over existing stores, with `configure` applied to the
/// builder (hasher, successor keys).
fn refresh_tokens(
    store: Arc<dyn TokenStore>,
    revocations: Arc<MemoryRevocations>,
    clock: &ManualClock,
    config: RefreshConfig,
    configure: impl FnOnce(RefreshTokensBuilder) -> RefreshTokensBuilder,
) -> RefreshTokens {
    let builder = RefreshTokens::builder(store, revocations)
        .clock(Arc::new(clock.clone()))
        .config(config);
    configure(builder).build().unwrap()
}

/// Fresh in-memory stores, a manual clock and refresh tokens over them.
fn rig_with(
    config: RefreshConfig,
    configure: impl FnOnce(RefreshTokensBuilder) -> RefreshTokensBuilder,
) -> (
    Arc<MemoryTokenStore>,
    Arc<MemoryRevocations>,
    ManualClock,
    RefreshTokens,
) {
    let store = Arc::new(MemoryTokenStore::new());
    let clock = ManualClock::default();
    let revocations = Arc::new(MemoryRevocations::with_clock(Arc::new(clock.clone())));
    let refresh = refresh_tokens(
        store.clone(),
        Arc::clone(&revocations),
        &clock,
        config,
        configure,
    );
    (store, revocations, clock, refresh)
}

fn rig(
    config: RefreshConfig,
) -> (
    Arc<MemoryTokenStore>,
    Arc<MemoryRevocations>,
    ManualClock,
    RefreshTokens,
) {
    rig_with(config, |b| b)
}

fn api_keys(store: Arc<dyn TokenStore>, hasher: TokenHasher, clock: &ManualClock) -> ApiKeys {
    ApiKeys::new(store, hasher, Arc::new(clock.clone()))
}

/// The plain SHA-256 digest a token is stored under by default.
fn sha256(token: &OpaqueToken) -> TokenDigest {
    TokenHasher::sha256().digest(token)
}

/// Whether an access token of `family` for alice, issued at `issued_at`, is
/// revoked at `now`.
async fn access_token_revoked(
    revocations: &MemoryRevocations,
    family: &FamilyId,
    issued_at: SystemTime,
    now: SystemTime,
) -> bool {
    let check = RevocationCheck::new("jti-1", Some(family.as_str()), "alice", issued_at);
    revocations.is_revoked(check, now).await.unwrap()
}

/// Digests in `after` that were not in `before`.
fn new_digests(before: &[TokenDigest], after: &[TokenDigest]) -> Vec<TokenDigest> {
    after
        .iter()
        .filter(|d| !before.contains(d))
        .copied()
        .collect()
}

/// A copy of `raw` with one checksum character changed.
fn flip_checksum(raw: &str) -> String {
    let mut bytes = raw.as_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// A token store that counts the calls it forwards.
#[derive(Default)]
struct CountingStore {
    inner: MemoryTokenStore,
    finds: AtomicUsize,
    uses: AtomicUsize,
}

impl CountingStore {
    fn finds(&self) -> usize {
        self.finds.load(Ordering::SeqCst)
    }

    fn uses(&self) -> usize {
        self.uses.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenStore for CountingStore {
    async fn insert(&self, record: TokenRecord) -> Result<(), StoreError> {
        self.inner.insert(record).await
    }

    async fn start_family(&self, family: Family, first: TokenRecord) -> Result<(), StoreError> {
        self.inner.start_family(family, first).await
    }

    async fn find(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.finds.fetch_add(1, Ordering::SeqCst);
        self.inner.find(digest, now).await
    }

    async fn rotate(
        &self,
        presented: &TokenDigest,
        successor: Successor,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        self.inner.rotate(presented, successor, now, grace).await
    }

    async fn revoke(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.inner.revoke(digest).await
    }

    async fn revoke_api_key(&self, subject: &UserId, id: &TokenId) -> Result<bool, StoreError> {
        self.inner.revoke_api_key(subject, id).await
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<Option<Family>, StoreError> {
        self.inner.revoke_family(family).await
    }

    async fn revoke_subject(
        &self,
        subject: &UserId,
        scope: RevokeScope,
    ) -> Result<Vec<Family>, StoreError> {
        self.inner.revoke_subject(subject, scope).await
    }

    async fn list_api_keys(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.inner.list_api_keys(subject, now).await
    }

    async fn record_use(&self, digest: &TokenDigest, at: SystemTime) -> Result<(), StoreError> {
        self.uses.fetch_add(1, Ordering::SeqCst);
        self.inner.record_use(digest, at).await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.inner.purge_expired(now).await
    }
}

/// H1: one refresh hands out a new token of the same family and scopes, and
/// uses the presented one up.
#[tokio::test]
async fn h1_refresh_rotates_and_uses_the_old_token_up() {
    let (store, revocations, clock, refresh) = rig(RefreshConfig::default());
    let granted = scopes(&["read", "write"]);
    let rt1 = refresh.issue(&alice(), granted.clone()).await.unwrap();
    assert_eq!(rt1.scopes, granted);
    assert_eq!(rt1.record.family.as_ref(), Some(&rt1.family));
    let stored = store.find(&sha256(&rt1.token), clock.now()).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&rt1.record));

    clock.advance(Duration::from_secs(60));
    let rt2 = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap();

    assert_ne!(rt2.token.expose_secret(), rt1.token.expose_secret());
    assert_eq!(rt2.token.kind(), TokenKind::Refresh);
    assert_eq!(rt2.family, rt1.family);
    assert_eq!(rt2.subject, alice());
    assert_eq!(rt2.scopes, granted);
    assert_eq!(rt2.record.scopes, granted);
    assert_eq!(rt2.record.created_at, clock.now());

    // The old token is used up; the successor is what the store holds.
    let now = clock.now();
    assert_eq!(store.find(&sha256(&rt1.token), now).await.unwrap(), None);
    let successor = store.find(&sha256(&rt2.token), now).await.unwrap().unwrap();
    assert_eq!(successor, rt2.record);
    assert_eq!(successor.family.as_ref(), Some(&rt1.family));
    assert_eq!(store.digests().len(), 2);
    // A plain rotation revokes nothing.
    assert!(!access_token_revoked(&revocations, &rt1.family, now, now).await);
}

/// H2: presenting a used-up token again (grace 0) is reuse: the whole
/// family, newest token and access tokens included, is revoked.
#[tokio::test]
async fn h2_reuse_after_rotation_revokes_the_family() {
    let (store, revocations, clock, refresh) = rig(RefreshConfig::default());
    let granted = scopes(&["read"]);
    let rt1 = refresh.issue(&alice(), granted.clone()).await.unwrap();
    // Another login of the same account, which reuse elsewhere must not end.
    let other = refresh.issue(&alice(), granted.clone()).await.unwrap();

    clock.advance(Duration::from_secs(30));
    let rt2 = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap();
    let at2_issued = clock.now();
    assert!(!access_token_revoked(&revocations, &rt1.family, at2_issued, clock.now()).await);

    clock.advance(Duration::from_secs(30));
    let replay = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&replay, TokenError::Reused { family } if *family == rt1.family),
        "{replay:?}"
    );

    let newest = refresh
        .refresh(rt2.token.expose_secret(), &granted, None)
        .await
        .unwrap_err();
    assert!(matches!(newest, TokenError::Invalid), "{newest:?}");
    assert_eq!(
        store.find(&sha256(&rt2.token), clock.now()).await.unwrap(),
        None
    );
    // AT2, minted with RT2, carries the family as `sid` and is revoked.
    assert!(access_token_revoked(&revocations, &rt1.family, at2_issued, clock.now()).await);

    // The other login lives on.
    assert!(!access_token_revoked(&revocations, &other.family, at2_issued, clock.now()).await);
    let other2 = refresh
        .refresh(other.token.expose_secret(), &granted, None)
        .await
        .unwrap();
    assert_eq!(other2.family, other.family);
}

/// Runs 32 refreshes of `presented` at once, released by a barrier.
async fn race(refresh: &RefreshTokens, presented: &str) -> Vec<Result<Refreshed, TokenError>> {
    const RACERS: usize = 32;
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let refresh = refresh.clone();
            let barrier = Arc::clone(&barrier);
            let presented = presented.to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                refresh.refresh(&presented, &scopes(&["read"]), None).await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(RACERS);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// H3: 32 concurrent refreshes of one token with grace 0: exactly one wins
/// and exactly one successor is ever stored; the losers are reuse, so the
/// family ends up revoked and the winner's token is dead too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn h3_concurrent_refreshes_without_grace_create_one_successor_then_revoke() {
    let (store, revocations, clock, refresh) = rig(RefreshConfig::default());
    let rt1 = refresh.issue(&alice(), scopes(&["read"])).await.unwrap();
    let before = store.digests();

    let results = race(&refresh, rt1.token.expose_secret()).await;

    let winners: Vec<&Refreshed> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    let losers: Vec<&TokenError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(losers.len(), 31);
    // The first loser revokes the family (reuse); later ones find it revoked.
    assert!(
        losers
            .iter()
            .all(|e| matches!(e, TokenError::Reused { .. } | TokenError::Invalid)),
        "{losers:?}"
    );
    assert!(
        losers
            .iter()
            .any(|e| matches!(e, TokenError::Reused { family } if *family == rt1.family))
    );

    let created = new_digests(&before, &store.digests());
    assert_eq!(created, vec![sha256(&winners[0].token)]);

    // No successor stays live.
    let now = clock.now();
    assert_eq!(store.find(&created[0], now).await.unwrap(), None);
    let late = refresh
        .refresh(winners[0].token.expose_secret(), &scopes(&["read"]), None)
        .await
        .unwrap_err();
    assert!(
        matches!(late, TokenError::Invalid | TokenError::Reused { .. }),
        "{late:?}"
    );
    assert!(access_token_revoked(&revocations, &rt1.family, now, now).await);
}

/// H4: the same race with a 10 s grace window: every caller gets the same
/// successor, only one is stored, and the family stays alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn h4_concurrent_refreshes_within_grace_share_one_successor() {
    let (store, revocations, clock, refresh) =
        rig_with(grace(10), |b| b.successor_keys(successor_keys()));
    let rt1 = refresh.issue(&alice(), scopes(&["read"])).await.unwrap();
    let before = store.digests();

    let results = race(&refresh, rt1.token.expose_secret()).await;

    let tokens: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(refreshed) => refreshed.token.expose_secret().to_owned(),
            Err(e) => panic!("a racer was refused: {e:?}"),
        })
        .collect();
    assert_eq!(tokens.len(), 32);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_ne!(tokens[0], rt1.token.expose_secret());
    let rt2 = results.into_iter().next().unwrap().unwrap();
    assert!(
        rt2.family == rt1.family && rt2.scopes == scopes(&["read"]),
        "{rt2:?}"
    );

    let created = new_digests(&before, &store.digests());
    assert_eq!(created, vec![sha256(&rt2.token)]);

    let now = clock.now();
    assert!(!access_token_revoked(&revocations, &rt1.family, now, now).await);
    let rt3 = refresh
        .refresh(rt2.token.expose_secret(), &scopes(&["read"]), None)
        .await
        .unwrap();
    assert_eq!(rt3.family, rt1.family);
}

/// H4: a repeat within the grace window gets the same successor; a repeat
/// after it is reuse and revokes the family.
#[tokio::test]
async fn h4b_repeat_after_the_grace_window_is_reuse() {
    let (store, revocations, clock, refresh) =
        rig_with(grace(10), |b| b.successor_keys(successor_keys()));
    let granted = scopes(&["read"]);
    let rt1 = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let rt2 = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap();

    clock.advance(Duration::from_secs(9));
    let again = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap();
    assert_eq!(again.token.expose_secret(), rt2.token.expose_secret());
    assert_eq!(store.digests().len(), 2);

    clock.advance(Duration::from_secs(2));
    let late = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&late, TokenError::Reused { family } if *family == rt1.family),
        "{late:?}"
    );
    let now = clock.now();
    assert_eq!(store.find(&sha256(&rt2.token), now).await.unwrap(), None);
    assert!(access_token_revoked(&revocations, &rt1.family, now, now).await);
    let newest = refresh
        .refresh(rt2.token.expose_secret(), &granted, None)
        .await
        .unwrap_err();
    assert!(matches!(newest, TokenError::Invalid), "{newest:?}");
}

/// H6: once a replay of RT1 has revoked the family, every later token of it
/// is refused, the newest included.
#[tokio::test]
async fn h6_tokens_after_a_replay_are_refused() {
    let (store, _revocations, clock, refresh) = rig(RefreshConfig::default());
    let granted = scopes(&["read"]);
    let rt1 = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let rt2 = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap();
    let rt3 = refresh
        .refresh(rt2.token.expose_secret(), &granted, None)
        .await
        .unwrap();

    let replay = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap_err();
    assert!(matches!(replay, TokenError::Reused { .. }), "{replay:?}");

    let before = store.digests();
    for token in [&rt3.token, &rt2.token] {
        let refused = refresh
            .refresh(token.expose_secret(), &granted, None)
            .await
            .unwrap_err();
        assert!(matches!(refused, TokenError::Invalid), "{refused:?}");
        assert_eq!(store.find(&sha256(token), clock.now()).await.unwrap(), None);
    }
    let mut after = store.digests();
    let mut before = before;
    before.sort_by_key(TokenDigest::to_hex);
    after.sort_by_key(TokenDigest::to_hex);
    assert_eq!(before, after, "a refused refresh stored a successor");
}

/// H7: a family refreshed daily ends 30 days after its login; rotation
/// never moves that end.
#[tokio::test]
async fn h7_family_ends_at_its_absolute_lifetime() {
    let (store, revocations, clock, refresh) = rig(RefreshConfig::default());
    let granted = scopes(&["read"]);
    let login = clock.now();
    let end = login + 30 * DAY;
    let first = refresh.issue(&alice(), granted.clone()).await.unwrap();
    assert_eq!(first.record.expires_at, Some(end));

    let mut current = first.token.clone();
    for day in 1..=29 {
        clock.advance(DAY);
        let next = refresh
            .refresh(current.expose_secret(), &granted, None)
            .await
            .unwrap_or_else(|e| panic!("day {day}: {e:?}"));
        assert_eq!(next.record.expires_at, Some(end), "day {day}");
        let stored = store.find(&sha256(&next.token), clock.now()).await.unwrap();
        assert_eq!(stored.unwrap().expires_at, Some(end), "day {day}");
        current = next.token;
    }

    // One second before the end still works ...
    clock.set(end - Duration::from_secs(1));
    let last = refresh
        .refresh(current.expose_secret(), &granted, None)
        .await
        .unwrap();
    assert_eq!(last.record.expires_at, Some(end));

    // ... one second after it does not.
    clock.set(end + Duration::from_secs(1));
    let expired = refresh
        .refresh(last.token.expose_secret(), &granted, None)
        .await
        .unwrap_err();
    assert!(matches!(expired, TokenError::Invalid), "{expired:?}");
    let now = clock.now();
    assert_eq!(store.find(&sha256(&last.token), now).await.unwrap(), None);
    // Expiry is not reuse: nothing was revoked.
    assert!(!access_token_revoked(&revocations, &first.family, now - DAY, now).await);
}

/// H8: a refresh asking for more than the login was granted is refused
/// without using the token up.
#[tokio::test]
async fn h8_broader_requested_scope_is_refused_and_burns_nothing() {
    let (store, _revocations, clock, refresh) = rig(RefreshConfig::default());
    let granted = scopes(&["read", "write"]);
    let allowed = scopes(&["read", "write", "admin"]);
    let rt1 = refresh.issue(&alice(), granted.clone()).await.unwrap();

    let broader = scopes(&["admin", "read"]);
    let err = refresh
        .refresh(rt1.token.expose_secret(), &allowed, Some(&broader))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TokenError::InvalidScope { scope } if scope == "admin"),
        "{err:?}"
    );
    assert_eq!(store.digests().len(), 1);
    assert!(
        store
            .find(&sha256(&rt1.token), clock.now())
            .await
            .unwrap()
            .is_some()
    );

    let rt2 = refresh
        .refresh(rt1.token.expose_secret(), &allowed, None)
        .await
        .unwrap();
    // `allowed` has more than was granted; nothing is added.
    assert_eq!(rt2.scopes, granted);
    assert_eq!(rt2.record.scopes, granted);
}

/// H8: `allowed` narrows a family to what the account may still have, and
/// a scope once lost does not come back when it is allowed again.
#[tokio::test]
async fn h8_allowed_narrows_and_never_widens() {
    let (store, _revocations, clock, refresh) = rig(RefreshConfig::default());
    let granted = scopes(&["read", "write"]);
    let rt1 = refresh.issue(&alice(), granted.clone()).await.unwrap();

    // The account lost `write` (a role change).
    let rt2 = refresh
        .refresh(rt1.token.expose_secret(), &scopes(&["read"]), None)
        .await
        .unwrap();
    assert_eq!(rt2.scopes, scopes(&["read"]));
    let stored = store.find(&sha256(&rt2.token), clock.now()).await.unwrap();
    assert_eq!(stored.unwrap().scopes, scopes(&["read"]));

    // Getting it back, and more, does not widen the family.
    let rt3 = refresh
        .refresh(
            rt2.token.expose_secret(),
            &scopes(&["read", "write", "admin"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(rt3.scopes, scopes(&["read"]));
    assert_eq!(rt3.record.scopes, scopes(&["read"]));

    // Nothing allowed any more: the family carries no scopes.
    let rt4 = refresh
        .refresh(rt3.token.expose_secret(), &BTreeSet::new(), None)
        .await
        .unwrap();
    assert!(rt4.scopes.is_empty());
}

/// H8 / RFC 6749 §6: a narrower `requested` scope narrows the new access
/// token, but the new refresh token keeps the scope of the one presented.
#[tokio::test]
async fn h8_requested_narrowing_does_not_shrink_the_family() {
    let (_store, _revocations, _clock, refresh) = rig(RefreshConfig::default());
    let granted = scopes(&["read", "write"]);
    let rt1 = refresh.issue(&alice(), granted.clone()).await.unwrap();

    let rt2 = refresh
        .refresh(
            rt1.token.expose_secret(),
            &granted,
            Some(&scopes(&["read"])),
        )
        .await
        .unwrap();
    assert_eq!(rt2.scopes, scopes(&["read"]));
    // "If a new refresh token is issued, the refresh token scope MUST be
    // identical to that of the refresh token included by the client."
    assert_eq!(rt2.record.scopes, granted);
    let rt3 = refresh
        .refresh(
            rt2.token.expose_secret(),
            &granted,
            Some(&scopes(&["write"])),
        )
        .await
        .unwrap();
    assert_eq!(rt3.scopes, scopes(&["write"]));
}

/// H10: strings that are not refresh tokens are malformed; a well-formed
/// but unknown one is invalid. Neither changes the store.
#[tokio::test]
async fn h10_non_refresh_tokens_are_refused() {
    let (store, revocations, clock, refresh) = rig(RefreshConfig::default());
    let granted = scopes(&["read"]);
    let rt = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let keys = api_keys(store.clone(), TokenHasher::sha256(), &clock);
    let key = keys
        .issue(&alice(), "ci", granted.clone(), &granted)
        .await
        .unwrap();
    let before = store.digests().len();

    let raw = rt.token.expose_secret();
    let cases = [
        String::new(),
        "not-a-token".to_owned(),
        "a".repeat(53),
        format!("tsr_{}", "A".repeat(49)),
        key.token.expose_secret().to_owned(),
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
            .to_owned(),
        flip_checksum(raw),
        raw.replacen("tsr_", "tsk_", 1),
        format!("Bearer {raw}"),
        format!("{raw} "),
        raw[..52].to_owned(),
    ];
    for case in &cases {
        let err = refresh.refresh(case, &granted, None).await.unwrap_err();
        assert!(matches!(err, TokenError::Malformed), "{case:?}: {err:?}");
    }

    let unknown = OpaqueToken::generate(TokenKind::Refresh).unwrap();
    let err = refresh
        .refresh(unknown.expose_secret(), &granted, None)
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Invalid), "{err:?}");

    assert_eq!(store.digests().len(), before);
    let now = clock.now();
    assert!(!access_token_revoked(&revocations, &rt.family, now, now).await);
    // The real token was never touched.
    refresh.refresh(raw, &granted, None).await.unwrap();
}

/// G5: an API key with a bad checksum or the wrong prefix is refused
/// without any store lookup.
#[tokio::test]
async fn g5_malformed_api_key_needs_no_store_lookup() {
    let store = Arc::new(CountingStore::default());
    let clock = ManualClock::default();
    let keys = api_keys(store.clone(), TokenHasher::sha256(), &clock);
    let granted = scopes(&["read"]);
    let key = keys
        .issue(&alice(), "ci", granted.clone(), &granted)
        .await
        .unwrap();
    let raw = key.token.expose_secret();

    for bad in [
        flip_checksum(raw),
        raw.replacen("tsk_", "tsr_", 1),
        raw[..52].to_owned(),
        String::new(),
    ] {
        let err = keys.authenticate(&bad).await.unwrap_err();
        assert!(matches!(err, TokenError::Malformed), "{bad:?}: {err:?}");
    }
    assert_eq!(store.finds(), 0);

    // The counter does count: a well-formed key is looked up.
    let record = keys.authenticate(raw).await.unwrap();
    assert_eq!(record.id, key.record.id);
    assert_eq!(store.finds(), 1);
}

/// G6: the store holds only digests; a digest presented as a token is not
/// a token; with a pepper the digest is not plain SHA-256.
#[tokio::test]
async fn g6_store_keeps_only_digests() {
    let (store, _revocations, clock, refresh) = rig(RefreshConfig::default());
    let granted = scopes(&["read"]);
    let rt1 = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let rt2 = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap();
    let keys = api_keys(store.clone(), TokenHasher::sha256(), &clock);
    let key = keys
        .issue(&alice(), "ci", granted.clone(), &granted)
        .await
        .unwrap();
    let tokens = [&rt1.token, &rt2.token, &key.token];

    let mut stored: Vec<String> = store.digests().iter().map(TokenDigest::to_hex).collect();
    let mut expected: Vec<String> = tokens.iter().map(|t| sha256(t).to_hex()).collect();
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected);

    for digest in store.digests() {
        for token in tokens {
            let raw = token.expose_secret().as_bytes();
            assert_ne!(&digest.as_bytes()[..], &raw[..32]);
            assert_ne!(&digest.as_bytes()[..], &raw[raw.len() - 32..]);
        }
        // A copy of the store is not a set of usable tokens.
        let hex = digest.to_hex();
        for presented in [hex.clone(), format!("tsr_{}", &hex[..49])] {
            let err = refresh
                .refresh(&presented, &granted, None)
                .await
                .unwrap_err();
            assert!(matches!(err, TokenError::Malformed), "{err:?}");
        }
        for presented in [hex.clone(), format!("tsk_{}", &hex[..49])] {
            let err = keys.authenticate(&presented).await.unwrap_err();
            assert!(matches!(err, TokenError::Malformed), "{err:?}");
        }
    }

    // With a pepper, the stored digest is the HMAC, not SHA-256.
    let pepper = HmacKeys::single(HmacKey::generate("p1").unwrap());
    let peppered = TokenHasher::with_pepper(pepper);
    let (store, _revocations, clock, refresh) =
        rig_with(RefreshConfig::default(), |b| b.hasher(peppered.clone()));
    let rt = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let keys = api_keys(store.clone(), peppered.clone(), &clock);
    let key = keys
        .issue(&alice(), "ci", granted.clone(), &granted)
        .await
        .unwrap();
    let digests = store.digests();
    for token in [&rt.token, &key.token] {
        assert!(digests.contains(&peppered.digest(token)));
        assert!(!digests.contains(&TokenHasher::sha256().digest(token)));
        assert_ne!(peppered.digest(token), TokenHasher::sha256().digest(token));
    }
    // Without the pepper, the store cannot confirm a real key.
    let unpeppered = api_keys(store.clone(), TokenHasher::sha256(), &clock);
    let err = unpeppered
        .authenticate(key.token.expose_secret())
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Invalid), "{err:?}");
    keys.authenticate(key.token.expose_secret()).await.unwrap();
}

/// Pepper rotation: tokens digested under the old pepper keep working while
/// it is listed, and stop when it is dropped.
#[tokio::test]
async fn pepper_rotation_keeps_old_tokens_until_the_old_key_goes() {
    let p1 = HmacKey::generate("p1").unwrap();
    let p2 = HmacKey::generate("p2").unwrap();
    let old = TokenHasher::with_pepper(HmacKeys::single(p1.clone()));
    let rotated = TokenHasher::with_pepper(HmacKeys::new(vec![p2.clone(), p1]).unwrap());
    let newest = TokenHasher::with_pepper(HmacKeys::single(p2));

    let store = Arc::new(MemoryTokenStore::new());
    let clock = ManualClock::default();
    let revocations = Arc::new(MemoryRevocations::with_clock(Arc::new(clock.clone())));
    let config = RefreshConfig::default();
    let granted = scopes(&["read"]);
    let hashed = |hasher: &TokenHasher| {
        let hasher = hasher.clone();
        let refresh = refresh_tokens(
            store.clone(),
            Arc::clone(&revocations),
            &clock,
            config,
            |b| b.hasher(hasher.clone()),
        );
        (refresh, api_keys(store.clone(), hasher, &clock))
    };

    let (refresh, keys) = hashed(&old);
    let rt_a = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let rt_b = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let key = keys
        .issue(&alice(), "ci", granted.clone(), &granted)
        .await
        .unwrap();

    // [p2, p1]: old tokens still work; new ones are digested under p2.
    let (refresh, keys) = hashed(&rotated);
    let record = keys.authenticate(key.token.expose_secret()).await.unwrap();
    assert_eq!(record.id, key.record.id);
    let successor = refresh
        .refresh(rt_a.token.expose_secret(), &granted, None)
        .await
        .unwrap();
    assert_eq!(successor.family, rt_a.family);
    assert!(store.digests().contains(&newest.digest(&successor.token)));

    // [p2]: what only p1 digested is gone; what p2 digested works.
    let (refresh, keys) = hashed(&newest);
    let err = keys
        .authenticate(key.token.expose_secret())
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Invalid), "{err:?}");
    let err = refresh
        .refresh(rt_b.token.expose_secret(), &granted, None)
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Invalid), "{err:?}");
    refresh
        .refresh(successor.token.expose_secret(), &granted, None)
        .await
        .unwrap();
}

/// API keys: issued within the account's scopes, listed and revoked by
/// their owner only.
#[tokio::test]
async fn api_keys_issue_list_and_revoke_by_owner_only() {
    let store = Arc::new(MemoryTokenStore::new());
    let clock = ManualClock::default();
    let keys = api_keys(store.clone(), TokenHasher::sha256(), &clock);
    let allowed = scopes(&["read", "write"]);

    let err = keys
        .issue(&alice(), "deploy", scopes(&["read", "admin"]), &allowed)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TokenError::ScopeNotAllowed { scope } if scope == "admin"),
        "{err:?}"
    );
    for name in ["", "   "] {
        let err = keys
            .issue(&alice(), name, scopes(&["read"]), &allowed)
            .await
            .unwrap_err();
        assert!(matches!(err, TokenError::InvalidName), "{name:?}: {err:?}");
    }
    assert!(store.digests().is_empty());

    let first = keys
        .issue(&alice(), "first", scopes(&["read"]), &allowed)
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1));
    let second = keys
        .issue(&alice(), "second", allowed.clone(), &allowed)
        .await
        .unwrap();
    let bobs = keys
        .issue(&bob(), "bob's", scopes(&["read"]), &allowed)
        .await
        .unwrap();
    assert_eq!(store.digests().len(), 3);

    let listed = keys.list(&alice()).await.unwrap();
    let ids: Vec<&TokenId> = listed.iter().map(|r| &r.id).collect();
    assert_eq!(ids, [&first.record.id, &second.record.id]);
    let names: Vec<Option<&str>> = listed.iter().map(|r| r.name.as_deref()).collect();
    assert_eq!(names, [Some("first"), Some("second")]);
    assert_eq!(listed[0].scopes, scopes(&["read"]));
    assert_eq!(listed[1].scopes, allowed);
    assert!(listed[0].created_at < listed[1].created_at);
    let bobs_list = keys.list(&bob()).await.unwrap();
    assert_eq!(bobs_list.len(), 1);
    assert_eq!(bobs_list[0].id, bobs.record.id);

    // Bob cannot revoke Alice's key.
    assert!(!keys.revoke(&bob(), &first.record.id).await.unwrap());
    let record = keys
        .authenticate(first.token.expose_secret())
        .await
        .unwrap();
    assert_eq!(record.subject, alice());

    assert!(keys.revoke(&alice(), &first.record.id).await.unwrap());
    let err = keys
        .authenticate(first.token.expose_secret())
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Invalid), "{err:?}");
    assert!(!keys.revoke(&alice(), &first.record.id).await.unwrap());
    let listed = keys.list(&alice()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, second.record.id);
    keys.authenticate(second.token.expose_secret())
        .await
        .unwrap();
}

/// API key use is written at most once per 60 s.
#[tokio::test]
async fn api_key_use_is_recorded_at_most_once_a_minute() {
    let store = Arc::new(CountingStore::default());
    let clock = ManualClock::default();
    let keys = api_keys(store.clone(), TokenHasher::sha256(), &clock);
    let granted = scopes(&["read"]);
    let key = keys
        .issue(&alice(), "ci", granted.clone(), &granted)
        .await
        .unwrap();
    let last_used = || async { keys.list(&alice()).await.unwrap()[0].last_used_at };
    assert_eq!(last_used().await, None);

    let first_use = clock.now();
    keys.authenticate(key.token.expose_secret()).await.unwrap();
    clock.advance(Duration::from_secs(30));
    keys.authenticate(key.token.expose_secret()).await.unwrap();
    assert_eq!(store.uses(), 1);
    assert_eq!(last_used().await, Some(first_use));

    clock.advance(Duration::from_secs(31));
    let record = keys.authenticate(key.token.expose_secret()).await.unwrap();
    // The record handed back shows the use just recorded.
    assert_eq!(record.last_used_at, Some(clock.now()));
    assert_eq!(store.uses(), 2);
    assert_eq!(last_used().await, Some(clock.now()));
}

/// Logout-all keeps API keys; deactivation ends them too. Access tokens
/// issued before the call are cut off, later ones are not.
#[tokio::test]
async fn revoke_subject_ends_families_and_optionally_api_keys() {
    let (store, revocations, clock, refresh) = rig(RefreshConfig::default());
    let granted = scopes(&["read"]);
    let keys = api_keys(store.clone(), TokenHasher::sha256(), &clock);
    let rt_a = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let rt_b = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let bobs = refresh.issue(&bob(), granted.clone()).await.unwrap();
    let key = keys
        .issue(&alice(), "ci", granted.clone(), &granted)
        .await
        .unwrap();
    let minted_before = clock.now();

    clock.advance(Duration::from_secs(10));
    refresh
        .revoke_subject(&alice(), RevokeScope::RefreshTokens)
        .await
        .unwrap();
    let cut = clock.now();

    for rt in [&rt_a, &rt_b] {
        let err = refresh
            .refresh(rt.token.expose_secret(), &granted, None)
            .await
            .unwrap_err();
        assert!(matches!(err, TokenError::Invalid), "{err:?}");
        assert!(access_token_revoked(&revocations, &rt.family, cut, cut).await);
    }
    keys.authenticate(key.token.expose_secret()).await.unwrap();
    assert!(!access_token_revoked(&revocations, &bobs.family, cut, cut).await);
    refresh
        .refresh(bobs.token.expose_secret(), &granted, None)
        .await
        .unwrap();

    // The per-account cut-off, for access tokens outside a family.
    let check = |issued_at| RevocationCheck::new("jti-x", None, "alice", issued_at);
    assert!(
        revocations
            .is_revoked(check(minted_before), cut)
            .await
            .unwrap()
    );
    assert!(
        revocations
            .is_revoked(check(cut - Duration::from_secs(1)), cut)
            .await
            .unwrap()
    );
    clock.advance(Duration::from_secs(1));
    let later = clock.now();
    assert!(!revocations.is_revoked(check(later), later).await.unwrap());
    let bob_check = RevocationCheck::new("jti-y", None, "bob", minted_before);
    assert!(!revocations.is_revoked(bob_check, later).await.unwrap());

    refresh
        .revoke_subject(&alice(), RevokeScope::Everything)
        .await
        .unwrap();
    let err = keys
        .authenticate(key.token.expose_secret())
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Invalid), "{err:?}");
    assert!(keys.list(&alice()).await.unwrap().is_empty());
}

/// Purging drops expired families but keeps the used tokens of live ones,
/// so a replay after a purge is still caught as reuse.
#[tokio::test]
async fn purge_keeps_used_tokens_of_live_families() {
    let mut config = RefreshConfig::default();
    config.family_lifetime = DAY;
    let (store, revocations, clock, refresh) = rig(config);
    let granted = scopes(&["read"]);
    let old = refresh.issue(&alice(), granted.clone()).await.unwrap();
    clock.advance(Duration::from_secs(12 * 60 * 60));
    let b1 = refresh.issue(&alice(), granted.clone()).await.unwrap();
    clock.advance(Duration::from_secs(60 * 60));
    let b2 = refresh
        .refresh(b1.token.expose_secret(), &granted, None)
        .await
        .unwrap();

    // The first family has ended; the second lives until 36 h.
    clock.set(old.record.expires_at.unwrap() + Duration::from_secs(1));
    let purged = store.purge_expired(clock.now()).await.unwrap();
    assert_eq!(purged, 2, "the ended family and its one token");
    let digests = store.digests();
    assert!(!digests.contains(&sha256(&old.token)));
    assert!(digests.contains(&sha256(&b1.token)));
    assert!(digests.contains(&sha256(&b2.token)));
    assert_eq!(digests.len(), 2);

    let replay = refresh
        .refresh(b1.token.expose_secret(), &granted, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&replay, TokenError::Reused { family } if *family == b1.family),
        "{replay:?}"
    );
    let now = clock.now();
    assert!(access_token_revoked(&revocations, &b1.family, now, now).await);
}

/// `MemoryRevocations` keeps a family revocation for as long as its `until`
/// lies ahead of the clock the rest of the system runs on.
#[tokio::test]
async fn memory_revocations_prune_by_the_injected_clock() {
    let clock = ManualClock::default();
    let revocations = MemoryRevocations::with_clock(Arc::new(clock.clone()));
    let family = FamilyId::new("f1");
    let until = clock.now() + 30 * DAY;
    revocations.revoke_family(&family, until).await.unwrap();
    // Pruning runs every 256 writes.
    for i in 0..255 {
        revocations
            .revoke_token(&format!("jti-{i}"), until)
            .await
            .unwrap();
    }
    let now = clock.now();
    assert!(access_token_revoked(&revocations, &family, now, now).await);
}

/// Revocations that fail while `down` is set.
struct Flaky {
    inner: MemoryRevocations,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Revocations for Flaky {
    async fn revoke_token(&self, jti: &str, until: SystemTime) -> Result<(), StoreError> {
        self.inner.revoke_token(jti, until).await
    }
    async fn revoke_family(&self, family: &FamilyId, until: SystemTime) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("down"));
        }
        self.inner.revoke_family(family, until).await
    }
    async fn revoke_subject_before(
        &self,
        subject: &UserId,
        before: SystemTime,
        until: SystemTime,
    ) -> Result<(), StoreError> {
        self.inner
            .revoke_subject_before(subject, before, until)
            .await
    }
    async fn is_revoked(
        &self,
        token: RevocationCheck<'_>,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        self.inner.is_revoked(token, now).await
    }
}

/// A reuse whose access-token revocation failed is repaired by the next
/// presentation of any token of the family.
#[tokio::test]
async fn a_failed_family_revocation_is_repaired_on_the_next_presentation() {
    let clock = ManualClock::default();
    let flaky = Arc::new(Flaky {
        inner: MemoryRevocations::with_clock(Arc::new(clock.clone())),
        down: std::sync::atomic::AtomicBool::new(true),
    });
    let store = Arc::new(MemoryTokenStore::new());
    let refresh = RefreshTokens::builder(store, flaky.clone())
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let granted = scopes(&["read"]);
    let rt1 = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let rt2 = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap();
    // The reuse revokes the family in the token store, but its access
    // tokens stay valid: the revocation store is down.
    let reuse = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await;
    assert!(matches!(reuse, Err(TokenError::Store(_))), "{reuse:?}");
    let now = clock.now();
    let check = RevocationCheck::new("j", Some(rt1.family.as_str()), "alice", now);
    assert!(!flaky.is_revoked(check, now).await.unwrap());
    // Back up: presenting any token of the family re-asserts the revocation.
    flaky.down.store(false, Ordering::SeqCst);
    assert!(matches!(
        refresh
            .refresh(rt2.token.expose_secret(), &granted, None)
            .await,
        Err(TokenError::Invalid)
    ));
    assert!(flaky.is_revoked(check, now).await.unwrap());
}

/// Within the grace window: a broader requested scope is refused, and a
/// repeat after the successor was itself rotated is reuse.
#[tokio::test]
async fn grace_window_edges() {
    let (_store, revocations, clock, refresh) =
        rig_with(grace(10), |b| b.successor_keys(successor_keys()));
    let granted = scopes(&["read"]);
    let rt1 = refresh.issue(&alice(), granted.clone()).await.unwrap();
    let rt2 = refresh
        .refresh(rt1.token.expose_secret(), &granted, None)
        .await
        .unwrap();
    let broader = scopes(&["read", "write"]);
    assert!(matches!(
        refresh
            .refresh(rt1.token.expose_secret(), &granted, Some(&broader))
            .await,
        Err(TokenError::InvalidScope { .. })
    ));
    refresh
        .refresh(rt2.token.expose_secret(), &granted, None)
        .await
        .unwrap();
    assert!(matches!(
        refresh
            .refresh(rt1.token.expose_secret(), &granted, None)
            .await,
        Err(TokenError::Reused { .. })
    ));
    assert!(access_token_revoked(&revocations, &rt1.family, clock.now(), clock.now()).await);
}

/// `peek` names the account without using the token up.
#[tokio::test]
async fn peek_does_not_use_the_token_up() {
    let (_store, _revocations, _clock, refresh) = rig(RefreshConfig::default());
    let rt1 = refresh.issue(&alice(), scopes(&["read"])).await.unwrap();
    assert_eq!(
        refresh
            .peek(rt1.token.expose_secret())
            .await
            .unwrap()
            .subject,
        alice()
    );
    let rt2 = refresh
        .refresh(rt1.token.expose_secret(), &scopes(&["read"]), None)
        .await
        .unwrap();
    assert!(matches!(
        refresh.peek(rt1.token.expose_secret()).await,
        Err(TokenError::Invalid)
    ));
    assert!(refresh.peek(rt2.token.expose_secret()).await.is_ok());
    assert!(matches!(
        refresh.peek("garbage").await,
        Err(TokenError::Malformed)
    ));
}
