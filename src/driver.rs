//! The driver of one torrent: it owns the core [`Engine`], the peer connections, the tracker
//! clients and the one timer, and turns JS events into engine inputs and engine outputs into
//! sends, disconnects and page events.
//!
//! # Event flow
//! Every JS callback (a data-channel event, a tracker notice, a store note, the timer) only
//! queues a [`Work`] item and calls [`Driver::pump`]. The pump takes items one at a time,
//! feeds the engine, and drains `poll_output` until `Output::Timeout(at)`, sending bytes on the
//! data channels on the way. Work that calls out to JS (page callbacks, tracker announces,
//! dropping connections) is collected as effects and run after the engine state is released,
//! so a page callback may call back into the torrent (read `progress`, call `destroy`) safely:
//! such calls queue more work, and the running pump picks it up.
//!
//! # One timer
//! After each drain the driver arms a single `setTimeout` for the engine's deadline (if it
//! changed). Transfers are driven by data-channel events, not by polling, so a background
//! tab's throttled timers only slow housekeeping (rechokes, keep-alives), not the transfer.
//!
//! # Backpressure
//! The engine's `max_send_buffer` equals [`rtc::HIGH_WATER`]: after sending to a peer the
//! driver reports the channel's real `bufferedAmount` (`Input::SendBuffer`); at the high-water
//! mark the engine pauses that peer's uploads and the channel reports `Writable` once it has
//! drained, which is reported again.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};

use futures::channel::oneshot;
use tabswarm_core::engine::{
    Config, Engine, Event, Input, Output, PeerKey, PeerStats, Stats, Torrent,
};
use tabswarm_core::ids::PeerId;
use tabswarm_core::magnet::Magnet;
use tabswarm_core::metainfo::Metainfo;
use tabswarm_core::picker::PieceState;
use tabswarm_core::selection::Selection;
use tabswarm_core::time::Time;
use wasm_bindgen::JsValue;

use crate::api::{ErrorCode, Failure, PeerInfo, TorrentEvent};
use crate::js::{self, Timer};
use crate::library::{Entry, Leave, Record};
use crate::peer_slots::{PeerSlots, Slot};
use crate::rtc::{self, EventSink, RtcConfig, RtcEvent, RtcPeer};
use crate::storage::{BrowserStore, StoreNote, StoreNotify};
use crate::tracker_client::{Host, Identity, Notice, TrackerClient, Transfer};

/// Connections per torrent beyond which we stop making offers (WebTorrent: 55).
pub const MAX_PEERS: usize = 50;
/// A connection whose data channel has not opened this long after signalling is dropped.
const CONNECT_TIMEOUT_MS: u32 = 25_000;
/// Sends and `SendBuffer` reports per pump step, at most: bounds the send loop.
const MAX_SEND_ROUNDS: u32 = 64;

/// Everything a torrent needs from its client.
#[derive(Clone)]
pub struct DriverConfig {
    pub peer_id: [u8; 20],
    pub rtc: RtcConfig,
    /// Tracker URLs (deduplicated by the driver).
    pub announce: Vec<String>,
    /// Bytes/s caps; `None` is unlimited.
    pub upload_limit: Option<u64>,
    pub download_limit: Option<u64>,
    /// Seed in BEP 16 initial-seeding mode (see `tabswarm_core::engine::Config::super_seeding`).
    pub super_seed: bool,
}

/// One torrent: engine, connections, trackers, timer.
pub struct Driver {
    me: Weak<Driver>,
    state: RefCell<State>,
    queue: RefCell<VecDeque<Work>>,
    running: Cell<bool>,
    listeners: RefCell<Vec<PageListener>>,
    /// `downloaded` and `uploaded` as last reported by `download` and `upload` events.
    reported: Cell<(u64, u64)>,
    /// Read by trackers without touching `state` (they may be called while it is borrowed).
    transfer: Cell<Transfer>,
    next_conn: Cell<u64>,
    /// The peer limit and bans (read by trackers without touching `state`).
    slots: PeerSlots,
    /// Our peer id.
    my_id: PeerId,
    destroyed: Cell<bool>,
}

struct State {
    engine: Engine<BrowserStore>,
    conns: HashMap<u64, Conn>,
    trackers: Vec<TrackerClient>,
    announce: Vec<String>,
    timer: Option<(Time, Timer)>,
    done_waiters: Vec<oneshot::Sender<Result<(), Failure>>>,
    /// Set once the torrent is destroyed.
    ended: Option<Failure>,
    /// Delivers `ready` (and a warning) from `start` to the page's listeners.
    startup: Option<Timer>,
    /// Where the torrent is kept across reloads (`None`: not kept).
    entry: Option<Entry>,
}

