//! The per-torrent engine: peers connect and disconnect, bytes arrive and leave, time passes.
//!
//! Sans-IO in str0m's shape. The driver (the browser crate, the simulator, a test) owns the
//! transports and the clock; the engine owns the protocol. A driver:
//! 1. feeds one [`Input`] with [`Engine::handle_input`] (a connection opened, bytes arrived, a
//!    connection closed, the transport's send buffer drained, the store finished a read, or
//!    the timer fired);
//! 2. **drains** [`Engine::poll_output`] until it returns [`Output::Timeout`], carrying out
//!    every `Send`, `Disconnect` and `Event` on the way;
//! 3. arms one timer for the returned instant and waits for the next input or the timer.
//!
//! Not draining fully before the next input is allowed but wasteful; the timeout is only
//! correct once everything before it was drained. A worked loop:
//!
//! ```no_run
//! use tabswarm_core::engine::{Config, DisconnectReason, Engine, Event, Input, Output, Torrent};
//! use tabswarm_core::ids::{InfoHash, PeerId, PeerKey};
//! use tabswarm_core::store::MemoryStore;
//! use tabswarm_core::time::Time;
//!
//! /// What the transport reports.
//! enum Io {
//!     Opened(PeerKey),
//!     Bytes(PeerKey, Vec<u8>),
//!     Drained(PeerKey, u64),
//!     Closed(PeerKey),
//! }
//!
//! /// A stub; a real one wraps data channels (or sockets) and a clock.
//! struct Transport;
//! impl Transport {
//!     fn now(&self) -> Time { Time::ZERO }
//!     fn send(&mut self, _peer: PeerKey, _data: Vec<u8>) {}
//!     fn close(&mut self, _peer: PeerKey, _reason: DisconnectReason) {}
//!     /// The next I/O, or `None` once `deadline` passed.
//!     fn wait_until(&mut self, _deadline: Time) -> Option<Io> { None }
//! }
//!
//! fn show(_event: Event) {}
//!
//! let config = Config::new(PeerId(*b"-TS0100-000000000000"), 7);
//! let torrent = Torrent::Magnet(InfoHash([0xab; 20]));
//! let mut engine = Engine::new(config, torrent, MemoryStore::new()).unwrap();
//! let mut transport = Transport;
//! let mut io = Some(Io::Opened(PeerKey(1)));
//! loop {
//!     let now = transport.now();
//!     match io.take() {
//!         Some(Io::Opened(peer)) => engine.handle_input(now, Input::Connected { peer }),
//!         Some(Io::Bytes(peer, data)) => engine.handle_input(now, Input::Data { peer, data: &data }),
//!         Some(Io::Drained(peer, buffered)) => {
//!             engine.handle_input(now, Input::SendBuffer { peer, buffered })
//!         }
//!         Some(Io::Closed(peer)) => engine.handle_input(now, Input::Disconnected { peer }),
//!         None => engine.handle_input(now, Input::Timeout),
//!     }
//!     // Drain: everything up to the next deadline.
//!     let deadline = loop {
//!         match engine.poll_output(transport.now()) {
//!             Output::Send { peer, data } => transport.send(peer, data),
//!             Output::Disconnect { peer, reason } => transport.close(peer, reason),
//!             Output::Event(event) => show(event),
//!             Output::Timeout(at) => break at,
//!         }
//!     };
//!     io = transport.wait_until(deadline);
//! }
//! ```
//!
//! # Connections
//! WebTorrent sends its BEP 3 handshake as soon as a data channel opens, on both sides. We do
//! so on the side that made the offer ([`Input::Connected`]); on the side that answered
//! ([`Input::Accepted`]) we wait for the peer's handshake and send ours right before our reply
//! to it, as a TCP peer does for an incoming connection. Every known client sends first when it
//! made the offer, and libtorrent 2.1 (libdatachannel) can lose a message that reaches it just
//! as its channel opens, before it reads: a handshake sent at once by the answering side was lost
//! that way about once in 40 connections (bench/results/NOTES.md, "libtorrent loses the
//! first message"). When the peer's handshake arrives (right info hash, not our own or a banned
//! or duplicate peer id) we send our BEP 10 extended handshake (`m: {ut_metadata: 1}`,
//! `metadata_size` once known, `reqq` = our pipeline depth, `v` = our client name) and then our
//! `bitfield` if we hold any piece (omitted otherwise, as BEP 3 allows). Anything malformed
//! from a peer ends in [`Output::Disconnect`] with a [`DisconnectReason`]; after that output the
//! engine has forgotten the peer (a later `Disconnected` for it is ignored).
//!
//! # Downloading
//! Requests come from the [`Picker`] (rarest first, partial pieces first, endgame) and are
//! pipelined per peer: the depth follows the peer's recent rate (about 1.5 s of data in flight,
//! at least 8 requests), capped by `config.pipeline_depth` and the peer's `reqq`. Every piece
//! is SHA-1 checked before we announce it with `have`; a failed piece is discarded and fetched
//! again, and a peer proven to have sent wrong data [`Config::ban_strikes`] times is
//! disconnected and its peer id banned. Requests a peer leaves unanswered for `request_timeout` are withdrawn and
//! picked again elsewhere; a choke withdraws them too (no BEP 6, so the peer dropped them).
//! Only blocks that answer our requests are kept (see `download`); a peer that keeps sending
//! others is disconnected. When several peers sent blocks of a failed piece, only those whose
//! blocks are proven wrong are struck (see `swarm`).
//!
//! # Resume and file selection
//! [`Torrent::Partial`] starts from the pieces the store already holds (verified in an
//! earlier session): the picker, `have`, our `bitfield` and the byte counts start from them.
//! [`Engine::select`] and [`Engine::set_file_wanted`] choose files (see `wanted`): a piece is
//! wanted iff it overlaps a selected file, and only wanted pieces are picked and make a peer
//! interesting. A selection given before a magnet's metadata is applied when the metadata is
//! verified, before the first request. "Complete", [`Event::Done`], [`Engine::bytes_left`]
//! (the tracker's `left`) and [`Stats::wanted`] are about the wanted pieces;
//! [`Stats::progress`] stays over the whole torrent.
//!
//! # Uploading
//! Requests from a peer we unchoked are served in order, as long as the peer's transport holds
//! less than `config.max_send_buffer` bytes (the driver reports the real figure with
//! [`Input::SendBuffer`]) and the upload token bucket allows; requests while choked are
//! ignored (BEP 3, no fast extension). The [`Choker`] decides who is unchoked.
//!
//! # Timers
//! One deadline: the earliest of the next rechoke, the next housekeeping tick (every second:
//! keep-alives after `keepalive_interval` of silence from us, dropping peers silent for
//! `idle_timeout`, request and metadata timeouts) and the moment a rate limiter has tokens
//! again.

