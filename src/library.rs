//! The library: the torrents a client keeps across reloads and browser restarts, in OPFS.
//!
//! Each torrent has a directory `tabswarm/<info hash, hex>/`:
//! - `state.json`, the record that lists it for [`list`]: its magnet link (name, trackers)
//!   and which files are selected (`"select"`: BEP 53 `so=` text, or `null` for every file). A directory without one holds data that is kept but not
//!   listed (`destroy({ keepData: true })`); adding the same torrent again uses it.
//! - `torrent`: the `.torrent` bytes, once the metadata is known.
//! - `p<index>`: one file per verified piece ([`crate::opfs`]). `createWritable()` writes to a
//!   temporary file that `close()` swaps in whole, so a piece file of the piece's length is a
//!   piece that was written in full: **the directory is the bitfield**. There is no separate
//!   record of the pieces to fall out of step with them; a reload in the middle of writes
//!   loses only the pieces in flight. Pieces found at start are checked by size here and by
//!   SHA-1 when first read ([`crate::opfs::OpfsStore`]), before they are served.
//!
//! A directory belongs to one client at a time: [`Entry::open`] takes the Web Lock
//! `tabswarm:<hash>` and holds it while the torrent runs, so two tabs never write one
//! directory. The tab that cannot take it runs the torrent unpersisted.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use tabswarm_core::ids::InfoHash;
use tabswarm_core::lengths::Lengths;
use tabswarm_core::selection::{FileSet, Selection};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::api::{ErrorCode, Failure};
use crate::js::{error_text, f64_to_u64, prop, set, u64_to_f64};
use crate::storage::{js_await, navigator_storage, opfs_available};

/// The OPFS directory that holds the library.
const ROOT: &str = "tabswarm";
const STATE: &str = "state.json";
const TORRENT: &str = "torrent";
/// Attempts to take an entry's lock held elsewhere, [`LOCK_RETRY_MS`] apart.
const LOCK_TRIES: u32 = 10;
const LOCK_RETRY_MS: u32 = 100;
/// Waits of [`LOCK_RETRY_MS`] for an entry's background writes before it is closed anyway.
const CLOSE_WAITS: u32 = 50;
/// Piece files whose sizes are read at once while scanning a directory.
const SCAN_BATCH: usize = 256;

/// A directory handle, shared by the store and the entry.
pub(crate) type DirFuture =
    Shared<LocalBoxFuture<'static, Result<web_sys::FileSystemDirectoryHandle, String>>>;

/// What `state.json` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// A magnet link: info hash, name, trackers.
    pub magnet: String,
    /// Which files to download.
    pub selection: Selection,
}

/// What leaving the library means for a torrent that stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// It stays listed, with its pieces (the client stops; the next page restores it).
    Stay,
    /// It is no longer listed; its pieces stay for when it is added again.
    Unlist,
    /// It and its pieces are deleted.
    Delete,
}

/// One torrent's directory, locked for this client while it lives. Dropping it releases the
/// lock; [`Entry::remove`] also deletes what it holds.
pub struct Entry {
    info_hash: InfoHash,
    dir: DirFuture,
    /// Background writes of the record and `.torrent` still running: closing waits for them,
    /// so a record written late cannot list again a torrent just unlisted or deleted.
    writes: Rc<std::cell::Cell<u32>>,
    /// Resolving it releases the Web Lock (absent where the browser has no Web Locks).
    release: Option<js_sys::Function>,
}