/// A page callback (`t.on`, `t.once`).
struct PageListener {
    event: TorrentEvent,
    f: js_sys::Function,
    once: bool,
}

struct Conn {
    rtc: RtcPeer,
    remote: PeerId,
    /// The offer was ours (else we answered the remote's).
    we_offered: bool,
    open: bool,
    connect_timer: Option<Timer>,
    /// Set by its handshake, when `wire` announced it (`peer-left` follows).
    who: Option<PeerInfo>,
}

/// What a JS callback hands the pump.
enum Work {
    Rtc(u64, RtcEvent),
    /// Signalling finished; the slot is dropped once the connection is recorded.
    Handover(u64, RtcPeer, PeerId, bool, Slot),
    ConnectTimeout(u64),
    Store(StoreNote),
    Notice(Notice),
    /// A warning for the page (`warning` event).
    Warn(Failure),
    /// The metadata was known at start: `ready` for the page.
    Ready,
    Timeout,
    Limits(Option<u64>, Option<u64>),
    /// Which files to download: all of a selection, or one file on or off.
    Select(Selection),
    SelectFile(u32, bool),
    /// Stop, and leave the library as it says.
    Destroy(Leave),
    /// Cannot go on: an `error` event, then stopped, leaving the library as it says.
    Fail(Failure, Leave),
}

/// Work for after the engine state is released.
enum Effect {
    Emit(TorrentEvent, JsValue),
    Drop(Box<dyn std::any::Any>),
    Completed,
    /// A connection's transport failed: the trackers announce again soon.
    PeerLost,
}

impl Driver {
    /// Starts a torrent: builds the engine over the store `make_store` returns (given the
    /// driver's store callback), connects to the trackers, and arms the timer.
    /// With an `entry`, the torrent is listed in the library (its record and `.torrent`
    /// file are written now and kept up to date).
    pub fn start(
        config: DriverConfig,
        torrent: Torrent,
        make_store: impl FnOnce(StoreNotify) -> BrowserStore,
        entry: Option<Entry>,
        selection: Selection,
    ) -> Result<Rc<Driver>, String> {
        let info_hash = torrent_info_hash(&torrent);
        // The store reports to the driver, which does not exist yet: bind it late.
        let slot: Rc<RefCell<Weak<Driver>>> = Rc::new(RefCell::new(Weak::new()));
        let notify: StoreNotify = {
            let slot = slot.clone();
            Rc::new(move |note| {
                let driver = slot.borrow().upgrade();
                if let Some(d) = driver {
                    d.push(Work::Store(note));
                }
            })
        };
        let mut engine_config = Config::new(PeerId(config.peer_id), js::random_seed());
        engine_config.max_send_buffer = u64::from(rtc::HIGH_WATER);
        engine_config.upload_limit = config.upload_limit;
        engine_config.download_limit = config.download_limit;
        engine_config.super_seeding = config.super_seed;
        let mut engine = Engine::new(engine_config, torrent, make_store(notify))
            .map_err(|e| format!("cannot start the torrent: {e}"))?;
        // Before any input: no piece outside the selection is ever requested.
        if selection != Selection::All {
            engine.select(selection);
        }
        let (announce, ignored) = tabswarm_core::magnet::tracker_list(config.announce.clone());
        let driver = Rc::new_cyclic(|me: &Weak<Driver>| Driver {
            me: me.clone(),
            state: RefCell::new(State {
                engine,
                conns: HashMap::new(),
                trackers: Vec::new(),
                announce: announce.clone(),
                timer: None,
                done_waiters: Vec::new(),
                ended: None,
                startup: None,
                entry,
            }),
            queue: RefCell::new(VecDeque::new()),
            running: Cell::new(false),
            listeners: RefCell::new(Vec::new()),
            reported: Cell::new((0, 0)),
            transfer: Cell::new(Transfer::default()),
            next_conn: Cell::new(1),
            slots: PeerSlots::new(MAX_PEERS),
            my_id: PeerId(config.peer_id),
            destroyed: Cell::new(false),
        });
        *slot.borrow_mut() = Rc::downgrade(&driver);
        let host: Weak<dyn Host> = {
            let w: Weak<Driver> = Rc::downgrade(&driver);
            w
        };
        let identity = Identity {
            info_hash,
            peer_id: PeerId(config.peer_id),
            rtc: config.rtc.clone(),
        };
        let trackers: Vec<TrackerClient> = announce
            .iter()
            .map(|u| TrackerClient::new(u, identity.clone(), host.clone()))
            .collect();
        driver.state.borrow_mut().trackers = trackers;
        {
            let s = driver.state.borrow();
            driver.save_record(&s);
            driver.save_torrent_file(&s);
        }
        let mut startup = Vec::new();
        if driver.state.borrow().engine.metainfo().is_some() {
            startup.push(Work::Ready);
        }
        if ignored > 0 {
            let max = tabswarm_core::magnet::MAX_TRACKERS;
            startup.push(Work::Warn(Failure::new(
                ErrorCode::TooManyTrackers,
                format!("ignored {ignored} trackers beyond the first {max}"),
            )));
        }
        if !startup.is_empty() {
            let me = Rc::downgrade(&driver);
            // On a timer, not now: the page registers its listeners once `add()` resolves.
            let timer = Timer::once(0, move || {
                if let Some(d) = me.upgrade() {
                    for work in startup.drain(..) {
                        d.push(work);
                    }
                }
            });
            driver.state.borrow_mut().startup = Some(timer);
        }
        driver.push(Work::Timeout);
        Ok(driver)
    }