mod download;
#[cfg(test)]
mod hostile_tests;
mod metadata;
mod peer;
mod superseed;
mod swarm;
#[cfg(test)]
mod tests;
mod upload;
mod wanted;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

use crate::bitfield::{Bitfield, BitfieldError};
use crate::choker::{Choker, ChokerConfig};
use crate::ids::PeerId;
pub use crate::ids::PeerKey;
use crate::lengths::{BlockInfo, Lengths, PieceIndex};
use crate::metainfo::{InfoHash, Metainfo};
use crate::picker::{PickMode, Picker, PieceState};
use crate::rate::{RateEstimator, TokenBucket};
use crate::rng::Rng;
use crate::selection::Selection;
use crate::store::{MemoryStore, PieceStore, StoreError};
use crate::time::Time;
use crate::wire::WireError;

use metadata::Fetches;
use peer::Peer;
use superseed::SuperSeed;
use swarm::PeerIds;
use wanted::Wanted;

/// The default of [`Config::ban_strikes`].
pub const BAN_STRIKES: u32 = 3;
/// Sends are cut at about this size (Chrome's data channels take up to 256 KiB per message).
pub const SEND_CHUNK: usize = 64 * 1024;

/// Engine settings. [`Config::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our peer id (the caller makes it, e.g. `-TS0100-` + 12 random characters).
    pub peer_id: PeerId,
    /// Seed of every random choice the engine makes (tie-breaks, optimistic unchokes).
    pub seed: u64,
    /// `v` in our extended handshake.
    pub client: String,
    /// Most requests we keep outstanding at one peer, and the `reqq` we advertise (how many
    /// of its requests we queue).
    pub pipeline_depth: u32,
    pub unchoke_slots: u32,
    pub rechoke_interval: Duration,
    pub optimistic_interval: Duration,
    pub snub_timeout: Duration,
    /// Window of the rate estimates the choker ranks by.
    pub rate_window: Duration,
    /// Requests unanswered this long (no block from the peer at all) are withdrawn.
    pub request_timeout: Duration,
    /// We send a keep-alive after this long without sending anything.
    pub keepalive_interval: Duration,
    /// A peer that sent nothing for this long is dropped.
    pub idle_timeout: Duration,
    /// A peer whose handshake has not arrived after this long is dropped.
    pub handshake_timeout: Duration,
    /// Uploads to a peer pause while its transport holds this many bytes.
    pub max_send_buffer: u64,
    /// Bytes/s caps (token buckets); `None` is unlimited. An upload cap of zero means we never
    /// unchoke anyone (a free rider, in the simulator).
    pub upload_limit: Option<u64>,
    pub download_limit: Option<u64>,
    /// Rarest-first, or random for comparisons.
    pub pick_mode: PickMode,
    /// Record picker and choker decisions for [`Engine::take_trace`].
    pub trace: bool,
    /// As the initial seed, reveal pieces a few at a time (BEP 16 super-seeding) so that each
    /// piece leaves us once before any leaves twice; see the `superseed` module.
    pub super_seeding: bool,
    /// A peer proven to have sent wrong data this many times (blocks of failed pieces, or
    /// metadata that failed the info hash) is disconnected and its peer id banned for the
    /// engine's life.
    pub ban_strikes: u32,
}

