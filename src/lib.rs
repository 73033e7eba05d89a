//! tessera: authentication and authorization for Rust services.
//!
//! This facade re-exports [`tessera_core`]; adapters and stores join it as
//! features when they land.
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use tessera_core::*;
