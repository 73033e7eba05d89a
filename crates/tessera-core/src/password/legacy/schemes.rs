//! One function per legacy scheme: parse the stored string, check its cost
//! against the ceilings before any work, compute, compare in constant time.
//!
//! Each takes the password bytes as the scheme was given them (after any
//! pepper) and returns whether they match; a string it cannot use is a
//! [`PasswordError`], never a panic.

use base64ct::{Base64, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::LegacyLimits;
use crate::error::PasswordError;

/// Refuses a cost over its ceiling, before any work, with a warning: such a
/// hash was planted, or imported from a system with other limits.
pub(super) fn ceiling(param: &'static str, value: u64, max: u64) -> Result<(), PasswordError> {
    if value > max {
        tracing::warn!(
            target: "tessera::auth",
            param, value, max,
            "legacy password hash exceeds the cost ceilings; refused without hashing"
        );
        return Err(PasswordError::ParamsOutOfBounds { param, value, max });
    }
    Ok(())
}

fn matches(computed: &[u8], expected: &[u8]) -> bool {
    bool::from(computed.ct_eq(expected))
}

/// The digests PBKDF2 is used with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prf {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Prf {
    const fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// PBKDF2 over `password` and `salt`, compared with `expected` (whose
/// length is the derived key's).
fn pbkdf2_matches(
    limits: &LegacyLimits,
    prf: Prf,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    expected: &[u8],
) -> Result<bool, PasswordError> {
    if expected.len() < 10 || expected.len() > 64 {
        return Err(PasswordError::MalformedHash("pbkdf2 hash length"));
    }
    // PBKDF2 runs the iterations once per block of the output.
    let blocks = expected.len().div_ceil(prf.output_len());
    pbkdf2_cost(
        limits,
        iterations.saturating_mul(u32::try_from(blocks).unwrap_or(u32::MAX)),
    )?;
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    match prf {
        Prf::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, iterations, &mut out),
        Prf::Sha224 => pbkdf2::pbkdf2_hmac::<sha2::Sha224>(password, salt, iterations, &mut out),
        Prf::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out),
        Prf::Sha384 => pbkdf2::pbkdf2_hmac::<sha2::Sha384>(password, salt, iterations, &mut out),
        Prf::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out),
    }
    Ok(matches(&out, expected))
}

/// The iteration count (times the output's blocks, once those are known),
/// checked as soon as it is parsed: over the ceiling is refused before
/// anything else is decoded.
fn pbkdf2_cost(limits: &LegacyLimits, iterations: u32) -> Result<(), PasswordError> {
    if iterations == 0 {
        return Err(PasswordError::MalformedHash("pbkdf2 iterations"));
    }
    ceiling(
        "iterations",
        u64::from(iterations),
        u64::from(limits.max_pbkdf2_iterations),
    )
}

/// scrypt's cost, checked as soon as it is parsed: memory is the N blocks
/// of ROMix plus the p blocks PBKDF2 fills, `128 · r · (N + p)` bytes; work
/// is p runs of ROMix over `128 · N · r` bytes each.
fn scrypt_cost(limits: &LegacyLimits, log_n: u64, r: u64, p: u64) -> Result<(), PasswordError> {
    if log_n == 0 || r == 0 || p == 0 {
        return Err(PasswordError::MalformedHash("scrypt parameters"));
    }
    ceiling("p", p, u64::from(limits.max_scrypt_p))?;
    // Saturating: ln = 2097153 is a ceiling error, not an overflow.
    let n = 1u64
        .checked_shl(u32::try_from(log_n).unwrap_or(u32::MAX))
        .filter(|_| log_n < 64)
        .unwrap_or(u64::MAX);
    let block = r.saturating_mul(128);
    let memory = block.saturating_mul(n.saturating_add(p));
    ceiling("scrypt memory", memory, limits.max_scrypt_memory)?;
    let work = block.saturating_mul(n).saturating_mul(p);
    ceiling("scrypt work", work, limits.max_scrypt_work)
}

