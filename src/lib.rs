//! tabswarm's browser peer: the wasm package that pages import as `/pkg/tabswarm.js`.
//!
//! This crate is the only one that names `wasm_bindgen`, `web_sys` or `js_sys`; all protocol
//! logic lives in `tabswarm-core`. This file is the `#[wasm_bindgen]` facade: it converts JS
//! values to Rust and back and leaves the work to [`driver`] (one per torrent), which runs the
//! core engine over [`rtc`] data channels found through [`tracker_client`], with pieces in
//! [`storage`].
//!
//! ```js
//! import init, { Client } from '/pkg/tabswarm.js';
//! await init();
//! const client = new Client({ announce: ['ws://127.0.0.1:8080/announce'], iceServers: [] });
//! const t = await client.seed(file, { name, pieceLength });      // resolves once hashed
//! const d = await client.add(t.magnetUri);                        // metadata may be pending
//! await d.done(); const blob = await d.blob();
//! ```
//!
//! Errors are thrown, rejected or emitted (`error`, `warning` events) as JS `Error`s with a
//! stable `code` ([`api::ErrorCode`]), never a wasm panic. The TypeScript declarations of the
//! plain objects (options, stats, the event map) are in [`api`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use tabswarm_core::engine::Torrent as EngineTorrent;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

pub mod api;
pub mod driver;
pub mod input;
pub mod js;
pub mod library;
mod opfs;
pub mod peer_slots;
pub mod rtc;
pub mod storage;
pub mod tracker_client;
pub mod tracker_json;

use api::{ErrorCode, Failure};
use driver::{torrent_info_hash, Driver, DriverConfig};
use input::{AddInput, SeedInput};
use js::{f64_to_i64, f64_to_u32, f64_to_u64, prop, set, u64_to_f64};
use library::{Entry, Leave};
use rtc::RtcConfig;
use storage::{opfs_available, BrowserStore, Placement, MEMORY_LIMIT};
use tabswarm_core::bitfield::Bitfield;
use tabswarm_core::metainfo::Metainfo;
use tabswarm_core::selection::Selection;

/// The package version, so a page can show that the module loaded.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// SHA-1 of `data` as 40 lowercase hex digits (a self-check the page runs at load).
#[wasm_bindgen(js_name = sha1Hex)]
pub fn sha1_hex(data: &[u8]) -> String {
    tabswarm_core::ids::hex(&tabswarm_core::sha1(data))
}

/// A BitTorrent client in the page: `new Client({ announce, iceServers, storage })`.
#[wasm_bindgen]
pub struct Client {
    inner: Rc<ClientInner>,
}

struct ClientInner {
    peer_id: [u8; 20],
    /// Where a download that is not kept in the library puts its pieces.
    placement: Placement,
    /// Torrents are kept in the library (OPFS) across reloads.
    keep: bool,
    rtc: RtcConfig,
    announce: Vec<String>,
    limits: Cell<(Option<u64>, Option<u64>)>,
    torrents: RefCell<Vec<Rc<Driver>>>,
}