impl Entry {
    /// The entry of `info_hash`, created if new. `Ok(None)`: another client holds it.
    pub async fn open(info_hash: InfoHash) -> Result<Option<Entry>, String> {
        if !opfs_available() {
            return Err("this browser has no OPFS".into());
        }
        let name = format!("tabswarm:{}", info_hash.to_hex());
        // An entry this page is closing (a torrent just destroyed) lets go within moments;
        // another tab's holds it for as long as it runs.
        let mut tries = 0;
        let release = loop {
            match lock(&name).await? {
                Held::Yes(release) => break release,
                Held::No if tries < LOCK_TRIES => {
                    tries += 1;
                    crate::js::sleep_ms(LOCK_RETRY_MS).await;
                }
                Held::No => return Ok(None),
            }
        };
        let name = info_hash.to_hex();
        let dir = async move {
            let root = root().await?;
            subdir(&root, &name, true).await
        }
        .boxed_local()
        .shared();
        dir.clone().await?;
        Ok(Some(Entry {
            info_hash,
            dir,
            writes: Rc::default(),
            release,
        }))
    }

    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The directory, for the piece store.
    pub(crate) fn dir(&self) -> DirFuture {
        self.dir.clone()
    }

    /// The saved record, if the torrent is listed.
    pub async fn record(&self) -> Option<Record> {
        let dir = self.dir.clone().await.ok()?;
        let text = String::from_utf8(read_file(&dir, STATE).await.ok()??).ok()?;
        let v = js_sys::JSON::parse(&text).ok()?;
        let magnet = prop(&v, "magnet").as_string()?;
        // A damaged selection falls back to every file: nothing is lost by fetching more.
        let selection = prop(&v, "select")
            .as_string()
            .and_then(|t| FileSet::parse(&t).ok())
            .map_or(Selection::All, Selection::Files);
        Some(Record { magnet, selection })
    }

    /// The saved `.torrent` bytes, if the metadata was known.
    pub async fn torrent(&self) -> Option<Vec<u8>> {
        let dir = self.dir.clone().await.ok()?;
        read_file(&dir, TORRENT).await.ok()?
    }

    /// Lists the torrent (writes `state.json`), in the background.
    pub fn save_record(&self, record: &Record) {
        let o = JsValue::from(js_sys::Object::new());
        set(&o, "v", &1.into());
        set(&o, "magnet", &record.magnet.as_str().into());
        let select = match &record.selection {
            Selection::All => JsValue::NULL,
            Selection::Files(set) => set.to_string().into(),
        };
        set(&o, "select", &select);
        let text: String = js_sys::JSON::stringify(&o)
            .map(String::from)
            .unwrap_or_default();
        self.write_later(STATE, text.into_bytes());
    }

    /// Saves the `.torrent` bytes, in the background.
    pub fn save_torrent(&self, bytes: Vec<u8>) {
        self.write_later(TORRENT, bytes);
    }

    fn write_later(&self, name: &'static str, bytes: Vec<u8>) {
        let (dir, writes) = (self.dir.clone(), self.writes.clone());
        writes.set(writes.get() + 1);
        spawn_local(async move {
            if let Err(e) = write_file(dir, name, &bytes).await {
                web_sys::console::warn_1(&format!("tabswarm: cannot save {name}: {e}").into());
            }
            writes.set(writes.get() - 1);
        });
    }

    /// The pieces on disk: each `p<i>` file whose size is piece `i`'s length.
    pub async fn scan(&self, lengths: Lengths) -> Result<Vec<u32>, String> {
        let dir = self.dir.clone().await?;
        let mut found = Vec::new();
        let mut batch: Vec<(u32, web_sys::FileSystemFileHandle)> = Vec::new();
        for handle in children(&dir).await? {
            let index = prop(&handle, "name")
                .as_string()
                .and_then(|n| piece_index(&n))
                .filter(|&i| i < lengths.num_pieces());
            if let (Some(i), true) = (
                index,
                prop(&handle, "kind").as_string().as_deref() == Some("file"),
            ) {
                batch.push((i, handle.unchecked_into()));
            }
            if batch.len() >= SCAN_BATCH {
                sizes(std::mem::take(&mut batch), lengths, &mut found).await?;
            }
        }
        sizes(batch, lengths, &mut found).await?;
        found.sort_unstable();
        Ok(found)
    }

