//! BEP 9 `ut_metadata`: fetching a magnet's info dict from peers, and serving ours.
//!
//! # Fetching
//! One fetch per announced `metadata_size` (of at most 10 MB), for at most
//! [`MAX_FETCHES`] sizes at once: the sizes offered by the most connected peers, so one peer
//! with a wrong or stale size cannot hold up the peers with the right one. A fetch whose size
//! no connected peer offers any more is dropped. Each 16 KiB piece is asked from one peer
//! that offers the fetch's size at a time; a piece unanswered for [`METADATA_TIMEOUT`] or
//! rejected is asked elsewhere, and a peer that rejected once is not asked again (until a new
//! extended handshake offers a size). When every piece is in, the SHA-1 of the whole must
//! equal the info hash and the bytes must parse as an info dict. If they do not and a single
//! peer sent every piece, that peer is struck and disconnected; if several did, nobody is
//! proven wrong, so the fetch starts over with one peer sending every piece.
//!
//! On success the engine sizes the store, builds the picker, applies a file selection given
//! before the metadata (so no deselected piece is ever requested), the bitfields and haves
//! that arrived early, sends every peer a new extended handshake that carries our
//! `metadata_size` (a peer that met us while we were both fetching can now fetch from us), and
//! emits `Event::Metadata`.
//!
//! # Serving
//! Requests are queued per peer (at most [`MAX_METADATA_QUEUE`]; more are dropped) and served
//! like blocks: while the peer's transport holds less than `max_send_buffer` and the upload
//! limiter allows. Offsets are computed in u64 and converted with `try_from`: a piece past
//! the end gets a `reject`, on 32-bit targets too.

#![warn(clippy::arithmetic_side_effects)]

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::peer::Peer;
use super::{Core, Deferred, DisconnectReason, Engine, Event, Output, PeerKey};
use crate::bitfield::Bitfield;
use crate::ids::InfoHash;
use crate::metainfo::Metainfo;
use crate::picker::Picker;
use crate::store::PieceStore;
use crate::time::Time;
use crate::wire::{metadata_pieces, UtMetadata, WireLimits, MAX_METADATA_SIZE, METADATA_PIECE_LEN};

/// `have` messages we keep from a peer before the metadata (a torrent whose info dict fits in
/// 10 MB has at most 500 000 pieces).
const MAX_EARLY_HAVES: usize = 500_000;
/// A metadata piece unanswered this long is asked from another peer.
pub(super) const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// Metadata sizes fetched at once.
pub(super) const MAX_FETCHES: usize = 3;
/// `ut_metadata` requests queued per peer.
pub(super) const MAX_METADATA_QUEUE: usize = 8;

/// The `ut_metadata` side of one connection: what it offers and asks of us, and what it
/// announced before we had the metadata. Only this module reads or changes it.
#[derive(Default)]
pub(super) struct PeerMetadata {
    /// Its id for `ut_metadata`, and the metadata size it announced.
    ut_metadata: Option<u8>,
    size: Option<u64>,
    /// It rejected a metadata request: do not ask it again.
    rejected: bool,
    /// Its `ut_metadata` requests, served like blocks (send buffer, upload limit).
    queue: VecDeque<u32>,
    /// A bitfield and haves received before the metadata.
    early_bitfield: Option<Vec<u8>>,
    early_haves: Vec<u32>,
}

impl PeerMetadata {
    /// Its extended handshake arrived (again).
    pub(super) fn on_handshake(&mut self, ut_metadata: Option<u8>, size: Option<u64>) {
        self.ut_metadata = ut_metadata;
        if size.is_some() && size != self.size {
            // A peer that rejected us before it had the metadata may have it now.
            self.rejected = false;
        }
        self.size = size;
    }

    /// A `have` before the metadata: kept, up to [`MAX_EARLY_HAVES`].
    pub(super) fn keep_early_have(&mut self, index: u32) -> Result<(), DisconnectReason> {
        if self.early_haves.len() >= MAX_EARLY_HAVES {
            return Err(DisconnectReason::TooManyHaves);
        }
        self.early_haves.push(index);
        Ok(())
    }