impl Config {
    /// Defaults: pipeline 250, 4 unchoke slots, rechoke 10 s, optimistic 30 s, snub 60 s,
    /// rate window 20 s, request timeout 30 s, keep-alive 55 s, idle 150 s, handshake 25 s,
    /// send buffer 1 MiB, no limits, rarest-first.
    pub fn new(peer_id: PeerId, seed: u64) -> Config {
        let choker = ChokerConfig::default();
        Config {
            peer_id,
            seed,
            client: concat!("tabswarm ", env!("CARGO_PKG_VERSION")).to_string(),
            pipeline_depth: 250,
            unchoke_slots: choker.unchoke_slots,
            rechoke_interval: choker.rechoke_interval,
            optimistic_interval: choker.optimistic_interval,
            snub_timeout: choker.snub_timeout,
            rate_window: Duration::from_secs(20),
            request_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(55),
            idle_timeout: Duration::from_secs(150),
            handshake_timeout: Duration::from_secs(25),
            max_send_buffer: 1 << 20,
            upload_limit: None,
            download_limit: None,
            pick_mode: PickMode::RarestFirst,
            trace: false,
            super_seeding: false,
            ban_strikes: BAN_STRIKES,
        }
    }
}

/// What the engine works on.
#[derive(Debug, Clone)]
pub enum Torrent {
    /// We hold every piece (the store has the content).
    Seed(Metainfo),
    /// Full metainfo, nothing downloaded yet.
    Download(Metainfo),
    /// Full metainfo and the pieces the store already holds, verified earlier (e.g. read back
    /// after a page reload): the download resumes from them. The bitfield must have one bit
    /// per piece ([`EngineError::HaveLength`] otherwise). With every piece it behaves as a
    /// seed that started from a download (no super-seeding, no [`Event::Done`] at start).
    Partial(Metainfo, Bitfield),
    /// Only the info hash: the metadata comes from peers over `ut_metadata`.
    Magnet(InfoHash),
}

/// Something happened on a connection or the clock.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A transport to a peer opened (data channel open) that we started (our offer was
    /// answered): we send our handshake at once.
    Connected { peer: PeerKey },
    /// A transport to a peer opened that the peer started (we answered its offer): we send our
    /// handshake once the peer's has arrived, as BEP 3's receiving side does (see
    /// "Connections" above).
    Accepted { peer: PeerKey },
    /// Bytes from a peer, in any slicing.
    Data { peer: PeerKey, data: &'a [u8] },
    /// The transport closed.
    Disconnected { peer: PeerKey },
    /// The transport now holds `buffered` bytes not yet sent (`bufferedAmount`).
    SendBuffer { peer: PeerKey, buffered: u64 },
    /// The store can serve reads it answered `Pending` to.
    StoreReady,
    /// The deadline of the last [`Output::Timeout`] passed.
    Timeout,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Bytes for a peer's transport, in order.
    Send {
        peer: PeerKey,
        data: Vec<u8>,
    },
    /// Close this connection; the engine has already forgotten it.
    Disconnect {
        peer: PeerKey,
        reason: DisconnectReason,
    },
    Event(Event),
    /// Nothing more to do before this instant: call `handle_input(Input::Timeout)` then.
    Timeout(Time),
}

/// Things the page may want to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A magnet's metadata arrived and matched the info hash ([`Engine::metainfo`]).
    Metadata,
    PieceVerified {
        piece: u32,
    },
    /// A piece failed its SHA-1 check and will be fetched again.
    HashFailed {
        piece: u32,
    },
    PeerBanned {
        peer: PeerKey,
        peer_id: PeerId,
    },
    /// Every wanted piece verified (see [`Engine::select`]); not emitted at start when every
    /// wanted piece is already held (a seed, a complete `Partial`, or a selection given
    /// before the first input that only names held pieces). Selecting more files afterwards
    /// makes the torrent incomplete again, and `Done` fires again when that completes.
    Done,
    /// A peer completed its handshakes; `client` is its extended handshake's `v`, or a name
    /// derived from its peer id.
    PeerHandshake {
        peer: PeerKey,
        peer_id: PeerId,
        client: Option<String>,
    },
    /// The store failed; the piece involved (if any) is treated as missing.
    StoreFailed {
        error: StoreError,
    },
}

