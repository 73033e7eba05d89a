//! The argon2 hasher and verifier.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use password_hash::phc::{self, Output, ParamsString, Salt};
use std::sync::{Arc, Mutex, PoisonError};
use subtle::ConstantTimeEq;

use zeroize::{Zeroize, Zeroizing};

use super::{Password, PasswordHasher, PasswordVerifier, Scratch, Verified, Workspace};
use crate::error::{ConfigError, PasswordError};

/// Salt length of new hashes, in bytes (RFC 9106 §3.1).
const SALT_LEN: usize = 16;
/// Output length of new hashes, in bytes (RFC 9106 §3.1).
const OUTPUT_LEN: usize = 32;
/// Longest stored string looked at. A PHC argon2 string with the largest
/// fields `phc` accepts (48-byte salt, 64-byte output, 127 bytes of params)
/// is well under this; anything longer is refused before parsing.
const MAX_STORED_LEN: usize = 512;
/// [`Argon2Params::OWASP`] as argon2 parameters, checked at compile time.
const OWASP_PARAMS: Params = match Params::new(19_456, 2, 1, Some(OUTPUT_LEN)) {
    Ok(params) => params,
    Err(_) => panic!("the OWASP parameters are valid argon2 parameters"),
};

/// argon2id cost parameters.
///
/// Build them with [`new`](Self::new) or a preset; more settings may be
/// added in a minor release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes over the memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Argon2Params {
    /// OWASP's recommended argon2id configuration, and tessera's default:
    /// m = 19456 KiB (19 MiB), t = 2, p = 1.
    pub const OWASP: Self = Self::new(19_456, 2, 1);

    /// The OWASP Password Storage Cheat Sheet's equivalent argon2id rows,
    /// from most memory to least: (47104, 1), (19456, 2), (12288, 3),
    /// (9216, 4), (7168, 5), all with p = 1. They cost about the same CPU
    /// time; the ones with more memory resist GPUs better.
    pub const OWASP_ROWS: [Self; 5] = [
        Self::new(47_104, 1, 1),
        Self::new(19_456, 2, 1),
        Self::new(12_288, 3, 1),
        Self::new(9_216, 4, 1),
        Self::new(7_168, 5, 1),
    ];

    /// RFC 9106 §4's second recommended option, for memory-constrained
    /// settings: 64 MiB, t = 3, p = 4.
    pub const RFC9106_SECOND: Self = Self::new(65_536, 3, 4);

    /// Parameters from their parts.
    pub const fn new(m_cost: u32, t_cost: u32, p_cost: u32) -> Self {
        Self {
            m_cost,
            t_cost,
            p_cost,
        }
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Ceilings on the costs of stored hashes.
///
/// A stored hash is untrusted input (a database restored from elsewhere, a
/// migration script, an attacker with write access to one column). Verifying
/// `$argon2id$v=19$m=8388608,…` would allocate 8 GiB; these ceilings are
/// checked before anything is allocated.
///
/// Start from [`Default`] and change the fields you need; more ceilings may
/// be added in a minor release.
///
/// Peak hashing memory is `workers × m_cost` plus at most one stored hash
/// above `m_cost` at a time (up to `max_m_cost`): such hashes take turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Argon2Limits {
    /// Largest memory cost in KiB. Default 262144 (256 MiB).
    pub max_m_cost: u32,
    /// Largest time cost. Default 16.
    pub max_t_cost: u32,
    /// Largest parallelism. Default 16.
    pub max_p_cost: u32,
}

impl Default for Argon2Limits {
    fn default() -> Self {
        Self {
            max_m_cost: 256 * 1024,
            max_t_cost: 16,
            max_p_cost: 16,
        }
    }
}

/// The default hasher: argon2id with a 16-byte random salt and a 32-byte
/// output, written as a PHC string.
///
/// It verifies argon2id, argon2i and argon2d strings of version 0x10 and
/// 0x13, and reads a string without `v=` as version 0x10, as the C reference
/// implementation does. Anything but argon2id v19 at the current costs is
/// reported as [`needs_rehash`](Verified::needs_rehash).
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    params: Argon2Params,
    limits: Argon2Limits,
    // Validated once at construction, used for every new hash.
    argon2_params: Params,
    // Held while verifying a stored hash whose memory cost is above the
    // current one, so only one such allocation exists at a time.
    oversized: Arc<Mutex<()>>,
}