/// scrypt over `password` and `salt`, compared with `expected`.
fn scrypt_matches(
    limits: &LegacyLimits,
    password: &[u8],
    salt: &[u8],
    log_n: u64,
    r: u64,
    p: u64,
    expected: &[u8],
) -> Result<bool, PasswordError> {
    scrypt_cost(limits, log_n, r, p)?;
    if expected.len() < 10 || expected.len() > 128 {
        return Err(PasswordError::MalformedHash("scrypt hash length"));
    }
    let (Ok(log_n), Ok(r), Ok(p)) = (u8::try_from(log_n), u32::try_from(r), u32::try_from(p))
    else {
        return Err(PasswordError::MalformedHash("scrypt parameters"));
    };
    let params = scrypt::Params::new(log_n, r, p)
        .map_err(|_| PasswordError::MalformedHash("scrypt parameters"))?;
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    scrypt::scrypt(password, salt, &params, &mut out)
        .map_err(|_| PasswordError::MalformedHash("scrypt hash length"))?;
    Ok(matches(&out, expected))
}

/// `n` as scrypt's log₂ N: a power of two above 1.
fn scrypt_log_n(n: u64) -> Result<u64, PasswordError> {
    if n < 2 || !n.is_power_of_two() {
        return Err(PasswordError::MalformedHash("scrypt N"));
    }
    Ok(u64::from(n.trailing_zeros()))
}

fn number<T: std::str::FromStr>(text: &str, what: &'static str) -> Result<T, PasswordError> {
    // `u32::from_str` accepts a leading `+`; no hash library writes one.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PasswordError::MalformedHash(what));
    }
    text.parse().map_err(|_| PasswordError::MalformedHash(what))
}

/// Exactly `N` `$`-separated fields.
fn fields<'a, const N: usize>(
    text: &'a str,
    what: &'static str,
) -> Result<[&'a str; N], PasswordError> {
    let mut parts = text.split('$');
    let mut out = [""; N];
    for slot in &mut out {
        *slot = parts.next().ok_or(PasswordError::MalformedHash(what))?;
    }
    if parts.next().is_some() {
        return Err(PasswordError::MalformedHash(what));
    }
    Ok(out)
}

/// Werkzeug: `pbkdf2:<digest>:<iterations>$<salt>$<hex>`; the salt is used
/// as its text.
pub(super) fn werkzeug_pbkdf2(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    let [method, salt, hex] = fields(stored, "werkzeug fields")?;
    let mut method = method.split(':').skip(1);
    let (Some(digest), Some(iterations), None) = (method.next(), method.next(), method.next())
    else {
        return Err(PasswordError::MalformedHash("pbkdf2 method"));
    };
    let iterations = number(iterations, "pbkdf2 iterations")?;
    pbkdf2_cost(limits, iterations)?;
    let prf = match digest {
        "sha1" => Prf::Sha1,
        "sha224" => Prf::Sha224,
        "sha256" => Prf::Sha256,
        "sha384" => Prf::Sha384,
        "sha512" => Prf::Sha512,
        _ => return Err(PasswordError::MalformedHash("pbkdf2 digest")),
    };
    if salt.is_empty() {
        return Err(PasswordError::MalformedHash("werkzeug salt"));
    }
    let expected = decode_hex(hex)?;
    if expected.len() != prf.output_len() {
        return Err(PasswordError::MalformedHash("pbkdf2 hash length"));
    }
    pbkdf2_matches(
        limits,
        prf,
        password,
        salt.as_bytes(),
        iterations,
        &expected,
    )
}

/// Werkzeug: `scrypt:<N>:<r>:<p>$<salt>$<hex>` (64 bytes); the salt is
/// used as its text.
pub(super) fn werkzeug_scrypt(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    let [method, salt, hex] = fields(stored, "werkzeug fields")?;
    let mut method = method.split(':').skip(1);
    let (Some(n), Some(r), Some(p), None) =
        (method.next(), method.next(), method.next(), method.next())
    else {
        return Err(PasswordError::MalformedHash("scrypt parameters"));
    };
    if salt.is_empty() {
        return Err(PasswordError::MalformedHash("werkzeug salt"));
    }
    scrypt_64(limits, password, salt, [n, r, p], || decode_hex(hex))
}

