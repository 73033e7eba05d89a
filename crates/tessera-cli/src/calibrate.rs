//! `tessera calibrate`: find argon2id parameters for this machine.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordHasher, Scratch};

/// Smallest memory cost tried: OWASP's lowest row (7 MiB with t = 5).
const MIN_M_COST: u32 = 7_168;
/// OWASP's rows all do about this much work (m × t, in KiB passes); no
/// recommendation does less.
const OWASP_WORK: u64 = 19_456 * 2;
/// Runs per candidate; the median is reported.
const RUNS: usize = 3;

struct Row {
    params: Argon2Params,
    elapsed: Duration,
}

/// Walks down from the memory ceiling until one pass fits the target, then
/// adds passes while they still fit. More memory first: it is what makes
/// GPU attacks expensive; passes only add time.
pub(crate) fn run(
    target_ms: u64,
    max_memory_mib: u32,
    parallelism: u32,
) -> Result<ExitCode, String> {
    if target_ms == 0 {
        return Err("--target-ms must be at least 1".into());
    }
    let target = Duration::from_millis(target_ms);
    let limits = tessera_core::password::Argon2Limits::default();
    let max_m = max_memory_mib
        .checked_mul(1024)
        .filter(|m| *m <= limits.max_m_cost)
        .ok_or_else(|| {
            format!(
                "--max-memory-mib must be at most {} MiB",
                limits.max_m_cost / 1024
            )
        })?;
    if max_m < MIN_M_COST {
        return Err(format!(
            "--max-memory-mib must be at least {} MiB",
            MIN_M_COST.div_ceil(1024)
        ));
    }

    let mut scratch = Scratch::new();
    let mut rows = Vec::new();
    println!("{:>10} {:>6} {:>6} {:>10}", "m (KiB)", "t", "p", "ms");

    let mut m = max_m;
    let mut fitting = None;
    loop {
        let row = measure(Argon2Params::new(m, 1, parallelism), &mut scratch)?;
        let fits = row.elapsed <= target;
        rows.push(row);
        if fits {
            fitting = Some(m);
            break;
        }
        if m == MIN_M_COST {
            break;
        }
        m = (m / 2).max(MIN_M_COST);
    }

    let mut best = None;
    if let Some(m) = fitting {
        best = Some(rows.len() - 1);
        for t in 2..=limits.max_t_cost {
            let row = measure(Argon2Params::new(m, t, parallelism), &mut scratch)?;
            let fits = row.elapsed <= target;
            rows.push(row);
            if !fits {
                break;
            }
            best = Some(rows.len() - 1);
        }
    }

    println!();
    match best.map(|i| &rows[i]) {
        Some(row) if u64::from(row.params.m_cost) * u64::from(row.params.t_cost) >= OWASP_WORK => {
            println!(
                "recommended: --m-cost {} --t-cost {} --p-cost {} ({:.1} ms, target {target_ms} ms)",
                row.params.m_cost,
                row.params.t_cost,
                row.params.p_cost,
                ms(row.elapsed),
            );
        }
        _ => {
            let floor = Argon2Params::OWASP;
            println!(
                "recommended: --m-cost {} --t-cost {} --p-cost {} (the OWASP minimum: no candidate at or above it fits {target_ms} ms on this machine)",
                floor.m_cost, floor.t_cost, floor.p_cost,
            );
        }
    }
    println!(
        "each hash was timed alone; a server runs one per hashing worker at once, so keep workers x m-cost within its memory"
    );
    Ok(ExitCode::SUCCESS)
}

fn measure(params: Argon2Params, scratch: &mut Scratch) -> Result<Row, String> {
    let hasher = Argon2Hasher::new(params).map_err(|e| e.to_string())?;
    let password = Password::new("calibration password");
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        hasher
            .hash_password_with(&password, scratch)
            .map_err(|e| e.to_string())?;
        times.push(start.elapsed());
    }
    times.sort();
    let row = Row {
        params,
        elapsed: times[RUNS / 2],
    };
    println!(
        "{:>10} {:>6} {:>6} {:>10.1}",
        params.m_cost,
        params.t_cost,
        params.p_cost,
        ms(row.elapsed)
    );
    Ok(row)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
