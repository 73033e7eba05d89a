//! In-memory implementations of the store traits.
//!
//! For tests, examples and single-process deployments that can afford to lose
//! everything on restart. Each is the reference behaviour its trait's other
//! implementations are tested against.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;

use crate::error::{CreateUserError, StoreError};
use crate::users::{Login, NewUser, PasswordUpdate, User, UserId, UserStore};

/// A [`UserStore`] in memory.
///
/// ```
/// use std::time::SystemTime;
/// use tessera_core::error::CreateUserError;
/// use tessera_core::memory::MemoryUserStore;
/// use tessera_core::users::{Login, NewUser, UserStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = MemoryUserStore::new();
/// let now = SystemTime::now();
/// let alice = store
///     .create(NewUser::new(Login::parse("alice@example.com").unwrap(), "$argon2id$…".into()), now)
///     .await
///     .unwrap();
/// let again = store
///     .create(NewUser::new(Login::parse(" Alice@Example.com ").unwrap(), "$argon2id$…".into()), now)
///     .await;
/// assert!(matches!(again, Err(CreateUserError::LoginTaken)));
/// assert_eq!(store.find_by_id(&alice.id).await.unwrap(), Some(alice));
/// # }
/// ```
#[derive(Default)]
pub struct MemoryUserStore {
    state: Mutex<UserState>,
}

#[derive(Default)]
struct UserState {
    by_id: HashMap<UserId, User>,
    by_login: HashMap<Login, UserId>,
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, UserState> {
        // Nothing panics while the lock is held, so a poisoned lock still
        // guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, id: &UserId, change: impl FnOnce(&mut User) -> bool) -> Option<User> {
        let mut state = self.lock();
        let user = state.by_id.get_mut(id)?;
        change(user).then(|| user.clone())
    }
}

impl fmt::Debug for MemoryUserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryUserStore")
            .field("users", &self.len())
            .finish()
    }
}

#[async_trait]
impl UserStore for MemoryUserStore {
    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
        let state = self.lock();
        Ok(state
            .by_login
            .get(login)
            .and_then(|id| state.by_id.get(id))
            .cloned())
    }

    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock().by_id.get(id).cloned())
    }

    async fn create(&self, new: NewUser, at: SystemTime) -> Result<User, CreateUserError> {
        let id = UserId::new(random_id()?);
        let mut user = User::new(id.clone(), new.login, new.password_hash, at);
        user.roles = new.roles;
        user.active = new.active;
        let mut state = self.lock();
        if state.by_login.contains_key(&user.login) {
            return Err(CreateUserError::LoginTaken);
        }
        state.by_login.insert(user.login.clone(), id.clone());
        state.by_id.insert(id, user.clone());
        Ok(user)
    }

    async fn update_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        update: PasswordUpdate,
    ) -> Result<Option<User>, StoreError> {
        Ok(self.update(id, |user| {
            match &update {
                PasswordUpdate::Changed { at } => user.password_changed_at = *at,
                PasswordUpdate::Rehash { previous } => {
                    if user.password_hash != *previous {
                        return false;
                    }
                }
            }
            user.password_hash = password_hash.to_owned();
            true
        }))
    }

    async fn set_roles(
        &self,
        id: &UserId,
        roles: &BTreeSet<String>,
    ) -> Result<Option<User>, StoreError> {
        Ok(self.update(id, |user| {
            user.roles.clone_from(roles);
            true
        }))
    }

    async fn set_active(&self, id: &UserId, active: bool) -> Result<Option<User>, StoreError> {
        Ok(self.update(id, |user| {
            user.active = active;
            true
        }))
    }

    async fn record_login(&self, id: &UserId, at: SystemTime) -> Result<Option<User>, StoreError> {
        Ok(self.update(id, |user| {
            user.last_login_at = Some(at);
            true
        }))
    }
}

