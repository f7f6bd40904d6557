//! What `Client.seed` and `Client.add` accept, turned into core types.
//!
//! Seeding takes a `Uint8Array`/`ArrayBuffer` (held in memory), or a `File`, `Blob`,
//! `FileList` or array of them (read in chunks, never whole) and hashes it into the core's
//! streaming [`TorrentBuilder`]: files in Web Workers with WebCrypto where the page allows it,
//! else in wasm. A file's path in the torrent is its `fullPath` property (WebTorrent's
//! convention, set by its drag-drop package and by www/folder.js), else its
//! `webkitRelativePath` (`<input webkitdirectory>`), else its name; core's [`Layout`] lays
//! them out as WebTorrent's create-torrent does and refuses unsafe paths. Adding takes a magnet link (or a bare info hash) or the bytes
//! of a `.torrent` file (`Uint8Array`, `ArrayBuffer`, `Blob`).

use tabswarm_core::magnet::Magnet;
use tabswarm_core::metainfo::{InfoHash, Layout, Metainfo, TorrentBuilder};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::api::ErrorCode::{BadInput, BadMagnet, BadTorrent, InvalidOption, ReadFailed};
use crate::api::Failure;
use crate::js::{f64_to_u64, prop, u64_to_f64};
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
/// Bytes of WebCrypto digests in flight in each hashing worker (each holds a copy of its
/// piece).
const DIGEST_BYTES_IN_FLIGHT: u32 = 8 * 1024 * 1024;

/// Content to seed.
pub enum SeedInput {
    /// Bytes the page handed over (`Uint8Array`, `ArrayBuffer`).
    Bytes(Vec<u8>),
    /// One or more files or blobs, in order: (path or name, `""` for neither; blob).
    Files(Vec<(String, web_sys::Blob)>),
}

impl SeedInput {
    /// Reads the JS value given to `Client.seed`.
    pub fn from_js(value: &JsValue) -> Result<SeedInput, Failure> {
        if let Some(a) = value.dyn_ref::<js_sys::Uint8Array>() {
            return Ok(SeedInput::Bytes(a.to_vec()));
        }
        if let Some(b) = value.dyn_ref::<js_sys::ArrayBuffer>() {
            return Ok(SeedInput::Bytes(js_sys::Uint8Array::new(b).to_vec()));
        }
        if let Some(list) = value.dyn_ref::<web_sys::FileList>() {
            let files: Vec<_> = (0..list.length())
                .filter_map(|i| list.get(i))
                .filter_map(|f| blob_entry(&f))
                .collect();
            return non_empty(files);
        }
        if let Some(arr) = value.dyn_ref::<js_sys::Array>() {
            let mut files = Vec::new();
            for v in arr.iter() {
                files.push(blob_entry(&v).ok_or_else(|| {
                    Failure::new(BadInput, "seed: the array must hold only Files or Blobs")
                })?);
            }
            return non_empty(files);
        }
        if let Some(entry) = blob_entry(value) {
            return Ok(SeedInput::Files(vec![entry]));
        }
        Err(Failure::new(
            BadInput,
            "seed: expected a File, Blob, FileList, array of Files, Uint8Array or ArrayBuffer",
        ))
    }

