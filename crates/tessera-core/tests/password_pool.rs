//! The hashing worker pool: bounded concurrency, fast overload, policy first,
//! and workers that survive a panicking hasher. Asserted on instruments in
//! the hasher and on the pool's counters, never on time.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};

use tessera_core::password::{
    Argon2Hasher, Argon2Params, Password, PasswordError, PasswordHasher, PasswordPolicy,
    PasswordPool, PasswordVerifier, PolicyError, Scratch, Verified,
};

/// Wraps a hasher and records how many calls run at once and in all.
#[derive(Default)]
struct Instrument {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    hashes: AtomicUsize,
    verifies: AtomicUsize,
    dummies: AtomicUsize,
}

struct Instrumented {
    inner: Argon2Hasher,
    instrument: Arc<Instrument>,
}

impl Instrumented {
    fn track<T>(&self, counter: &AtomicUsize, f: impl FnOnce() -> T) -> T {
        counter.fetch_add(1, Ordering::SeqCst);
        let now = self.instrument.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.instrument
            .max_in_flight
            .fetch_max(now, Ordering::SeqCst);
        let out = f();
        self.instrument.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

impl PasswordHasher for Instrumented {
    fn verify_dummy_with(
        &self,
        password: &Password,
        scratch: &mut Scratch,
    ) -> Result<(), PasswordError> {
        self.track(&self.instrument.dummies, || {
            self.inner.verify_dummy_with(password, scratch)
        })
    }

    fn hash_password_with(
        &self,
        password: &Password,
        scratch: &mut Scratch,
    ) -> Result<String, PasswordError> {
        self.track(&self.instrument.hashes, || {
            self.inner.hash_password_with(password, scratch)
        })
    }
}

impl PasswordVerifier for Instrumented {
    fn verify_password_with(
        &self,
        password: &Password,
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        self.track(&self.instrument.verifies, || {
            self.inner.verify_password_with(password, stored, scratch)
        })
    }
}

fn cheap() -> Argon2Hasher {
    Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap()
}

fn instrumented_pool(workers: usize, queue: usize) -> (PasswordPool, Arc<Instrument>) {
    let instrument = Arc::new(Instrument::default());
    let pool = PasswordPool::builder()
        .hasher(Instrumented {
            inner: cheap(),
            instrument: Arc::clone(&instrument),
        })
        .workers(workers)
        .queue_capacity(queue)
        .build()
        .unwrap();
    (pool, instrument)
}

/// A hasher that blocks until the test lets it go, says when it started,
/// and records how many calls run at once.
struct Gated {
    started: Mutex<mpsc::Sender<()>>,
    tokens: Arc<(Mutex<usize>, Condvar)>,
    instrument: Arc<Instrument>,
}

/// The test's side of a [`Gated`] hasher.
struct Gate {
    started: mpsc::Receiver<()>,
    tokens: Arc<(Mutex<usize>, Condvar)>,
    instrument: Arc<Instrument>,
}

impl Gate {
    fn new() -> (Gated, Gate) {
        let (started_tx, started) = mpsc::channel();
        let tokens = Arc::new((Mutex::new(0), Condvar::new()));
        let instrument = Arc::new(Instrument::default());
        let gated = Gated {
            started: Mutex::new(started_tx),
            tokens: Arc::clone(&tokens),
            instrument: Arc::clone(&instrument),
        };
        (
            gated,
            Gate {
                started,
                tokens,
                instrument,
            },
        )
    }

    /// Waits, off the async executor, until `n` more calls have started.
    async fn wait_started(self, n: usize) -> Self {
        tokio::task::spawn_blocking(move || {
            for _ in 0..n {
                self.started.recv().unwrap();
            }
            self
        })
        .await
        .unwrap()
    }

    /// Lets `n` calls leave the hasher.
    fn release(&self, n: usize) {
        let (count, wake) = &*self.tokens;
        *count.lock().unwrap() += n;
        wake.notify_all();
    }

    fn calls(&self) -> usize {
        self.instrument.hashes.load(Ordering::SeqCst)
    }
}

impl PasswordHasher for Gated {
    fn hash_password_with(&self, _: &Password, _: &mut Scratch) -> Result<String, PasswordError> {
        let i = &self.instrument;
        i.hashes.fetch_add(1, Ordering::SeqCst);
        let now = i.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        i.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.started.lock().unwrap().send(()).unwrap();
        // The condition variable releases the lock while waiting, so the
        // gate never serialises the workers it is measuring.
        let (count, wake) = &*self.tokens;
        let mut count = wake.wait_while(count.lock().unwrap(), |n| *n == 0).unwrap();
        *count -= 1;
        drop(count);
        i.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok("$gated$".into())
    }

    fn verify_dummy_with(&self, _: &Password, _: &mut Scratch) -> Result<(), PasswordError> {
        Err(PasswordError::Internal("not used by these tests"))
    }
}

impl PasswordVerifier for Gated {
    fn verify_password_with(
        &self,
        _: &Password,
        _: &str,
        _: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        Err(PasswordError::Internal("not used by these tests"))
    }
}

fn gated_pool(workers: usize, queue: usize) -> (PasswordPool, Gate) {
    let (gated, gate) = Gate::new();
    let pool = PasswordPool::builder()
        .hasher(gated)
        .workers(workers)
        .queue_capacity(queue)
        .build()
        .unwrap();
    (pool, gate)
}

fn spawn_hash(pool: &PasswordPool) -> tokio::task::JoinHandle<Result<String, PasswordError>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.hash(&Password::new("correct horse")).await })
}