    /// A `bitfield` before the metadata: checked once the piece count is known.
    pub(super) fn keep_early_bitfield(&mut self, bits: Vec<u8>) {
        self.early_bitfield = Some(bits);
    }
}

/// A metadata download in progress, for one size.
struct MetaFetch {
    size: u64,
    pieces: Vec<Option<Vec<u8>>>,
    /// Who was asked for each piece, and when.
    asked: Vec<Option<(PeerKey, Time)>>,
    contributors: Vec<PeerKey>,
    /// After a failure with several contributors: every piece comes from one peer (whoever
    /// is asked first).
    single: bool,
}

impl MetaFetch {
    fn new(size: u64, single: bool) -> MetaFetch {
        let n = usize::try_from(metadata_pieces(size)).unwrap_or(0);
        MetaFetch {
            size,
            pieces: vec![None; n],
            asked: vec![None; n],
            contributors: Vec::new(),
            single,
        }
    }

    /// Bytes of metadata piece `piece`, or `None` past the end.
    fn piece_len(&self, piece: u32) -> Option<usize> {
        let start = u64::from(piece).checked_mul(u64::from(METADATA_PIECE_LEN))?;
        let left = self.size.checked_sub(start).filter(|&l| l > 0)?;
        usize::try_from(left.min(u64::from(METADATA_PIECE_LEN))).ok()
    }

    /// The one peer a single-source fetch may ask: whoever it got pieces from or asked.
    fn source(&self) -> Option<PeerKey> {
        self.contributors
            .first()
            .copied()
            .or_else(|| self.asked.iter().flatten().map(|&(k, _)| k).next())
    }

    /// Forgets what was asked of `peer`. A single-source fetch whose source left starts over.
    fn forget_peer(&mut self, peer: PeerKey) {
        for a in &mut self.asked {
            if a.is_some_and(|(k, _)| k == peer) {
                *a = None;
            }
        }
        if self.single && self.contributors.contains(&peer) {
            *self = MetaFetch::new(self.size, true);
        }
    }

    /// Forgets requests older than [`METADATA_TIMEOUT`]; true if any expired.
    fn expire(&mut self, now: Time) -> bool {
        let mut any = false;
        for (a, p) in self.asked.iter_mut().zip(&self.pieces) {
            if p.is_none() && a.is_some_and(|(_, t)| now.saturating_since(t) >= METADATA_TIMEOUT) {
                *a = None;
                any = true;
            }
        }
        any
    }
}

/// Every metadata download in progress (see "Fetching"): the engine tells it what peers
/// offer, send and reject, and it answers with what to ask and what came of it.
#[derive(Default)]
pub(super) struct Fetches {
    by_size: BTreeMap<u64, MetaFetch>,
}

/// What a metadata piece from a peer led to.
pub(super) enum Fetched {
    /// Nothing yet (more pieces to come, or the piece was not needed).
    Nothing,
    /// Every piece is in and the whole hashed to the info hash and parsed.
    Metadata(Box<Metainfo>),
    /// Every piece of the fetch of this size is in, but the whole was wrong: who sent it.
    Failed(u64, Vec<PeerKey>),
}

impl Fetches {
    /// `peer` left: forget what was asked of it.
    pub(super) fn forget_peer(&mut self, peer: PeerKey) {
        for fetch in self.by_size.values_mut() {
            fetch.forget_peer(peer);
        }
    }

    /// Forgets requests older than [`METADATA_TIMEOUT`]; true if any expired.
    pub(super) fn expire(&mut self, now: Time) -> bool {
        let mut expired = false;
        for f in self.by_size.values_mut() {
            expired |= f.expire(now);
        }
        expired
    }

    /// The metadata is in: nothing more to fetch.
    fn clear(&mut self) {
        self.by_size.clear();
    }