impl Argon2Hasher {
    /// A hasher with `params` and the default ceilings.
    ///
    /// # Errors
    /// [`ConfigError`] when argon2 rejects the parameters or they exceed the
    /// default ceilings (the hasher would refuse its own hashes).
    pub fn new(params: Argon2Params) -> Result<Self, ConfigError> {
        Self::with_limits(params, Argon2Limits::default())
    }

    /// A hasher with `params` and custom ceilings for stored hashes.
    ///
    /// # Errors
    /// [`ConfigError`] when argon2 rejects the parameters or they exceed the
    /// ceilings.
    pub fn with_limits(params: Argon2Params, limits: Argon2Limits) -> Result<Self, ConfigError> {
        for (setting, value, max) in [
            ("m_cost", params.m_cost, limits.max_m_cost),
            ("t_cost", params.t_cost, limits.max_t_cost),
            ("p_cost", params.p_cost, limits.max_p_cost),
        ] {
            if value > max {
                return Err(ConfigError::invalid(
                    setting,
                    format!("{value} exceeds the ceiling {max} for stored hashes"),
                ));
            }
        }
        let argon2_params = Params::new(
            params.m_cost,
            params.t_cost,
            params.p_cost,
            Some(OUTPUT_LEN),
        )
        .map_err(|e| ConfigError::invalid("argon2 params", e.to_string()))?;
        Ok(Self {
            params,
            limits,
            argon2_params,
            oversized: Arc::default(),
        })
    }

    /// The parameters of new hashes.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// The ceilings applied to stored hashes.
    pub fn limits(&self) -> Argon2Limits {
        self.limits
    }

    fn hash_with_salt(
        &self,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
        scratch: &mut Scratch,
    ) -> Result<(), PasswordError> {
        let argon2 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            self.argon2_params.clone(),
        );
        self.run(&argon2, password, salt, out, scratch)
    }

    /// Runs argon2 in the scratch memory when the job fits the memory a
    /// worker keeps (enough for the current parameters), in a temporary
    /// allocation otherwise, one at a time. Either way the blocks are zeroed
    /// afterwards: they hold values derived from the password.
    fn run(
        &self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
        scratch: &mut Scratch,
    ) -> Result<(), PasswordError> {
        let blocks = argon2.params().block_count();
        let home = self.argon2_params.block_count();
        let result = if blocks <= home {
            let memory = &mut scratch.workspace::<Argon2Blocks>().0;
            grow(memory, home)?;
            let memory = &mut memory[..blocks];
            let result = argon2.hash_password_into_with_memory(password, salt, out, &mut *memory);
            memory.iter_mut().for_each(Zeroize::zeroize);
            result
        } else {
            let _turn = self
                .oversized
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut memory = Vec::new();
            grow(&mut memory, blocks)?;
            let result =
                argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..]);
            memory.iter_mut().for_each(Zeroize::zeroize);
            result
        };
        result.map_err(|e| match e {
            argon2::Error::SaltTooShort | argon2::Error::SaltTooLong => {
                PasswordError::MalformedHash("salt length out of range")
            }
            argon2::Error::OutputTooShort | argon2::Error::OutputTooLong => {
                PasswordError::MalformedHash("output length out of range")
            }
            argon2::Error::PwdTooLong => PasswordError::Internal("password too long for argon2"),
            _ => PasswordError::Internal("argon2 failed"),
        })
    }
}

impl Default for Argon2Hasher {
    fn default() -> Self {
        Self {
            params: Argon2Params::OWASP,
            limits: Argon2Limits::default(),
            argon2_params: OWASP_PARAMS,
            oversized: Arc::default(),
        }
    }
}