    /// Total size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            SeedInput::Bytes(b) => b.len() as u64,
            SeedInput::Files(f) => f.iter().map(|(_, b)| f64_to_u64(b.size())).sum(),
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
    ) -> Result<(Metainfo, SeedContent), Failure> {
        let total = self.len();
        if total == 0 {
            return Err(Failure::new(
                BadInput,
                "seed: cannot make a torrent of zero bytes",
            ));
        }
        // The builder refuses only what the options ask for (a piece length, a name).
        let err = |e: tabswarm_core::metainfo::MetainfoError| {
            Failure::new(InvalidOption, format!("seed: {e}"))
        };
        let read_failed = |msg: String| Failure::new(ReadFailed, msg);
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
                let inputs: Vec<(&str, u64)> = files
                    .iter()
                    .map(|(p, b)| (p.as_str(), f64_to_u64(b.size())))
                    .collect();
                let layout = Layout::new(&inputs, name.as_deref())
                    .map_err(|e| Failure::new(BadInput, format!("seed: {e}")))?;
                let total = layout.total_length();
                if total == 0 {
                    return Err(Failure::new(
                        BadInput,
                        "seed: cannot make a torrent of zero bytes",
                    ));
                }
                let mut builder = layout.builder(piece_length).map_err(err)?;
                // The files kept (not junk), in order.
                let parts = js_sys::Array::new();
                for f in &layout.files {
                    parts.push(&files[f.index].1);
                }
                let all = web_sys::Blob::new_with_blob_sequence(&parts)
                    .map_err(|e| read_failed(format!("seed: {}", crate::js::error_text(&e))))?;
                let lengths = builder.lengths();
                let chunk_len = chunk_len(lengths.piece_length());
                if let Some(hashes) = hash_in_workers(&all, lengths, progress).await {
                    for hash in hashes.map_err(read_failed)? {
                        builder.add_piece_hash(hash).map_err(err)?;
                    }
                } else {
                    // No workers or no WebCrypto: hash in wasm, here.
                    let mut reader = BlobReader::new(all.clone(), chunk_len);
                    let mut scratch = Vec::new();
                    while let Some(chunk) = reader.next().await {
                        let chunk = chunk.map_err(read_failed)?;
                        scratch.resize(chunk.length() as usize, 0);
                        chunk.copy_to(&mut scratch);
                        builder.update(&scratch).map_err(err)?;
                        progress(ratio(builder.bytes_hashed(), total));
                    }
                }
                let meta = builder.finish(announce, creation_date).map_err(err)?;
                Ok((meta, SeedContent::Blob(all)))
            }
        }
    }
}

/// The worker that hashes a range of a seed's `Blob`: a BYOB reader of `blob.stream()`
/// refills one buffer of whole pieces, and each piece goes to WebCrypto's SHA-1 (native code),
/// `inFlight` digests at a time. It posts `{ done }` (bytes read) after each chunk, then
/// `{ hashes }` (20 bytes per piece), or `{ error }`.
const HASH_WORKER_JS: &str = r#"
onmessage = async ({ data: { blob, pieceLength, chunkLength, inFlight } }) => {
  try {
    const reader = blob.stream().getReader({ mode: 'byob' });
    const hashes = new Uint8Array(Math.ceil(blob.size / pieceLength) * 20);
    const pending = [];
    const settle = async () => {
      const [i, digest] = pending.shift();
      hashes.set(new Uint8Array(await digest), i * 20);
    };
    let buf = new ArrayBuffer(chunkLength), piece = 0, done = 0, end = false;
    while (!end) {
      let filled = 0;
      while (filled < chunkLength) {
        const r = await reader.read(new Uint8Array(buf, filled, chunkLength - filled));
        if (r.value) { buf = r.value.buffer; filled += r.value.byteLength; }
        if (r.done) { end = true; break; }
      }
      // digest() copies its input before returning: the buffer can be refilled at once.
      for (let at = 0; at < filled; at += pieceLength) {
        const view = new Uint8Array(buf, at, Math.min(pieceLength, filled - at));
        pending.push([piece++, crypto.subtle.digest('SHA-1', view)]);
        while (pending.length > inFlight) await settle();
      }
      done += filled;
      postMessage({ done });
    }
    while (pending.length) await settle();
    postMessage({ hashes }, [hashes.buffer]);
  } catch (e) {
    postMessage({ error: String(e && e.message || e) });
  }
};
"#;

/// At most this many hashing workers.
const MAX_HASH_WORKERS: u32 = 4;
/// Each worker hashes at least this much (fewer workers for small files).
const BYTES_PER_WORKER: u64 = 64 * 1024 * 1024;

/// Bytes read per step: [`HASH_SLICE`] rounded to whole pieces.
fn chunk_len(piece_len: u32) -> u32 {
    piece_len * (HASH_SLICE / piece_len).max(1)
}