    /// `peer` rejected our request for `piece`.
    fn rejected(&mut self, peer: PeerKey, piece: u32) {
        let slot = usize::try_from(piece).ok();
        for f in self.by_size.values_mut() {
            if let Some(a) = slot.and_then(|i| f.asked.get_mut(i)) {
                if a.is_some_and(|(k, _)| k == peer) {
                    *a = None;
                }
            }
        }
    }

    /// The fetch of `size` failed with several contributors: it starts over, single-source.
    fn restart_single(&mut self, size: u64) {
        self.by_size.insert(size, MetaFetch::new(size, true));
    }

    /// Keeps one fetch for each of the [`MAX_FETCHES`] sizes most offered (`offers`: size to
    /// the number of peers offering it); among equals, sizes already being fetched, then the
    /// smaller.
    fn keep_offered(&mut self, offers: BTreeMap<u64, usize>) {
        let mut sizes: Vec<(usize, u64)> = offers.into_iter().map(|(s, n)| (n, s)).collect();
        sizes.sort_by_key(|&(n, s)| (std::cmp::Reverse(n), !self.by_size.contains_key(&s), s));
        sizes.truncate(MAX_FETCHES);
        self.by_size
            .retain(|s, _| sizes.iter().any(|&(_, k)| k == *s));
        for &(_, size) in &sizes {
            self.by_size
                .entry(size)
                .or_insert_with(|| MetaFetch::new(size, false));
        }
    }

    /// The pieces of the fetch of `size` to ask `peer` for now (nobody is asked for them and
    /// they are missing); they count as asked of it from `now`.
    fn ask(&mut self, peer: PeerKey, size: u64, now: Time) -> Vec<u32> {
        let Some(f) = self.by_size.get_mut(&size) else {
            return Vec::new();
        };
        if f.single && f.source().is_some_and(|s| s != peer) {
            return Vec::new();
        }
        let mut ask = Vec::new();
        for (i, (a, got)) in (0u32..).zip(f.asked.iter_mut().zip(&f.pieces)) {
            if a.is_none() && got.is_none() {
                *a = Some((peer, now));
                ask.push(i);
            }
        }
        ask
    }

    /// Metadata piece `piece` of the fetch of `total_size` arrived from `peer`. A piece that
    /// does not fit the size is an offence; one of a size not being fetched, one we have, or
    /// one from a peer other than a single-source fetch's source is dropped.
    fn received(
        &mut self,
        peer: PeerKey,
        piece: u32,
        total_size: u64,
        data: Vec<u8>,
        info_hash: InfoHash,
    ) -> Result<Fetched, DisconnectReason> {
        let Some(f) = self.by_size.get_mut(&total_size) else {
            return Ok(Fetched::Nothing);
        };
        let Some(len) = f.piece_len(piece) else {
            return Err(DisconnectReason::BadMetadata);
        };
        if data.len() != len {
            return Err(DisconnectReason::BadMetadata);
        }
        let single_other = f.single && f.source().is_some_and(|s| s != peer);
        let Some(slot) = usize::try_from(piece)
            .ok()
            .and_then(|i| f.pieces.get_mut(i))
        else {
            return Err(DisconnectReason::BadMetadata);
        };
        if slot.is_some() || single_other {
            return Ok(Fetched::Nothing);
        }
        *slot = Some(data);
        if !f.contributors.contains(&peer) {
            f.contributors.push(peer);
        }
        if f.pieces.iter().any(Option::is_none) {
            return Ok(Fetched::Nothing);
        }
        let Some(f) = self.by_size.remove(&total_size) else {
            return Ok(Fetched::Nothing);
        };
        let bytes: Vec<u8> = f.pieces.into_iter().flatten().flatten().collect();
        let parsed = (crate::sha1(&bytes) == info_hash.0)
            .then(|| Metainfo::from_info_bytes(bytes).ok())
            .flatten();
        Ok(match parsed {
            Some(m) => Fetched::Metadata(Box::new(m)),
            None => Fetched::Failed(total_size, f.contributors),
        })
    }
}

