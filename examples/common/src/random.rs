//! Randomness from the operating system.

use rand::TryRng;
use rand::rngs::SysRng;

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn bytes<const N: usize>() -> Result<[u8; N], rand::rngs::SysError> {
    let mut bytes = [0u8; N];
    SysRng.try_fill_bytes(&mut bytes)?;
    Ok(bytes)
}

/// An opaque id: 128 random bits in base64url.
pub(crate) fn id() -> Result<String, rand::rngs::SysError> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Ok(Base64UrlUnpadded::encode_string(&bytes::<16>()?))
}
