//! Peak memory of a burst of logins: 32 concurrent verifications at the
//! default parameters through the default pool.
//!
//! ```sh
//! cargo build --release -p tessera-core --example pool_memory
//! /usr/bin/time -v target/release/examples/pool_memory
//! ```
//!
//! "Maximum resident set size" stays near workers × 19 MiB plus the
//! process's baseline, however many callers there are: each worker reuses
//! one argon2 buffer, and callers beyond the workers wait in the queue.
#![allow(clippy::print_stdout, reason = "an example reports what it did")]

use tessera_core::password::{Argon2Hasher, Password, PasswordHasher, PasswordPool};

const CALLERS: usize = 32;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let password = Password::new("correct horse battery staple");
    let stored = Argon2Hasher::default().hash_password(&password)?;
    // Default workers; a queue deep enough for the whole burst.
    let pool = PasswordPool::builder().queue_capacity(CALLERS).build()?;

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CALLERS {
        let (pool, password, stored) = (pool.clone(), password.clone(), stored.clone());
        tasks.spawn(async move { pool.verify(&password, &stored).await });
    }
    let mut valid = 0;
    while let Some(result) = tasks.join_next().await {
        if result??.is_valid() {
            valid += 1;
        }
    }
    let stats = pool.stats();
    println!(
        "{valid}/{CALLERS} valid; workers {}, peak running {}, completed {}",
        stats.workers, stats.peak_running, stats.completed
    );
    Ok(())
}