    /// Releases the entry after what `leave` says is done (in the background).
    pub fn close(mut self, leave: Leave) {
        let name = self.info_hash.to_hex();
        let release = self.release.take();
        let (dir, writes) = (self.dir.clone(), self.writes.clone());
        spawn_local(async move {
            for _ in 0..CLOSE_WAITS {
                if writes.get() == 0 {
                    break;
                }
                crate::js::sleep_ms(LOCK_RETRY_MS).await;
            }
            let result = match leave {
                Leave::Stay => Ok(()),
                Leave::Unlist => match dir.await {
                    Ok(dir) => js_await(dir.remove_entry(STATE)).await.map(|_| ()),
                    Err(e) => Err(e),
                },
                // A piece write still landing can refuse the removal for a moment: try again.
                Leave::Delete => {
                    let mut result = Err(String::new());
                    for _ in 0..CLOSE_WAITS {
                        result = match root().await {
                            Ok(root) => {
                                let opts = web_sys::FileSystemRemoveOptions::new();
                                opts.set_recursive(true);
                                js_await(root.remove_entry_with_options(&name, &opts))
                                    .await
                                    .map(|_| ())
                            }
                            Err(e) => Err(e),
                        }
                        .filter_not_found();
                        if result.is_ok() {
                            break;
                        }
                        crate::js::sleep_ms(LOCK_RETRY_MS).await;
                    }
                    result
                }
            };
            if let Err(e) = result.filter_not_found() {
                web_sys::console::warn_1(&format!("tabswarm: cannot remove {name}: {e}").into());
            }
            if let Some(f) = release {
                let _ = f.call0(&JsValue::NULL);
            }
        });
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(f) = self.release.take() {
            let _ = f.call0(&JsValue::NULL);
        }
    }
}

trait NotFound {
    fn filter_not_found(self) -> Result<(), String>;
}

impl NotFound for Result<(), String> {
    /// A missing entry is already removed.
    fn filter_not_found(self) -> Result<(), String> {
        match self {
            Err(e) if e.contains("could not be found") || e.contains("NotFound") => Ok(()),
            other => other,
        }
    }
}

/// Copies a seed's content into the entry's directory, a piece at a time, while `alive()`
/// (the torrent still runs). It reads the content front to back through one reused buffer
/// ([`BlobReader`](crate::storage::BlobReader)), so the copy makes no garbage per piece.
/// After a reload the torrent seeds from the copy, or downloads what the copy lacks.
pub fn copy_pieces(
    dir: DirFuture,
    content: web_sys::Blob,
    lengths: Lengths,
    alive: impl Fn() -> bool + 'static,
) {
    spawn_local(async move {
        let mut reader = crate::storage::BlobReader::new(content, lengths.piece_length());
        for i in 0..lengths.num_pieces() {
            if !alive() {
                return;
            }
            let result = match reader.next().await {
                Some(Ok(chunk)) => write_js(dir.clone(), &piece_file(i), &chunk)
                    .await
                    .map_err(|f| f.message),
                Some(Err(e)) => Err(e),
                None => Err("the content ended early".into()),
            };
            if let Err(e) = result {
                web_sys::console::warn_1(
                    &format!("tabswarm: stopped keeping a copy of the seed: {e}").into(),
                );
                return;
            }
        }
    });
}

/// The info hashes of the listed torrents (directories with a record), in name order.
pub async fn list() -> Result<Vec<InfoHash>, String> {
    let root = root().await?;
    let mut names = Vec::new();
    for handle in children(&root).await? {
        if prop(&handle, "kind").as_string().as_deref() != Some("directory") {
            continue;
        }
        let Some(hash) = prop(&handle, "name")
            .as_string()
            .and_then(|n| InfoHash::from_hex(&n))
        else {
            continue;
        };
        let dir: web_sys::FileSystemDirectoryHandle = handle.unchecked_into();
        if js_await(dir.get_file_handle(STATE)).await.is_ok() {
            names.push(hash);
        }
    }
    names.sort_unstable_by_key(|h| h.0);
    Ok(names)
}