#[wasm_bindgen]
impl Client {
    /// `opts.announce`: tracker URLs (`ws://` or `wss://`) used for every torrent;
    /// `opts.iceServers`: the `RTCPeerConnection` ICE servers (default: WebTorrent's STUN
    /// servers; `[]` on a machine without internet); `opts.storage`: where torrents keep
    /// their pieces, `"auto"` (default: in the library in OPFS, kept across reloads; memory
    /// without OPFS), `"memory"` (not kept) or `"opfs"` (kept; throws without OPFS); `opts.maxMessageSize`: the largest data-channel message sent, in bytes
    /// (default [`rtc::MAX_MESSAGE`]).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "ClientOptions")] opts: Option<JsValue>,
    ) -> Result<Client, JsValue> {
        install_panic_hook();
        let opts = opts.unwrap_or(JsValue::UNDEFINED);
        let (placement, keep) = match prop(&opts, "storage").as_string().as_deref() {
            None | Some("auto") => (
                Placement::Auto {
                    limit: MEMORY_LIMIT,
                },
                opfs_available(),
            ),
            Some("memory") => (Placement::Memory, false),
            Some("opfs") if opfs_available() => (Placement::Opfs, true),
            Some("opfs") => {
                return Err(Failure::new(ErrorCode::Storage, "this browser has no OPFS").into())
            }
            Some(other) => {
                return Err(invalid(format!(
                    "storage must be \"auto\", \"memory\" or \"opfs\", not {other:?}"
                )))
            }
        };
        let announce = strings(&prop(&opts, "announce"), "announce")?;
        let ice = prop(&opts, "iceServers");
        let ice = if ice.is_undefined() || ice.is_null() {
            default_ice_servers()
        } else if js_sys::Array::is_array(&ice) {
            ice
        } else {
            return Err(invalid("iceServers must be an array".into()));
        };
        let mut rtc = RtcConfig::new(ice);
        let max_message = prop(&opts, "maxMessageSize");
        if !max_message.is_undefined() {
            let range = rtc::MESSAGE_RANGE;
            match max_message.as_f64() {
                #[allow(clippy::cast_precision_loss)]
                Some(n)
                    if n.fract() == 0.0
                        && n >= *range.start() as f64
                        && n <= *range.end() as f64 =>
                {
                    rtc = rtc.with_max_message(f64_to_u32(n) as usize);
                }
                _ => {
                    return Err(invalid(format!(
                        "maxMessageSize must be a whole number of bytes from {} to {}",
                        range.start(),
                        range.end()
                    )))
                }
            }
        }
        Ok(Client {
            inner: Rc::new(ClientInner {
                peer_id: make_peer_id(),
                placement,
                keep,
                rtc,
                announce,
                limits: Cell::new((None, None)),
                torrents: RefCell::new(Vec::new()),
            }),
        })
    }

    /// Hashes `input` (a `File`, `Blob`, `FileList`, array of `File`s, `Uint8Array` or
    /// `ArrayBuffer`) into a torrent and seeds it.
    ///
    /// Folders: each file's path is its `fullPath` string property if set (WebTorrent's
    /// convention: its drag-drop package and `www/folder.js` set `"/folder/sub/a.txt"`), else
    /// its `webkitRelativePath` (`<input webkitdirectory>`: `"folder/sub/a.txt"`), else its
    /// name. The torrent is laid out as WebTorrent 3 (create-torrent) does, so the same files
    /// in the same order with the same name and piece length give the same info hash: a folder
    /// common to every path becomes the torrent's name (unless `opts.name`) and leaves the
    /// paths, files stay in the order given (not sorted), junk such as `.DS_Store` is left out,
    /// and one file left is a single-file torrent. (WebTorrent itself ignores
    /// `webkitRelativePath`; for it set `fullPath`, as `filesFromInput` does.) A path with an
    /// empty, `.` or `..` component, a NUL, a backslash, a drive (`C:`), more than 64
    /// components or more than 4096 bytes is refused with `ERR_BAD_INPUT`.
    ///
    /// `opts`: `name`, `pieceLength`, `announce`,
    /// `onProgress(fraction)`, `superSeed` (BEP 16 initial seeding: reveal pieces a few at a
    /// time so that a lone seed uploads each piece about once; for a first seed of a swarm).
    /// Resolves with the `Torrent` once hashed.
    #[wasm_bindgen(unchecked_return_type = "Promise<Torrent>")]
    pub fn seed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SeedInput")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SeedOptions")] opts: Option<JsValue>,
    ) -> js_sys::Promise {
        let inner = self.inner.clone();
        let opts = opts.unwrap_or(JsValue::UNDEFINED);
        future_to_promise(async move {
            let input = SeedInput::from_js(&input)?;
            let name = prop(&opts, "name").as_string();
            let piece_length = match prop(&opts, "pieceLength").as_f64() {
                Some(n) if n >= 1.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0 => {
                    Some(f64_to_u32(n))
                }
                Some(_) => return Err(invalid("pieceLength must be a positive integer".into())),
                None => None,
            };
            let announce = inner.announce_for(&opts, &[])?;
            let super_seed = prop(&opts, "superSeed").is_truthy();
            let on_progress = prop(&opts, "onProgress")
                .dyn_into::<js_sys::Function>()
                .ok();
            let progress = |fraction: f64| {
                if let Some(f) = &on_progress {
                    let _ = f.call1(&JsValue::NULL, &JsValue::from(fraction));
                }
            };
            let now_secs = f64_to_i64(js_sys::Date::now() / 1000.0);
            let (meta, content) = input
                .hash(
                    name,
                    piece_length,
                    announce.clone(),
                    Some(now_secs),
                    &progress,
                )
                .await?;
            let keep = prop(&opts, "keep");
            let keep = (!keep.is_undefined()).then(|| keep.is_truthy());
            let entry = inner.seed_entry(&meta, keep).await;
            let copy = entry
                .as_ref()
                .map(|e| (e.dir(), content_as_blob(&content), meta.info.lengths()));
            let driver = inner.start(
                announce,
                EngineTorrent::Seed(meta),
                super_seed,
                |n| content.into_store(n),
                entry,
                Selection::All,
            )?;
            if let Some((dir, Ok(blob), lengths)) = copy {
                let weak = Rc::downgrade(&driver);
                library::copy_pieces(dir, blob, lengths, move || {
                    weak.upgrade().is_some_and(|d| !d.is_destroyed())
                });
            }
            Ok(Torrent::new(driver, None).into())
        })
    }

    /// Downloads a torrent from a magnet link (or bare info hash) or `.torrent` bytes
    /// (`Uint8Array`, `ArrayBuffer`, `Blob`). `opts.announce` adds trackers. Resolves at once
    /// with the `Torrent`; a magnet's metadata comes later (`metadata` event).
    #[wasm_bindgen(unchecked_return_type = "Promise<Torrent>")]
    pub fn add(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TorrentId")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "AddOptions")] opts: Option<JsValue>,
    ) -> js_sys::Promise {
        let inner = self.inner.clone();
        let opts = opts.unwrap_or(JsValue::UNDEFINED);
        future_to_promise(async move {
            let parsed = AddInput::from_js(&input).await?;
            let (torrent, extra, name, selection) = match parsed {
                AddInput::Magnet(m) => {
                    let selection = m.select_only.map_or(Selection::All, Selection::Files);
                    (
                        EngineTorrent::Magnet(m.info_hash),
                        m.trackers,
                        m.name,
                        selection,
                    )
                }
                AddInput::Torrent(meta) => {
                    let announce = meta.announce.clone();
                    (
                        EngineTorrent::Download(*meta),
                        announce,
                        None,
                        Selection::All,
                    )
                }
            };
            let info_hash = torrent_info_hash(&torrent);
            if let Some(existing) = inner.find(&info_hash.to_hex()) {
                return Ok(Torrent::new(existing, name).into());
            }
            let announce = inner.announce_for(&opts, &extra)?;
            let driver = inner.open(torrent, announce, selection).await?;
            Ok(Torrent::new(driver, name).into())
        })
    }

    /// Brings back the torrents kept in this browser's library (OPFS) by earlier pages of
    /// this site: downloads resume where they stopped, finished ones seed. Torrents this
    /// client already runs, and those another tab is running, are skipped. Resolves with the
    /// torrents started.
    #[wasm_bindgen(unchecked_return_type = "Promise<Torrent[]>")]
    pub fn restore(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let started = js_sys::Array::new();
            if !inner.keep {
                return Ok(started.into());
            }
            let hashes = library::list()
                .await
                .map_err(|e| Failure::new(ErrorCode::Storage, e))?;
            for hash in hashes {
                if inner.find(&hash.to_hex()).is_some() {
                    continue;
                }
                let entry = match Entry::open(hash).await {
                    Ok(Some(e)) => e,
                    Ok(None) => continue,
                    Err(e) => return Err(Failure::new(ErrorCode::Storage, e).into()),
                };
                let Some(record) = entry.record().await else {
                    continue;
                };
                let magnet = tabswarm_core::magnet::Magnet::parse(&record.magnet).ok();
                let trackers = magnet
                    .as_ref()
                    .map(|m| m.trackers.clone())
                    .unwrap_or_default();
                let name = magnet.and_then(|m| m.name);
                let announce = inner.announce_for(&JsValue::UNDEFINED, &trackers)?;
                match inner
                    .open_kept(
                        entry,
                        EngineTorrent::Magnet(hash),
                        announce,
                        record.selection,
                    )
                    .await
                {
                    Ok(d) => {
                        started.push(&Torrent::new(d, name).into());
                    }
                    Err(e) => web_sys::console::warn_2(
                        &format!("tabswarm: cannot restore {}", hash.to_hex()).into(),
                        &e,
                    ),
                }
            }
            Ok(started.into())
        })
    }

    /// This site's storage: `{ usage, quota, persisted }` in bytes (`navigator.storage`).
    #[wasm_bindgen(js_name = storageEstimate, unchecked_return_type = "Promise<StorageInfo>")]
    pub fn storage_estimate(&self) -> js_sys::Promise {
        future_to_promise(async move {
            let (usage, quota, persisted) = library::estimate().await?;
            let o = JsValue::from(js_sys::Object::new());
            set(&o, "usage", &u64_to_f64(usage).into());
            set(&o, "quota", &u64_to_f64(quota).into());
            set(&o, "persisted", &persisted.into());
            Ok(o)
        })
    }

    /// Asks the browser to keep this site's storage under pressure
    /// (`navigator.storage.persist()`); resolves with whether it is persistent now.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn persist(&self) -> js_sys::Promise {
        future_to_promise(async move {
            let storage = storage::navigator_storage()
                .ok_or_else(|| Failure::new(ErrorCode::Storage, "no navigator.storage"))?;
            let p = storage
                .persist()
                .map_err(|e| Failure::new(ErrorCode::Storage, js::error_text(&e)))?;
            let granted = storage::js_await(p)
                .await
                .map_err(|e| Failure::new(ErrorCode::Storage, e))?;
            Ok(granted.is_truthy().into())
        })
    }

    /// Caps the upload and download rate of every torrent of this client (bytes/s each;
    /// `0`, `null` or absent: unlimited). Applies to torrents added later too.
    #[wasm_bindgen(js_name = setLimits)]
    pub fn set_limits(&self, #[wasm_bindgen(unchecked_param_type = "Limits")] limits: JsValue) {
        let (up, down) = read_limits(&limits);
        self.inner.limits.set((up, down));
        for d in self.inner.torrents.borrow().iter() {
            d.set_limits(up, down);
        }
    }

    /// Stops every torrent (trackers hear `stopped`, connections close); the library keeps
    /// them for `restore()`.
    pub fn destroy(&self) {
        let torrents = std::mem::take(&mut *self.inner.torrents.borrow_mut());
        for d in torrents {
            d.destroy(Leave::Stay);
        }
    }

    /// This client's peer id (hex).
    #[wasm_bindgen(getter, js_name = peerId)]
    pub fn peer_id(&self) -> String {
        tabswarm_core::ids::hex(&self.inner.peer_id)
    }

    /// The torrents of this client that are not destroyed.
    #[wasm_bindgen(getter, unchecked_return_type = "Torrent[]")]
    pub fn torrents(&self) -> js_sys::Array {
        self.inner
            .torrents
            .borrow()
            .iter()
            .filter(|d| !d.is_destroyed())
            .map(|d| JsValue::from(Torrent::new(d.clone(), None)))
            .collect()
    }
}

