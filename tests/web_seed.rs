//! Browser tests of hashing files to seed them (`Client.seed` with `File`s or `Blob`s).
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;

use tabswarm::input::SeedInput;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A cheap non-repeating pattern (a random generator is slow in a debug build at this size).
fn pattern(len: usize, salt: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i / 7 + i * 31 + salt) % 251).unwrap_or(0))
        .collect()
}

fn blob_of(bytes: &[u8]) -> web_sys::Blob {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    web_sys::Blob::new_with_u8_array_sequence(&parts).expect("blob")
}

#[wasm_bindgen_test]
async fn hashing_files_in_workers_matches_sha1_of_every_piece() {
    // Two blobs, 66 MiB and 100 001 bytes: more than one hashing worker where the machine has
    // more than one core, pieces across the file boundary, and a short last piece.
    let first = pattern(66 << 20, 1);
    let second = pattern(100_001, 2);
    let files = js_sys::Array::of2(&blob_of(&first), &blob_of(&second));
    let input = SeedInput::from_js(&files).expect("input");
    let last = Cell::new(0.0);
    let (meta, _) = input
        .hash(Some("pack".into()), None, vec![], None, &|f| {
            assert!(f >= last.get(), "progress goes forward");
            last.set(f);
        })
        .await
        .expect("hash");
    assert!(
        (last.get() - 1.0).abs() < f64::EPSILON,
        "progress ends at 1"
    );
    let all = [first, second].concat();
    let piece_len = meta.info.lengths().piece_length() as usize;
    let expected: Vec<_> = all.chunks(piece_len).map(tabswarm_core::sha1).collect();
    assert_eq!(meta.info.pieces().len(), expected.len());
    assert!(
        meta.info.pieces() == expected.as_slice(),
        "piece hashes differ"
    );
}
