//! A1 and A8 of SECURITY-CASES.md, asserted on the mechanism: a stored hash
//! with excessive costs is refused without allocating the memory a hash
//! would need (through the pool it reaches a worker, which refuses it while
//! parsing), and a 1 MiB password is refused before the queue. Also: stored
//! hashes above the current memory cost take turns, so they cannot multiply
//! peak memory by the number of workers.
//!
//! A counting global allocator records the peak of live heap bytes. This file
//! holds a single test so that no other test allocates at the same time.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    reason = "test code: a panic is a failure"
)]
#![allow(
    unsafe_code,
    reason = "a GlobalAlloc wrapper is unsafe to implement; it only forwards to System and counts"
)]

#[path = "support/counting.rs"]
mod counting;

use counting::peak_growth;

use tessera_core::password::{
    Argon2Hasher, Argon2Params, Password, PasswordError, PasswordHasher, PasswordPool,
    PasswordVerifier, PolicyError,
};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

#[test]
fn refusals_happen_before_allocation() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let hasher = Argon2Hasher::new(Argon2Params::new(4096, 1, 1)).unwrap();
    let pool = PasswordPool::builder()
        .hasher(hasher.clone())
        .workers(1)
        .build()
        .unwrap();
    let password = Password::new("hunter22");
    let stored = hasher.hash_password(&password).unwrap();

    // The instrument works: a real verification at m = 4 MiB is seen.
    let (verified, grown) = peak_growth(|| hasher.verify_password(&password, &stored).unwrap());
    assert!(verified.is_valid());
    assert!(
        grown >= 4 * MIB,
        "a 4 MiB verification grew the heap by only {grown} bytes"
    );

    // A1: m = 8 GiB in a stored hash, directly and through the pool.
    let planted = "$argon2id$v=19$m=8388608,t=2,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    let (result, grown) = peak_growth(|| hasher.verify_password(&password, planted));
    assert!(
        matches!(
            result,
            Err(PasswordError::ParamsOutOfBounds { param: "m", .. })
        ),
        "{result:?}"
    );
    assert!(
        grown < 64 * KIB,
        "refusing the planted hash allocated {grown} bytes"
    );

    let (result, grown) = peak_growth(|| runtime.block_on(pool.verify(&password, planted)));
    assert!(
        matches!(
            result,
            Err(PasswordError::ParamsOutOfBounds { param: "m", .. })
        ),
        "{result:?}"
    );
    assert!(
        grown < 64 * KIB,
        "refusing the planted hash through the pool allocated {grown} bytes"
    );

    // A8: a 1 MiB password is refused before normalisation, hashing or the
    // queue. The input itself exists before the call and is not counted.
    let huge = Password::new("a".repeat(MIB));
    let completed_before = pool.stats().completed;
    let (result, grown) = peak_growth(|| runtime.block_on(pool.verify(&huge, &stored)));
    assert!(
        matches!(
            result,
            Err(PasswordError::Policy(PolicyError::InputTooLarge { .. }))
        ),
        "{result:?}"
    );
    assert!(
        grown < 64 * KIB,
        "refusing a 1 MiB password allocated {grown} bytes"
    );
    let (result, grown) = peak_growth(|| runtime.block_on(pool.hash(&huge)));
    assert!(
        matches!(
            result,
            Err(PasswordError::Policy(PolicyError::InputTooLarge { .. }))
        ),
        "{result:?}"
    );
    assert!(
        grown < 64 * KIB,
        "refusing a 1 MiB password allocated {grown} bytes"
    );
    assert_eq!(
        pool.stats().completed,
        completed_before,
        "a refused password reached a worker"
    );

    // Hashes above the current memory cost (here 8 MiB against 256 KiB)
    // are verified one at a time: eight of them on four workers never hold
    // two 8 MiB buffers at once.
    let current = Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap();
    let pool = PasswordPool::builder()
        .hasher(current)
        .workers(4)
        .build()
        .unwrap();
    let heavy = Argon2Hasher::new(Argon2Params::new(8192, 1, 1))
        .unwrap()
        .hash_password(&password)
        .unwrap();
    let (results, grown) = peak_growth(|| {
        runtime.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (pool, password, heavy) = (pool.clone(), password.clone(), heavy.clone());
                    tokio::spawn(async move { pool.verify(&password, &heavy).await })
                })
                .collect();
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap());
            }
            results
        })
    });
    assert!(results.into_iter().all(|r| r.unwrap().is_valid()));
    assert!(
        grown >= 8 * MIB,
        "the instrument missed the 8 MiB buffer: {grown}"
    );
    assert!(
        grown < 10 * MIB,
        "oversized verifications overlapped: {grown} bytes"
    );
}
