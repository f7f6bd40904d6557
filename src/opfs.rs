//! The OPFS piece store: one directory per download, one file per piece, written with the
//! async File System Access API (`createWritable`), which works in the main thread.
//!
//! A verified piece stays in memory only until its write lands (reads of it are served from
//! memory meanwhile); later reads load the piece file into the shared [`Loader`] cache and
//! complete asynchronously. The finished download is one `Blob` made of the piece files,
//! disk-backed rather than copied into page memory.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::rc::Rc;

use futures::future::FutureExt;
use tabswarm_core::lengths::{BlockInfo, Lengths, PieceIndex};
use tabswarm_core::store::{ReadStatus, StoreError};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

use crate::js::{error_text, u64_to_f64};
use crate::library::{piece_file, write_file, DirFuture};
use crate::storage::{
    block_range, js_await, navigator_storage, read_blob, Loader, StoreNote, StoreNotify,
};

/// One OPFS directory per download, one file per piece (`p<index>`).
pub(crate) struct OpfsStore {
    lengths: Option<Lengths>,
    /// The directory's name in the OPFS root, for a store that removes it when destroyed.
    temporary: Option<String>,
    dir: DirFuture,
    loader: Loader,
    /// Pieces found on disk at start and not yet read back, with the hashes to check them by.
    unchecked: Rc<RefCell<Option<Unchecked>>>,
    shared: Rc<RefCell<OpfsShared>>,
}

/// The piece hashes, and the pieces found on disk at start that were not read back yet.
type Unchecked = (Rc<[[u8; 20]]>, HashSet<u32>);

struct OpfsShared {
    notify: StoreNotify,
    /// Verified pieces whose write has not landed yet (reads are served from here).
    writing: HashMap<u32, Rc<Vec<u8>>>,
    /// Pieces on disk.
    written: HashSet<u32>,
    /// Woken when `writing` becomes empty.
    idle_waiters: Vec<futures::channel::oneshot::Sender<()>>,
    failure: Option<String>,
}

impl OpfsStore {
    /// A store in a directory of its own, removed by [`OpfsStore::remove_all`]: for a download
    /// that is not kept in the library.
    pub(crate) fn temporary(notify: StoreNotify) -> OpfsStore {
        let mut id = [0u8; 8];
        crate::js::random_bytes(&mut id);
        let dir_name = format!("tabswarm-{}", tabswarm_core::ids::hex(&id));
        let name = dir_name.clone();
        let dir = async move {
            let storage = navigator_storage().ok_or("no navigator.storage")?;
            let root: web_sys::FileSystemDirectoryHandle =
                js_await(storage.get_directory()).await?.unchecked_into();
            let opts = web_sys::FileSystemGetDirectoryOptions::new();
            opts.set_create(true);
            let dir = js_await(root.get_directory_handle_with_options(&name, &opts)).await?;
            Ok(dir.unchecked_into())
        }
        .boxed_local()
        .shared();
        OpfsStore::over(dir, Some(dir_name), Vec::new(), None, notify)
    }

    /// A store over a library entry's directory ([`crate::library`]), which already holds
    /// `stored` pieces. Each of those is checked against `hashes` when first read, before it
    /// is served.
    pub(crate) fn kept(
        dir: DirFuture,
        stored: Vec<u32>,
        hashes: Option<Rc<[[u8; 20]]>>,
        notify: StoreNotify,
    ) -> OpfsStore {
        OpfsStore::over(dir, None, stored, hashes, notify)
    }

    fn over(
        dir: DirFuture,
        temporary: Option<String>,
        stored: Vec<u32>,
        hashes: Option<Rc<[[u8; 20]]>>,
        notify: StoreNotify,
    ) -> OpfsStore {
        let unchecked = hashes.map(|h| (h, stored.iter().copied().collect()));
        OpfsStore {
            lengths: None,
            temporary,
            dir,
            loader: Loader::new(notify.clone()),
            unchecked: Rc::new(RefCell::new(unchecked)),
            shared: Rc::new(RefCell::new(OpfsShared {
                notify,
                writing: HashMap::new(),
                written: stored.into_iter().collect(),
                idle_waiters: Vec::new(),
                failure: None,
            })),
        }
    }

    /// Bytes of the pieces on disk.
    pub(crate) fn bytes_stored(&self) -> u64 {
        let Some(l) = self.lengths else { return 0 };
        self.shared
            .borrow()
            .written
            .iter()
            .filter_map(|&i| l.validate_piece(i))
            .map(|p| u64::from(l.piece_len(p)))
            .sum()
    }

    pub(crate) fn set_lengths(&mut self, lengths: Lengths) -> Result<(), StoreError> {
        match self.lengths {
            Some(old) if old != lengths => Err(StoreError::LengthsMismatch {
                have: old.total_length(),
                got: lengths.total_length(),
            }),
            _ => {
                self.lengths = Some(lengths);
                Ok(())
            }
        }
    }

    pub(crate) fn write_piece(
        &mut self,
        piece: PieceIndex,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        let lengths = self.lengths.ok_or(StoreError::NoLengths)?;
        if data.len() != lengths.piece_len(piece) as usize {
            return Err(StoreError::OutOfRange {
                piece: piece.get(),
                begin: 0,
                len: u32::try_from(data.len()).unwrap_or(u32::MAX),
            });
        }
        if let Some(msg) = self.shared.borrow().failure.clone() {
            return Err(StoreError::Backend(msg));
        }
        let index = piece.get();
        let data = Rc::new(data);
        self.shared.borrow_mut().writing.insert(index, data.clone());
        let (dir, shared) = (self.dir.clone(), self.shared.clone());
        spawn_local(async move {
            let result = write_file(dir, &piece_file(index), &data).await;
            let mut s = shared.borrow_mut();
            s.writing.remove(&index);
            let notify = s.notify.clone();
            match result {
                Ok(()) => {
                    s.written.insert(index);
                }
                Err(mut failure) => {
                    failure.message = format!("cannot store piece {index} in OPFS: {failure}");
                    s.failure = Some(failure.message.clone());
                    drop(s);
                    notify(StoreNote::Failed(failure));
                    s = shared.borrow_mut();
                }
            }
            if s.writing.is_empty() {
                for w in s.idle_waiters.drain(..) {
                    let _ = w.send(());
                }
            }
        });
        Ok(())
    }