/// scrypt as Werkzeug and Django use it: N, r and p as decimal text, the
/// salt used as its text, a 64-byte output that `decode` yields once the
/// cost has passed the ceilings.
fn scrypt_64(
    limits: &LegacyLimits,
    password: &[u8],
    salt: &str,
    [n, r, p]: [&str; 3],
    decode: impl FnOnce() -> Result<Vec<u8>, PasswordError>,
) -> Result<bool, PasswordError> {
    let log_n = scrypt_log_n(number(n, "scrypt N")?)?;
    let (r, p) = (number(r, "scrypt r")?, number(p, "scrypt p")?);
    scrypt_cost(limits, log_n, r, p)?;
    let expected = decode()?;
    if expected.len() != 64 {
        return Err(PasswordError::MalformedHash("scrypt hash length"));
    }
    scrypt_matches(limits, password, salt.as_bytes(), log_n, r, p, &expected)
}

/// Django: `pbkdf2_sha256$<iterations>$<salt>$<base64>`, `pbkdf2_sha1$…`;
/// the salt is used as its text.
pub(super) fn django_pbkdf2(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    let [algorithm, iterations, salt, hash] = fields(stored, "django pbkdf2 fields")?;
    let prf = match algorithm {
        "pbkdf2_sha256" => Prf::Sha256,
        "pbkdf2_sha1" => Prf::Sha1,
        _ => return Err(PasswordError::MalformedHash("django pbkdf2 algorithm")),
    };
    let iterations = number(iterations, "django pbkdf2 iterations")?;
    pbkdf2_cost(limits, iterations)?;
    let expected = decode_base64(hash, "django pbkdf2 base64")?;
    if expected.len() != prf.output_len() {
        return Err(PasswordError::MalformedHash("django pbkdf2 hash length"));
    }
    pbkdf2_matches(
        limits,
        prf,
        password,
        salt.as_bytes(),
        iterations,
        &expected,
    )
}

/// Django: `scrypt$<N>$<salt>$<r>$<p>$<base64>` (64 bytes); the salt is
/// used as its text.
pub(super) fn django_scrypt(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    let [_, n, salt, r, p, hash] = fields(stored, "django scrypt fields")?;
    scrypt_64(limits, password, salt, [n, r, p], || {
        decode_base64(hash, "django scrypt base64")
    })
}

/// Django: `bcrypt_sha256$$2b$…`, bcrypt of the hex SHA-256 of the
/// password (so the whole password counts).
pub(super) fn django_bcrypt_sha256(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    let inner = stored
        .strip_prefix("bcrypt_sha256$")
        .ok_or(PasswordError::MalformedHash("django bcrypt_sha256"))?;
    let mut hex = Zeroizing::new([0u8; 64]);
    let digest = Zeroizing::new(Sha256::digest(password));
    base16_lower(&digest, hex.as_mut_slice());
    bcrypt(limits, hex.as_slice(), inner)
}

/// Django: `bcrypt$$2b$…`, bcrypt of the password.
pub(super) fn django_bcrypt(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    let inner = stored
        .strip_prefix("bcrypt$")
        .ok_or(PasswordError::MalformedHash("django bcrypt"))?;
    bcrypt(limits, password, inner)
}

