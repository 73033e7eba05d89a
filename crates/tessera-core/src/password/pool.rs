//! A fixed pool of hashing threads behind a bounded queue.

use std::fmt;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use tokio::sync::oneshot;

use super::{Argon2Hasher, Password, PasswordHashing, PasswordPolicy, Scratch, Verified};
use crate::error::{ConfigError, PasswordError};

/// Most workers a pool may have.
const MAX_WORKERS: usize = 1024;
/// Deepest queue a pool may have.
const MAX_QUEUE: usize = 65_536;

/// A unit of work. It calls [`Counters::finish`] itself, before it answers,
/// so a caller that has its answer also sees the counters updated.
type Job = Box<dyn FnOnce(&dyn PasswordHashing, &mut Scratch, &Counters) + Send>;

/// Async password hashing on a fixed set of worker threads.
///
/// - Never blocks the caller's executor: a call hands the work to a worker
///   thread and awaits the answer. It works on any async runtime.
/// - Bounded memory: each worker keeps one argon2 memory buffer and reuses
///   it, so peak memory is `workers × m_cost` however many callers there are
///   (plus, transiently, stored hashes whose memory cost is above the current
///   one, up to the [ceiling](super::Argon2Limits)).
/// - Bounded waiting: at most `queue_capacity` jobs wait; one more fails at
///   once with [`PasswordError::Overloaded`], which the adapters answer with
///   503 and `Retry-After`. A flood of logins is refused instead of queued
///   without bound.
/// - Applies the [`PasswordPolicy`]: new passwords are checked, and every
///   password is size-limited and normalised before it reaches a worker.
///
/// Cloning is cheap and shares the workers. The threads exit when the last
/// clone is dropped and the queue has drained.
#[derive(Clone)]
pub struct PasswordPool {
    inner: Arc<Inner>,
}

struct Inner {
    sender: SyncSender<Job>,
    policy: PasswordPolicy,
    stats: Arc<Counters>,
    workers: usize,
    queue_capacity: usize,
}

#[derive(Default)]
struct Counters {
    // Jobs accepted by the queue and jobs taken from it: their difference is
    // what waits. Counting after a successful send means a job is never
    // reported as queued before it is.
    submitted: AtomicU64,
    started: AtomicU64,
    running: AtomicUsize,
    peak_running: AtomicUsize,
    completed: AtomicU64,
    rejected: AtomicU64,
}

impl Counters {
    /// A worker took a job from the queue.
    fn start(&self) {
        self.started.fetch_add(1, Ordering::SeqCst);
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_running.fetch_max(running, Ordering::SeqCst);
    }

    /// The job is done (or was skipped, or panicked).
    fn finish(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.completed.fetch_add(1, Ordering::SeqCst);
    }
}

/// A snapshot of a pool's activity, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Number of worker threads.
    pub workers: usize,
    /// Largest number of jobs that may wait.
    pub queue_capacity: usize,
    /// Jobs waiting now.
    pub queued: usize,
    /// Jobs running now.
    pub running: usize,
    /// Most jobs ever running at once. Never above `workers`.
    pub peak_running: usize,
    /// Jobs finished (including those that failed).
    pub completed: u64,
    /// Jobs refused with [`PasswordError::Overloaded`].
    pub rejected: u64,
}

impl PasswordPool {
    /// A builder with the defaults: [`Argon2Hasher::default`],
    /// [`PasswordPolicy::default`], one worker per available core and a queue
    /// of four jobs per worker.
    pub fn builder() -> PasswordPoolBuilder {
        PasswordPoolBuilder::default()
    }