    pub(crate) fn read_block(
        &mut self,
        block: BlockInfo,
        out: &mut Vec<u8>,
    ) -> Result<ReadStatus, StoreError> {
        let index = block.piece.get();
        {
            let s = self.shared.borrow();
            if let Some(data) = s.writing.get(&index) {
                let range = block_range(block, data.len())?;
                out.extend_from_slice(&data[range]);
                return Ok(ReadStatus::Ready);
            }
            if !s.written.contains(&index) {
                return Err(StoreError::Missing { piece: index });
            }
        }
        let dir = self.dir.clone();
        let unchecked = self.unchecked.clone();
        self.loader.read(block, out, move || {
            Box::pin(async move {
                let dir = dir.await?;
                let handle: web_sys::FileSystemFileHandle =
                    js_await(dir.get_file_handle(&piece_file(index)))
                        .await?
                        .unchecked_into();
                let file: web_sys::Blob = js_await(handle.get_file()).await?.unchecked_into();
                let data = read_blob(&file).await?;
                check_kept(&unchecked, index, &data)?;
                Ok(data)
            })
        })
    }

    /// Waits for pending writes, then builds one `Blob` of the bytes `range` of the content
    /// from the piece files it spans (disk-backed: nothing is read).
    pub(crate) fn content_blob(
        &self,
        range: std::ops::Range<u64>,
    ) -> impl Future<Output = Result<web_sys::Blob, StoreError>> + 'static {
        let (dir, shared, lengths) = (self.dir.clone(), self.shared.clone(), self.lengths);
        async move {
            let lengths = lengths.ok_or(StoreError::NoLengths)?;
            let waiter = {
                let mut s = shared.borrow_mut();
                if s.writing.is_empty() {
                    None
                } else {
                    let (tx, rx) = futures::channel::oneshot::channel();
                    s.idle_waiters.push(tx);
                    Some(rx)
                }
            };
            if let Some(rx) = waiter {
                let _ = rx.await;
            }
            let backend = |m: String| StoreError::Backend(m);
            if let Some(msg) = shared.borrow().failure.clone() {
                return Err(backend(msg));
            }
            let Some((pieces, skip)) = span(lengths, &range) else {
                return web_sys::Blob::new().map_err(|e| backend(error_text(&e)));
            };
            let dir = dir.await.map_err(backend)?;
            let parts = js_sys::Array::new();
            for piece in pieces {
                if !shared.borrow().written.contains(&piece) {
                    return Err(StoreError::Missing { piece });
                }
                let handle: web_sys::FileSystemFileHandle =
                    js_await(dir.get_file_handle(&piece_file(piece)))
                        .await
                        .map_err(backend)?
                        .unchecked_into();
                parts.push(&js_await(handle.get_file()).await.map_err(backend)?);
            }
            let all = web_sys::Blob::new_with_blob_sequence(&parts)
                .map_err(|e| backend(error_text(&e)))?;
            let len = range.end - range.start;
            all.slice_with_f64_and_f64(u64_to_f64(skip), u64_to_f64(skip + len))
                .map_err(|e| backend(error_text(&e)))
        }
    }

    /// Removes the directory of a temporary store (in the background); a library entry's
    /// directory is removed by its entry.
    pub(crate) fn remove_all(&self) {
        let Some(name) = self.temporary.clone() else {
            return;
        };
        spawn_local(async move {
            let Some(storage) = navigator_storage() else {
                return;
            };
            let Ok(root) = js_await(storage.get_directory()).await else {
                return;
            };
            let root: web_sys::FileSystemDirectoryHandle = root.unchecked_into();
            let opts = web_sys::FileSystemRemoveOptions::new();
            opts.set_recursive(true);
            let _ = js_await(root.remove_entry_with_options(&name, &opts)).await;
        });
    }
}

/// The pieces that hold the bytes `range` of the content, and the offset of `range.start` in
/// the first of them; `None` for an empty range or one past the end.
pub(crate) fn span(
    lengths: Lengths,
    range: &std::ops::Range<u64>,
) -> Option<(std::ops::Range<u32>, u64)> {
    if range.start >= range.end || range.end > lengths.total_length() {
        return None;
    }
    let pl = u64::from(lengths.piece_length());
    let first = u32::try_from(range.start / pl).ok()?;
    let last = u32::try_from((range.end - 1) / pl).ok()?;
    Some((first..last + 1, range.start - u64::from(first) * pl))
}

/// A piece found on disk at start is served only once its SHA-1 matches.
fn check_kept(
    unchecked: &RefCell<Option<Unchecked>>,
    index: u32,
    data: &[u8],
) -> Result<(), String> {
    let mut guard = unchecked.borrow_mut();
    let Some((hashes, pending)) = guard.as_mut() else {
        return Ok(());
    };
    if !pending.contains(&index) {
        return Ok(());
    }
    match hashes.get(index as usize) {
        Some(h) if tabswarm_core::sha1(data) == *h => {
            pending.remove(&index);
            Ok(())
        }
        _ => Err(format!(
            "piece {index} on disk does not match its hash (the stored copy is damaged)"
        )),
    }
}