/// passlib's PBKDF2 in modular crypt format: `$pbkdf2$<rounds>$…` (SHA-1),
/// `$pbkdf2-sha256$…`, `$pbkdf2-sha512$…`; salt and checksum in passlib's
/// adapted base64. RustCrypto's `pbkdf2` writes the same with its `mcf`
/// feature.
pub(super) fn pbkdf2_mcf(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    let [_, id, rounds, salt, checksum] = fields(stored, "pbkdf2 fields")?;
    let prf = pbkdf2_prf(id)?;
    let rounds = number(rounds, "pbkdf2 rounds")?;
    pbkdf2_cost(limits, rounds)?;
    let salt = ab64_decode(salt)?;
    let expected = ab64_decode(checksum)?;
    // passlib writes the digest's length; RustCrypto 32 bytes, also for
    // SHA-512. A PBKDF2 output cut short is a prefix of the full one, so
    // other lengths (a truncated column) are refused rather than compared.
    if expected.len() != prf.output_len() && !(prf == Prf::Sha512 && expected.len() == 32) {
        return Err(PasswordError::MalformedHash("pbkdf2 checksum length"));
    }
    pbkdf2_matches(limits, prf, password, &salt, rounds, &expected)
}

fn pbkdf2_prf(id: &str) -> Result<Prf, PasswordError> {
    match id {
        "pbkdf2" => Ok(Prf::Sha1),
        "pbkdf2-sha256" => Ok(Prf::Sha256),
        "pbkdf2-sha512" => Ok(Prf::Sha512),
        _ => Err(PasswordError::MalformedHash("pbkdf2 algorithm")),
    }
}

/// A PHC string without a version field: `$<id>$<k>=<v>,…$<salt>$<hash>`,
/// numeric parameters, salt and hash in B64 (the standard alphabet without
/// padding). Parsed here rather than with `password_hash::phc`, whose
/// 8-byte salt minimum would refuse the 4-byte salts of published vectors
/// (RFC 7914's "NaCl", RustCrypto's "salt") that passlib accepts.
struct Phc<'a> {
    id: &'a str,
    params: Vec<(&'a str, u64)>,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl<'a> Phc<'a> {
    fn parse(stored: &'a str) -> Result<Self, PasswordError> {
        let ["", id, params, salt, hash] = fields(stored, "PHC fields")? else {
            return Err(PasswordError::MalformedHash("PHC fields"));
        };
        let mut parsed: Vec<(&str, u64)> = Vec::new();
        for pair in params.split(',') {
            let (name, value) = pair
                .split_once('=')
                .ok_or(PasswordError::MalformedHash("PHC parameter"))?;
            if parsed.len() >= 8 || parsed.iter().any(|(n, _)| *n == name) {
                return Err(PasswordError::MalformedHash("PHC parameters"));
            }
            parsed.push((name, number(value, "PHC parameter value")?));
        }
        let decode = |text: &str, what| {
            if text.is_empty() || text.len() > 172 {
                return Err(PasswordError::MalformedHash(what));
            }
            base64ct::Base64Unpadded::decode_vec(text)
                .map_err(|_| PasswordError::MalformedHash(what))
        };
        Ok(Self {
            id,
            params: parsed,
            salt: decode(salt, "PHC salt")?,
            hash: decode(hash, "PHC hash")?,
        })
    }

    /// The values of the parameters `names`, in that order; any other
    /// parameter is an error.
    fn params<const N: usize>(&self, names: [&str; N]) -> Result<[Option<u64>; N], PasswordError> {
        if self.params.iter().any(|(n, _)| !names.contains(n)) {
            return Err(PasswordError::MalformedHash("unknown PHC parameter"));
        }
        Ok(names.map(|name| {
            self.params
                .iter()
                .find(|(n, _)| *n == name)
                .map(|&(_, v)| v)
        }))
    }
}

/// PBKDF2 in PHC format as RustCrypto's `pbkdf2` writes it:
/// `$pbkdf2-sha256$i=<rounds>,l=<length>$<salt>$<hash>` (B64).
pub(super) fn pbkdf2_phc(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    let phc = Phc::parse(stored)?;
    let prf = pbkdf2_prf(phc.id)?;
    let [rounds, length] = phc.params(["i", "l"])?;
    let rounds = rounds.ok_or(PasswordError::MalformedHash("pbkdf2 rounds"))?;
    let rounds = u32::try_from(rounds).unwrap_or(u32::MAX);
    pbkdf2_cost(limits, rounds)?;
    // RustCrypto's rule: `l` (10 to 64 bytes), 32 when absent. A PBKDF2
    // output cut short is a prefix of the full one, so no other length is
    // compared.
    let length = length.unwrap_or(32);
    if !(10..=64).contains(&length) || usize::try_from(length).ok() != Some(phc.hash.len()) {
        return Err(PasswordError::MalformedHash("pbkdf2 output length"));
    }
    pbkdf2_matches(limits, prf, password, &phc.salt, rounds, &phc.hash)
}

