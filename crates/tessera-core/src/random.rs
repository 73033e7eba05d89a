//! Randomness from the operating system.

use rand::TryRng;
use rand::rngs::SysRng;

use crate::error::BoxError;

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn os_bytes<const N: usize>() -> Result<[u8; N], BoxError> {
    let mut bytes = [0u8; N];
    SysRng.try_fill_bytes(&mut bytes).map_err(Box::new)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_differ() {
        let a = super::os_bytes::<16>().unwrap();
        let b = super::os_bytes::<16>().unwrap();
        assert_ne!(a, b);
    }
}
