//! What `Client.seed` and `Client.add` accept, turned into core types.
//!
//! Seeding takes a `Uint8Array`/`ArrayBuffer` (held in memory), or a `File`, `Blob`,
//! `FileList` or array of them (read in slices, never whole) and hashes it with the core's
//! streaming [`TorrentBuilder`]. Adding takes a magnet link (or a bare info hash) or the bytes
//! of a `.torrent` file (`Uint8Array`, `ArrayBuffer`, `Blob`).

use std::collections::VecDeque;
use tabswarm_core::magnet::Magnet;
use tabswarm_core::metainfo::{InfoHash, Metainfo, TorrentBuilder};

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::storage::{read_blob, BlobReader, BrowserStore, StoreNotify};

/// Where a seed's bytes are, once hashed.
pub enum SeedContent {
    Bytes(Vec<u8>),
    /// All files concatenated (a `Blob` of the files: no copy).
    Blob(web_sys::Blob),
}

impl SeedContent {
    /// The store to seed from.
    pub fn into_store(self, notify: StoreNotify) -> BrowserStore {
        match self {
            SeedContent::Bytes(b) => BrowserStore::from_bytes(b, notify),
            SeedContent::Blob(b) => BrowserStore::from_blob(b, notify),
        }
    }
}

/// Bytes hashed per step while seeding a file (and between progress callbacks), rounded to
/// whole pieces.
const HASH_SLICE: u32 = 4 * 1024 * 1024;
/// Bytes of WebCrypto digests in flight (each holds a copy of its piece).
const DIGEST_BYTES_IN_FLIGHT: u32 = 8 * 1024 * 1024;

/// Content to seed.
pub enum SeedInput {
    /// Bytes the page handed over (`Uint8Array`, `ArrayBuffer`).
    Bytes(Vec<u8>),
    /// One or more files or blobs, in order: (name, blob).
    Files(Vec<(String, web_sys::Blob)>),
}

impl SeedInput {
    /// Reads the JS value given to `Client.seed`.
    pub fn from_js(value: &JsValue) -> Result<SeedInput, String> {
        if let Some(a) = value.dyn_ref::<js_sys::Uint8Array>() {
            return Ok(SeedInput::Bytes(a.to_vec()));
        }
        if let Some(b) = value.dyn_ref::<js_sys::ArrayBuffer>() {
            return Ok(SeedInput::Bytes(js_sys::Uint8Array::new(b).to_vec()));
        }
        if let Some(list) = value.dyn_ref::<web_sys::FileList>() {
            let files: Vec<_> = (0..list.length())
                .filter_map(|i| list.get(i))
                .map(|f| (f.name(), web_sys::Blob::from(f)))
                .collect();
            return non_empty(files);
        }
        if let Some(arr) = value.dyn_ref::<js_sys::Array>() {
            let mut files = Vec::new();
            for v in arr.iter() {
                files.push(blob_entry(&v).ok_or("seed: the array must hold only Files or Blobs")?);
            }
            return non_empty(files);
        }
        if let Some(entry) = blob_entry(value) {
            return Ok(SeedInput::Files(vec![entry]));
        }
        Err(
            "seed: expected a File, Blob, FileList, array of Files, Uint8Array or ArrayBuffer"
                .into(),
        )
    }