#[wasm_bindgen]
extern "C" {
    type Worker;
    #[wasm_bindgen(constructor, catch)]
    fn new(url: &str) -> Result<Worker, JsValue>;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    fn post_message(this: &Worker, message: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    fn terminate(this: &Worker);
}

/// The workers of one [`hash_in_workers`] call; terminated, and their script URL revoked, on
/// drop.
struct HashWorkers {
    url: String,
    workers: Vec<(Worker, crate::js::Listener, crate::js::Listener)>,
}

impl Drop for HashWorkers {
    fn drop(&mut self) {
        for (w, _, _) in &self.workers {
            w.terminate();
        }
        let _ = web_sys::Url::revoke_object_url(&self.url);
    }
}

/// What a hashing worker reported: (worker, message), or (worker, `None`) if it failed to run.
type WorkerNote = (usize, Option<JsValue>);

/// Hashes the pieces of `blob` in Web Workers, one range of whole pieces each, so that the
/// hashing runs beside the page's main thread (and, with several cores, beside each other).
/// WebCrypto's `digest` hashes on the calling thread: on the main thread it held it 54% of
/// the time while seeding 1 GiB. `None` where workers or WebCrypto are not available (such as
/// an http page other than localhost, or a CSP that forbids `blob:` workers): hash in wasm.
async fn hash_in_workers(
    blob: &web_sys::Blob,
    lengths: tabswarm_core::lengths::Lengths,
    progress: &dyn Fn(f64),
) -> Option<Result<Vec<[u8; 20]>, String>> {
    use futures::StreamExt;
    let global = js_sys::global();
    if !prop(&prop(&global, "crypto"), "subtle").is_object() {
        return None;
    }
    let cores = prop(&prop(&global, "navigator"), "hardwareConcurrency")
        .as_f64()
        .unwrap_or(1.0);
    let total = lengths.total_length();
    let piece_len = lengths.piece_length();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let count = (cores as u32)
        .clamp(1, MAX_HASH_WORKERS)
        .min(u32::try_from(total.div_ceil(BYTES_PER_WORKER)).unwrap_or(u32::MAX))
        .min(lengths.num_pieces())
        .max(1);
    let per_worker = lengths.num_pieces().div_ceil(count);

    let script = js_sys::Array::of1(&JsValue::from_str(HASH_WORKER_JS));
    let kind = web_sys::BlobPropertyBag::new();
    kind.set_type("text/javascript");
    let source = web_sys::Blob::new_with_str_sequence_and_options(&script, &kind).ok()?;
    let url = web_sys::Url::create_object_url_with_blob(&source).ok()?;
    let mut pool = HashWorkers {
        url,
        workers: Vec::new(),
    };
    let (tx, mut rx) = futures::channel::mpsc::unbounded::<WorkerNote>();
    let mut ranges = Vec::new();
    for i in 0..count {
        let first = u64::from(i * per_worker) * u64::from(piece_len);
        let end = (first + u64::from(per_worker) * u64::from(piece_len)).min(total);
        if first >= end {
            break;
        }
        let worker = Worker::new(&pool.url).ok()?;
        let target: &web_sys::EventTarget = worker.unchecked_ref();
        let index = ranges.len();
        let on_message = {
            let tx = tx.clone();
            crate::js::Listener::new(target, "message", move |ev| {
                let data = ev
                    .dyn_ref::<web_sys::MessageEvent>()
                    .map(web_sys::MessageEvent::data);
                let _ = tx.unbounded_send((index, data));
            })
        };
        let on_error = {
            let tx = tx.clone();
            crate::js::Listener::new(target, "error", move |_| {
                let _ = tx.unbounded_send((index, None));
            })
        };
        let slice = blob
            .slice_with_f64_and_f64(u64_to_f64(first), u64_to_f64(end))
            .ok()?;
        let job = js_sys::Object::new();
        for (key, value) in [
            ("blob", JsValue::from(slice)),
            ("pieceLength", piece_len.into()),
            ("chunkLength", chunk_len(piece_len).into()),
            (
                "inFlight",
                (DIGEST_BYTES_IN_FLIGHT / piece_len).clamp(2, 64).into(),
            ),
        ] {
            let _ = js_sys::Reflect::set(&job, &JsValue::from_str(key), &value);
        }
        worker.post_message(&job).ok()?;
        pool.workers.push((worker, on_message, on_error));
        ranges.push(first..end);
    }
    drop(tx);

    let mut done = vec![0u64; ranges.len()];
    let mut hashes: Vec<Option<js_sys::Uint8Array>> = vec![None; ranges.len()];
    while hashes.iter().any(Option::is_none) {
        let (i, data) = rx.next().await?;
        // A worker that could not run its script (a CSP, say): hash in wasm instead.
        let data = data?;
        let e = prop(&data, "error");
        if !e.is_undefined() {
            let msg = e.as_string().unwrap_or_default();
            return Some(Err(format!("seed: cannot read or hash the file: {msg}")));
        }
        let h = prop(&data, "hashes");
        if !h.is_undefined() {
            hashes[i] = Some(h.unchecked_into());
            done[i] = ranges[i].end - ranges[i].start;
        } else if let Some(d) = prop(&data, "done").as_f64() {
            done[i] = f64_to_u64(d);
        }
        progress(ratio(done.iter().sum(), total));
    }
    drop(pool);
    let mut out = Vec::with_capacity(lengths.num_pieces() as usize);
    for h in hashes.into_iter().flatten() {
        let bytes = h.to_vec();
        out.extend(bytes.chunks_exact(20).map(|c| {
            let mut hash = [0u8; 20];
            hash.copy_from_slice(c);
            hash
        }));
    }
    if out.len() != lengths.num_pieces() as usize {
        return Some(Err("seed: the hashing workers lost pieces".into()));
    }
    Some(Ok(out))
}

/// What `Client.add` was given.
pub enum AddInput {
    Magnet(Magnet),
    Torrent(Box<Metainfo>),
}

impl AddInput {
    /// Reads a magnet link, a bare info hash (40 hex or 32 base32 characters), or `.torrent`
    /// bytes (`Uint8Array`, `ArrayBuffer`, `Blob`).
    pub async fn from_js(value: &JsValue) -> Result<AddInput, Failure> {
        if let Some(s) = value.as_string() {
            return AddInput::from_text(&s);
        }
        let bytes = if let Some(a) = value.dyn_ref::<js_sys::Uint8Array>() {
            a.to_vec()
        } else if let Some(b) = value.dyn_ref::<js_sys::ArrayBuffer>() {
            js_sys::Uint8Array::new(b).to_vec()
        } else if let Some(b) = value.dyn_ref::<web_sys::Blob>() {
            read_blob(b)
                .await
                .map_err(|e| Failure::new(ReadFailed, format!("add: {e}")))?
        } else {
            return Err(Failure::new(
                BadInput,
                "add: expected a magnet link or the bytes of a .torrent file",
            ));
        };
        AddInput::from_torrent_bytes(&bytes)
    }

    /// A magnet link or a bare info hash.
    pub fn from_text(s: &str) -> Result<AddInput, Failure> {
        let s = s.trim();
        if let Some(h) = InfoHash::from_hex(s).or_else(|| InfoHash::from_base32(s)) {
            return Ok(AddInput::Magnet(Magnet::new(h)));
        }
        Magnet::parse(s)
            .map(AddInput::Magnet)
            .map_err(|e| Failure::new(BadMagnet, format!("add: {e}")))
    }

    /// The bytes of a `.torrent` file.
    pub fn from_torrent_bytes(bytes: &[u8]) -> Result<AddInput, Failure> {
        Metainfo::from_bytes(bytes)
            .map(|m| AddInput::Torrent(Box::new(m)))
            .map_err(|e| Failure::new(BadTorrent, format!("add: invalid .torrent file: {e}")))
    }
}

/// A `File` or `Blob` with its path: `fullPath` (a string property, as WebTorrent's
/// create-torrent reads it), else `webkitRelativePath`, else the file's name, else `""`.
fn blob_entry(v: &JsValue) -> Option<(String, web_sys::Blob)> {
    let blob = v.dyn_ref::<web_sys::Blob>()?;
    let text = |key| prop(v, key).as_string().filter(|s| !s.is_empty());
    let path = text("fullPath")
        .or_else(|| text("webkitRelativePath"))
        .or_else(|| v.dyn_ref::<web_sys::File>().map(web_sys::File::name))
        .unwrap_or_default();
    Some((path, blob.clone()))
}

fn non_empty(files: Vec<(String, web_sys::Blob)>) -> Result<SeedInput, Failure> {
    if files.is_empty() {
        Err(Failure::new(BadInput, "seed: no files given"))
    } else {
        Ok(SeedInput::Files(files))
    }
}

fn ratio(done: u64, total: u64) -> f64 {
    if total == 0 {
        1.0
    } else {
        u64_to_f64(done) / u64_to_f64(total)
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
        assert!(
            e.code == BadMagnet && e.message.contains("info hash"),
            "{e:?}"
        );
        let e = AddInput::from_text("hello").err().unwrap();
        assert!(e.code == BadMagnet && e.message.contains("magnet"), "{e:?}");
        let e = AddInput::from_torrent_bytes(&[1, 2, 3]).err().unwrap();
        assert!(
            e.code == BadTorrent && e.message.contains(".torrent"),
            "{e:?}"
        );
    }
}
