//! The engine under a scripted hostile peer; the world and its rules live with core's tests
//! (crates/core/tests/support/engine_world.rs), which also replay this target's corpus.
#![no_main]

#[path = "../../crates/core/tests/support/engine_world.rs"]
mod engine_world;

libfuzzer_sys::fuzz_target!(|input: &[u8]| engine_world::run(input));