impl PasswordHasher for Argon2Hasher {
    fn hash_password_with(
        &self,
        password: &Password,
        scratch: &mut Scratch,
    ) -> Result<String, PasswordError> {
        let salt: [u8; SALT_LEN] = random_bytes()?;
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        self.hash_with_salt(
            password.expose_secret().as_bytes(),
            &salt,
            &mut out[..],
            scratch,
        )?;
        let params = ParamsString::try_from(&self.argon2_params)
            .map_err(|_| PasswordError::Internal("encoding parameters"))?;
        let phc = phc::PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params,
            salt: Some(Salt::new(&salt).map_err(|_| PasswordError::Internal("encoding salt"))?),
            hash: Some(
                Output::new(&out[..]).map_err(|_| PasswordError::Internal("encoding output"))?,
            ),
        };
        Ok(phc.to_string())
    }

    fn verify_dummy_with(
        &self,
        password: &Password,
        scratch: &mut Scratch,
    ) -> Result<(), PasswordError> {
        // The same steps as a real verification at the current parameters:
        // derive with a random salt, then a constant-time comparison against
        // an output nobody knows.
        let salt: [u8; SALT_LEN] = random_bytes()?;
        let expected: [u8; OUTPUT_LEN] = random_bytes()?;
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        self.hash_with_salt(
            password.expose_secret().as_bytes(),
            &salt,
            &mut out[..],
            scratch,
        )?;
        let _ = std::hint::black_box(out.ct_eq(&expected));
        Ok(())
    }
}

impl PasswordVerifier for Argon2Hasher {
    fn verify_password_with(
        &self,
        password: &Password,
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        self.verify_bytes_with(password.expose_secret().as_bytes(), stored, scratch)
    }
}

impl Argon2Hasher {
    /// [`PasswordVerifier::verify_password_with`] for input that is not
    /// necessarily text (a legacy scheme's peppered password).
    pub(crate) fn verify_bytes_with(
        &self,
        password: &[u8],
        stored: &str,
        scratch: &mut Scratch,
    ) -> Result<Verified, PasswordError> {
        let parsed = parse_stored(stored, &self.limits).inspect_err(|e| {
            if let PasswordError::ParamsOutOfBounds { param, value, max } = e {
                // A stored hash no configuration of ours produces: planted,
                // or imported from a system with other ceilings.
                tracing::warn!(
                    target: "tessera::auth",
                    param, value, max,
                    "stored password hash exceeds the cost ceilings; refused without hashing"
                );
            }
        })?;
        let mut out = Zeroizing::new([0u8; Output::MAX_LENGTH]);
        let out = &mut out[..parsed.expected.len()];
        let argon2 = Argon2::new(parsed.algorithm, parsed.version, parsed.params.clone());
        self.run(&argon2, password, &parsed.salt, out, scratch)?;
        if !bool::from(out.ct_eq(parsed.expected.as_bytes())) {
            return Ok(Verified::INVALID);
        }
        let current = self.params;
        let needs_rehash = parsed.algorithm != Algorithm::Argon2id
            || parsed.version != Version::V0x13
            || parsed.params.m_cost() < current.m_cost
            || parsed.params.t_cost() < current.t_cost
            || parsed.params.p_cost() < current.p_cost
            || parsed.salt.len() < SALT_LEN
            || parsed.expected.len() < OUTPUT_LEN;
        Ok(Verified::valid(needs_rehash))
    }
}

/// A stored hash, parsed and checked against the ceilings.
struct StoredHash {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Salt,
    expected: Output,
}