impl ClientInner {
    /// Tracker URLs: the call's `opts.announce`, then `extra` (from the magnet or .torrent),
    /// then the client's. The driver dedupes and caps the list (and warns about the rest).
    fn announce_for(&self, opts: &JsValue, extra: &[String]) -> Result<Vec<String>, JsValue> {
        let mut all = strings(&prop(opts, "announce"), "announce")?;
        all.extend(extra.iter().cloned());
        all.extend(self.announce.iter().cloned());
        Ok(all)
    }

    fn start(
        &self,
        announce: Vec<String>,
        torrent: EngineTorrent,
        super_seed: bool,
        make_store: impl FnOnce(storage::StoreNotify) -> BrowserStore,
        entry: Option<Entry>,
        selection: Selection,
    ) -> Result<Rc<Driver>, JsValue> {
        let (upload_limit, download_limit) = self.limits.get();
        let config = DriverConfig {
            peer_id: self.peer_id,
            rtc: self.rtc.clone(),
            announce,
            upload_limit,
            download_limit,
            super_seed,
        };
        let driver = Driver::start(config, torrent, make_store, entry, selection)
            .map_err(|e| Failure::new(ErrorCode::Storage, e))?;
        self.torrents.borrow_mut().push(driver.clone());
        Ok(driver)
    }

