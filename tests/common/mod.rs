//! Code shared by the integration-test binaries. Cargo builds only `tests/*.rs` as test
//! binaries, so this directory is compiled into each binary that says `mod common;` and is
//! not a binary of its own.

// Each binary uses a part of the harness (Raft no client, PBFT no bulk transport).
#![allow(dead_code)]

pub mod harness;
pub mod migration;