/// scrypt in PHC format as passlib and RustCrypto's `scrypt` write it:
/// `$scrypt$ln=<log₂ N>,r=<r>,p=<p>$<salt>$<hash>` (B64).
pub(super) fn scrypt_phc(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    let phc = Phc::parse(stored)?;
    if phc.id != "scrypt" {
        return Err(PasswordError::MalformedHash("scrypt algorithm"));
    }
    let [Some(log_n), Some(r), Some(p)] = phc.params(["ln", "r", "p"])? else {
        return Err(PasswordError::MalformedHash(
            "scrypt parameters ln, r and p are required",
        ));
    };
    scrypt_cost(limits, log_n, r, p)?;
    // 32 bytes, as passlib and RustCrypto write it: scrypt's output cut
    // short is a prefix of the full one, so no other length is compared.
    if phc.hash.len() != 32 {
        return Err(PasswordError::MalformedHash("scrypt hash length"));
    }
    scrypt_matches(limits, password, &phc.salt, log_n, r, p, &phc.hash)
}

/// SHA-crypt, `$5$[rounds=<n>$]<salt>$<hash>` (SHA-256) and `$6$…`
/// (SHA-512), as glibc, passlib and Ulrich Drepper's specification define
/// them; verified by RustCrypto's `sha-crypt` once the rounds are within
/// the ceiling.
pub(super) fn sha_crypt(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    use password_hash::PasswordVerifier as _;

    let mut parts = stored.split('$').skip(2);
    let first = parts
        .next()
        .ok_or(PasswordError::MalformedHash("sha-crypt fields"))?;
    // 5000 when the string names none (the specification's default).
    let (rounds, salt) = match first.strip_prefix("rounds=") {
        Some(rounds) => (
            number::<u32>(rounds, "sha-crypt rounds")?,
            parts
                .next()
                .ok_or(PasswordError::MalformedHash("sha-crypt fields"))?,
        ),
        None => (5000, first),
    };
    let (Some(hash), None) = (parts.next(), parts.next()) else {
        return Err(PasswordError::MalformedHash("sha-crypt fields"));
    };
    // Every implementation stores the rounds it used, clamped to this range.
    if !(1000..=999_999_999).contains(&rounds) {
        return Err(PasswordError::MalformedHash("sha-crypt rounds"));
    }
    ceiling(
        "rounds",
        u64::from(rounds),
        u64::from(limits.max_sha_crypt_rounds),
    )?;
    // Implementations truncate the salt to 16 characters when hashing, so
    // a stored string never holds a longer one.
    if salt.len() > 16 || salt.contains([':', '\n']) {
        return Err(PasswordError::MalformedHash("sha-crypt salt"));
    }
    let expected_len = if stored.starts_with("$5$") { 43 } else { 86 };
    if hash.len() != expected_len {
        return Err(PasswordError::MalformedHash("sha-crypt hash length"));
    }
    // Each round hashes the password again, and the setup hashes it
    // length-squared times, so its length is a cost too. A longer password
    // is a mismatch (no SHA-crypt table holds one: passlib's own limit is
    // 4096 bytes, but tessera never lets a hash cost that much), after the
    // work of one at the limit, so the answer takes as long as any other
    // and says nothing about the stored string.
    let max = usize::try_from(limits.max_sha_crypt_password_bytes).unwrap_or(usize::MAX);
    let over = password.len() > max;
    let password = password.get(..max).unwrap_or(password);
    match sha_crypt::ShaCrypt::default().verify_password(password, stored) {
        Ok(()) => Ok(!over),
        Err(password_hash::Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(PasswordError::MalformedHash("sha-crypt")),
    }
}

/// passlib's bcrypt-sha256: v2 `$bcrypt-sha256$v=2,t=2b,r=<cost>$<salt>$<hash>`
/// is bcrypt of base64(HMAC-SHA256(key = salt, password)); v1
/// `$bcrypt-sha256$2a,<cost>$<salt>$<hash>` of base64(SHA-256(password)).
pub(super) fn passlib_bcrypt_sha256(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    let [_, _, config, salt, hash] = fields(stored, "bcrypt-sha256 fields")?;
    let (version, ident, cost) = if let Some(v2) = config.strip_prefix("v=2,") {
        let mut ident = None;
        let mut cost = None;
        for pair in v2.split(',') {
            match pair.split_once('=') {
                Some(("t", t)) if ident.is_none() => ident = Some(t),
                Some(("r", r)) if cost.is_none() => cost = Some(r),
                _ => return Err(PasswordError::MalformedHash("bcrypt-sha256 parameters")),
            }
        }
        let (Some(ident), Some(cost)) = (ident, cost) else {
            return Err(PasswordError::MalformedHash("bcrypt-sha256 parameters"));
        };
        (2, ident, cost)
    } else {
        let (ident, cost) = config
            .split_once(',')
            .ok_or(PasswordError::MalformedHash("bcrypt-sha256 parameters"))?;
        (1, ident, cost)
    };
    // passlib writes the cost without a leading zero (`r=4`).
    let cost: u8 = number(cost, "bcrypt-sha256 cost")?;
    if !matches!(ident, "2a" | "2b") || cost > 99 || salt.len() != 22 || hash.len() != 31 {
        return Err(PasswordError::MalformedHash("bcrypt-sha256 fields"));
    }
    let digest = Zeroizing::new(if version == 2 {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(salt.as_bytes())
            .map_err(|_| PasswordError::Internal("HMAC key"))?;
        mac.update(password);
        mac.finalize().into_bytes()
    } else {
        Sha256::digest(password)
    });
    let mut key = Zeroizing::new([0u8; 44]);
    let key = Base64::encode(&digest, key.as_mut_slice())
        .map_err(|_| PasswordError::Internal("base64 length"))?;
    bcrypt(
        limits,
        key.as_bytes(),
        &format!("${ident}${cost:02}${salt}{hash}"),
    )
}

/// bcrypt `$2a$`, `$2b$`, `$2y$`: the first 72 bytes of the password, as
/// the scheme defines.
pub(super) fn bcrypt(
    limits: &LegacyLimits,
    password: &[u8],
    stored: &str,
) -> Result<bool, PasswordError> {
    if stored.len() != 60
        || !["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| stored.starts_with(p))
        || stored.as_bytes().get(6) != Some(&b'$')
    {
        return Err(PasswordError::MalformedHash("bcrypt"));
    }
    let cost: u32 = number(stored.get(4..6).unwrap_or_default(), "bcrypt cost")?;
    ceiling("cost", u64::from(cost), u64::from(limits.max_bcrypt_cost))?;
    let password = password.get(..72).unwrap_or(password);
    let stored = clear_bcrypt_padding(stored)?;
    ::bcrypt::verify(password, &stored).map_err(|_| PasswordError::MalformedHash("bcrypt"))
}

/// bcrypt's alphabet.
const BCRYPT_ALPHABET: &[u8; 64] =
    b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The last character of the salt (22 characters for 16 bytes) and of the
/// hash (31 for 23) carries bits that encode nothing. OpenBSD, crypt_blowfish
/// and PHP ignore them and passlib repairs them, so real tables hold strings
/// with them set; the `bcrypt` crate refuses those, so they are cleared here.
fn clear_bcrypt_padding(stored: &str) -> Result<String, PasswordError> {
    let mut bytes = stored.as_bytes().to_vec();
    for (index, used_bits) in [(7 + 21, 0b11_0000), (59, 0b11_1100)] {
        let value = BCRYPT_ALPHABET
            .iter()
            .position(|&c| c == bytes[index])
            .ok_or(PasswordError::MalformedHash("bcrypt alphabet"))?;
        bytes[index] = BCRYPT_ALPHABET[value & used_bits];
    }
    String::from_utf8(bytes).map_err(|_| PasswordError::MalformedHash("bcrypt alphabet"))
}

/// Single fast digests (with
/// [`dangerous_accept_fast_digests`](super::LegacyHasher::dangerous_accept_fast_digests)):
/// `<digest>$<salt>$<hex>` is Werkzeug's salted method, HMAC with the salt
/// as key (its default before 0.9), or Django's salted hasher, the digest of
/// salt and password (both are tried); `<digest>$$<hex>` the unsalted
/// digest (both); Werkzeug's `plain$$<password>`.
pub(super) fn fast_digest(password: &[u8], stored: &str) -> Result<bool, PasswordError> {
    // Werkzeug splits at the first two `$`: a plain password may hold more.
    let mut parts = stored.splitn(3, '$');
    let (Some(method), Some(salt), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(PasswordError::MalformedHash("fast digest fields"));
    };
    if method == "plain" {
        if !salt.is_empty() {
            return Err(PasswordError::MalformedHash("plain with a salt"));
        }
        // Lengths differ in time; the column holds the password itself.
        return Ok(matches(password, value.as_bytes()));
    }
    let expected = decode_hex(value)?;
    let salt = salt.as_bytes();
    macro_rules! check {
        ($digest:ty) => {{
            if expected.len() != <$digest as Digest>::output_size() {
                return Err(PasswordError::MalformedHash("digest length"));
            }
            if salt.is_empty() {
                let digest = Zeroizing::new(<$digest as Digest>::digest(password).to_vec());
                return Ok(matches(&digest, &expected));
            }
            let mut mac = <Hmac<$digest> as KeyInit>::new_from_slice(salt)
                .map_err(|_| PasswordError::Internal("HMAC key"))?;
            mac.update(password);
            let werkzeug = Zeroizing::new(mac.finalize().into_bytes().to_vec());
            let mut concatenated = <$digest as Digest>::new();
            concatenated.update(salt);
            concatenated.update(password);
            let django = Zeroizing::new(concatenated.finalize().to_vec());
            // Both computed, then combined without branching on either.
            Ok(bool::from(
                werkzeug.ct_eq(&expected) | django.ct_eq(&expected),
            ))
        }};
    }
    match method {
        "md5" => check!(md5::Md5),
        "sha1" => check!(sha1::Sha1),
        "sha224" => check!(sha2::Sha224),
        "sha256" => check!(Sha256),
        "sha384" => check!(sha2::Sha384),
        "sha512" => check!(Sha512),
        _ => Err(PasswordError::MalformedHash("fast digest method")),
    }
}

/// passlib's adapted base64: the standard alphabet with `.` for `+`,
/// without padding.
fn ab64_decode(text: &str) -> Result<Vec<u8>, PasswordError> {
    if text.is_empty() || text.len() > 128 {
        return Err(PasswordError::MalformedHash("passlib base64 length"));
    }
    let standard = text.replace('.', "+");
    base64ct::Base64Unpadded::decode_vec(&standard)
        .map_err(|_| PasswordError::MalformedHash("passlib base64"))
}

fn decode_base64(text: &str, what: &'static str) -> Result<Vec<u8>, PasswordError> {
    if text.len() > 176 {
        return Err(PasswordError::MalformedHash(what));
    }
    Base64::decode_vec(text).map_err(|_| PasswordError::MalformedHash(what))
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, PasswordError> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 256 {
        return Err(PasswordError::MalformedHash("hex length"));
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or(PasswordError::MalformedHash("hex digits"))
        })
        .collect()
}

/// Lowercase hex of `bytes` into `out` (twice as long).
fn base16_lower(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}