/// Bytes in use and available to this origin, and whether its storage is persistent.
pub async fn estimate() -> Result<(u64, u64, bool), Failure> {
    let fail = |e: String| Failure::new(ErrorCode::Storage, e);
    let storage = navigator_storage().ok_or_else(|| fail("no navigator.storage".into()))?;
    let e = js_await(storage.estimate().map_err(|e| fail(error_text(&e)))?)
        .await
        .map_err(fail)?;
    let persisted = match storage.persisted() {
        Ok(p) => js_await(p).await.map(|v| v.is_truthy()).unwrap_or(false),
        Err(_) => false,
    };
    let num = |k| prop(&e, k).as_f64().map_or(0, f64_to_u64);
    Ok((num("usage"), num("quota"), persisted))
}

/// `ERR_STORAGE_QUOTA` unless `needed` more bytes fit in this origin's quota.
pub async fn check_quota(needed: u64) -> Result<(), Failure> {
    if needed == 0 {
        return Ok(());
    }
    let (usage, quota, _) = estimate().await?;
    let free = quota.saturating_sub(usage);
    if needed > free {
        return Err(Failure::new(
            ErrorCode::StorageQuota,
            format!(
                "the download needs {} MiB but this site may store only {} MiB more",
                needed.div_ceil(1 << 20),
                free >> 20
            ),
        ));
    }
    Ok(())
}

/// Writes one file whole (created if missing); `close()` swaps it in atomically. A full disk is
/// [`ErrorCode::StorageQuota`].
pub(crate) async fn write_file(dir: DirFuture, name: &str, data: &[u8]) -> Result<(), Failure> {
    write_js(dir, name, &js_sys::Uint8Array::from(data)).await
}

/// [`write_file`] of bytes already in JS memory.
async fn write_js(dir: DirFuture, name: &str, bytes: &js_sys::Uint8Array) -> Result<(), Failure> {
    async fn wait(p: js_sys::Promise) -> Result<JsValue, Failure> {
        JsFuture::from(p).await.map_err(|e| Failure::storage(&e))
    }
    let dir = dir.await.map_err(|m| Failure::new(ErrorCode::Storage, m))?;
    let opts = web_sys::FileSystemGetFileOptions::new();
    opts.set_create(true);
    let handle: web_sys::FileSystemFileHandle = wait(dir.get_file_handle_with_options(name, &opts))
        .await?
        .unchecked_into();
    let writable: web_sys::FileSystemWritableFileStream =
        wait(handle.create_writable()).await?.unchecked_into();
    let write = writable
        .write_with_buffer_source(bytes)
        .map_err(|e| Failure::storage(&e))?;
    wait(write).await?;
    wait(writable.close()).await?;
    Ok(())
}

/// A file's bytes; `Ok(None)` if it does not exist.
async fn read_file(
    dir: &web_sys::FileSystemDirectoryHandle,
    name: &str,
) -> Result<Option<Vec<u8>>, String> {
    let Ok(handle) = js_await(dir.get_file_handle(name)).await else {
        return Ok(None);
    };
    let handle: web_sys::FileSystemFileHandle = handle.unchecked_into();
    let file: web_sys::Blob = js_await(handle.get_file()).await?.unchecked_into();
    crate::storage::read_blob(&file).await.map(Some)
}

async fn sizes(
    batch: Vec<(u32, web_sys::FileSystemFileHandle)>,
    lengths: Lengths,
    found: &mut Vec<u32>,
) -> Result<(), String> {
    if batch.is_empty() {
        return Ok(());
    }
    let files: js_sys::Array = batch
        .iter()
        .map(|(_, h)| JsValue::from(h.get_file()))
        .collect();
    let files = js_await(js_sys::Promise::all(&files)).await?;
    let files = js_sys::Array::from(&files);
    for ((i, _), file) in batch.iter().zip(files.iter()) {
        let size = prop(&file, "size").as_f64().unwrap_or(-1.0);
        let Some(piece) = lengths.validate_piece(*i) else {
            continue;
        };
        if size == u64_to_f64(u64::from(lengths.piece_len(piece))) {
            found.push(*i);
        }
    }
    Ok(())
}

