//! Replays the engine fuzz target's committed corpus (fuzz/corpus/engine: seed scripts and the
//! inputs of crashes found, once fixed) natively, so plain `cargo test` checks every one of
//! them, with or without a nightly toolchain.

#[path = "support/engine_world.rs"]
mod engine_world;

use std::path::Path;

#[test]
fn every_engine_corpus_input_plays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/engine");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let regressions = names
        .iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("regress-")
        })
        .count();
    assert!(regressions >= 1, "no regress-* inputs in {}", dir.display());
    for path in &names {
        let input = std::fs::read(path).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| engine_world::run(&input)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{}: {msg}", path.display());
        }
    }
}