    /// Starts a download, kept in the library when this client keeps torrents and no other
    /// tab holds it; else unkept, in memory or a temporary OPFS directory (`placement`).
    async fn open(
        &self,
        torrent: EngineTorrent,
        announce: Vec<String>,
        selection: Selection,
    ) -> Result<Rc<Driver>, JsValue> {
        let entry = if self.keep {
            // Where OPFS refuses (a private window, say) the torrent runs unkept.
            Entry::open(torrent_info_hash(&torrent))
                .await
                .unwrap_or_else(|e| {
                    web_sys::console::warn_1(&format!("tabswarm: not kept: {e}").into());
                    None
                })
        } else {
            None
        };
        match entry {
            Some(entry) => self.open_kept(entry, torrent, announce, selection).await,
            None => {
                let placement = self.placement;
                self.start(
                    announce,
                    torrent,
                    false,
                    |n| BrowserStore::for_download(placement, n),
                    None,
                    selection,
                )
            }
        }
    }

    /// Starts a download over its library entry: from the `.torrent` the entry holds if the
    /// torrent is a magnet, and from the pieces already on disk. Refuses with
    /// `ERR_STORAGE_QUOTA` a download whose missing bytes do not fit in the site's quota.
    async fn open_kept(
        &self,
        entry: Entry,
        torrent: EngineTorrent,
        announce: Vec<String>,
        selection: Selection,
    ) -> Result<Rc<Driver>, JsValue> {
        let storage = |e: String| JsValue::from(Failure::new(ErrorCode::Storage, e));
        let torrent = match torrent {
            EngineTorrent::Magnet(h) => entry
                .torrent()
                .await
                .and_then(|b| Metainfo::from_bytes(&b).ok())
                .filter(|m| m.info_hash == h)
                .map_or(EngineTorrent::Magnet(h), EngineTorrent::Download),
            t => t,
        };
        let (torrent, stored, hashes) = match torrent {
            EngineTorrent::Download(m) => {
                let lengths = m.info.lengths();
                let stored = entry.scan(lengths).await.map_err(storage)?;
                let needed = missing_bytes(&m, &stored, &selection);
                if let Err(f) = library::check_quota(needed).await {
                    entry.close(if stored.is_empty() {
                        Leave::Delete
                    } else {
                        Leave::Stay
                    });
                    return Err(f.into());
                }
                let hashes: Rc<[[u8; 20]]> = m.info.pieces().into();
                let mut have = Bitfield::new(lengths.num_pieces());
                for &i in &stored {
                    have.set(i);
                }
                (resumed(m, have), stored, Some(hashes))
            }
            t => (t, Vec::new(), None),
        };
        let dir = entry.dir();
        self.start(
            announce,
            torrent,
            false,
            move |n| BrowserStore::kept(dir, stored, hashes, n),
            Some(entry),
            selection,
        )
    }