    /// Total size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            SeedInput::Bytes(b) => b.len() as u64,
            SeedInput::Files(f) => f.iter().map(|(_, b)| f64_len(b.size())).sum(),
        }
    }

    /// True for zero bytes (which cannot be a torrent).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hashes the content into a torrent named `name` (default: the single file's name) and
    /// returns it with the content to seed from. `progress` gets the fraction hashed so far.
    pub async fn hash(
        self,
        name: Option<String>,
        piece_length: Option<u32>,
        announce: Vec<String>,
        creation_date: Option<i64>,
        progress: &dyn Fn(f64),
    ) -> Result<(Metainfo, SeedContent), String> {
        let total = self.len();
        if total == 0 {
            return Err("seed: cannot make a torrent of zero bytes".into());
        }
        let err = |e: tabswarm_core::metainfo::MetainfoError| format!("seed: {e}");
        match self {
            SeedInput::Bytes(bytes) => {
                let name = name.unwrap_or_else(|| "data".to_string());
                let mut builder =
                    TorrentBuilder::single(&name, total, piece_length).map_err(err)?;
                let step = HASH_SLICE as usize;
                for chunk in bytes.chunks(step) {
                    builder.update(chunk).map_err(err)?;
                    progress(ratio(builder.bytes_hashed(), total));
                }
                let meta = builder.finish(announce, creation_date).map_err(err)?;
                Ok((meta, SeedContent::Bytes(bytes)))
            }
            SeedInput::Files(files) => {
                let single = files.len() == 1;
                let first = files[0].0.clone();
                let name = name
                    .filter(|n| !n.is_empty())
                    .or_else(|| (!first.is_empty()).then(|| first.clone()))
                    .unwrap_or_else(|| "data".to_string());
                let mut builder = if single {
                    TorrentBuilder::single(&name, total, piece_length)
                } else {
                    let entries = files
                        .iter()
                        .enumerate()
                        .map(|(i, (n, b))| {
                            let n = if n.is_empty() {
                                format!("file{i}")
                            } else {
                                n.clone()
                            };
                            (vec![n], f64_len(b.size()))
                        })
                        .collect();
                    TorrentBuilder::new(&name, entries, piece_length)
                }
                .map_err(err)?;
                let parts = js_sys::Array::new();
                for (_, b) in &files {
                    parts.push(b);
                }
                let all = web_sys::Blob::new_with_blob_sequence(&parts)
                    .map_err(|e| format!("seed: {}", crate::js::error_text(&e)))?;
                let piece_len = builder.lengths().piece_length();
                let chunk_len = piece_len * (HASH_SLICE / piece_len).max(1);
                let mut reader = BlobReader::new(all.clone(), chunk_len);
                let mut hasher = PieceHasher::new(piece_len);
                let mut read = 0u64;
                while let Some(chunk) = reader.next().await {
                    let chunk = chunk?;
                    read += u64::from(chunk.length());
                    hasher.feed(&mut builder, &chunk).await?;
                    progress(ratio(read, total));
                }
                hasher.finish(&mut builder).await?;
                let meta = builder.finish(announce, creation_date).map_err(err)?;
                Ok((meta, SeedContent::Blob(all)))
            }
        }
    }
}

/// Hashes a seed's pieces with WebCrypto's SHA-1 where the page has it: native code (SHA-NI
/// here) on the browser's worker threads, several pieces in flight, about twice as fast as
/// our wasm SHA-1 and off the main thread. `crypto.subtle` exists only in secure contexts
/// (https, localhost); elsewhere the pieces are hashed in wasm.
enum PieceHasher {
    WebCrypto {
        subtle: Subtle,
        piece_len: u32,
        in_flight: usize,
        /// Digests of the next pieces, in piece order.
        pending: VecDeque<JsFuture>,
    },
    Wasm {
        /// The chunk's bytes in wasm memory, reused.
        scratch: Vec<u8>,
    },
}

#[wasm_bindgen]
extern "C" {
    /// `crypto.subtle` (only `digest` is used).
    type Subtle;
    #[wasm_bindgen(method, catch)]
    fn digest(
        this: &Subtle,
        algorithm: &str,
        data: &js_sys::Uint8Array,
    ) -> Result<js_sys::Promise, JsValue>;
}

impl PieceHasher {
    fn new(piece_len: u32) -> PieceHasher {
        let get = |v: &JsValue, k: &str| js_sys::Reflect::get(v, &JsValue::from_str(k)).ok();
        let subtle = get(&js_sys::global(), "crypto")
            .and_then(|c| get(&c, "subtle"))
            .filter(JsValue::is_object);
        match subtle {
            Some(subtle) => PieceHasher::WebCrypto {
                subtle: subtle.unchecked_into(),
                piece_len,
                in_flight: (DIGEST_BYTES_IN_FLIGHT / piece_len).clamp(2, 64) as usize,
                pending: VecDeque::new(),
            },
            None => PieceHasher::Wasm {
                scratch: Vec::new(),
            },
        }
    }

    /// Hashes the next `chunk` of content: whole pieces, except at the end of the content.
    async fn feed(
        &mut self,
        builder: &mut TorrentBuilder,
        chunk: &js_sys::Uint8Array,
    ) -> Result<(), String> {
        match self {
            PieceHasher::WebCrypto {
                subtle,
                piece_len,
                in_flight,
                pending,
            } => {
                let len = chunk.length();
                let mut at = 0;
                while at < len {
                    let end = len.min(at + *piece_len);
                    // `digest` copies the bytes before it returns, so the chunk's buffer may
                    // be refilled while the digest runs.
                    let digest = subtle
                        .digest("SHA-1", &chunk.subarray(at, end))
                        .map_err(|e| format!("seed: SHA-1: {}", crate::js::error_text(&e)))?;
                    pending.push_back(JsFuture::from(digest));
                    at = end;
                    while pending.len() > *in_flight {
                        next_digest(builder, pending).await?;
                    }
                }
                Ok(())
            }
            PieceHasher::Wasm { scratch } => {
                scratch.resize(chunk.length() as usize, 0);
                chunk.copy_to(scratch);
                builder.update(scratch).map_err(|e| format!("seed: {e}"))
            }
        }
    }

