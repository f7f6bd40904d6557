//! Deterministic swarm simulator over the real tabswarm engine.
//!
//! [`net`] models the links (upload and download capacity per peer, latency per pair) and runs
//! [`tabswarm_core::engine::Engine`]s over them in virtual time; [`scenario`] builds swarms
//! (one seed and `n` leechers, capacities, topology, departures) and measures the distribution
//! time against the classic lower bounds; [`report`] writes the sweep table and chart.
//! Everything is a pure function of the parameters and the seed.

pub mod net;
pub mod report;
pub mod scenario;