async fn until(mut condition: impl FnMut() -> bool) {
    while !condition() {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_most_workers_hashes_run_at_once_under_64_callers() {
    let (pool, gate) = gated_pool(3, 64);
    let tasks: Vec<_> = (0..64).map(|_| spawn_hash(&pool)).collect();
    // Exactly three calls are inside the hasher, held there, and the other
    // 61 wait in the queue: the workers run in parallel, and no more of them.
    let gate = gate.wait_started(3).await;
    until(|| pool.stats().queued == 61).await;
    assert_eq!(gate.instrument.in_flight.load(Ordering::SeqCst), 3);
    assert_eq!(gate.calls(), 3);
    assert_eq!(pool.stats().running, 3);

    gate.release(64);
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "$gated$");
    }
    assert_eq!(gate.instrument.max_in_flight.load(Ordering::SeqCst), 3);
    assert_eq!(gate.calls(), 64);
    let stats = pool.stats();
    assert_eq!(stats.peak_running, 3, "{stats:?}");
    assert_eq!(
        (stats.completed, stats.rejected, stats.queued, stats.running),
        (64, 0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_verifications_under_64_callers_stay_within_the_workers() {
    let (pool, instrument) = instrumented_pool(3, 64);
    let stored = cheap().hash_password(&Password::new("hunter22")).unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let pool = pool.clone();
        let stored = stored.clone();
        let barrier = Arc::clone(&barrier);
        tasks.spawn(async move {
            barrier.wait().await;
            let guess = if i % 2 == 0 { "hunter22" } else { "hunter23" };
            (i, pool.verify(&Password::new(guess), &stored).await)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.unwrap();
        assert_eq!(result.unwrap().is_valid(), i % 2 == 0);
    }
    let max = instrument.max_in_flight.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&max),
        "{max} verifications ran at once with 3 workers"
    );
    assert_eq!(instrument.verifies.load(Ordering::SeqCst), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_fails_fast_with_overloaded() {
    let (pool, gate) = gated_pool(1, 2);
    // One job occupies the only worker...
    let running = spawn_hash(&pool);
    let gate = gate.wait_started(1).await;
    // ...two wait in the queue...
    let queued = [spawn_hash(&pool), spawn_hash(&pool)];
    until(|| pool.stats().queued == 2).await;
    // ...and the next is refused at once, without reaching the hasher.
    let err = pool
        .hash(&Password::new("correct horse"))
        .await
        .unwrap_err();
    assert!(matches!(err, PasswordError::Overloaded), "{err:?}");
    let stats = pool.stats();
    assert_eq!(
        (stats.running, stats.queued, stats.rejected),
        (1, 2, 1),
        "{stats:?}"
    );

    gate.release(3);
    assert_eq!(running.await.unwrap().unwrap(), "$gated$");
    for task in queued {
        assert_eq!(task.await.unwrap().unwrap(), "$gated$");
    }
    assert_eq!(gate.calls(), 3);
    assert_eq!(pool.stats().completed, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_for_a_caller_that_gave_up_is_skipped() {
    let (pool, gate) = gated_pool(1, 4);
    let first = spawn_hash(&pool);
    let gate = gate.wait_started(1).await;
    // Queued behind the first, then abandoned (a client that disconnected).
    let abandoned = spawn_hash(&pool);
    until(|| pool.stats().queued == 1).await;
    abandoned.abort();
    assert!(abandoned.await.unwrap_err().is_cancelled());

    gate.release(1);
    first.await.unwrap().unwrap();
    let last = spawn_hash(&pool);
    let gate = gate.wait_started(1).await;
    gate.release(1);
    last.await.unwrap().unwrap();
    assert_eq!(gate.calls(), 2, "the abandoned job was hashed");
    assert_eq!(pool.stats().completed, 3);
}

#[tokio::test]
async fn the_policy_runs_before_any_hashing() {
    let (pool, instrument) = instrumented_pool(1, 4);
    let err = pool.hash(&Password::new("short")).await.unwrap_err();
    assert!(
        matches!(
            err,
            PasswordError::Policy(PolicyError::TooShort { min: 8, actual: 5 })
        ),
        "{err:?}"
    );
    assert_eq!(instrument.hashes.load(Ordering::SeqCst), 0);
    assert_eq!(pool.stats().completed, 0);
    // Verification applies no length rule: a password set under an older,
    // looser policy still logs in.
    let stored = cheap().hash_password(&Password::new("short")).unwrap();
    assert!(
        pool.verify(&Password::new("short"), &stored)
            .await
            .unwrap()
            .is_valid()
    );
}

#[tokio::test]
async fn verify_dummy_runs_one_real_verification_through_the_pool() {
    let (pool, instrument) = instrumented_pool(1, 4);
    pool.verify_dummy(&Password::new("whatever")).await.unwrap();
    assert_eq!(instrument.dummies.load(Ordering::SeqCst), 1);
    assert_eq!(instrument.verifies.load(Ordering::SeqCst), 0);
    assert_eq!(pool.stats().completed, 1);
}

/// A7: long passwords with emoji and spaces, and NFKC-equivalent spellings.
#[tokio::test]
async fn a7_long_unicode_passwords_and_nfkc_equivalents() {
    let pool = PasswordPool::builder()
        .hasher(cheap())
        .workers(1)
        .build()
        .unwrap();
    let p64: String = "pass 🔑 wörd ".chars().cycle().take(64).collect();
    let p128: String = "🦀 long passphrase with spaces "
        .chars()
        .cycle()
        .take(128)
        .collect();
    for password in [p64, p128] {
        let stored = pool.hash(&Password::new(password.clone())).await.unwrap();
        assert!(
            pool.verify(&Password::new(password.clone()), &stored)
                .await
                .unwrap()
                .is_valid()
        );
        let mut other = password.clone();
        other.pop();
        assert!(
            !pool
                .verify(&Password::new(other), &stored)
                .await
                .unwrap()
                .is_valid()
        );
    }

    // Typed on different systems: a ligature, a combining accent, full-width
    // letters. NFKC makes them one password.
    let stored = pool
        .hash(&Password::new("ﬁnance café ｐａｓｓ"))
        .await
        .unwrap();
    for equivalent in [
        "finance cafe\u{301} pass",
        "ﬁnance café pass",
        "finance café ｐａｓｓ",
    ] {
        let verified = pool
            .verify(&Password::new(equivalent), &stored)
            .await
            .unwrap();
        assert!(verified.is_valid(), "{equivalent}");
    }
    assert!(
        !pool
            .verify(&Password::new("finance cafe pass"), &stored)
            .await
            .unwrap()
            .is_valid()
    );
}

#[tokio::test]
async fn a_custom_policy_is_applied() {
    let pool = PasswordPool::builder()
        .hasher(cheap())
        .policy(PasswordPolicy::nist_single_factor())
        .workers(1)
        .build()
        .unwrap();
    let err = pool.hash(&Password::new("only twelve!")).await.unwrap_err();
    assert!(
        matches!(
            err,
            PasswordError::Policy(PolicyError::TooShort { min: 15, .. })
        ),
        "{err:?}"
    );
}

struct Panicking;

impl PasswordHasher for Panicking {
    fn verify_dummy_with(&self, _: &Password, _: &mut Scratch) -> Result<(), PasswordError> {
        Ok(())
    }

    fn hash_password_with(
        &self,
        password: &Password,
        _: &mut Scratch,
    ) -> Result<String, PasswordError> {
        if password.expose_secret() == "panic please" {
            panic!("hasher bug");
        }
        Ok("$ok$".into())
    }
}

impl PasswordVerifier for Panicking {
    fn verify_password_with(
        &self,
        _: &Password,
        _: &str,
        _: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        Ok(Verified::INVALID)
    }
}

#[tokio::test]
async fn a_panicking_hasher_does_not_kill_the_worker() {
    let pool = PasswordPool::builder()
        .hasher(Panicking)
        .workers(1)
        .build()
        .unwrap();
    let err = pool.hash(&Password::new("panic please")).await.unwrap_err();
    assert!(matches!(err, PasswordError::WorkersUnavailable), "{err:?}");
    assert_eq!(
        pool.hash(&Password::new("fine password")).await.unwrap(),
        "$ok$"
    );
}

#[test]
fn worker_and_queue_counts_are_validated_and_defaulted() {
    assert!(PasswordPool::builder().workers(0).build().is_err());
    assert!(PasswordPool::builder().workers(1025).build().is_err());
    assert!(
        PasswordPool::builder()
            .workers(1)
            .queue_capacity(usize::MAX)
            .build()
            .is_err()
    );
    let stats = PasswordPool::builder().workers(3).build().unwrap().stats();
    assert_eq!((stats.workers, stats.queue_capacity), (3, 12));
    let parallelism = std::thread::available_parallelism().unwrap().get();
    let stats = PasswordPool::builder().build().unwrap().stats();
    assert_eq!(
        (stats.workers, stats.queue_capacity),
        (parallelism, 4 * parallelism)
    );
}