/// Why we dropped a peer. Each variant names the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The byte stream broke the wire format ([`WireError`]).
    Protocol(WireError),
    /// Its handshake names another torrent.
    InfoHashMismatch,
    /// It is us (our own peer id came back).
    OwnPeerId,
    /// Another connection already has this peer id.
    DuplicatePeerId,
    /// The peer id is banned for sending bad data ([`Config::ban_strikes`]).
    Banned,
    /// It kept sending `piece` messages we never asked for.
    UnrequestedBlock,
    /// Its `bitfield` has the wrong length or spare bits set.
    BadBitfield(BitfieldError),
    /// A `have` for a piece the torrent does not have.
    BadHave { index: u32 },
    /// A `request`, `piece` or `cancel` outside the torrent, or longer than 16 KiB.
    BadBlock { index: u32, begin: u32, len: u32 },
    /// A `ut_metadata` message we cannot accept (wrong size, bad piece, or metadata that did
    /// not hash to the info hash).
    BadMetadata,
    /// More `have` messages before the metadata than the torrent can have pieces.
    TooManyHaves,
    /// No handshake within `handshake_timeout`.
    HandshakeTimeout,
    /// Nothing received for `idle_timeout`.
    Idle,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Protocol(e) => write!(f, "protocol error: {e}"),
            DisconnectReason::InfoHashMismatch => f.write_str("wrong info hash"),
            DisconnectReason::OwnPeerId => f.write_str("connected to ourselves"),
            DisconnectReason::DuplicatePeerId => f.write_str("duplicate peer id"),
            DisconnectReason::Banned => f.write_str("banned peer"),
            DisconnectReason::UnrequestedBlock => f.write_str("sent blocks we did not request"),
            DisconnectReason::BadBitfield(e) => write!(f, "bad bitfield: {e}"),
            DisconnectReason::BadHave { index } => write!(f, "have for unknown piece {index}"),
            DisconnectReason::BadBlock { index, begin, len } => {
                write!(f, "invalid block {index}:{begin}+{len}")
            }
            DisconnectReason::BadMetadata => f.write_str("bad ut_metadata"),
            DisconnectReason::TooManyHaves => f.write_str("too many haves"),
            DisconnectReason::HandshakeTimeout => f.write_str("handshake timeout"),
            DisconnectReason::Idle => f.write_str("idle"),
        }
    }
}

/// Why [`Engine::new`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The store refused the torrent's geometry.
    Store(StoreError),
    /// A [`Torrent::Partial`] bitfield with `got` bits for a torrent of `expected` pieces.
    HaveLength { expected: u32, got: u32 },
    /// A per-file call before the metadata is known.
    NoMetadata,
    /// No file with this index.
    NoSuchFile(u32),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Store(e) => e.fmt(f),
            EngineError::HaveLength { expected, got } => {
                write!(
                    f,
                    "have bitfield of {got} pieces for a torrent of {expected}"
                )
            }
            EngineError::NoMetadata => f.write_str("the metadata is not known yet"),
            EngineError::NoSuchFile(i) => write!(f, "no file {i} in the torrent"),
        }
    }
}

impl std::error::Error for EngineError {}

/// One recorded decision (with [`Config::trace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceEvent {
    Request {
        peer: PeerKey,
        piece: u32,
        begin: u32,
        duplicate: bool,
    },
    Choke(PeerKey),
    Unchoke(PeerKey),
}

/// Every figure of the torrent at one moment, except the per-peer ones ([`Engine::peer_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Bytes of the pieces held and verified (what `progress` is the fraction of).
    pub have: u64,
    /// Total bytes (0 before the metadata).
    pub length: u64,
    pub pieces_have: u32,
    /// Pieces in the torrent (0 before the metadata).
    pub pieces_total: u32,
    /// Every wanted piece is held (every piece, without a file selection).
    pub done: bool,
    /// Bytes of the pieces that overlap a selected file (`length` when every file is
    /// selected), and of those we have: the selection's own progress.
    pub wanted: u64,
    /// Bytes of the pieces counted in `wanted` that we have.
    pub wanted_have: u64,
    /// Verified bytes.
    pub downloaded: u64,
    /// Block bytes sent.
    pub uploaded: u64,
    /// Bytes received over the wire, everything included.
    pub received: u64,
    /// Block bytes received that we already had or never asked for.
    pub wasted: u64,
    /// Block bytes/s, over the rate window.
    pub download_rate: u64,
    pub upload_rate: u64,
    /// Open connections.
    pub num_peers: u32,
}

impl Stats {
    /// `have / length`, 0 to 1 (0 before the metadata).
    pub fn progress(&self) -> f64 {
        if self.length == 0 {
            0.0
        } else {
            self.have as f64 / self.length as f64
        }
    }

    /// `wanted_have / wanted`, 0 to 1: progress of the selected files (1 when nothing is
    /// wanted, 0 before the metadata).
    pub fn wanted_progress(&self) -> f64 {
        if self.length == 0 {
            0.0
        } else if self.wanted == 0 {
            1.0
        } else {
            self.wanted_have as f64 / self.wanted as f64
        }
    }