    /// Checks `password` against the policy and hashes it: for a new or
    /// changed password.
    ///
    /// # Errors
    /// [`PasswordError::Policy`] when the policy refuses it (no hash is
    /// computed), [`PasswordError::Overloaded`] when the queue is full.
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let prepared = self.inner.policy.check(password)?;
        self.run(move |hasher, scratch| hasher.hash_password_with(&prepared, scratch))
            .await
    }

    /// Hashes a password that has just verified, with the current
    /// parameters (a rehash on login). The length rules do not apply: the
    /// password was accepted under an older policy and is not being chosen
    /// now.
    ///
    /// # Errors
    /// As [`hash`](Self::hash), without the length and blocklist rules.
    pub async fn rehash(&self, password: &Password) -> Result<String, PasswordError> {
        let prepared = self.inner.policy.prepare(password)?;
        self.run(move |hasher, scratch| hasher.hash_password_with(&prepared, scratch))
            .await
    }

    /// Verifies `password` against a stored hash.
    ///
    /// # Errors
    /// [`PasswordError::Policy`] for input over the byte limit (nothing is
    /// hashed), errors of the stored hash (unknown algorithm, malformed, over
    /// the ceilings), [`PasswordError::Overloaded`] when the queue is full.
    pub async fn verify(
        &self,
        password: &Password,
        stored: &str,
    ) -> Result<Verified, PasswordError> {
        let prepared = self.inner.policy.prepare(password)?;
        let typed = typed_form(&prepared, password);
        let stored = stored.to_owned();
        self.run(move |hasher, scratch| {
            let typed = typed.as_ref().unwrap_or(&prepared);
            hasher.verify_prepared_with(&prepared, typed, &stored, scratch)
        })
        .await
    }

    /// Costs what [`verify`](Self::verify) costs at the current parameters,
    /// through the same queue and workers, and matches nothing: for logins
    /// whose account does not exist or is disabled.
    ///
    /// # Errors
    /// As [`verify`](Self::verify), except for stored-hash errors.
    pub async fn verify_dummy(&self, password: &Password) -> Result<(), PasswordError> {
        let prepared = self.inner.policy.prepare(password)?;
        let typed = typed_form(&prepared, password);
        self.run(move |hasher, scratch| {
            let typed = typed.as_ref().unwrap_or(&prepared);
            hasher.verify_dummy_prepared_with(&prepared, typed, scratch)
        })
        .await
    }

    /// The policy applied by [`hash`](Self::hash) and [`verify`](Self::verify).
    pub fn policy(&self) -> &PasswordPolicy {
        &self.inner.policy
    }

    /// Current activity.
    pub fn stats(&self) -> PoolStats {
        let c = &self.inner.stats;
        PoolStats {
            workers: self.inner.workers,
            queue_capacity: self.inner.queue_capacity,
            queued: usize::try_from(
                c.submitted
                    .load(Ordering::SeqCst)
                    .saturating_sub(c.started.load(Ordering::SeqCst)),
            )
            .unwrap_or(usize::MAX),
            running: c.running.load(Ordering::Relaxed),
            peak_running: c.peak_running.load(Ordering::Relaxed),
            completed: c.completed.load(Ordering::SeqCst),
            rejected: c.rejected.load(Ordering::Relaxed),
        }
    }

    async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn PasswordHashing, &mut Scratch) -> Result<T, PasswordError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |hasher, scratch, counters| {
            // The caller gave up (its future was dropped): skip the work.
            if tx.is_closed() {
                counters.finish();
                return;
            }
            let result = work(hasher, scratch);
            counters.finish();
            let _ = tx.send(result);
        });
        let stats = &self.inner.stats;
        match self.inner.sender.try_send(job) {
            Ok(()) => {
                stats.submitted.fetch_add(1, Ordering::SeqCst);
            }
            Err(TrySendError::Full(_)) => {
                let rejected = stats.rejected.fetch_add(1, Ordering::Relaxed) + 1;
                // A flood must not become a log flood: report the 1st, 2nd,
                // 4th, 8th… refusal; `stats()` has the exact count.
                if rejected.is_power_of_two() {
                    tracing::warn!(
                        target: "tessera::auth",
                        rejected,
                        "password hashing queue is full; refusing with Overloaded"
                    );
                }
                return Err(PasswordError::Overloaded);
            }
            Err(TrySendError::Disconnected(_)) => return Err(PasswordError::WorkersUnavailable),
        }
        // A dropped sender means the job panicked or was never run.
        rx.await.unwrap_or(Err(PasswordError::WorkersUnavailable))
    }
}

impl fmt::Debug for PasswordPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPool")
            .field("stats", &self.stats())
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

/// Builds a [`PasswordPool`] and starts its workers.
pub struct PasswordPoolBuilder {
    hasher: Arc<dyn PasswordHashing>,
    policy: PasswordPolicy,
    workers: Option<usize>,
    queue_capacity: Option<usize>,
}

