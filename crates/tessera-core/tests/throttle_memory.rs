//! B15: a flood of distinct logins leaves the memory `ThrottleStore`
//! bounded. The store holds at most its capacity of keys; its heap stays
//! under a bound however many logins are recorded, and the peak while
//! recording does too.
//!
//! The default run records 200 000 logins into a store of 10 000 keys. The
//! closing measurement, a million logins into a store of the default
//! capacity (100 000 keys):
//!
//! ```sh
//! TESSERA_THROTTLE_FLOOD=1000000 cargo test -p tessera-core --release \
//!     --test throttle_memory -- --nocapture
//! ```
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "test code: a panic is a failure; the measurement is printed"
)]
#![allow(
    unsafe_code,
    reason = "a GlobalAlloc wrapper is unsafe to implement; it only forwards to System and counts"
)]

#[path = "support/counting.rs"]
mod counting;

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use tessera_core::keys::HmacKey;
use tessera_core::memory::{MemoryThrottleStore, THROTTLE_CAPACITY};
use tessera_core::throttle::{AccountLimits, BucketKeys, ThrottleStore};

const MIB: usize = 1024 * 1024;

#[test]
fn a_flood_of_distinct_logins_stays_bounded() {
    let flood: usize = std::env::var("TESSERA_THROTTLE_FLOOD")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let capacity = if flood >= 1_000_000 {
        THROTTLE_CAPACITY
    } else {
        10_000
    };
    // About 250 bytes a key (the key string, the entry, the table's
    // share), twice over for the table's growth and an eviction batch.
    let bound = capacity * 500 + MIB;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let limits = AccountLimits::default();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let base = counting::LIVE.load(Ordering::SeqCst);
    let (store, peak) = counting::peak_growth(|| {
        let store = MemoryThrottleStore::with_capacity(capacity);
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        runtime.block_on(async {
            for n in 0..flood {
                // xorshift: logins that look random and never repeat
                // (the counter keeps them distinct).
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let login = format!("{state:016x}-{n}@example.com");
                store
                    .begin_attempt(&bucket_key("login", &login), &limits, now)
                    .await
                    .unwrap();
            }
        });
        store
    });
    let live = counting::LIVE.load(Ordering::SeqCst).saturating_sub(base);
    println!(
        "{flood} distinct logins into a store of {capacity} keys: {} keys held, {:.1} MiB live, {:.1} MiB peak",
        store.len(),
        live as f64 / MIB as f64,
        peak as f64 / MIB as f64,
    );
    assert!(store.len() <= capacity);
    assert!(live <= bound, "{live} bytes live, bound {bound}");
    assert!(peak <= bound, "{peak} bytes at peak, bound {bound}");
    drop(store);
}

/// Store keys as `Auth` makes them, under a test key.
fn bucket_key(bucket: &str, value: &str) -> String {
    BucketKeys::new(HmacKey::new("test", [9u8; 32]).unwrap()).key(bucket, value)
}
