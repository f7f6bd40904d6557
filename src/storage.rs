//! Piece storage in the browser, behind the core's [`PieceStore`] trait.
//!
//! - **Memory** (the core's [`MemoryStore`]): downloads up to [`MEMORY_LIMIT`] bytes, and seeds
//!   given as bytes.
//! - **OPFS** (`navigator.storage.getDirectory()`, async API usable in the main thread): larger
//!   downloads, one file per piece in a directory of its own, so a 2 GiB download does not
//!   need 2 GiB of page memory. A verified piece stays in memory only until its write lands;
//!   the finished download is a `Blob` made of the piece files (disk-backed, not copied).
//! - **Blob** (a user's `File`, `Blob` or several files): seeding reads pieces with
//!   `blob.slice(..).arrayBuffer()`, never the whole file.
//!
//! OPFS and Blob reads complete later: a read of a piece that is not at hand answers
//! [`ReadStatus::Pending`], starts loading the piece into a small cache and, once it is there,
//! tells the driver through [`StoreNotify`] so it can feed `Input::StoreReady`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use futures::future::{FutureExt, LocalBoxFuture};
use tabswarm_core::lengths::{BlockInfo, Lengths, PieceIndex};
use tabswarm_core::store::{MemoryStore, PieceStore, ReadStatus, StoreError};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::api::{ErrorCode, Failure};
use crate::js::{error_text, f64_to_u64, prop, u64_to_f64};
use crate::opfs::OpfsStore;

/// Downloads up to this size stay in memory; larger ones go to OPFS (128 MiB).
pub const MEMORY_LIMIT: u64 = 128 * 1024 * 1024;
/// Pieces kept in the read cache of the OPFS and Blob stores.
const CACHE_PIECES: usize = 32;

/// What an asynchronous store tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreNote {
    /// A read that answered `Pending` can now succeed: feed `Input::StoreReady`.
    ReadReady,
    /// A background read or write failed.
    Failed(Failure),
}

/// The driver's callback for [`StoreNote`]s. Called from promise callbacks, never from inside a
/// [`PieceStore`] method.
pub type StoreNotify = Rc<dyn Fn(StoreNote)>;

/// Where a download keeps its pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Memory up to `limit` bytes, OPFS above (falling back to memory without OPFS).
    Auto {
        limit: u64,
    },
    Memory,
    Opfs,
}

/// The browser's piece store: one of the three backends.
pub struct BrowserStore {
    backend: Backend,
    notify: StoreNotify,
}

enum Backend {
    /// A download whose size is not known yet (magnet link): decided in `set_lengths`.
    Undecided(Placement),
    Memory(MemoryStore),
    Opfs(OpfsStore),
    Blob(BlobStore),
}

impl BrowserStore {
    /// An empty store for a download.
    pub fn for_download(placement: Placement, notify: StoreNotify) -> BrowserStore {
        BrowserStore {
            backend: Backend::Undecided(placement),
            notify,
        }
    }

    /// A seed whose content is in memory.
    pub fn from_bytes(data: Vec<u8>, notify: StoreNotify) -> BrowserStore {
        BrowserStore {
            backend: Backend::Memory(MemoryStore::with_content(data)),
            notify,
        }
    }

    /// A seed read from a `Blob` or `File` (several files: one `Blob` of them concatenated).
    pub fn from_blob(blob: web_sys::Blob, notify: StoreNotify) -> BrowserStore {
        let loader = Loader::new(notify.clone());
        BrowserStore {
            backend: Backend::Blob(BlobStore {
                blob,
                lengths: None,
                loader,
            }),
            notify,
        }
    }

    /// A download kept in the library: its pieces in the entry's directory, `stored` of them
    /// there already (checked against `hashes` when first read).
    pub fn kept(
        dir: crate::library::DirFuture,
        stored: Vec<u32>,
        hashes: Option<Rc<[[u8; 20]]>>,
        notify: StoreNotify,
    ) -> BrowserStore {
        BrowserStore {
            backend: Backend::Opfs(OpfsStore::kept(dir, stored, hashes, notify.clone())),
            notify,
        }
    }

    /// Bytes this store holds in OPFS.
    pub fn bytes_stored(&self) -> u64 {
        match &self.backend {
            Backend::Opfs(o) => o.bytes_stored(),
            _ => 0,
        }
    }