/// `p<index>` with a canonical decimal index.
fn piece_index(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('p')?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical.then(|| digits.parse().ok()).flatten()
}

/// The piece file's name (see the module docs).
pub(crate) fn piece_file(index: u32) -> String {
    format!("p{index}")
}

async fn root() -> Result<web_sys::FileSystemDirectoryHandle, String> {
    let storage = navigator_storage().ok_or("no navigator.storage")?;
    let top: web_sys::FileSystemDirectoryHandle =
        js_await(storage.get_directory()).await?.unchecked_into();
    subdir(&top, ROOT, true).await
}

async fn subdir(
    parent: &web_sys::FileSystemDirectoryHandle,
    name: &str,
    create: bool,
) -> Result<web_sys::FileSystemDirectoryHandle, String> {
    let opts = web_sys::FileSystemGetDirectoryOptions::new();
    opts.set_create(create);
    let dir = js_await(parent.get_directory_handle_with_options(name, &opts)).await?;
    Ok(dir.unchecked_into())
}

/// The handles of a directory's entries (its `values()` async iterator, read to the end).
async fn children(dir: &web_sys::FileSystemDirectoryHandle) -> Result<Vec<JsValue>, String> {
    let values = call0(dir, "values")?;
    let mut out = Vec::new();
    loop {
        let step = js_await(call0(&values, "next")?.unchecked_into()).await?;
        if prop(&step, "done").is_truthy() {
            return Ok(out);
        }
        out.push(prop(&step, "value"));
    }
}

fn call0(obj: &JsValue, method: &str) -> Result<JsValue, String> {
    let f: js_sys::Function = prop(obj, method)
        .dyn_into()
        .map_err(|_| format!("this browser has no {method}()"))?;
    f.call0(obj).map_err(|e| error_text(&e))
}

enum Held {
    /// Held; calling the function releases it (`None`: the browser has no Web Locks).
    Yes(Option<js_sys::Function>),
    /// Another client holds it.
    No,
}

/// Takes the Web Lock `name` if it is free, without waiting.
async fn lock(name: &str) -> Result<Held, String> {
    let locks = prop(&prop(&js_sys::global(), "navigator"), "locks");
    if locks.is_undefined() {
        return Ok(Held::Yes(None));
    }
    let (tx, rx) = futures::channel::oneshot::channel::<Option<js_sys::Function>>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let granted = Closure::once_into_js(move |lock: JsValue| -> js_sys::Promise {
        let Some(tx) = tx.borrow_mut().take() else {
            return js_sys::Promise::resolve(&JsValue::UNDEFINED);
        };
        if lock.is_null() {
            let _ = tx.send(None);
            return js_sys::Promise::resolve(&JsValue::UNDEFINED);
        }
        let mut release = None;
        let held = js_sys::Promise::new(&mut |resolve, _reject| release = Some(resolve));
        let _ = tx.send(release);
        held
    });
    let opts = JsValue::from(js_sys::Object::new());
    set(&opts, "ifAvailable", &true.into());
    let request: js_sys::Function = prop(&locks, "request")
        .dyn_into()
        .map_err(|_| "navigator.locks.request is missing".to_string())?;
    request
        .call3(&locks, &name.into(), &opts, &granted)
        .map_err(|e| error_text(&e))?;
    match rx.await {
        Ok(Some(release)) => Ok(Held::Yes(Some(release))),
        Ok(None) => Ok(Held::No),
        Err(_) => Err("the lock request was dropped".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::piece_index;

    #[test]
    fn piece_names_are_canonical() {
        assert_eq!(piece_index("p0"), Some(0));
        assert_eq!(piece_index("p123"), Some(123));
        for bad in [
            "p",
            "p01",
            "p-1",
            "q1",
            "p1.crswap",
            "p99999999999",
            "state.json",
        ] {
            assert_eq!(piece_index(bad), None, "{bad}");
        }
    }
}
