//! Instants as fixed-width decimal strings.
//!
//! Lua compares them as strings, so their order must be the order of the
//! instants, and they must round-trip exactly: a record read back equals the
//! record written, to the nanosecond.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Number of digits of an encoded instant.
const WIDTH: usize = 29;
/// Added to signed nanoseconds since the epoch so that every instant a
/// `SystemTime` can hold (about ±2.9 × 10^11 years) encodes as a
/// non-negative number of [`WIDTH`] digits.
const OFFSET: i128 = 10_i128.pow(28);
const MAX: i128 = 10_i128.pow(WIDTH as u32) - 1;
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// `time` as [`WIDTH`] decimal digits; the string order is the time order.
pub(crate) fn encode(time: SystemTime) -> String {
    let nanos = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => i128::try_from(before.duration().as_nanos())
            .map(|n| -n)
            .unwrap_or(i128::MIN),
    };
    let value = nanos.saturating_add(OFFSET).clamp(0, MAX);
    format!("{value:0WIDTH$}")
}

/// Reads [`encode`] output; `None` for anything else.
pub(crate) fn decode(text: &[u8]) -> Option<SystemTime> {
    if text.len() != WIDTH || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: i128 = std::str::from_utf8(text).ok()?.parse().ok()?;
    let nanos = value - OFFSET;
    let magnitude = nanos.unsigned_abs();
    let secs = u64::try_from(magnitude / NANOS_PER_SEC).ok()?;
    let subsec = u32::try_from(magnitude % NANOS_PER_SEC).ok()?;
    let offset = Duration::new(secs, subsec);
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders() {
        let times = [
            UNIX_EPOCH - Duration::new(86_400, 5),
            UNIX_EPOCH - Duration::from_nanos(1),
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::from_nanos(1),
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_790),
            UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 100),
        ];
        let encoded: Vec<String> = times.iter().map(|t| encode(*t)).collect();
        for (time, text) in times.iter().zip(&encoded) {
            assert_eq!(text.len(), WIDTH);
            assert_eq!(decode(text.as_bytes()), Some(*time), "{text}");
        }
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(sorted, encoded);
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "12",
            "x0000000000000000000000000000",
            "+0000000000000000000000000001",
        ] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(decode(&[0xff; WIDTH]), None);
    }
}