impl<S: PieceStore> Core<S> {
    /// A peer's extended handshake arrived: maybe it can give us the metadata.
    pub(super) fn on_metadata_offer(&mut self, p: &Peer) {
        if self.meta.is_none() && p.metadata.ut_metadata.is_some() {
            self.pending.push_back(Deferred::RequestMetadata);
        }
    }

    pub(super) fn on_ut_metadata(
        &mut self,
        p: &mut Peer,
        payload: &[u8],
    ) -> Result<(), DisconnectReason> {
        let msg = UtMetadata::decode(payload).map_err(|_| DisconnectReason::BadMetadata)?;
        match msg {
            None => {}
            Some(UtMetadata::Request { piece })
                if p.metadata.ut_metadata.is_some()
                    && p.metadata.queue.len() < MAX_METADATA_QUEUE =>
            {
                p.metadata.queue.push_back(piece);
                self.serve_metadata(p);
            }
            // Beyond the queue: dropped.
            Some(UtMetadata::Request { .. }) => {}
            Some(UtMetadata::Reject { piece }) => {
                p.metadata.rejected = true;
                self.fetches.rejected(p.key, piece);
                self.pending.push_back(Deferred::RequestMetadata);
            }
            Some(UtMetadata::Data {
                piece,
                total_size,
                data,
            }) => self.on_metadata_piece(p, piece, total_size, data)?,
        }
        Ok(())
    }

    /// Answers queued `ut_metadata` requests while the transport has room and the upload
    /// limiter allows.
    pub(super) fn serve_metadata(&mut self, p: &mut Peer) {
        let Some(their_id) = p.metadata.ut_metadata else {
            p.metadata.queue.clear();
            return;
        };
        while p.buffered < self.config.max_send_buffer {
            let Some(&piece) = p.metadata.queue.front() else {
                return;
            };
            let reply = self.metadata_reply(piece);
            let cost = match &reply {
                UtMetadata::Data { data, .. } => data.len() as u64,
                _ => 0,
            };
            let now = self.now;
            if let Some(bucket) = &mut self.up_bucket {
                let at = bucket.available_at(now, cost);
                if at > now {
                    self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
                    return;
                }
                bucket.take(now, cost);
            }
            p.metadata.queue.pop_front();
            self.emit(p, &reply.to_message(their_id));
        }
    }

    /// Our answer to a request for metadata piece `piece`.
    fn metadata_reply(&self, piece: u32) -> UtMetadata {
        let Some(m) = &self.meta else {
            return UtMetadata::Reject { piece };
        };
        let bytes = &m.info_bytes;
        let range = u64::from(piece)
            .checked_mul(u64::from(METADATA_PIECE_LEN))
            .and_then(|start| usize::try_from(start).ok())
            .filter(|&start| start < bytes.len())
            .map(|start| {
                start
                    ..start
                        .saturating_add(METADATA_PIECE_LEN as usize)
                        .min(bytes.len())
            });
        match range.and_then(|r| bytes.get(r)) {
            Some(data) => UtMetadata::Data {
                piece,
                total_size: bytes.len() as u64,
                data: data.to_vec(),
            },
            None => UtMetadata::Reject { piece },
        }
    }

    fn on_metadata_piece(
        &mut self,
        p: &mut Peer,
        piece: u32,
        total_size: u64,
        data: Vec<u8>,
    ) -> Result<(), DisconnectReason> {
        if self.meta.is_some() {
            return Ok(());
        }
        // Data must match the size this peer announced. A fetch for that size may not exist
        // (any more): then the piece is dropped.
        if p.metadata.size != Some(total_size) {
            return Err(DisconnectReason::BadMetadata);
        }
        match self
            .fetches
            .received(p.key, piece, total_size, data, self.info_hash)?
        {
            Fetched::Nothing => {}
            Fetched::Metadata(m) => self.pending.push_back(Deferred::Metadata(m)),
            Fetched::Failed(size, contributors) => self
                .pending
                .push_back(Deferred::MetadataFailed(size, contributors)),
        }
        Ok(())
    }
}