    /// Waits for the digests still in flight.
    async fn finish(&mut self, builder: &mut TorrentBuilder) -> Result<(), String> {
        if let PieceHasher::WebCrypto { pending, .. } = self {
            while !pending.is_empty() {
                next_digest(builder, pending).await?;
            }
        }
        Ok(())
    }
}

/// Hands the oldest digest in flight to the builder.
async fn next_digest(
    builder: &mut TorrentBuilder,
    pending: &mut VecDeque<JsFuture>,
) -> Result<(), String> {
    let Some(digest) = pending.pop_front() else {
        return Ok(());
    };
    let digest = digest
        .await
        .map_err(|e| format!("seed: SHA-1: {}", crate::js::error_text(&e)))?;
    let mut hash = [0u8; 20];
    let bytes = js_sys::Uint8Array::new(&digest);
    if bytes.length() != 20 {
        return Err("seed: SHA-1 digest of the wrong length".into());
    }
    bytes.copy_to(&mut hash);
    builder
        .add_piece_hash(hash)
        .map_err(|e| format!("seed: {e}"))
}

/// What `Client.add` was given.
pub enum AddInput {
    Magnet(Magnet),
    Torrent(Box<Metainfo>),
}

impl AddInput {
    /// Reads a magnet link, a bare info hash (40 hex or 32 base32 characters), or `.torrent`
    /// bytes (`Uint8Array`, `ArrayBuffer`, `Blob`).
    pub async fn from_js(value: &JsValue) -> Result<AddInput, String> {
        if let Some(s) = value.as_string() {
            return AddInput::from_text(&s);
        }
        let bytes = if let Some(a) = value.dyn_ref::<js_sys::Uint8Array>() {
            a.to_vec()
        } else if let Some(b) = value.dyn_ref::<js_sys::ArrayBuffer>() {
            js_sys::Uint8Array::new(b).to_vec()
        } else if let Some(b) = value.dyn_ref::<web_sys::Blob>() {
            read_blob(b).await?
        } else {
            return Err("add: expected a magnet link or the bytes of a .torrent file".into());
        };
        AddInput::from_torrent_bytes(&bytes)
    }

    /// A magnet link or a bare info hash.
    pub fn from_text(s: &str) -> Result<AddInput, String> {
        let s = s.trim();
        if let Some(h) = InfoHash::from_hex(s).or_else(|| InfoHash::from_base32(s)) {
            return Ok(AddInput::Magnet(Magnet::new(h)));
        }
        Magnet::parse(s)
            .map(AddInput::Magnet)
            .map_err(|e| format!("add: {e}"))
    }

    /// The bytes of a `.torrent` file.
    pub fn from_torrent_bytes(bytes: &[u8]) -> Result<AddInput, String> {
        Metainfo::from_bytes(bytes)
            .map(|m| AddInput::Torrent(Box::new(m)))
            .map_err(|e| format!("add: invalid .torrent file: {e}"))
    }
}

fn blob_entry(v: &JsValue) -> Option<(String, web_sys::Blob)> {
    if let Some(f) = v.dyn_ref::<web_sys::File>() {
        return Some((f.name(), f.clone().into()));
    }
    v.dyn_ref::<web_sys::Blob>()
        .map(|b| (String::new(), b.clone()))
}

fn non_empty(files: Vec<(String, web_sys::Blob)>) -> Result<SeedInput, String> {
    if files.is_empty() {
        Err("seed: no files given".into())
    } else {
        Ok(SeedInput::Files(files))
    }
}

/// A JS size (an exact integer) as bytes.
fn f64_len(x: f64) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let v = x as u64;
    v
}

#[allow(clippy::cast_precision_loss)]
fn ratio(done: u64, total: u64) -> f64 {
    if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_inputs_are_magnets_or_bare_hashes() {
        let hex = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
        match AddInput::from_text(hex) {
            Ok(AddInput::Magnet(m)) => assert_eq!(m.info_hash.to_hex(), hex),
            _ => panic!("a bare hex hash is a magnet"),
        }
        match AddInput::from_text(&format!("magnet:?xt=urn:btih:{hex}&dn=a+b")) {
            Ok(AddInput::Magnet(m)) => assert_eq!(m.name.as_deref(), Some("a b")),
            _ => panic!("a magnet link"),
        }
        let e = AddInput::from_text("magnet:?dn=x").err().unwrap();
        assert!(e.contains("info hash"), "{e}");
        let e = AddInput::from_text("hello").err().unwrap();
        assert!(e.contains("magnet"), "{e}");
        let e = AddInput::from_torrent_bytes(&[1, 2, 3]).err().unwrap();
        assert!(e.contains(".torrent"), "{e}");
    }
}