    /// Registers a page callback for `event`: every time, or the next time only (`once`).
    pub fn on(&self, event: &str, f: js_sys::Function, once: bool) -> Result<(), Failure> {
        let event = event_named(event)?;
        self.listeners
            .borrow_mut()
            .push(PageListener { event, f, once });
        Ok(())
    }

    /// Removes every registration of `f` for `event` (by `on` or `once`).
    pub fn off(&self, event: &str, f: &js_sys::Function) -> Result<(), Failure> {
        let event = event_named(event)?;
        self.listeners
            .borrow_mut()
            .retain(|l| !(l.event == event && l.f == *f));
        Ok(())
    }

    /// Caps this torrent's rates (bytes/s; `None` is unlimited).
    pub fn set_limits(&self, upload: Option<u64>, download: Option<u64>) {
        self.push(Work::Limits(upload, download));
    }

    /// Stops everything: trackers hear `stopped`, connections close, the torrent leaves the
    /// library as `leave` says, and pending `done()` promises reject.
    pub fn destroy(&self, leave: Leave) {
        self.push(Work::Destroy(leave));
    }

    /// Downloads only the files `selection` names (applied once the metadata is known).
    pub fn select(&self, selection: Selection) {
        self.push(Work::Select(selection));
    }

    /// Selects or deselects file `index`; an error before the metadata or for no such file.
    pub fn select_file(&self, index: u32, wanted: bool) -> Result<(), Failure> {
        let files = self
            .state
            .borrow()
            .engine
            .metainfo()
            .map(|m| m.info.files().len());
        match files {
            None => Err(Failure::new(
                ErrorCode::InvalidOption,
                "the file list is not known yet (wait for `metadata`)",
            )),
            Some(n) if index as usize >= n => Err(Failure::new(
                ErrorCode::InvalidOption,
                format!("no file {index}: the torrent has {n}"),
            )),
            Some(_) => {
                self.push(Work::SelectFile(index, wanted));
                Ok(())
            }
        }
    }

    /// Per file: whether it is selected (empty before the metadata).
    pub fn files_wanted(&self) -> Vec<bool> {
        self.state.borrow().engine.files_wanted().to_vec()
    }

    /// Per file: verified bytes (empty before the metadata).
    pub fn file_progress(&self) -> Vec<u64> {
        self.state.borrow().engine.file_progress()
    }

    /// Whether the torrent is kept in the library across reloads.
    pub fn is_kept(&self) -> bool {
        self.state.borrow().entry.is_some()
    }

    /// Bytes of pieces this torrent holds in OPFS.
    pub fn bytes_stored(&self) -> u64 {
        self.state.borrow().engine.store().bytes_stored()
    }

