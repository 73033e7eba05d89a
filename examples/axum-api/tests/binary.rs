//! The built binary, through the tests both starters share
//! (`../common/testing/binary.rs`).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failure"
)]

const BIN: &str = env!("CARGO_BIN_EXE_tessera-example-axum");

#[path = "../../common/testing/binary.rs"]
mod binary;