    /// Milliseconds to done (every wanted piece) at the current download rate: 0 when done,
    /// infinite without a rate.
    pub fn time_remaining_ms(&self) -> f64 {
        if self.done {
            0.0
        } else if self.download_rate == 0 {
            f64::INFINITY
        } else {
            self.wanted.saturating_sub(self.wanted_have) as f64 * 1000.0 / self.download_rate as f64
        }
    }
}

/// The byte counters the engine keeps; [`Stats`] adds what is derived.
#[derive(Debug, Clone, Copy, Default)]
struct ByteCounts {
    downloaded: u64,
    uploaded: u64,
    received: u64,
    wasted: u64,
}

/// One connection, for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStats {
    pub peer: PeerKey,
    pub peer_id: Option<PeerId>,
    pub client: Option<String>,
    pub download_rate: u64,
    pub upload_rate: u64,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    /// Pieces it has.
    pub pieces: u32,
    /// Our requests outstanding at it, and its requests queued at us.
    pub requests_out: u32,
    pub requests_in: u32,
}

/// The engine for one torrent; `S` is its piece store.
pub struct Engine<S: PieceStore = MemoryStore> {
    core: Core<S>,
    peers: BTreeMap<PeerKey, Peer>,
}

/// Everything but the peers, so a peer and the rest can be borrowed at once.
struct Core<S> {
    config: Config,
    info_hash: InfoHash,
    meta: Option<Metainfo>,
    /// Metadata downloads in progress, one per announced size.
    fetches: Fetches,
    picker: Option<Picker>,
    have: Bitfield,
    store: S,
    choker: Choker,
    rng: Rng,
    now: Time,
    started: bool,
    next_tick: Time,
    /// Set while a token bucket holds work back.
    wake_at: Option<Time>,
    up_bucket: Option<TokenBucket>,
    down_bucket: Option<TokenBucket>,
    out: VecDeque<Output>,
    /// Peers whose outgoing buffer holds bytes not yet handed out.
    dirty: Vec<PeerKey>,
    /// Work that touches other peers, queued by per-peer handlers.
    pending: VecDeque<Deferred>,
    buffers: BTreeMap<u32, PieceBuf>,
    /// Connected, paroled, struck and banned peer ids (see `swarm`).
    ids: PeerIds,
    /// Who sent each block of failed pieces, with the block's hash, per failed attempt: when
    /// the piece passes, the senders of blocks that differ from the good ones are proven bad.
    suspects: BTreeMap<u32, Vec<Vec<Option<Blame>>>>,
    /// Bytes of the pieces in `have`.
    have_bytes: u64,
    /// Which files, hence pieces, we want (see `wanted`).
    wanted: Wanted,
    /// What `downloaded`, `uploaded`, `received` and `wasted` count (see [`Stats`]).
    bytes: ByteCounts,
    down_rate: RateEstimator,
    up_rate: RateEstimator,
    done: bool,
    trace: Vec<TraceEvent>,
    /// Initial-seeding state while that mode lasts.
    super_seed: Option<SuperSeed>,
}

/// Blocks of one piece being assembled; allocated at the piece's first request.
struct PieceBuf {
    data: Vec<u8>,
    /// Per block: the connection and peer id that sent it.
    from: Vec<Option<(PeerKey, PeerId)>>,
}

impl PieceBuf {
    fn new(lengths: Lengths, piece: PieceIndex) -> PieceBuf {
        PieceBuf {
            data: vec![0; lengths.piece_len(piece) as usize],
            from: vec![None; lengths.blocks_in_piece(piece) as usize],
        }
    }
}

/// One block of a failed piece: who sent it, and its SHA-1.
#[derive(Clone, Copy)]
struct Blame {
    peer: PeerKey,
    peer_id: PeerId,
    hash: crate::Sha1Digest,
}

/// Cross-peer work queued by a per-peer handler.
enum Deferred {
    /// All blocks of a piece arrived: verify it.
    Complete(PieceIndex),
    /// Cancel `block` at every peer but `except` (endgame).
    CancelOthers(BlockInfo, PeerKey),
    /// Lost interest (still connected).
    NotInterested(PeerKey),
    Disconnect(PeerKey, DisconnectReason),
    /// The metadata arrived and hashed right.
    Metadata(Box<Metainfo>),
    /// The metadata fetch of this size, from these peers, failed its hash.
    MetadataFailed(u64, Vec<PeerKey>),
    /// Try to fetch metadata pieces from every capable peer.
    RequestMetadata,
    /// Requests went back to the picker: let every peer top up its pipeline.
    RefillAll,
    /// This peer's pipeline ran dry with nothing to pick: take over blocks queued elsewhere.
    Steal(PeerKey),
    /// Initial seeding: a piece this peer finished was seen elsewhere; show it more.
    Reveal(PeerKey),
    /// Initial seeding: this peer finished a reveal nobody else has yet; if nobody else
    /// downloads from us, holding its quota back would only idle the seed.
    HoldBack(PeerKey),
}