fn parse_stored(stored: &str, limits: &Argon2Limits) -> Result<StoredHash, PasswordError> {
    // Identify the scheme before anything else: garbage, empty strings and
    // other schemes are "unknown", not "malformed argon2".
    let algorithm = stored
        .strip_prefix('$')
        .and_then(|rest| rest.split('$').next())
        .and_then(|id| match id {
            "argon2id" => Some(Algorithm::Argon2id),
            "argon2i" => Some(Algorithm::Argon2i),
            "argon2d" => Some(Algorithm::Argon2d),
            _ => None,
        })
        .ok_or(PasswordError::UnknownAlgorithm)?;
    if stored.len() > MAX_STORED_LEN {
        return Err(PasswordError::MalformedHash(
            "longer than any valid argon2 string",
        ));
    }
    let phc = phc::PasswordHash::new(stored)
        .map_err(|_| PasswordError::MalformedHash("not a valid PHC string"))?;
    let version = match phc.version {
        // The C reference reads a missing version as 0x10, the version that
        // predates the field.
        None | Some(0x10) => Version::V0x10,
        Some(0x13) => Version::V0x13,
        Some(_) => return Err(PasswordError::MalformedHash("unsupported argon2 version")),
    };

    let (mut m, mut t, mut p) = (None, None, None);
    let mut data = None;
    for (name, value) in phc.params.iter() {
        let slot = match name.as_str() {
            "m" => &mut m,
            "t" => &mut t,
            "p" => &mut p,
            "data" => {
                data = Some(value.as_str());
                continue;
            }
            // A key id means a secret this verifier does not have.
            "keyid" => {
                return Err(PasswordError::MalformedHash(
                    "keyed argon2 hashes are not supported",
                ));
            }
            _ => return Err(PasswordError::MalformedHash("unknown argon2 parameter")),
        };
        if slot.is_some() {
            return Err(PasswordError::MalformedHash("repeated argon2 parameter"));
        }
        *slot = Some(
            value
                .decimal()
                .map_err(|_| PasswordError::MalformedHash("argon2 parameter is not a number"))?,
        );
    }
    let (Some(m), Some(t), Some(p)) = (m, t, p) else {
        return Err(PasswordError::MalformedHash(
            "argon2 parameters m, t and p are required",
        ));
    };
    // The ceilings come before anything that sizes memory from these values.
    for (param, value, max) in [
        ("m", m, limits.max_m_cost),
        ("t", t, limits.max_t_cost),
        ("p", p, limits.max_p_cost),
    ] {
        if value > max {
            return Err(PasswordError::ParamsOutOfBounds {
                param,
                value: value.into(),
                max: max.into(),
            });
        }
    }

    let salt = phc
        .salt
        .ok_or(PasswordError::MalformedHash("missing salt"))?;
    let expected = phc
        .hash
        .ok_or(PasswordError::MalformedHash("missing hash output"))?;
    let mut builder = argon2::ParamsBuilder::new();
    builder
        .m_cost(m)
        .t_cost(t)
        .p_cost(p)
        .output_len(expected.len());
    if let Some(data) = data {
        let data = data
            .parse()
            .map_err(|_| PasswordError::MalformedHash("invalid argon2 associated data"))?;
        builder.data(data);
    }
    let params = builder
        .build()
        .map_err(|_| PasswordError::MalformedHash("argon2 parameters out of range"))?;
    Ok(StoredHash {
        algorithm,
        version,
        params,
        salt,
        expected,
    })
}

/// argon2's memory blocks, kept in a [`Scratch`].
#[derive(Default)]
struct Argon2Blocks(Vec<Block>);

impl Workspace for Argon2Blocks {
    fn held_bytes(&self) -> usize {
        self.0.capacity() * Block::SIZE
    }

    fn wipe(&mut self) {
        self.0.iter_mut().for_each(Zeroize::zeroize);
    }
}

fn grow(blocks: &mut Vec<Block>, len: usize) -> Result<(), PasswordError> {
    if blocks.len() < len {
        // try_reserve turns an allocation failure into an error instead of
        // aborting the process.
        blocks
            .try_reserve_exact(len - blocks.len())
            .map_err(|_| PasswordError::Internal("out of memory for argon2 blocks"))?;
        blocks.resize(len, Block::new());
    }
    Ok(())
}