    /// The library entry a new seed is kept in: with `keep` unset, when the client keeps
    /// torrents and the content takes at most half of the site's free quota.
    async fn seed_entry(&self, meta: &Metainfo, keep: Option<bool>) -> Option<Entry> {
        if !self.keep || keep == Some(false) {
            return None;
        }
        let size = meta.info.total_length();
        if keep.is_none() {
            let (usage, quota, _) = library::estimate().await.ok()?;
            if size > quota.saturating_sub(usage) / 2 {
                return None;
            }
        }
        Entry::open(meta.info_hash).await.ok().flatten()
    }

    fn find(&self, info_hash_hex: &str) -> Option<Rc<Driver>> {
        self.torrents
            .borrow()
            .iter()
            .find(|d| !d.is_destroyed() && d.info_hash_hex() == info_hash_hex)
            .cloned()
    }
}

/// One torrent, seeding or downloading.
#[wasm_bindgen]
pub struct Torrent {
    driver: Rc<Driver>,
    /// The magnet's `dn`, shown until the metadata arrives.
    name_hint: Option<String>,
}

impl Torrent {
    fn new(driver: Rc<Driver>, name_hint: Option<String>) -> Torrent {
        Torrent { driver, name_hint }
    }
}

#[wasm_bindgen]
impl Torrent {
    /// 40 lowercase hex digits.
    #[wasm_bindgen(getter, js_name = infoHash)]
    pub fn info_hash(&self) -> String {
        self.driver.info_hash_hex()
    }

    /// `magnet:?xt=urn:btih:…&dn=…&tr=…`.
    #[wasm_bindgen(getter, js_name = magnetUri)]
    pub fn magnet_uri(&self) -> String {
        self.driver.magnet_uri()
    }

    /// The `.torrent` file (`undefined` until the metadata is known).
    #[wasm_bindgen(getter, js_name = torrentFile)]
    pub fn torrent_file(&self) -> Option<js_sys::Uint8Array> {
        self.driver
            .metainfo()
            .map(|m| js_sys::Uint8Array::from(&m.to_bytes()[..]))
    }

