//! Browser tests of the piece stores: OPFS (async writes and reads), Blob-backed seeding, and
//! the choice between memory and OPFS.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use futures::channel::mpsc;
use futures::StreamExt;
use tabswarm::storage::{
    read_blob, BlobReader, BrowserStore, Placement, StoreNote, StoreNotify, MEMORY_LIMIT,
};
use tabswarm_core::lengths::Lengths;
use tabswarm_core::rng::Rng;
use tabswarm_core::store::{PieceStore, ReadStatus, StoreError};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn notifier() -> (StoreNotify, mpsc::UnboundedReceiver<StoreNote>) {
    let (tx, rx) = mpsc::unbounded();
    (
        Rc::new(move |n| {
            let _ = tx.unbounded_send(n);
        }),
        rx,
    )
}

fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    Rng::new(seed).fill(&mut v);
    v
}

fn idx(x: u64) -> usize {
    usize::try_from(x).expect("small test offsets")
}

fn blob_of(bytes: &[u8]) -> web_sys::Blob {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    web_sys::Blob::new_with_u8_array_sequence(&parts).expect("blob")
}

/// Reads `block` until it is ready, waiting for `ReadReady` notes in between.
async fn read_eventually(
    store: &mut BrowserStore,
    notes: &mut mpsc::UnboundedReceiver<StoreNote>,
    lengths: &Lengths,
    piece: u32,
    begin: u32,
    len: u32,
) -> (Vec<u8>, bool) {
    let block = lengths.validate_block(piece, begin, len).expect("block");
    let mut waited = false;
    loop {
        let mut out = Vec::new();
        match store.read_block(block, &mut out).expect("read") {
            ReadStatus::Ready => return (out, waited),
            ReadStatus::Pending => {
                assert!(out.is_empty(), "Pending appends nothing");
                waited = true;
                assert_eq!(notes.next().await, Some(StoreNote::ReadReady));
            }
        }
    }
}

#[wasm_bindgen_test]
async fn opfs_store_round_trips_pieces_and_builds_a_disk_backed_blob() {
    let data = content(100_000, 7);
    let lengths = Lengths::new(100_000, 16_384).unwrap();
    let (notify, mut notes) = notifier();
    let mut store = BrowserStore::for_download(Placement::Opfs, notify);
    assert_eq!(store.kind(), "undecided");
    store.set_lengths(lengths).unwrap();
    assert_eq!(store.kind(), "opfs");
    for piece in lengths.iter_pieces() {
        let range = lengths.piece_range(piece);
        let bytes = data[idx(range.start)..idx(range.end)].to_vec();
        store.write_piece(piece, bytes).unwrap();
    }
    // While its write is in flight a piece is served from memory.
    let (early, waited) = read_eventually(&mut store, &mut notes, &lengths, 1, 10, 100).await;
    assert!(!waited);
    assert_eq!(early, &data[16_384 + 10..16_384 + 110]);

    let blob = store.content_blob(0..100_000).await.expect("content blob");
    assert_eq!(blob.size(), 100_000.0);
    assert_eq!(read_blob(&blob).await.unwrap(), data);
    // A range across a piece boundary comes from the two piece files it spans.
    let part = store
        .content_blob(16_000..40_000)
        .await
        .expect("range blob");
    assert_eq!(read_blob(&part).await.unwrap(), &data[16_000..40_000]);
    let empty = store.content_blob(5..5).await.expect("empty range");
    assert_eq!(empty.size(), 0.0);

    // Once written, reads go to disk: Pending first, then Ready after the note.
    let last = lengths.num_pieces() - 1;
    let (tail, waited) = read_eventually(&mut store, &mut notes, &lengths, last, 0, 100).await;
    assert!(waited, "a read from OPFS is asynchronous");
    let start = idx(lengths.piece_offset(lengths.last_piece()));
    assert_eq!(tail, &data[start..start + 100]);
    // A second read of the same piece hits the cache.
    let (again, waited) = read_eventually(&mut store, &mut notes, &lengths, last, 50, 50).await;
    assert!(!waited);
    assert_eq!(again, &data[start + 50..start + 100]);

    // Unwritten pieces of another download are reported missing, not invented.
    let (n2, _) = notifier();
    let mut empty = BrowserStore::for_download(Placement::Opfs, n2);
    empty.set_lengths(lengths).unwrap();
    let block = lengths.validate_block(0, 0, 16).unwrap();
    assert_eq!(
        empty.read_block(block, &mut Vec::new()),
        Err(StoreError::Missing { piece: 0 })
    );
    store.destroy();
}

#[wasm_bindgen_test]
async fn blob_store_slices_pieces_on_demand() {
    let data = content(70_000, 3);
    let lengths = Lengths::new(70_000, 32_768).unwrap();
    let (notify, mut notes) = notifier();
    let mut store = BrowserStore::from_blob(blob_of(&data), notify);
    store.set_lengths(lengths).unwrap();
    let (bytes, waited) = read_eventually(&mut store, &mut notes, &lengths, 2, 0, 4_464).await;
    assert!(waited);
    assert_eq!(bytes, &data[65_536..]);
    let (bytes, waited) =
        read_eventually(&mut store, &mut notes, &lengths, 1, 16_384, 16_384).await;
    assert!(waited);
    assert_eq!(bytes, &data[32_768 + 16_384..65_536]);
    // Seeds are read-only, and the size must match the file.
    let piece = lengths.validate_piece(0).unwrap();
    assert!(store.write_piece(piece, vec![0; 32_768]).is_err());
    let (n2, _) = notifier();
    let mut wrong = BrowserStore::from_blob(blob_of(&data[..10]), n2);
    assert!(matches!(
        wrong.set_lengths(lengths),
        Err(StoreError::LengthsMismatch { .. })
    ));
}

#[wasm_bindgen_test]
async fn blob_reader_yields_every_byte_in_whole_chunks() {
    let data = content(1_000_003, 11);
    let mut reader = BlobReader::new(blob_of(&data), 262_144);
    let mut got = Vec::new();
    let mut lens = Vec::new();
    while let Some(chunk) = reader.next().await {
        let chunk = chunk.expect("chunk");
        lens.push(chunk.length());
        got.extend_from_slice(&chunk.to_vec());
    }
    // Exact chunks (the stream's own reads are smaller), the last one shorter.
    assert_eq!(lens, [262_144, 262_144, 262_144, 213_571]);
    assert_eq!(got, data);
}

#[wasm_bindgen_test]
async fn auto_placement_keeps_small_downloads_in_memory_and_large_ones_in_opfs() {
    let (n1, _) = notifier();
    let mut small = BrowserStore::for_download(
        Placement::Auto {
            limit: MEMORY_LIMIT,
        },
        n1,
    );
    small
        .set_lengths(Lengths::new(1_000, 16_384).unwrap())
        .unwrap();
    assert_eq!(small.kind(), "memory");
    let (n2, _) = notifier();
    let mut large = BrowserStore::for_download(
        Placement::Auto {
            limit: MEMORY_LIMIT,
        },
        n2,
    );
    large
        .set_lengths(Lengths::new(2 * 1024 * 1024 * 1024, 1 << 20).unwrap())
        .unwrap();
    assert_eq!(large.kind(), "opfs", "2 GiB does not go to memory");
}
