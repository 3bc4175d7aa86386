//! The experiment file schema, `--set` overrides and every check that needs no simulation.
//!
//! Below `scenario` in the layering: the scenario builder reads these types, and nothing
//! here knows how a world is built or run. Unknown keys are errors (`deny_unknown_fields`).

#![warn(missing_docs)]

pub mod consensus;
pub mod faults;
pub mod filter;
pub mod migration;
pub mod schema;
pub mod transport;

pub use schema::*;
pub use transport::{DcqcnSettings, RdmaSettings, TcpSettings};