    /// The torrent's name (the magnet's `dn`, or `""`, until the metadata is known).
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        match self.driver.metainfo() {
            Some(m) => m.info.name().to_string(),
            None => self.name_hint.clone().unwrap_or_default(),
        }
    }

    /// Total bytes (0 until the metadata is known).
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> f64 {
        self.driver
            .metainfo()
            .map_or(0.0, |m| u64_to_f64(m.info.total_length()))
    }

    #[wasm_bindgen(getter, js_name = pieceLength)]
    pub fn piece_length(&self) -> u32 {
        self.driver.metainfo().map_or(0, |m| m.info.piece_length())
    }

    /// Verified fraction, 0 to 1.
    #[wasm_bindgen(getter)]
    pub fn progress(&self) -> f64 {
        self.driver.stats().progress()
    }

    /// Verified bytes downloaded in this session.
    #[wasm_bindgen(getter)]
    pub fn downloaded(&self) -> f64 {
        u64_to_f64(self.driver.stats().downloaded)
    }

    /// Block bytes sent to peers.
    #[wasm_bindgen(getter)]
    pub fn uploaded(&self) -> f64 {
        u64_to_f64(self.driver.stats().uploaded)
    }

    /// Every byte received over the data channels.
    #[wasm_bindgen(getter)]
    pub fn received(&self) -> f64 {
        u64_to_f64(self.driver.stats().received)
    }

    /// Bytes/s of blocks received (over the engine's rate window).
    #[wasm_bindgen(getter, js_name = downloadSpeed)]
    pub fn download_speed(&self) -> f64 {
        u64_to_f64(self.driver.stats().download_rate)
    }

    /// Bytes/s of blocks sent.
    #[wasm_bindgen(getter, js_name = uploadSpeed)]
    pub fn upload_speed(&self) -> f64 {
        u64_to_f64(self.driver.stats().upload_rate)
    }

    /// Connected peers (handshake or not).
    #[wasm_bindgen(getter, js_name = numPeers)]
    pub fn num_peers(&self) -> u32 {
        self.driver.stats().num_peers
    }

    /// Every figure at one moment: one call instead of a getter each.
    #[wasm_bindgen(unchecked_return_type = "TorrentStats")]
    pub fn stats(&self) -> JsValue {
        let f = self.driver.stats();
        let o = JsValue::from(js_sys::Object::new());
        set(&o, "progress", &f.progress().into());
        set(&o, "done", &f.done.into());
        set(&o, "length", &u64_to_f64(f.length).into());
        set(&o, "piecesHave", &f.pieces_have.into());
        set(&o, "pieces", &f.pieces_total.into());
        set(&o, "downloaded", &u64_to_f64(f.downloaded).into());
        set(&o, "uploaded", &u64_to_f64(f.uploaded).into());
        set(&o, "received", &u64_to_f64(f.received).into());
        set(&o, "wasted", &u64_to_f64(f.wasted).into());
        set(&o, "downloadSpeed", &u64_to_f64(f.download_rate).into());
        set(&o, "uploadSpeed", &u64_to_f64(f.upload_rate).into());
        set(&o, "timeRemaining", &f.time_remaining_ms().into());
        set(&o, "numPeers", &f.num_peers.into());
        set(&o, "wanted", &u64_to_f64(f.wanted).into());
        set(&o, "wantedHave", &u64_to_f64(f.wanted_have).into());
        o
    }

    /// Where the pieces live: `memory`, `opfs`, `blob` (a seeded file), or `undecided`.
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "\"memory\" | \"opfs\" | \"blob\" | \"undecided\""
    )]
    pub fn storage(&self) -> String {
        self.driver.storage_kind().to_string()
    }

    /// The files (`name`, `path`, `length`, `offset`, `blob()`); empty until the metadata.
    #[wasm_bindgen(getter, unchecked_return_type = "TorrentFile[]")]
    pub fn files(&self) -> js_sys::Array {
        let Some(meta) = self.driver.metainfo() else {
            return js_sys::Array::new();
        };
        meta.info
            .file_ranges()
            .enumerate()
            .map(|(index, (f, range))| {
                JsValue::from(TorrentFile {
                    driver: self.driver.clone(),
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    name: f.path.last().cloned().unwrap_or_default(),
                    path: f.path.join("/"),
                    offset: range.start,
                    length: f.length,
                })
            })
            .collect()
    }

    /// Resolves when every piece is verified; rejects (`ERR_DESTROYED`) if the torrent is
    /// destroyed first.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn done(&self) -> js_sys::Promise {
        let done = self.driver.done();
        future_to_promise(async move {
            done.await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The content as a `Blob`, once done (single-file torrents; see `files` otherwise).
    #[wasm_bindgen(unchecked_return_type = "Promise<Blob>")]
    pub fn blob(&self) -> js_sys::Promise {
        let files = self.driver.metainfo().map(|m| m.info.files().len());
        let blob = self.driver.content_blob(None);
        future_to_promise(async move {
            if let Some(n) = files.filter(|&n| n > 1) {
                return Err(Failure::new(
                    ErrorCode::MultipleFiles,
                    format!("this torrent has {n} files: use files[i].blob()"),
                )
                .into());
            }
            Ok(blob.await?.into())
        })
    }

    /// Calls `callback` on every `event` (see `TorrentEventMap`); throws `ERR_UNKNOWN_EVENT`
    /// for a name that is not an event.
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: &str, callback: js_sys::Function) -> Result<(), JsValue> {
        Ok(self.driver.on(event, callback, false)?)
    }

    /// Calls `callback` on the next `event` only.
    #[wasm_bindgen(skip_typescript)]
    pub fn once(&self, event: &str, callback: js_sys::Function) -> Result<(), JsValue> {
        Ok(self.driver.on(event, callback, true)?)
    }

    /// Removes `callback` (added with `on` or `once`) from `event`.
    #[wasm_bindgen(skip_typescript)]
    pub fn off(&self, event: &str, callback: js_sys::Function) -> Result<(), JsValue> {
        Ok(self.driver.off(event, &callback)?)
    }

    /// Caps this torrent's rates: `{ upload, download }` in bytes/s (`0`/absent: unlimited).
    #[wasm_bindgen(js_name = setLimits)]
    pub fn set_limits(&self, #[wasm_bindgen(unchecked_param_type = "Limits")] limits: JsValue) {
        let (up, down) = read_limits(&limits);
        self.driver.set_limits(up, down);
    }

    /// Stops the torrent and removes it from the library: trackers hear `stopped`,
    /// connections close, its pieces are deleted; with `{ keepData: true }` they stay, so
    /// adding the torrent again resumes from them.
    pub fn destroy(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "DestroyOptions")] opts: Option<JsValue>,
    ) {
        let keep = opts.is_some_and(|o| prop(&o, "keepData").is_truthy());
        self.driver
            .destroy(if keep { Leave::Unlist } else { Leave::Delete });
    }

    /// Whether the torrent is kept in the library (OPFS), to come back after a reload.
    #[wasm_bindgen(getter)]
    pub fn kept(&self) -> bool {
        self.driver.is_kept()
    }

    /// Bytes of pieces this torrent holds in OPFS.
    #[wasm_bindgen(getter, js_name = storageUsed)]
    pub fn storage_used(&self) -> f64 {
        u64_to_f64(self.driver.bytes_stored())
    }

    /// The connected peers and their figures.
    #[wasm_bindgen(unchecked_return_type = "PeerStats[]")]
    pub fn peers(&self) -> js_sys::Array {
        let pieces = f64::from(self.driver.stats().pieces_total.max(1));
        self.driver
            .peer_stats()
            .iter()
            .map(|p| {
                let o = JsValue::from(js_sys::Object::new());
                let id = p.peer_id.map_or(JsValue::NULL, |id| id.to_hex().into());
                let client = p.client.clone().map_or(JsValue::NULL, JsValue::from);
                set(&o, "id", &id);
                set(&o, "client", &client);
                set(&o, "downloadSpeed", &u64_to_f64(p.download_rate).into());
                set(&o, "uploadSpeed", &u64_to_f64(p.upload_rate).into());
                set(&o, "amChoking", &p.am_choking.into());
                set(&o, "amInterested", &p.am_interested.into());
                set(&o, "peerChoking", &p.peer_choking.into());
                set(&o, "peerInterested", &p.peer_interested.into());
                set(&o, "progress", &(f64::from(p.pieces) / pieces).into());
                set(&o, "requestsOut", &p.requests_out.into());
                set(&o, "requestsIn", &p.requests_in.into());
                set(&o, "buffered", &self.driver.buffered(p.peer).into());
                o
            })
            .collect()
    }

    /// One byte per piece: 2 verified, 1 being downloaded, 0 missing, 3 not wanted (only in
    /// deselected files).
    #[wasm_bindgen(js_name = pieceStates)]
    pub fn piece_states(&self) -> js_sys::Uint8Array {
        js_sys::Uint8Array::from(&self.driver.piece_map().0[..])
    }

    /// Per piece, how many connected peers have it.
    pub fn availability(&self) -> js_sys::Uint32Array {
        js_sys::Uint32Array::from(&self.driver.piece_map().1[..])
    }
}

