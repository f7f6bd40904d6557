//! Deterministic swarm simulator: filled in by the core issue.
