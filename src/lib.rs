//! tessera: authentication and authorization for Rust services.
//!
//! This facade re-exports [`tessera_core`], and per feature the stores:
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `sqlite` | `tessera::sqlx::SqliteStore`: every store on one embedded SQLite file |
//! | `postgres` | `tessera::sqlx::PgStore`: every store on PostgreSQL, shared by several instances |
//! | `redis` | `tessera::redis::RedisStore`: tokens, revocations, sessions and one-time tokens on Redis |
//! | `axum` | `tessera::axum`: the layer, extractors and guards for axum 0.8 |
//! | `actix-web` | `tessera::actix`: the middleware, extractors and guards for actix-web 4 |
//! | `legacy` | `tessera::password::legacy`: verify Werkzeug, Django, passlib, argon2-cffi and bcrypt hashes, upgraded to argon2id on login |
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use tessera_core::*;

/// SQL stores: SQLite (feature `sqlite`) and PostgreSQL (feature
/// `postgres`).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use tessera_sqlx as sqlx;

/// The actix-web adapter (feature `actix-web`).
#[cfg(feature = "actix-web")]
pub use tessera_actix as actix;

/// The axum adapter (feature `axum`).
#[cfg(feature = "axum")]
pub use tessera_axum as axum;

/// The Redis store (feature `redis`).
#[cfg(feature = "redis")]
pub use tessera_redis as redis;