fn random_bytes<const N: usize>() -> Result<[u8; N], PasswordError> {
    crate::random::os_bytes().map_err(PasswordError::Random)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Hasher {
        Argon2Hasher::new(Argon2Params::new(256, 1, 1)).unwrap()
    }

    #[test]
    fn hash_is_a_phc_argon2id_string_with_the_configured_parameters() {
        let hash = cheap().hash_password(&Password::new("hunter22")).unwrap();
        let parsed = phc::PasswordHash::new(&hash).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.version, Some(0x13));
        assert_eq!(parsed.params.get_decimal("m"), Some(256));
        assert_eq!(parsed.params.get_decimal("t"), Some(1));
        assert_eq!(parsed.params.get_decimal("p"), Some(1));
        assert_eq!(parsed.salt.unwrap().len(), SALT_LEN);
        assert_eq!(parsed.hash.unwrap().len(), OUTPUT_LEN);
    }

    #[test]
    fn default_hasher_matches_the_owasp_parameters() {
        let hasher = Argon2Hasher::default();
        assert_eq!(hasher.params(), Argon2Params::new(19_456, 2, 1));
        let built = Argon2Hasher::new(Argon2Params::OWASP).unwrap();
        assert_eq!(built.argon2_params, hasher.argon2_params);
    }

    #[test]
    fn configuration_above_the_ceilings_is_refused() {
        let err = Argon2Hasher::new(Argon2Params::new(512 * 1024, 2, 1)).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    setting: "m_cost",
                    ..
                }
            ),
            "{err}"
        );
        let err = Argon2Hasher::new(Argon2Params::new(8, 1, 4)).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
    }

    #[test]
    fn scratch_is_reused_and_zeroed() {
        let hasher = cheap();
        let mut scratch = Scratch::new();
        let hash = hasher
            .hash_password_with(&Password::new("hunter22"), &mut scratch)
            .unwrap();
        let held = scratch.held_bytes();
        assert_eq!(held, 256 * 1024);
        let blocks = &scratch.workspace::<Argon2Blocks>().0;
        assert!(blocks.iter().all(|b| b.as_ref().iter().all(|w| *w == 0)));
        let verified = hasher
            .verify_password_with(&Password::new("hunter22"), &hash, &mut scratch)
            .unwrap();
        assert!(verified.is_valid());
        assert_eq!(
            scratch.held_bytes(),
            held,
            "no growth for a hash at the current cost"
        );
    }

    #[test]
    fn the_dummy_does_a_verification_at_the_current_memory_cost() {
        let hasher = Argon2Hasher::new(Argon2Params::new(512, 2, 1)).unwrap();
        let mut scratch = Scratch::new();
        hasher
            .verify_dummy_with(&Password::new("anything"), &mut scratch)
            .unwrap();
        assert_eq!(scratch.held_bytes(), 512 * 1024);
    }

    #[test]
    fn custom_ceilings_apply_to_stored_hashes() {
        let limits = Argon2Limits {
            max_m_cost: 1024,
            max_t_cost: 2,
            ..Argon2Limits::default()
        };
        let strict = Argon2Hasher::with_limits(Argon2Params::new(256, 1, 1), limits).unwrap();
        let password = Password::new("hunter22");
        let within = Argon2Hasher::new(Argon2Params::new(1024, 2, 1))
            .unwrap()
            .hash_password(&password)
            .unwrap();
        assert!(
            strict
                .verify_password(&password, &within)
                .unwrap()
                .is_valid()
        );
        let above = Argon2Hasher::new(Argon2Params::new(2048, 1, 1))
            .unwrap()
            .hash_password(&password)
            .unwrap();
        assert!(matches!(
            strict.verify_password(&password, &above),
            Err(PasswordError::ParamsOutOfBounds {
                param: "m",
                value: 2048,
                max: 1024
            })
        ));
        let err = Argon2Hasher::with_limits(Argon2Params::new(2048, 1, 1), limits).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    setting: "m_cost",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_larger_stored_cost_uses_temporary_memory_not_the_scratch() {
        let big = Argon2Hasher::new(Argon2Params::new(1024, 1, 1)).unwrap();
        let hash = big.hash_password(&Password::new("hunter22")).unwrap();
        let mut scratch = Scratch::new();
        let verified = cheap()
            .verify_password_with(&Password::new("hunter22"), &hash, &mut scratch)
            .unwrap();
        assert!(verified.is_valid());
        assert!(!verified.needs_rehash());
        // The worker keeps memory for the current cost only.
        assert_eq!(scratch.held_bytes(), 0);
    }

    #[test]
    fn malformed_argon2_strings_are_errors_not_panics() {
        let hasher = cheap();
        let pw = Password::new("x");
        let good = hasher.hash_password(&pw).unwrap();
        let cases = [
            "$argon2id$",
            "$argon2id$v=19$m=256,t=1,p=1",
            "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=20$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=256,t=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=256,t=1,p=1,m=512$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=256,t=1,p=1,x=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=256,t=1,p=1,keyid=AAAA$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=256,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=abc,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=256,t=1,p=1$!!!$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo$extra",
        ];
        for case in cases {
            let err = hasher.verify_password(&pw, case).unwrap_err();
            assert!(
                matches!(err, PasswordError::MalformedHash(_)),
                "{case}: {err:?}"
            );
        }
        let long = format!("{good}{}", "A".repeat(MAX_STORED_LEN));
        assert!(matches!(
            hasher.verify_password(&pw, &long).unwrap_err(),
            PasswordError::MalformedHash(_)
        ));
    }
}