/// 128 random bits, hex-encoded: unguessable ids that say nothing about how
/// many accounts exist.
fn random_id() -> Result<String, StoreError> {
    let bytes = crate::random::os_bytes::<16>().map_err(StoreError::Unavailable)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn new_user(login: &str) -> NewUser {
        NewUser::new(
            Login::parse(login).unwrap(),
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        )
    }

    #[tokio::test]
    async fn create_and_find_by_login_and_id() {
        let store = MemoryUserStore::new();
        let clock = ManualClock::default();
        let user = store
            .create(
                new_user("alice@example.com").with_roles(["user", "admin"]),
                clock.now(),
            )
            .await
            .unwrap();
        assert_eq!(user.login.as_str(), "alice@example.com");
        assert_eq!(user.roles.iter().collect::<Vec<_>>(), ["admin", "user"]);
        assert!(user.active);
        assert_eq!(user.created_at, clock.now());
        assert_eq!(user.password_changed_at, clock.now());
        assert_eq!(user.last_login_at, None);
        assert_eq!(user.id.as_str().len(), 32);

        let by_login = store
            .find_by_login(&Login::parse("ALICE@example.com ").unwrap())
            .await
            .unwrap();
        assert_eq!(by_login.as_ref(), Some(&user));
        assert_eq!(store.find_by_id(&user.id).await.unwrap(), Some(user));
        assert_eq!(
            store
                .find_by_login(&Login::parse("bob@example.com").unwrap())
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.find_by_id(&UserId::new("nope")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_taken_login_is_a_distinct_error_after_normalisation() {
        let store = MemoryUserStore::new();
        let now = SystemTime::UNIX_EPOCH;
        store
            .create(new_user("alice@example.com"), now)
            .await
            .unwrap();
        let err = store
            .create(new_user("Alice@Example.com "), now)
            .await
            .unwrap_err();
        assert!(matches!(err, CreateUserError::LoginTaken), "{err:?}");
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn updates_change_only_what_they_name() {
        let store = MemoryUserStore::new();
        let clock = ManualClock::default();
        let created = clock.now();
        let user = store
            .create(new_user("a@example.com"), created)
            .await
            .unwrap();
        let unknown = UserId::new("unknown");

        clock.advance(Duration::from_secs(60));
        let changed = store
            .update_password_hash(
                &user.id,
                "$new$",
                PasswordUpdate::Changed { at: clock.now() },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(changed.password_hash, "$new$");
        assert_eq!(changed.password_changed_at, clock.now());
        assert_eq!(changed.created_at, created);

        // A rehash applies only on top of the hash it verified against.
        let stale = store
            .update_password_hash(
                &user.id,
                "$rehash-of-old$",
                PasswordUpdate::Rehash {
                    previous: user.password_hash.clone(),
                },
            )
            .await
            .unwrap();
        assert_eq!(stale, None);
        let rehashed = store
            .update_password_hash(
                &user.id,
                "$rehash$",
                PasswordUpdate::Rehash {
                    previous: "$new$".into(),
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rehashed.password_hash, "$rehash$");
        assert_eq!(rehashed.password_changed_at, changed.password_changed_at);

        let roles: BTreeSet<String> = ["editor".to_owned()].into();
        let with_roles = store.set_roles(&user.id, &roles).await.unwrap().unwrap();
        assert_eq!(with_roles.roles, roles);
        let inactive = store.set_active(&user.id, false).await.unwrap().unwrap();
        assert!(!inactive.active);
        clock.advance(Duration::from_secs(5));
        let logged_in = store
            .record_login(&user.id, clock.now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(logged_in.last_login_at, Some(clock.now()));
        assert_eq!(store.find_by_id(&user.id).await.unwrap(), Some(logged_in));

        assert_eq!(store.set_roles(&unknown, &roles).await.unwrap(), None);
        assert_eq!(store.set_active(&unknown, true).await.unwrap(), None);
        assert_eq!(
            store.record_login(&unknown, clock.now()).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .update_password_hash(&unknown, "x", PasswordUpdate::Changed { at: clock.now() })
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_creates_of_one_login_give_exactly_one_success() {
        let store = Arc::new(MemoryUserStore::new());
        let barrier = Arc::new(tokio::sync::Barrier::new(32));
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                // Different spellings of one login.
                let login = if i % 2 == 0 {
                    "carol@example.com"
                } else {
                    " CAROL@example.com"
                };
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.create(new_user(login), SystemTime::UNIX_EPOCH).await
                })
            })
            .collect();
        let mut ok = 0;
        let mut taken = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(CreateUserError::LoginTaken) => taken += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!((ok, taken), (1, 31));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn debug_does_not_print_the_hash() {
        let user = User::new(
            UserId::new("1"),
            Login::parse("a@example.com").unwrap(),
            "$argon2id$secret-hash".into(),
            SystemTime::UNIX_EPOCH,
        );
        assert!(!format!("{user:?}").contains("secret-hash"));
        let new = new_user("a@example.com");
        assert!(!format!("{new:?}").contains("aGFzaA"));
    }
}