impl<S: PieceStore> Engine<S> {
    /// The fetch of `size` failed its hash: strike its only contributor, or start over with a
    /// single source.
    pub(super) fn metadata_failed(&mut self, size: u64, contributors: &[PeerKey]) {
        if let [key] = contributors[..] {
            let id = self.peers.get(&key).and_then(|p| p.peer_id);
            if let Some(id) = id {
                self.strike(key, id);
            }
            self.disconnect(key, DisconnectReason::BadMetadata);
        } else {
            self.core.fetches.restart_single(size);
        }
        self.request_metadata();
    }

    /// Keeps one fetch for each of the sizes most connected peers offer, and asks capable
    /// peers for the pieces nobody is fetching.
    pub(super) fn request_metadata(&mut self) {
        let c = &mut self.core;
        if c.meta.is_some() {
            return;
        }
        let now = c.now;
        let mut offers: BTreeMap<u64, usize> = BTreeMap::new();
        for p in self.peers.values() {
            if let (Some(_), Some(size)) = (p.metadata.ut_metadata, p.metadata.size) {
                if size > 0 && size <= MAX_METADATA_SIZE {
                    let n = offers.entry(size).or_insert(0);
                    *n = n.saturating_add(1);
                }
            }
        }
        c.fetches.keep_offered(offers);
        for p in self.peers.values_mut() {
            let (Some(their_id), Some(size)) = (p.metadata.ut_metadata, p.metadata.size) else {
                continue;
            };
            if p.metadata.rejected {
                continue;
            }
            for piece in c.fetches.ask(p.key, size, now) {
                c.emit(p, &UtMetadata::Request { piece }.to_message(their_id));
            }
        }
    }

    /// The metadata is verified: size the store, build the picker, apply early bitfields.
    pub(super) fn install_metadata(&mut self, m: Metainfo) {
        let lengths = m.info.lengths();
        let c = &mut self.core;
        if let Err(error) = c.store.set_lengths(lengths) {
            c.out.push_back(Output::Event(Event::StoreFailed { error }));
            return;
        }
        let n = lengths.num_pieces();
        c.have = Bitfield::new(n);
        c.picker = Some(Picker::new(
            lengths,
            &c.have,
            c.config.pick_mode,
            &mut c.rng,
        ));
        c.wanted.install(&m.info, &c.have);
        c.meta = Some(m);
        c.fetches.clear();
        c.out.push_back(Output::Event(Event::Metadata));
        // A selection given before the metadata, before anything is requested.
        self.apply_wanted();
        let c = &mut self.core;
        let mut bad = Vec::new();
        for p in self.peers.values_mut() {
            p.set_limits(WireLimits::for_pieces(n));
            p.has = Bitfield::new(n);
            if p.extended && p.peer_id.is_some() {
                c.send_ext_handshake(p);
            }
            let result = Self::apply_early(c, p);
            if let Err(reason) = result {
                bad.push((p.key, reason));
            }
        }
        for (key, reason) in bad {
            self.disconnect(key, reason);
        }
    }

    fn apply_early(c: &mut Core<S>, p: &mut Peer) -> Result<(), DisconnectReason> {
        let Some(picker) = &mut c.picker else {
            return Ok(());
        };
        let n = picker.lengths().num_pieces();
        if let Some(bits) = p.metadata.early_bitfield.take() {
            p.has = Bitfield::from_wire(&bits, n).map_err(DisconnectReason::BadBitfield)?;
        }
        for index in std::mem::take(&mut p.metadata.early_haves) {
            if index >= n {
                return Err(DisconnectReason::BadHave { index });
            }
            p.has.set(index);
        }
        picker.add_peer(&p.has);
        p.wanted_pieces = picker.count_wanted(&p.has);
        c.update_interest(p);
        Ok(())
    }
}