    /// Stops the torrent with `ERR_STORAGE_QUOTA` if `needed` more bytes do not fit in the
    /// site's quota (a magnet's size is known only now): early, not when the disk is full.
    fn check_quota(&self, needed: u64) {
        let me = self.me.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(f) = crate::library::check_quota(needed).await {
                if let Some(d) = me.upgrade() {
                    // Nothing is stored yet: the magnet's entry goes.
                    d.push(Work::Fail(f, Leave::Delete));
                }
            }
        });
    }

    /// Writes the library record: the magnet link and the selection.
    fn save_record(&self, s: &State) {
        if let Some(e) = &s.entry {
            e.save_record(&Record {
                magnet: self.magnet_of(s),
                selection: s.engine.selection(),
            });
        }
    }

    /// Writes the `.torrent` file to the library, once the metadata is known.
    fn save_torrent_file(&self, s: &State) {
        if let (Some(e), Some(m)) = (&s.entry, s.engine.metainfo()) {
            e.save_torrent(m.to_bytes());
        }
    }

    /// True once destroyed.
    pub fn is_destroyed(&self) -> bool {
        self.destroyed.get()
    }

    /// Resolves when every piece is verified (at once for a seed or a finished download).
    pub fn done(&self) -> impl std::future::Future<Output = Result<(), Failure>> + 'static {
        let rx = {
            let mut s = self.state.borrow_mut();
            if let Some(reason) = &s.ended {
                Err(reason.clone())
            } else if s.engine.is_complete() {
                Ok(None)
            } else {
                let (tx, rx) = oneshot::channel();
                s.done_waiters.push(tx);
                Ok(Some(rx))
            }
        };
        async move {
            match rx? {
                None => Ok(()),
                Some(rx) => rx.await.unwrap_or_else(|_| Err(dropped())),
            }
        }
    }

    /// The bytes `range` of the content (`None`: all of it) as a `Blob`, after `done`
    /// (`ERR_STORAGE` if a piece of the range is not stored: a deselected file).
    pub fn content_blob(
        &self,
        range: Option<std::ops::Range<u64>>,
    ) -> impl std::future::Future<Output = Result<web_sys::Blob, Failure>> + 'static {
        let done = self.done();
        let me = self.me.clone();
        async move {
            done.await?;
            let blob = {
                let d = me.upgrade().ok_or_else(dropped)?;
                let s = d.state.borrow();
                let total = s.engine.metainfo().map_or(0, |m| m.info.total_length());
                s.engine.store().content_blob(range.unwrap_or(0..total))
            };
            blob.await.map_err(|e| match e {
                tabswarm_core::store::StoreError::Missing { piece } => Failure::new(
                    ErrorCode::Storage,
                    format!("piece {piece} was not downloaded (its file is deselected)"),
                ),
                e => Failure::new(ErrorCode::Storage, e.to_string()),
            })
        }
    }

    /// The torrent's metainfo, once known.
    pub fn metainfo(&self) -> Option<Metainfo> {
        self.state.borrow().engine.metainfo().cloned()
    }

    /// The info hash, 40 hex digits.
    pub fn info_hash_hex(&self) -> String {
        self.state.borrow().engine.info_hash().to_hex()
    }

    /// A magnet link with the name (once known) and our trackers.
    pub fn magnet_uri(&self) -> String {
        self.magnet_of(&self.state.borrow())
    }

    fn magnet_of(&self, s: &State) -> String {
        let mut m = Magnet::new(s.engine.info_hash());
        m.name = s.engine.metainfo().map(|mi| mi.info.name().to_string());
        m.trackers = s.announce.clone();
        m.to_uri()
    }

    /// Every figure of the torrent now, without the peer list.
    pub fn stats(&self) -> Stats {
        self.state.borrow().engine.stats()
    }

    /// Every connection's figures.
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        self.state.borrow().engine.peer_stats()
    }

    /// Bytes queued in the data channel of `peer`.
    pub fn buffered(&self, peer: PeerKey) -> u32 {
        self.state
            .borrow()
            .conns
            .get(&peer.0)
            .map_or(0, |c| c.rtc.buffered_amount())
    }

    /// Per piece: 2 have, 1 in flight, 0 missing, 3 not wanted; and how many peers have it.
    pub fn piece_map(&self) -> (Vec<u8>, Vec<u32>) {
        self.state
            .borrow()
            .engine
            .piece_map()
            .into_iter()
            .map(|(st, avail)| {
                let code = match st {
                    PieceState::Have => 2,
                    PieceState::InFlight => 1,
                    PieceState::Missing => 0,
                    PieceState::Skipped => 3,
                };
                (code, avail)
            })
            .unzip()
    }

    /// Where the pieces are kept: memory, opfs, blob.
    pub fn storage_kind(&self) -> &'static str {
        self.state.borrow().engine.store().kind()
    }

    fn push(&self, work: Work) {
        self.queue.borrow_mut().push_back(work);
        self.pump();
    }

    /// Runs queued work until the queue is empty, then reports the bytes moved meanwhile
    /// (`download`, `upload`: one event each per batch); re-entrant calls only queue.
    fn pump(&self) {
        if self.running.replace(true) {
            return;
        }
        loop {
            while let Some(work) = self.queue.borrow_mut().pop_front() {
                let effects = self.step(work);
                for effect in effects {
                    self.run(effect);
                }
            }
            let effects = self.transfer_effects();
            if effects.is_empty() {
                break;
            }
            // A listener may queue more work: the loop picks it up.
            for effect in effects {
                self.run(effect);
            }
        }
        self.running.set(false);
    }

    /// `download` and `upload` events for the bytes moved since the last ones.
    fn transfer_effects(&self) -> Vec<Effect> {
        let s = self.state.borrow();
        if s.ended.is_some() {
            return Vec::new();
        }
        let c = s.engine.stats();
        let (down, up) = self.reported.replace((c.downloaded, c.uploaded));
        let mut fx = Vec::new();
        if c.downloaded > down {
            let bytes = js::u64_to_f64(c.downloaded - down);
            fx.push(Effect::Emit(TorrentEvent::Download, bytes.into()));
        }
        if c.uploaded > up {
            let bytes = js::u64_to_f64(c.uploaded - up);
            fx.push(Effect::Emit(TorrentEvent::Upload, bytes.into()));
        }
        fx
    }

    fn step(&self, work: Work) -> Vec<Effect> {
        let mut fx = Vec::new();
        let mut s = self.state.borrow_mut();
        if s.ended.is_some() {
            // Destroyed: drop whatever arrives (connections handed over late close here).
            if let Work::Handover(_, peer, ..) = work {
                fx.push(Effect::Drop(Box::new(peer)));
            }
            return fx;
        }
        let now = js::now();
        match work {
            Work::Rtc(id, ev) => self.on_rtc(&mut s, now, id, ev, &mut fx),
            Work::Handover(id, peer, remote, we_offered, _slot) => {
                if self.slots.is_banned(&remote) {
                    fx.push(Effect::Drop(Box::new(peer)));
                    return fx;
                }
                let twin = s
                    .conns
                    .iter()
                    .find(|(_, c)| c.remote == remote)
                    .map(|(&k, c)| (k, c.we_offered, c.open, c.who.is_some()));
                if let Some((old, old_we_offered, old_open, old_established)) = twin {
                    if !tabswarm_core::glare::keep_new(
                        &self.my_id,
                        &remote,
                        we_offered,
                        old_we_offered,
                        old_established,
                    ) {
                        fx.push(Effect::Drop(Box::new(peer)));
                        return fx;
                    }
                    self.drop_conn(&mut s, old, &mut fx);
                    if old_open {
                        s.engine
                            .handle_input(now, Input::Disconnected { peer: PeerKey(old) });
                    }
                }
                let timer = {
                    let me = self.me.clone();
                    Timer::once(CONNECT_TIMEOUT_MS, move || {
                        if let Some(d) = me.upgrade() {
                            d.push(Work::ConnectTimeout(id));
                        }
                    })
                };
                let open = peer.is_open();
                s.conns.insert(
                    id,
                    Conn {
                        rtc: peer,
                        remote,
                        we_offered,
                        open: false,
                        connect_timer: Some(timer),
                        who: None,
                    },
                );
                self.slots.connect(remote);
                if open {
                    self.on_rtc(&mut s, now, id, RtcEvent::Open, &mut fx);
                }
            }
            Work::ConnectTimeout(id) => {
                if s.conns.get(&id).is_some_and(|c| !c.open) {
                    self.drop_conn(&mut s, id, &mut fx);
                }
            }
            Work::Store(StoreNote::ReadReady) => s.engine.handle_input(now, Input::StoreReady),
            // A full disk stops the torrent (the estimate the early check trusts can be wrong):
            // what it stored stays listed, to resume once there is room.
            Work::Store(StoreNote::Failed(f)) if f.code == ErrorCode::StorageQuota => {
                if s.ended.is_none() {
                    fx.push(error_effect(f.clone()));
                    self.end(&mut s, f, Leave::Stay, &mut fx);
                }
                return fx;
            }
            Work::Store(StoreNote::Failed(f)) => fx.push(error_effect(f)),
            Work::Notice(n) => {
                let code = match n {
                    Notice::Swarm { .. } => {
                        if s.engine.num_peers() == 0 {
                            fx.push(Effect::Emit(TorrentEvent::NoPeers, "tracker".into()));
                        }
                        None
                    }
                    Notice::BadUrl { .. } => Some((TorrentEvent::Error, ErrorCode::TrackerBadUrl)),
                    Notice::Unreachable { .. } => {
                        Some((TorrentEvent::Error, ErrorCode::TrackerUnreachable))
                    }
                    Notice::Failure { .. } => {
                        Some((TorrentEvent::Error, ErrorCode::TrackerRefused))
                    }
                    Notice::Warning { .. } => {
                        Some((TorrentEvent::Warning, ErrorCode::TrackerWarning))
                    }
                    Notice::Malformed { .. } => {
                        Some((TorrentEvent::Warning, ErrorCode::TrackerMalformed))
                    }
                };
                if let Some((event, code)) = code {
                    let f = Failure::new(code, n.to_string());
                    fx.push(Effect::Emit(event, f.to_js()));
                }
            }
            Work::Warn(f) => fx.push(Effect::Emit(TorrentEvent::Warning, f.to_js())),
            Work::Ready => fx.push(Effect::Emit(TorrentEvent::Ready, JsValue::UNDEFINED)),
            Work::Timeout => s.engine.handle_input(now, Input::Timeout),
            Work::Limits(up, down) => s.engine.set_limits(up, down),
            Work::Select(selection) => {
                s.engine.select(selection);
                self.save_record(&s);
            }
            Work::SelectFile(index, wanted) => {
                // Checked by `select_file`; the metadata cannot go away.
                let _ = s.engine.set_file_wanted(index, wanted);
                self.save_record(&s);
            }
            Work::Destroy(leave) => {
                let ended = Failure::new(ErrorCode::Destroyed, "the torrent was destroyed");
                self.end(&mut s, ended, leave, &mut fx);
                return fx;
            }
            Work::Fail(f, leave) => {
                if s.ended.is_none() {
                    fx.push(error_effect(f.clone()));
                    self.end(&mut s, f, leave, &mut fx);
                }
                return fx;
            }
        }
        self.drain(&mut s, now, &mut fx);
        fx
    }

    fn on_rtc(&self, s: &mut State, now: Time, id: u64, ev: RtcEvent, fx: &mut Vec<Effect>) {
        let Some(conn) = s.conns.get_mut(&id) else {
            return;
        };
        let peer = PeerKey(id);
        match ev {
            RtcEvent::Open => {
                if !conn.open {
                    conn.open = true;
                    conn.connect_timer = None;
                    let input = if conn.we_offered {
                        Input::Connected { peer }
                    } else {
                        Input::Accepted { peer }
                    };
                    s.engine.handle_input(now, input);
                }
            }
            RtcEvent::Data(data) => {
                if conn.open {
                    s.engine
                        .handle_input(now, Input::Data { peer, data: &data });
                }
            }
            RtcEvent::Writable => {
                let buffered = u64::from(conn.rtc.buffered_amount());
                s.engine
                    .handle_input(now, Input::SendBuffer { peer, buffered });
            }
            RtcEvent::Closed { lost, .. } => {
                let was_open = conn.open;
                let established = conn.who.is_some();
                self.drop_conn(s, id, fx);
                if was_open {
                    s.engine.handle_input(now, Input::Disconnected { peer });
                }
                // The transport of a peer we swarmed with died (not a close by either side):
                // offer again soon, it may not announce for minutes.
                if lost && established {
                    fx.push(Effect::PeerLost);
                }
            }
        }
    }

    /// Drains the engine, sending on the way, until it only has a deadline left.
    fn drain(&self, s: &mut State, now: Time, fx: &mut Vec<Effect>) {
        let mut rounds = 0;
        let deadline = loop {
            // Bytes for each peer, merged into messages as large as its channel takes: the
            // engine hands out about 64 KiB at a time.
            let mut pending: Vec<(u64, Vec<u8>)> = Vec::new();
            let deadline = loop {
                match s.engine.poll_output(now) {
                    Output::Send { peer, data } => {
                        let max = s.conns.get(&peer.0).map_or(0, |c| c.rtc.max_message());
                        match pending.iter_mut().find(|(p, _)| *p == peer.0) {
                            Some((_, buf)) if buf.len() + data.len() <= max => {
                                buf.extend_from_slice(&data);
                            }
                            Some((_, buf)) => {
                                let full = std::mem::replace(buf, data);
                                self.send(s, peer.0, &full, fx);
                            }
                            None => pending.push((peer.0, data)),
                        }
                    }
                    Output::Disconnect { peer, reason } => {
                        self.drop_conn(s, peer.0, fx);
                        let f = Failure::new(
                            ErrorCode::PeerDropped,
                            format!("dropped a peer: {reason}"),
                        );
                        fx.push(Effect::Emit(TorrentEvent::Warning, f.to_js()));
                    }
                    Output::Event(e) => self.on_event(s, e, fx),
                    Output::Timeout(at) => break at,
                }
            };
            let mut sent_to: Vec<u64> = Vec::new();
            for (id, data) in pending {
                if self.send(s, id, &data, fx) {
                    sent_to.push(id);
                }
            }
            rounds += 1;
            if sent_to.is_empty() || rounds >= MAX_SEND_ROUNDS {
                break deadline;
            }
            // Tell the engine how full each channel really is: it may serve more.
            for id in sent_to {
                if let Some(c) = s.conns.get(&id) {
                    let buffered = u64::from(c.rtc.buffered_amount());
                    s.engine.handle_input(
                        now,
                        Input::SendBuffer {
                            peer: PeerKey(id),
                            buffered,
                        },
                    );
                }
            }
        };
        self.arm_timer(s, now, deadline);
    }

    /// Sends `data` on connection `id` in channel-sized messages; false if it failed (the
    /// connection is then dropped and the engine told).
    fn send(&self, s: &mut State, id: u64, data: &[u8], fx: &mut Vec<Effect>) -> bool {
        let Some(conn) = s.conns.get(&id) else {
            return false;
        };
        let ok = data
            .chunks(conn.rtc.max_message())
            .all(|chunk| conn.rtc.send(chunk).is_ok());
        if !ok {
            self.drop_conn(s, id, fx);
            s.engine
                .handle_input(js::now(), Input::Disconnected { peer: PeerKey(id) });
        }
        ok
    }

    fn on_event(&self, s: &mut State, e: Event, fx: &mut Vec<Effect>) {
        match e {
            Event::Metadata => {
                self.save_record(s);
                self.save_torrent_file(s);
                if s.entry.is_some() {
                    self.check_quota(s.engine.bytes_left().unwrap_or(0));
                }
                fx.push(Effect::Emit(TorrentEvent::Metadata, JsValue::UNDEFINED));
                fx.push(Effect::Emit(TorrentEvent::Ready, JsValue::UNDEFINED));
            }
            Event::PieceVerified { piece } => {
                fx.push(Effect::Emit(TorrentEvent::Piece, JsValue::from(piece)));
                let progress = s.engine.stats().progress();
                fx.push(Effect::Emit(TorrentEvent::Progress, progress.into()));
            }
            Event::HashFailed { piece } => fx.push(error_effect(Failure::new(
                ErrorCode::HashFailed,
                format!("piece {piece} failed its hash check; fetching it again"),
            ))),
            Event::PeerBanned { peer_id, .. } => {
                self.slots.ban(peer_id);
                fx.push(error_effect(Failure::new(
                    ErrorCode::PeerBanned,
                    format!(
                        "banned peer {peer_id} after {} hash failures",
                        tabswarm_core::engine::BAN_STRIKES
                    ),
                )));
            }
            Event::Done => {
                for tx in s.done_waiters.drain(..) {
                    let _ = tx.send(Ok(()));
                }
                fx.push(Effect::Completed);
                fx.push(Effect::Emit(TorrentEvent::Done, JsValue::UNDEFINED));
            }
            Event::PeerHandshake {
                peer,
                peer_id,
                client,
            } => {
                let who = PeerInfo {
                    id: peer_id.to_hex(),
                    client,
                };
                fx.push(Effect::Emit(TorrentEvent::Wire, who.to_js()));
                if let Some(c) = s.conns.get_mut(&peer.0) {
                    c.who = Some(who);
                }
            }
            Event::StoreFailed { error } => fx.push(error_effect(Failure::new(
                ErrorCode::Storage,
                format!("storage: {error}"),
            ))),
        }
    }

    /// Stops everything for good: `done()` rejects with `reason`, trackers hear `stopped`,
    /// connections close, the library entry is left as `leave` says.
    fn end(&self, s: &mut State, reason: Failure, leave: Leave, fx: &mut Vec<Effect>) {
        self.destroyed.set(true);
        s.ended = Some(reason.clone());
        for tx in s.done_waiters.drain(..) {
            let _ = tx.send(Err(reason.clone()));
        }
        for t in s.trackers.drain(..) {
            fx.push(Effect::Drop(Box::new(t)));
        }
        let ids: Vec<u64> = s.conns.keys().copied().collect();
        for id in ids {
            self.drop_conn(s, id, fx);
        }
        s.timer = None;
        s.engine.store_mut().destroy();
        if let Some(entry) = s.entry.take() {
            entry.close(leave);
        }
    }

    fn drop_conn(&self, s: &mut State, id: u64, fx: &mut Vec<Effect>) {
        if let Some(mut c) = s.conns.remove(&id) {
            self.slots.disconnect(&c.remote);
            if let Some(who) = c.who.take().filter(|_| s.ended.is_none()) {
                fx.push(Effect::Emit(TorrentEvent::PeerLeft, who.to_js()));
            }
            // Closing happens after the state is released.
            fx.push(Effect::Drop(Box::new(c)));
        }
    }

    fn arm_timer(&self, s: &mut State, now: Time, at: Time) {
        if at == Time::NEVER {
            s.timer = None;
            return;
        }
        if s.timer.as_ref().is_some_and(|(t, _)| *t == at) {
            return;
        }
        let wait = at.saturating_since(now);
        // Whole milliseconds, rounded up so the engine finds its deadline passed.
        let ms = u32::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u32::MAX);
        let me = self.me.clone();
        let timer = Timer::once(ms, move || {
            if let Some(d) = me.upgrade() {
                if let Ok(mut s) = d.state.try_borrow_mut() {
                    s.timer = None;
                }
                d.push(Work::Timeout);
            }
        });
        s.timer = Some((at, timer));
    }

    fn run(&self, effect: Effect) {
        match effect {
            Effect::Emit(event, arg) => {
                let fns: Vec<js_sys::Function> = {
                    let mut listeners = self.listeners.borrow_mut();
                    let fns = listeners
                        .iter()
                        .filter(|l| l.event == event)
                        .map(|l| l.f.clone())
                        .collect();
                    listeners.retain(|l| !(l.once && l.event == event));
                    fns
                };
                for f in fns {
                    if let Err(e) = f.call1(&JsValue::NULL, &arg) {
                        web_sys::console::error_2(
                            &format!("tabswarm: a '{}' listener threw", event.name()).into(),
                            &e,
                        );
                    }
                }
            }
            Effect::Drop(thing) => drop(thing),
            Effect::Completed => {
                let trackers = std::mem::take(&mut self.state.borrow_mut().trackers);
                for t in &trackers {
                    t.completed();
                }
                self.restore_trackers(trackers);
            }
            Effect::PeerLost => {
                let trackers = std::mem::take(&mut self.state.borrow_mut().trackers);
                for t in &trackers {
                    t.peer_lost();
                }
                self.restore_trackers(trackers);
            }
        }
    }

    fn restore_trackers(&self, trackers: Vec<TrackerClient>) {
        let mut s = self.state.borrow_mut();
        if s.ended.is_none() {
            s.trackers = trackers;
        }
    }

    /// Announce counters, computed now if the state is free, else the last ones.
    fn current_transfer(&self) -> Transfer {
        let Ok(s) = self.state.try_borrow() else {
            return self.transfer.get();
        };
        let c = s.engine.stats();
        let t = Transfer {
            uploaded: c.uploaded,
            downloaded: c.downloaded,
            left: s.engine.bytes_left(),
        };
        self.transfer.set(t);
        t
    }
}