impl Default for PasswordPoolBuilder {
    fn default() -> Self {
        Self {
            hasher: Arc::new(Argon2Hasher::default()),
            policy: PasswordPolicy::default(),
            workers: None,
            queue_capacity: None,
        }
    }
}

impl PasswordPoolBuilder {
    /// The hasher and verifier the workers run (default
    /// [`Argon2Hasher::default`]).
    pub fn hasher(mut self, hasher: impl PasswordHashing + 'static) -> Self {
        self.hasher = Arc::new(hasher);
        self
    }

    /// A shared hasher, for wrappers such as a counting or legacy-format
    /// verifier.
    pub fn shared_hasher(mut self, hasher: Arc<dyn PasswordHashing>) -> Self {
        self.hasher = hasher;
        self
    }

    /// The password policy (default [`PasswordPolicy::default`]).
    pub fn policy(mut self, policy: PasswordPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Number of worker threads, 1 to 1024 (default: the available
    /// parallelism). Peak hashing memory is this times the memory cost.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Jobs that may wait for a worker, at most 65536 (default: 4 ×
    /// workers). Zero means a job is accepted only while a worker is idle
    /// and waiting.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = Some(capacity);
        self
    }

    /// Starts the workers.
    ///
    /// # Errors
    /// [`ConfigError`] for a worker count or queue capacity out of range, or
    /// when a thread cannot be spawned.
    pub fn build(self) -> Result<PasswordPool, ConfigError> {
        let workers = match self.workers {
            Some(0) => return Err(ConfigError::invalid("workers", "must be at least 1")),
            Some(n) if n > MAX_WORKERS => {
                return Err(ConfigError::invalid(
                    "workers",
                    format!("{n} is above {MAX_WORKERS}; each worker holds m_cost of memory"),
                ));
            }
            Some(n) => n,
            None => thread::available_parallelism().map_or(1, NonZeroUsize::get),
        };
        let queue_capacity = self.queue_capacity.unwrap_or(workers.saturating_mul(4));
        if queue_capacity > MAX_QUEUE {
            // The channel allocates every slot up front, and a deep queue only
            // turns overload into latency.
            return Err(ConfigError::invalid(
                "queue_capacity",
                format!("{queue_capacity} is above {MAX_QUEUE}"),
            ));
        }
        let (sender, receiver) = mpsc::sync_channel::<Job>(queue_capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        let stats = Arc::new(Counters::default());
        for index in 0..workers {
            let receiver = Arc::clone(&receiver);
            let hasher = Arc::clone(&self.hasher);
            let stats = Arc::clone(&stats);
            thread::Builder::new()
                .name(format!("tessera-hash-{index}"))
                .spawn(move || work(&receiver, &*hasher, &stats))
                .map_err(|e| ConfigError::Setup {
                    what: "password hashing worker thread",
                    source: Box::new(e),
                })?;
        }
        Ok(PasswordPool {
            inner: Arc::new(Inner {
                sender,
                policy: self.policy,
                stats,
                workers,
                queue_capacity,
            }),
        })
    }
}

impl fmt::Debug for PasswordPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPoolBuilder")
            .field("policy", &self.policy)
            .field("workers", &self.workers)
            .field("queue_capacity", &self.queue_capacity)
            .finish_non_exhaustive()
    }
}

/// What the user typed, when the policy changed it: hashes that other
/// systems made are of that form (`PasswordVerifier::verify_prepared_with`).
fn typed_form(prepared: &Password, typed: &Password) -> Option<Password> {
    (prepared.expose_secret() != typed.expose_secret()).then(|| typed.clone())
}

fn work(receiver: &Mutex<Receiver<Job>>, hasher: &dyn PasswordHashing, stats: &Counters) {
    let mut scratch = Scratch::new();
    loop {
        // One idle worker waits on the channel while the others wait on the
        // lock; the lock is released before the job runs.
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(job) = job else {
            // Every sender is gone: the pool was dropped.
            return;
        };
        stats.start();
        // A panicking hasher must not take the worker with it; the caller
        // sees `WorkersUnavailable` when its reply channel is dropped. The
        // job finishes its own count unless the hasher panicked first.
        if catch_unwind(AssertUnwindSafe(|| job(hasher, &mut scratch, stats))).is_err() {
            tracing::error!(target: "tessera::auth", "password hasher panicked");
            stats.finish();
            scratch.wipe();
            scratch = Scratch::new();
        }
    }
}
