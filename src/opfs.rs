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

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use tabswarm_core::lengths::{BlockInfo, Lengths, PieceIndex};
use tabswarm_core::store::{ReadStatus, StoreError};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::api::{ErrorCode, Failure};
use crate::js::error_text;
use crate::storage::{
    block_range, js_await, navigator_storage, read_blob, Loader, StoreNote, StoreNotify,
};

type DirFuture =
    Shared<LocalBoxFuture<'static, Result<web_sys::FileSystemDirectoryHandle, String>>>;

/// One OPFS directory per download, one file per piece (`p<index>`).
pub(crate) struct OpfsStore {
    lengths: Option<Lengths>,
    dir_name: String,
    dir: DirFuture,
    loader: Loader,
    shared: Rc<RefCell<OpfsShared>>,
}

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
    pub(crate) fn new(notify: StoreNotify) -> OpfsStore {
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
        OpfsStore {
            lengths: None,
            dir_name,
            dir,
            loader: Loader::new(notify.clone()),
            shared: Rc::new(RefCell::new(OpfsShared {
                notify,
                writing: HashMap::new(),
                written: HashSet::new(),
                idle_waiters: Vec::new(),
                failure: None,
            })),
        }
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
        self.loader.read(block, out, move || {
            Box::pin(async move {
                let dir = dir.await?;
                let handle: web_sys::FileSystemFileHandle =
                    js_await(dir.get_file_handle(&piece_file(index)))
                        .await?
                        .unchecked_into();
                let file: web_sys::Blob = js_await(handle.get_file()).await?.unchecked_into();
                read_blob(&file).await
            })
        })
    }

    /// Waits for pending writes, then builds one `Blob` from the piece files in order.
    pub(crate) fn content_blob(
        &self,
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
            let dir = dir.await.map_err(backend)?;
            let parts = js_sys::Array::new();
            for piece in 0..lengths.num_pieces() {
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
            web_sys::Blob::new_with_blob_sequence(&parts).map_err(|e| backend(error_text(&e)))
        }
    }

    /// Removes the download's directory (in the background).
    pub(crate) fn remove_all(&self) {
        let name = self.dir_name.clone();
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

fn piece_file(index: u32) -> String {
    format!("p{index}")
}

/// Writes one file; a full disk is [`ErrorCode::StorageQuota`](crate::api::ErrorCode).
async fn write_file(dir: DirFuture, name: &str, data: &[u8]) -> Result<(), Failure> {
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
    let bytes = js_sys::Uint8Array::from(data);
    let write = writable
        .write_with_buffer_source(&bytes)
        .map_err(|e| Failure::storage(&e))?;
    wait(write).await?;
    wait(writable.close()).await?;
    Ok(())
}
