//! Browser tests: run with `wasm-pack test --headless --chrome` (see scripts/test.sh).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn sha1_in_the_browser_matches_the_fips_vector() {
    assert_eq!(
        tabswarm::sha1_hex(b"abc"),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
}

#[wasm_bindgen_test]
fn runs_in_a_window_with_a_document() {
    let window = web_sys::window().expect("a browser window");
    assert!(window.document().is_some());
}
