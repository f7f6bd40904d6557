//! tabswarm's browser peer: the wasm package that pages import as `/pkg/tabswarm.js`.
//!
//! This crate is the only one that names `wasm_bindgen`, `web_sys` or `js_sys`; all protocol
//! logic lives in `tabswarm-core`.

use wasm_bindgen::prelude::*;

/// The package version, so a page can show that the module loaded.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// SHA-1 of `data` as 40 lowercase hex digits (a self-check the page runs at load).
#[wasm_bindgen(js_name = sha1Hex)]
pub fn sha1_hex(data: &[u8]) -> String {
    hex(&tabswarm_core::sha1(data))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}