    /// `"memory"`, `"opfs"`, `"blob"`, or `"undecided"` before the size is known.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Undecided(_) => "undecided",
            Backend::Memory(_) => "memory",
            Backend::Opfs(_) => "opfs",
            Backend::Blob(_) => "blob",
        }
    }

    /// The bytes `range` of the content as a `Blob`, once every piece they span is stored (an
    /// OPFS store waits for its writes to land). The future does not borrow the store.
    pub fn content_blob(
        &self,
        range: std::ops::Range<u64>,
    ) -> LocalBoxFuture<'static, Result<web_sys::Blob, StoreError>> {
        match &self.backend {
            Backend::Undecided(_) => async { Err(StoreError::NoLengths) }.boxed_local(),
            Backend::Memory(m) => {
                let blob = match m.range_bytes(range) {
                    Ok(bytes) => bytes_to_blob(bytes),
                    Err(e) => Err(e),
                };
                async move { blob }.boxed_local()
            }
            Backend::Blob(b) => {
                let blob = b
                    .blob
                    .slice_with_f64_and_f64(u64_to_f64(range.start), u64_to_f64(range.end))
                    .map_err(|e| StoreError::Backend(error_text(&e)));
                async move { blob }.boxed_local()
            }
            Backend::Opfs(o) => o.content_blob(range).boxed_local(),
        }
    }

    /// Removes what a temporary OPFS store put on disk (a library entry removes its own);
    /// memory is freed when the store is dropped.
    pub fn destroy(&mut self) {
        if let Backend::Opfs(o) = &self.backend {
            o.remove_all();
        }
    }
}

impl PieceStore for BrowserStore {
    fn set_lengths(&mut self, lengths: Lengths) -> Result<(), StoreError> {
        if let Backend::Undecided(placement) = self.backend {
            let opfs = match placement {
                Placement::Memory => false,
                Placement::Opfs => true,
                Placement::Auto { limit } => lengths.total_length() > limit && opfs_available(),
            };
            self.backend = if opfs {
                Backend::Opfs(OpfsStore::temporary(self.notify.clone()))
            } else {
                Backend::Memory(MemoryStore::new())
            };
        }
        match &mut self.backend {
            Backend::Undecided(_) => Err(StoreError::NoLengths),
            Backend::Memory(m) => m.set_lengths(lengths),
            Backend::Opfs(o) => o.set_lengths(lengths),
            Backend::Blob(b) => b.set_lengths(lengths),
        }
    }

    fn read_block(
        &mut self,
        block: BlockInfo,
        out: &mut Vec<u8>,
    ) -> Result<ReadStatus, StoreError> {
        match &mut self.backend {
            Backend::Undecided(_) => Err(StoreError::NoLengths),
            Backend::Memory(m) => m.read_block(block, out),
            Backend::Opfs(o) => o.read_block(block, out),
            Backend::Blob(b) => b.read_block(block, out),
        }
    }

    fn write_piece(&mut self, piece: PieceIndex, data: Vec<u8>) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Undecided(_) => Err(StoreError::NoLengths),
            Backend::Memory(m) => m.write_piece(piece, data),
            Backend::Opfs(o) => o.write_piece(piece, data),
            Backend::Blob(_) => Err(StoreError::Backend("a seed's file is read-only".into())),
        }
    }
}

/// Reads a `Blob` front to back in chunks of exactly `chunk_len` bytes (the last one may be
/// shorter). Where the browser gives `Blob.stream()` as a byte stream, a BYOB reader fills one
/// buffer over and over, so reading a gigabyte allocates nothing: a fresh `ArrayBuffer` per
/// slice is garbage that the JS heap collects late (about 300 MiB of it while reading 1 GiB in
/// Chromium). Elsewhere it reads `slice().arrayBuffer()`, [`READ_AHEAD`] slices ahead.
pub struct BlobReader {
    chunk_len: u32,
    source: Source,
}

enum Source {
    Byob {
        reader: ByobReader,
        /// The buffer the next read fills (reads transfer it: each gives it back).
        buffer: Option<js_sys::ArrayBuffer>,
        done: bool,
    },
    Slices {
        blob: web_sys::Blob,
        size: f64,
        offset: f64,
        /// Reads already started (the promise exists, so the browser is reading), oldest first.
        ahead: VecDeque<LocalBoxFuture<'static, Result<js_sys::Uint8Array, String>>>,
    },
}

/// Slices the fallback of [`BlobReader`] reads ahead of the one being consumed.
pub const READ_AHEAD: usize = 2;

#[wasm_bindgen]
extern "C" {
    /// A `ReadableStream` (only what [`BlobReader`] uses of it).
    type ByteStream;
    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn byob_reader(this: &ByteStream, options: &JsValue) -> Result<ByobReader, JsValue>;
    /// A `ReadableStreamBYOBReader`.
    type ByobReader;
    #[wasm_bindgen(method, js_name = read)]
    fn read_into(this: &ByobReader, view: &js_sys::Uint8Array) -> js_sys::Promise;
    /// A `Blob` seen through its `stream()` method (missing in old browsers).
    type StreamingBlob;
    #[wasm_bindgen(method, catch)]
    fn stream(this: &StreamingBlob) -> Result<ByteStream, JsValue>;
}