impl<S: PieceStore> Engine<S> {
    /// An engine for `torrent` over `store`. For a seed the store must already hold every
    /// piece, for a partial download the pieces it names; for a download or magnet it starts
    /// empty.
    pub fn new(config: Config, torrent: Torrent, mut store: S) -> Result<Engine<S>, EngineError> {
        let mut rng = Rng::new(config.seed);
        let (info_hash, meta, seeding, given) = match torrent {
            Torrent::Seed(m) => (m.info_hash, Some(m), true, None),
            Torrent::Download(m) => (m.info_hash, Some(m), false, None),
            Torrent::Partial(m, have) => (m.info_hash, Some(m), false, Some(have)),
            Torrent::Magnet(h) => (h, None, false, None),
        };
        let (picker, have) = match &meta {
            Some(m) => {
                let lengths = m.info.lengths();
                let n = lengths.num_pieces();
                let have = match given {
                    Some(have) if have.len() != n => {
                        return Err(EngineError::HaveLength {
                            expected: n,
                            got: have.len(),
                        });
                    }
                    Some(have) => have,
                    None if seeding => Bitfield::full(n),
                    None => Bitfield::new(n),
                };
                store.set_lengths(lengths).map_err(EngineError::Store)?;
                let picker = Picker::new(lengths, &have, config.pick_mode, &mut rng);
                (Some(picker), have)
            }
            None => (None, Bitfield::new(0)),
        };
        let mut wanted = Wanted::new();
        let mut have_bytes = 0;
        if let Some(m) = &meta {
            wanted.install(&m.info, &have);
            have_bytes = wanted::bytes_of(m.info.lengths(), have.iter_ones());
        }
        let done = picker.as_ref().is_some_and(Picker::is_complete);
        let super_seed = match &meta {
            Some(m) if seeding && config.super_seeding => {
                Some(SuperSeed::new(have.len(), m.info.piece_length(), &mut rng))
            }
            _ => None,
        };
        let choker = Choker::new(choker_config(&config), Time::ZERO);
        let window = config.rate_window;
        Ok(Engine {
            core: Core {
                info_hash,
                meta,
                fetches: Fetches::default(),
                picker,
                have,
                store,
                choker,
                rng,
                now: Time::ZERO,
                started: false,
                next_tick: Time::ZERO,
                wake_at: None,
                up_bucket: None,
                down_bucket: None,
                out: VecDeque::new(),
                dirty: Vec::new(),
                pending: VecDeque::new(),
                buffers: BTreeMap::new(),
                ids: PeerIds::default(),
                suspects: BTreeMap::new(),
                have_bytes,
                wanted,
                bytes: ByteCounts::default(),
                down_rate: RateEstimator::new(window, Time::ZERO),
                up_rate: RateEstimator::new(window, Time::ZERO),
                done,
                trace: Vec::new(),
                super_seed,
                config,
            },
            peers: BTreeMap::new(),
        })
    }