/// One file of a torrent.
#[wasm_bindgen]
pub struct TorrentFile {
    driver: Rc<Driver>,
    /// Its index in the torrent's file list (BEP 53 `so=` counts the same way).
    index: u32,
    name: String,
    path: String,
    offset: u64,
    length: u64,
}

#[wasm_bindgen]
impl TorrentFile {
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// Path inside the torrent, `/`-separated.
    #[wasm_bindgen(getter)]
    pub fn path(&self) -> String {
        self.path.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn length(&self) -> f64 {
        u64_to_f64(self.length)
    }

    /// Byte offset of the file in the torrent's content.
    #[wasm_bindgen(getter)]
    pub fn offset(&self) -> f64 {
        u64_to_f64(self.offset)
    }

    /// Downloads this file (pieces it shares with other files come too).
    pub fn select(&self) -> Result<(), JsValue> {
        Ok(self.driver.select_file(self.index, true)?)
    }

    /// Stops downloading this file: its pieces are not fetched, except those it shares with a
    /// selected file. Pieces already had stay.
    pub fn deselect(&self) -> Result<(), JsValue> {
        Ok(self.driver.select_file(self.index, false)?)
    }

    /// Whether this file is selected for download.
    #[wasm_bindgen(getter)]
    pub fn selected(&self) -> bool {
        self.driver
            .files_wanted()
            .get(self.index as usize)
            .copied()
            .unwrap_or(true)
    }

    /// Verified bytes of this file.
    #[wasm_bindgen(getter)]
    pub fn downloaded(&self) -> f64 {
        let done = self.driver.file_progress();
        u64_to_f64(done.get(self.index as usize).copied().unwrap_or(0))
    }

    /// Verified fraction of this file, 0 to 1 (1 for an empty file).
    #[wasm_bindgen(getter)]
    pub fn progress(&self) -> f64 {
        if self.length == 0 {
            return 1.0;
        }
        self.downloaded() / u64_to_f64(self.length)
    }

    /// The file's bytes as a `Blob` (disk-backed for a kept torrent), once the torrent is done
    /// (its selected files are); `ERR_STORAGE` for a file that was deselected.
    #[wasm_bindgen(unchecked_return_type = "Promise<Blob>")]
    pub fn blob(&self) -> js_sys::Promise {
        let blob = self
            .driver
            .content_blob(Some(self.offset..self.offset + self.length));
        future_to_promise(async move { Ok(blob.await?.into()) })
    }
}

/// A seed's content as a `Blob`, to copy it into the library (bytes are copied once).
fn content_as_blob(content: &input::SeedContent) -> Result<web_sys::Blob, String> {
    match content {
        input::SeedContent::Blob(b) => Ok(b.clone()),
        input::SeedContent::Bytes(v) => storage::bytes_to_blob(v).map_err(|e| e.to_string()),
    }
}

/// Bytes of the pieces a download still needs: those of its selected files that are not
/// `stored`.
fn missing_bytes(meta: &Metainfo, stored: &[u32], selection: &Selection) -> u64 {
    let lengths = meta.info.lengths();
    let mut wanted = vec![matches!(selection, Selection::All); lengths.num_pieces() as usize];
    if let Selection::Files(set) = selection {
        let pl = u64::from(lengths.piece_length());
        for (i, (_, range)) in meta.info.file_ranges().enumerate() {
            let chosen = u32::try_from(i).is_ok_and(|i| set.contains(i));
            if chosen && range.start < range.end {
                let first = usize::try_from(range.start / pl).unwrap_or(usize::MAX);
                let last = usize::try_from((range.end - 1) / pl).unwrap_or(usize::MAX);
                for w in wanted.iter_mut().take(last.saturating_add(1)).skip(first) {
                    *w = true;
                }
            }
        }
    }
    for &i in stored {
        if let Some(w) = wanted.get_mut(i as usize) {
            *w = false;
        }
    }
    wanted
        .iter()
        .enumerate()
        .filter(|(_, &w)| w)
        .filter_map(|(i, _)| lengths.validate_piece(u32::try_from(i).ok()?))
        .map(|p| u64::from(lengths.piece_len(p)))
        .sum()
}

/// The engine's start for a download with `have` already stored.
fn resumed(meta: Metainfo, have: Bitfield) -> EngineTorrent {
    if have.count_ones() == 0 {
        EngineTorrent::Download(meta)
    } else {
        EngineTorrent::Partial(meta, have)
    }
}

/// An `ERR_INVALID_OPTION` error.
fn invalid(msg: String) -> JsValue {
    Failure::new(ErrorCode::InvalidOption, msg).into()
}

/// A string or an array of strings (absent: empty).
fn strings(v: &JsValue, what: &str) -> Result<Vec<String>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    if let Some(s) = v.as_string() {
        return Ok(vec![s]);
    }
    if let Some(arr) = v.dyn_ref::<js_sys::Array>() {
        return arr
            .iter()
            .map(|x| {
                x.as_string()
                    .ok_or_else(|| invalid(format!("{what} must hold strings")))
            })
            .collect();
    }
    Err(invalid(format!(
        "{what} must be a string or an array of strings"
    )))
}