impl BlobReader {
    pub fn new(blob: web_sys::Blob, chunk_len: u32) -> BlobReader {
        let chunk_len = chunk_len.max(1);
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"mode".into(), &"byob".into());
        let stream = blob.unchecked_ref::<StreamingBlob>().stream();
        let source = match stream.and_then(|s| s.byob_reader(&options)) {
            Ok(reader) => Source::Byob {
                reader,
                buffer: None,
                done: false,
            },
            Err(_) => Source::Slices {
                size: blob.size(),
                blob,
                offset: 0.0,
                ahead: VecDeque::new(),
            },
        };
        BlobReader { chunk_len, source }
    }

    /// The next chunk, or `None` at the end. The chunk is only valid until the next call,
    /// which may refill its buffer.
    pub async fn next(&mut self) -> Option<Result<js_sys::Uint8Array, String>> {
        let chunk_len = self.chunk_len;
        match &mut self.source {
            Source::Byob {
                reader,
                buffer,
                done,
            } => {
                if *done {
                    return None;
                }
                let mut buf = buffer
                    .take()
                    .unwrap_or_else(|| js_sys::ArrayBuffer::new(chunk_len));
                let mut filled = 0;
                while filled < chunk_len {
                    let view = js_sys::Uint8Array::new_with_byte_offset_and_length(
                        &buf,
                        filled,
                        chunk_len - filled,
                    );
                    let result = match JsFuture::from(reader.read_into(&view)).await {
                        Ok(r) => r,
                        Err(e) => {
                            *done = true;
                            return Some(Err(read_error(&e)));
                        }
                    };
                    // The read transferred `buf`; its bytes come back as `value`'s buffer.
                    match prop(&result, "value").dyn_into::<js_sys::Uint8Array>() {
                        Ok(v) => {
                            buf = v.buffer();
                            filled += v.byte_length();
                        }
                        _ => *done = true,
                    }
                    if *done || prop(&result, "done").is_truthy() {
                        *done = true;
                        break;
                    }
                }
                *buffer = Some(buf.clone());
                (filled > 0).then(|| {
                    Ok(js_sys::Uint8Array::new_with_byte_offset_and_length(
                        &buf, 0, filled,
                    ))
                })
            }
            Source::Slices {
                blob,
                size,
                offset,
                ahead,
            } => {
                while ahead.len() <= READ_AHEAD && *offset < *size {
                    let end = (*offset + f64::from(chunk_len)).min(*size);
                    let promise = blob
                        .slice_with_f64_and_f64(*offset, end)
                        .map(|slice| slice.array_buffer())
                        .map_err(|e| error_text(&e));
                    *offset = end;
                    ahead.push_back(
                        async move {
                            let buf = JsFuture::from(promise?).await.map_err(|e| read_error(&e))?;
                            Ok(js_sys::Uint8Array::new(&buf))
                        }
                        .boxed_local(),
                    );
                }
                Some(ahead.pop_front()?.await)
            }
        }
    }
}

/// The bytes of a whole `Blob`.
pub async fn read_blob(blob: &web_sys::Blob) -> Result<Vec<u8>, String> {
    buffer_bytes(JsFuture::from(blob.array_buffer()).await)
}