    /// Feeds one input; then drain [`poll_output`](Self::poll_output).
    pub fn handle_input(&mut self, now: Time, input: Input<'_>) {
        self.advance(now);
        match input {
            Input::Connected { peer } => self.on_connected(peer, true),
            Input::Accepted { peer } => self.on_connected(peer, false),
            Input::Data { peer, data } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    self.core.on_data(p, data);
                }
            }
            Input::Disconnected { peer } => self.remove_peer(peer),
            Input::SendBuffer { peer, buffered } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.buffered = buffered;
                    self.core.serve(p);
                }
            }
            Input::StoreReady => {
                for p in self.peers.values_mut() {
                    if p.upload.unpark() {
                        self.core.serve(p);
                    }
                }
            }
            Input::Timeout => {}
        }
        self.run_deferred();
        self.run_timers();
    }

    /// The next thing to do; [`Output::Timeout`] when there is nothing until then.
    pub fn poll_output(&mut self, now: Time) -> Output {
        self.advance(now);
        loop {
            if let Some(o) = self.core.out.pop_front() {
                return o;
            }
            if !self.core.dirty.is_empty() {
                for key in std::mem::take(&mut self.core.dirty) {
                    if let Some(p) = self.peers.get_mut(&key) {
                        p.dirty = false;
                        if !p.out.is_empty() {
                            let data = std::mem::take(&mut p.out);
                            self.core.out.push_back(Output::Send { peer: key, data });
                        }
                    }
                }
                continue;
            }
            let deadline = self.deadline();
            if deadline > self.core.now {
                return Output::Timeout(deadline);
            }
            self.run_timers();
            if self.core.out.is_empty() && self.core.dirty.is_empty() {
                return Output::Timeout(self.deadline());
            }
        }
    }

    /// Sets the upload and download caps in bytes/s (`None`: unlimited).
    pub fn set_limits(&mut self, upload: Option<u64>, download: Option<u64>) {
        let now = self.core.now;
        self.core.config.upload_limit = upload;
        self.core.config.download_limit = download;
        let bucket = |old: Option<TokenBucket>, rate: Option<u64>| {
            rate.map(|r| match old {
                Some(mut b) => {
                    b.set_rate(r, (r / 4).max(64 * 1024), now);
                    b
                }
                None => TokenBucket::with_rate(r, now),
            })
        };
        self.core.up_bucket = bucket(self.core.up_bucket.take(), upload);
        self.core.down_bucket = bucket(self.core.down_bucket.take(), download);
        self.core.wake_at = Some(now);
    }

    pub fn info_hash(&self) -> InfoHash {
        self.core.info_hash
    }

    /// The torrent's metainfo, once known.
    pub fn metainfo(&self) -> Option<&Metainfo> {
        self.core.meta.as_ref()
    }

    /// Our pieces (empty before the metadata).
    pub fn have(&self) -> &Bitfield {
        &self.core.have
    }

    /// Bytes of wanted pieces not yet verified (a tracker's `left`; without a file selection
    /// the total minus what we have); `None` before the metadata.
    pub fn bytes_left(&self) -> Option<u64> {
        self.core.meta.as_ref()?;
        let (wanted, have) = self.core.wanted.bytes();
        Some(wanted.saturating_sub(have))
    }

    /// Every wanted piece verified (every piece, without a file selection).
    pub fn is_complete(&self) -> bool {
        self.core.picker.as_ref().is_some_and(Picker::is_complete)
    }

    /// Chooses which files to download: a piece is wanted iff it overlaps a selected file.
    /// Before the metadata (a magnet, e.g. with BEP 53 `so=`) the selection is kept and
    /// applied when the metadata is verified, before any block is requested; indices past
    /// the last file are ignored. Pieces no longer wanted are not requested again (requests
    /// already sent may finish); peers hear `interested` / `not interested` as our want of
    /// their pieces changes. See [`Event::Done`] for completion.
    pub fn select(&mut self, selection: Selection) {
        self.core.wanted.set(selection);
        self.apply_wanted();
    }

    /// Selects or deselects one file (its index in [`Info::files`](crate::metainfo::Info)).
    /// Errors before the metadata (use [`Engine::select`] then) or for a file that does not
    /// exist.
    pub fn set_file_wanted(&mut self, file: u32, wanted: bool) -> Result<(), EngineError> {
        if self.core.meta.is_none() {
            return Err(EngineError::NoMetadata);
        }
        if !self.core.wanted.set_file(file, wanted) {
            return Err(EngineError::NoSuchFile(file));
        }
        self.apply_wanted();
        Ok(())
    }

    /// What is selected (for the page to show and persist): before the metadata the
    /// selection given, after it [`Selection::All`] or the selected files.
    pub fn selection(&self) -> Selection {
        self.core.wanted.selection()
    }

    /// Per file, whether it is selected (empty before the metadata).
    pub fn files_wanted(&self) -> &[bool] {
        self.core.wanted.files()
    }

    /// Verified bytes per file, from the pieces we have (empty before the metadata).
    /// O(files + pieces).
    pub fn file_progress(&self) -> Vec<u64> {
        match &self.core.meta {
            Some(m) => wanted::file_progress(&m.info, &self.core.have),
            None => Vec::new(),
        }
    }

    pub fn store(&self) -> &S {
        &self.core.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.core.store
    }

    pub fn num_peers(&self) -> usize {
        self.peers.len()
    }

    /// Every figure but the per-peer ones; cheap (no allocation).
    pub fn stats(&self) -> Stats {
        let c = &self.core;
        let (length, pieces_total) = c.meta.as_ref().map_or((0, 0), |m| {
            (m.info.total_length(), m.info.lengths().num_pieces())
        });
        Stats {
            have: c.have_bytes,
            length,
            pieces_have: c.have.count_ones(),
            pieces_total,
            done: self.is_complete(),
            wanted: c.wanted.bytes().0,
            wanted_have: c.wanted.bytes().1,
            downloaded: c.bytes.downloaded,
            uploaded: c.bytes.uploaded,
            received: c.bytes.received,
            wasted: c.bytes.wasted,
            download_rate: c.down_rate.rate(c.now),
            upload_rate: c.up_rate.rate(c.now),
            num_peers: u32::try_from(self.peers.len()).unwrap_or(u32::MAX),
        }
    }

    /// Every open connection's figures.
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        let now = self.core.now;
        self.peers.values().map(|p| p.stats(now)).collect()
    }

    /// State and availability of every piece, for a piece map (empty before the metadata).
    pub fn piece_map(&self) -> Vec<(PieceState, u32)> {
        let Some(picker) = &self.core.picker else {
            return Vec::new();
        };
        picker
            .lengths()
            .iter_pieces()
            .map(|p| (picker.state(p), picker.availability(p)))
            .collect()
    }

    /// Bytes held in piece buffers (blocks of pieces being assembled).
    pub fn piece_buffer_bytes(&self) -> u64 {
        self.core
            .buffers
            .values()
            .map(|b| b.data.len() as u64)
            .sum()
    }

    /// Checks the engine's trust-boundary invariants; for tests and fuzzing. Every piece
    /// buffer belongs to a piece the picker has in flight (so it was allocated for a request
    /// we sent), and every outstanding request lies inside the torrent.
    pub fn check_invariants(&self) -> Result<(), String> {
        let c = &self.core;
        let Some(picker) = &c.picker else {
            if c.buffers.is_empty() {
                return Ok(());
            }
            return Err("piece buffers before the metadata".into());
        };
        let lengths = picker.lengths();
        for &index in c.buffers.keys() {
            let piece = lengths
                .validate_piece(index)
                .ok_or_else(|| format!("buffer for piece {index} outside the torrent"))?;
            if picker.state(piece) != PieceState::InFlight {
                return Err(format!("buffer for piece {index}, which is not in flight"));
            }
        }
        for (&index, buf) in &c.buffers {
            let piece = lengths.validate_piece(index);
            if piece.is_some_and(|p| buf.data.len() != lengths.piece_len(p) as usize) {
                return Err(format!("buffer of piece {index} has the wrong size"));
            }
        }
        for p in self.peers.values() {
            for b in p.download.requests() {
                if lengths
                    .validate_block(b.piece.get(), b.begin, b.len)
                    .is_none()
                {
                    return Err(format!("request {b:?} outside the torrent"));
                }
            }
        }
        Ok(())
    }

    /// Decisions recorded since the last call (with [`Config::trace`]).
    pub fn take_trace(&mut self) -> Vec<TraceEvent> {
        std::mem::take(&mut self.core.trace)
    }

    // ---- inputs ----

    fn advance(&mut self, now: Time) {
        if now > self.core.now {
            self.core.now = now;
        }
        if !self.core.started {
            self.core.started = true;
            let now = self.core.now;
            self.core.choker = Choker::new(choker_config(&self.core.config), now);
            self.core.next_tick = now + TICK;
            self.core.down_rate = RateEstimator::new(self.core.config.rate_window, now);
            self.core.up_rate = RateEstimator::new(self.core.config.rate_window, now);
            let (up, down) = (
                self.core.config.upload_limit,
                self.core.config.download_limit,
            );
            self.set_limits(up, down);
        }
    }

    fn on_connected(&mut self, key: PeerKey, we_started: bool) {
        if self.peers.contains_key(&key) {
            return;
        }
        let mut p = Peer::new(key, &self.core);
        if we_started {
            self.core.send_handshake(&mut p);
        }
        self.peers.insert(key, p);
    }

    /// Forgets a peer: its pieces leave the availability counts, its requests go back to the
    /// picker, its choker slot is handed on.
    fn remove_peer(&mut self, key: PeerKey) {
        let Some(mut p) = self.peers.remove(&key) else {
            return;
        };
        self.core.withdraw_requests(&mut p);
        if let Some(id) = p.peer_id {
            self.core.ids.leave(id);
        }
        if let Some(picker) = &mut self.core.picker {
            picker.remove_peer(&p.has);
        }
        if let Some(ss) = &mut self.core.super_seed {
            ss.forget(key);
        }
        if self.core.meta.is_none() {
            self.core.fetches.forget_peer(key);
            self.core.pending.push_back(Deferred::RequestMetadata);
        }
        self.choke_round(|ch, now, seeding, cands, rng, out| {
            ch.on_leave(now, key, seeding, cands, rng, out);
        });
        // Blocks it held may now go to others.
        self.refill_all();
    }

    fn disconnect(&mut self, key: PeerKey, reason: DisconnectReason) {
        if self.peers.contains_key(&key) {
            self.core
                .out
                .push_back(Output::Disconnect { peer: key, reason });
            self.remove_peer(key);
        }
    }
}

impl<S: PieceStore> Core<S> {
    fn is_seeding(&self) -> bool {
        self.picker.as_ref().is_some_and(Picker::is_complete)
    }

    /// An upload limit of zero: we never unchoke anyone.
    fn uploads_disabled(&self) -> bool {
        self.config.upload_limit == Some(0)
    }

    fn record(&mut self, event: TraceEvent) {
        if self.config.trace {
            self.trace.push(event);
        }
    }
}

fn choker_config(c: &Config) -> ChokerConfig {
    ChokerConfig {
        unchoke_slots: c.unchoke_slots,
        rechoke_interval: c.rechoke_interval,
        optimistic_interval: c.optimistic_interval,
        snub_timeout: c.snub_timeout,
    }
}

/// Housekeeping period.
const TICK: Duration = Duration::from_secs(1);