fn read_limits(v: &JsValue) -> (Option<u64>, Option<u64>) {
    let rate = |key| {
        prop(v, key)
            .as_f64()
            .filter(|r| r.is_finite() && *r >= 1.0)
            .map(f64_to_u64)
    };
    (rate("upload"), rate("download"))
}

/// WebTorrent's default STUN servers.
fn default_ice_servers() -> JsValue {
    let server = js_sys::Object::new();
    let urls = js_sys::Array::of2(
        &"stun:stun.l.google.com:19302".into(),
        &"stun:global.stun.twilio.com:3478".into(),
    );
    set(&server, "urls", &urls);
    js_sys::Array::of1(&server).into()
}

/// `ids::PEER_ID_PREFIX` and 12 random characters from the URL-safe base64 alphabet.
fn make_peer_id() -> [u8; 20] {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = [0u8; 20];
    id[..8].copy_from_slice(tabswarm_core::ids::PEER_ID_PREFIX);
    let mut random = [0u8; 12];
    js::random_bytes(&mut random);
    for (slot, r) in id[8..].iter_mut().zip(random) {
        *slot = ALPHABET[usize::from(r & 63)];
    }
    id
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            web_sys::console::error_1(&format!("tabswarm panicked: {info}").into());
        }));
    });
}