impl Host for Driver {
    fn connection_sink(&self) -> (u64, EventSink) {
        let id = self.next_conn.get();
        self.next_conn.set(id + 1);
        let me = self.me.clone();
        (
            id,
            Rc::new(move |ev| {
                if let Some(d) = me.upgrade() {
                    d.push(Work::Rtc(id, ev));
                }
            }),
        )
    }

    fn connected(&self, id: u64, peer: RtcPeer, remote: PeerId, we_offered: bool, slot: Slot) {
        if self.destroyed.get() {
            drop(peer);
            return;
        }
        self.push(Work::Handover(id, peer, remote, we_offered, slot));
    }

    fn accept_offer_from(&self, remote: &PeerId) -> Option<Slot> {
        if self.destroyed.get() {
            return None;
        }
        self.slots.for_answer(remote)
    }

    fn offer_slots(&self, want: usize) -> Vec<Slot> {
        if self.destroyed.get() {
            return Vec::new();
        }
        self.slots.for_offers(want)
    }

    fn is_banned(&self, remote: &PeerId) -> bool {
        self.slots.is_banned(remote)
    }

    fn hungry(&self) -> bool {
        !self.destroyed.get()
            && self.slots.none_connected()
            && self.current_transfer().left != Some(0)
    }

    fn transfer(&self) -> Transfer {
        self.current_transfer()
    }

    fn notice(&self, notice: Notice) {
        self.push(Work::Notice(notice));
    }
}

/// The info hash a torrent is known by.
pub fn torrent_info_hash(t: &Torrent) -> tabswarm_core::ids::InfoHash {
    match t {
        Torrent::Seed(m) | Torrent::Download(m) | Torrent::Partial(m, _) => m.info_hash,
        Torrent::Magnet(h) => *h,
    }
}

fn error_effect(f: Failure) -> Effect {
    Effect::Emit(TorrentEvent::Error, f.to_js())
}

fn event_named(name: &str) -> Result<TorrentEvent, Failure> {
    TorrentEvent::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = TorrentEvent::ALL.iter().map(|e| e.name()).collect();
        Failure::new(
            ErrorCode::UnknownEvent,
            format!("unknown event {name:?}; known: {}", known.join(", ")),
        )
    })
}

fn dropped() -> Failure {
    Failure::new(ErrorCode::Destroyed, "the torrent was dropped")
}