fn buffer_bytes(read: Result<JsValue, JsValue>) -> Result<Vec<u8>, String> {
    let buf = read.map_err(|e| read_error(&e))?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

fn read_error(e: &JsValue) -> String {
    format!("cannot read the file: {}", error_text(e))
}

/// Whether this page can use OPFS (`navigator.storage.getDirectory` exists).
pub fn opfs_available() -> bool {
    navigator_storage().is_some_and(|s| prop(&s, "getDirectory").is_function())
}

pub(crate) fn navigator_storage() -> Option<web_sys::StorageManager> {
    let storage = prop(&prop(&js_sys::global(), "navigator"), "storage");
    (!storage.is_undefined()).then(|| storage.unchecked_into())
}

pub(crate) fn bytes_to_blob(bytes: &[u8]) -> Result<web_sys::Blob, StoreError> {
    // Blob parts of at most 64 MiB each: very large single typed arrays are slow to make.
    let parts = js_sys::Array::new();
    for chunk in bytes.chunks(64 * 1024 * 1024) {
        parts.push(&js_sys::Uint8Array::from(chunk));
    }
    web_sys::Blob::new_with_u8_array_sequence(&parts)
        .map_err(|e| StoreError::Backend(error_text(&e)))
}

/// A `Result` future of a JS promise with the error as text.
pub(crate) async fn js_await(p: js_sys::Promise) -> Result<JsValue, String> {
    JsFuture::from(p).await.map_err(|e| error_text(&e))
}

/// Loads whole pieces asynchronously into a small cache, for stores whose reads are async.
#[derive(Clone)]
pub(crate) struct Loader {
    inner: Rc<RefCell<LoaderInner>>,
}

struct LoaderInner {
    notify: StoreNotify,
    /// Most recently loaded last.
    cache: VecDeque<(u32, Rc<Vec<u8>>)>,
    loading: HashSet<u32>,
    /// A load failed: the next read of that piece reports it (once).
    failed: HashMap<u32, String>,
}

pub(crate) type Load = Pin<Box<dyn Future<Output = Result<Vec<u8>, String>>>>;

impl Loader {
    pub(crate) fn new(notify: StoreNotify) -> Loader {
        Loader {
            inner: Rc::new(RefCell::new(LoaderInner {
                notify,
                cache: VecDeque::new(),
                loading: HashSet::new(),
                failed: HashMap::new(),
            })),
        }
    }

    /// Appends `block` from the cache, or starts `load` for its piece and answers `Pending`.
    pub(crate) fn read(
        &self,
        block: BlockInfo,
        out: &mut Vec<u8>,
        load: impl FnOnce() -> Load,
    ) -> Result<ReadStatus, StoreError> {
        let piece = block.piece.get();
        let mut inner = self.inner.borrow_mut();
        if let Some(msg) = inner.failed.remove(&piece) {
            return Err(StoreError::Backend(msg));
        }
        if let Some((_, data)) = inner.cache.iter().find(|(p, _)| *p == piece) {
            let range = block_range(block, data.len())?;
            out.extend_from_slice(&data[range]);
            return Ok(ReadStatus::Ready);
        }
        if inner.loading.insert(piece) {
            let me = self.clone();
            let fut = load();
            spawn_local(async move {
                let result = fut.await;
                let notify = {
                    let mut inner = me.inner.borrow_mut();
                    inner.loading.remove(&piece);
                    match &result {
                        Ok(_) => {}
                        Err(msg) => {
                            inner.failed.insert(piece, msg.clone());
                        }
                    }
                    inner.notify.clone()
                };
                match result {
                    Ok(data) => {
                        me.insert(piece, Rc::new(data));
                        notify(StoreNote::ReadReady);
                    }
                    Err(msg) => notify(StoreNote::Failed(Failure::new(ErrorCode::Storage, msg))),
                }
            });
        }
        Ok(ReadStatus::Pending)
    }

    fn insert(&self, piece: u32, data: Rc<Vec<u8>>) {
        let mut inner = self.inner.borrow_mut();
        inner.cache.retain(|(p, _)| *p != piece);
        inner.cache.push_back((piece, data));
        while inner.cache.len() > CACHE_PIECES {
            inner.cache.pop_front();
        }
    }
}

pub(crate) fn block_range(
    block: BlockInfo,
    piece_len: usize,
) -> Result<std::ops::Range<usize>, StoreError> {
    let out_of_range = || StoreError::OutOfRange {
        piece: block.piece.get(),
        begin: block.begin,
        len: block.len,
    };
    let start = usize::try_from(block.begin).map_err(|_| out_of_range())?;
    let len = usize::try_from(block.len).map_err(|_| out_of_range())?;
    match start.checked_add(len) {
        Some(end) if end <= piece_len => Ok(start..end),
        _ => Err(out_of_range()),
    }
}

/// Seeding from a user's `Blob`/`File`: pieces are sliced out on demand.
struct BlobStore {
    blob: web_sys::Blob,
    lengths: Option<Lengths>,
    loader: Loader,
}

impl BlobStore {
    fn set_lengths(&mut self, lengths: Lengths) -> Result<(), StoreError> {
        let size = self.blob.size();
        if size != u64_to_f64(lengths.total_length()) {
            return Err(StoreError::LengthsMismatch {
                have: f64_to_u64(size),
                got: lengths.total_length(),
            });
        }
        self.lengths = Some(lengths);
        Ok(())
    }

    fn read_block(
        &mut self,
        block: BlockInfo,
        out: &mut Vec<u8>,
    ) -> Result<ReadStatus, StoreError> {
        let lengths = self.lengths.ok_or(StoreError::NoLengths)?;
        let range = lengths.piece_range(block.piece);
        let blob = self.blob.clone();
        self.loader.read(block, out, move || {
            Box::pin(async move {
                let slice = blob
                    .slice_with_f64_and_f64(u64_to_f64(range.start), u64_to_f64(range.end))
                    .map_err(|e| error_text(&e))?;
                read_blob(&slice).await
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ranges_stay_inside_the_piece() {
        let l = Lengths::new(40_000, 16_384).unwrap();
        let b = l.validate_block(2, 100, 50).unwrap();
        assert_eq!(block_range(b, 7_232), Ok(100..150));
        assert!(block_range(b, 120).is_err());
    }
}
