//! The library half of btcpctl: the structured edits of the configuration
//! text ([`edit`], pure, unit-tested), what `wait-drained` reads of the
//! counters ([`drain`]), the metrics' formats ([`metrics`]), the JSON views ([`json`]) and the client of the module's generic netlink
//! family ([`nl`]). The command line is in main.rs.

pub mod drain;
pub mod edit;
pub mod json;
pub mod metrics;
pub mod nl;
