//! BEP 9 `ut_metadata`: fetching a magnet's info dict from peers, and serving ours.
//!
//! A fetch starts with the `metadata_size` of the first peer that offers one (an extended
//! handshake with `m.ut_metadata` and a size of at most 10 MB). Each 16 KiB piece is asked
//! from one peer at a time; a piece unanswered for [`METADATA_TIMEOUT`] or rejected is asked
//! elsewhere, and a peer that rejected once is not asked again. When every piece is in, the
//! SHA-1 of the whole must equal the info hash and the bytes must parse as an info dict;
//! otherwise the peers that contributed are disconnected and the fetch starts over. On
//! success the engine sizes the store, builds the picker, applies the bitfields and haves that
//! arrived early, sends every peer a new extended handshake that carries our `metadata_size`
//! (a peer that met us while we were both fetching can now fetch from us), and emits
//! `Event::Metadata`. A peer whose new handshake offers a size is asked again even if it
//! rejected us before.

use std::time::Duration;

use super::peer::Peer;
use super::{Core, Deferred, DisconnectReason, Engine, Event, Output, PeerKey};
use crate::bitfield::Bitfield;
use crate::metainfo::Metainfo;
use crate::picker::Picker;
use crate::store::PieceStore;
use crate::time::Time;
use crate::wire::{metadata_pieces, UtMetadata, WireLimits, MAX_METADATA_SIZE, METADATA_PIECE_LEN};

/// `have` messages we keep from a peer before the metadata (a torrent whose info dict fits in
/// 10 MB has at most 500 000 pieces).
pub(super) const MAX_EARLY_HAVES: usize = 500_000;
/// A metadata piece unanswered this long is asked from another peer.
pub(super) const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// A metadata download in progress.
pub(super) struct MetaFetch {
    size: u64,
    pieces: Vec<Option<Vec<u8>>>,
    /// Who was asked for each piece, and when.
    asked: Vec<Option<(PeerKey, Time)>>,
    contributors: Vec<PeerKey>,
}

impl MetaFetch {
    fn new(size: u64) -> MetaFetch {
        let n = usize::try_from(metadata_pieces(size)).unwrap_or(0);
        MetaFetch {
            size,
            pieces: vec![None; n],
            asked: vec![None; n],
            contributors: Vec::new(),
        }
    }

    fn piece_len(&self, piece: usize) -> usize {
        let start = piece as u64 * u64::from(METADATA_PIECE_LEN);
        let len = self
            .size
            .saturating_sub(start)
            .min(u64::from(METADATA_PIECE_LEN));
        usize::try_from(len).unwrap_or(0)
    }

    /// Forgets what was asked of `peer`; true if something was.
    pub(super) fn forget_peer(&mut self, peer: PeerKey) -> bool {
        let mut any = false;
        for a in &mut self.asked {
            if a.is_some_and(|(k, _)| k == peer) {
                *a = None;
                any = true;
            }
        }
        any
    }

    /// Forgets requests older than [`METADATA_TIMEOUT`]; true if any expired.
    pub(super) fn expire(&mut self, now: Time) -> bool {
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

impl<S: PieceStore> Core<S> {
    /// A peer's extended handshake arrived: maybe it can give us the metadata.
    pub(super) fn on_metadata_offer(&mut self, p: &Peer) {
        if self.meta.is_none() && p.ut_metadata.is_some() && p.metadata_size.is_some() {
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
            Some(UtMetadata::Request { piece }) => {
                let Some(their_id) = p.ut_metadata else {
                    return Ok(());
                };
                let reply = match &self.meta {
                    Some(m) => {
                        let start = piece as usize * METADATA_PIECE_LEN as usize;
                        let bytes = &m.info_bytes;
                        if start < bytes.len() {
                            let end = (start + METADATA_PIECE_LEN as usize).min(bytes.len());
                            UtMetadata::Data {
                                piece,
                                total_size: bytes.len() as u64,
                                data: bytes[start..end].to_vec(),
                            }
                        } else {
                            UtMetadata::Reject { piece }
                        }
                    }
                    None => UtMetadata::Reject { piece },
                };
                self.emit(p, &reply.to_message(their_id));
            }
            Some(UtMetadata::Reject { piece }) => {
                p.metadata_rejected = true;
                if let Some(f) = &mut self.fetch {
                    if let Some(a) = f.asked.get_mut(piece as usize) {
                        if a.is_some_and(|(k, _)| k == p.key) {
                            *a = None;
                        }
                    }
                }
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
        let Some(f) = &mut self.fetch else {
            return Ok(());
        };
        let i = piece as usize;
        if total_size != f.size || i >= f.pieces.len() {
            return Err(DisconnectReason::BadMetadata);
        }
        if data.len() != f.piece_len(i) {
            return Err(DisconnectReason::BadMetadata);
        }
        if f.pieces[i].is_some() {
            return Ok(());
        }
        f.pieces[i] = Some(data);
        if !f.contributors.contains(&p.key) {
            f.contributors.push(p.key);
        }
        if f.pieces.iter().any(Option::is_none) {
            return Ok(());
        }
        let Some(f) = self.fetch.take() else {
            return Ok(());
        };
        let bytes: Vec<u8> = f.pieces.into_iter().flatten().flatten().collect();
        let parsed = (crate::sha1(&bytes) == self.info_hash.0)
            .then(|| Metainfo::from_info_bytes(bytes).ok())
            .flatten();
        match parsed {
            Some(m) => self.pending.push_back(Deferred::Metadata(Box::new(m))),
            None => self
                .pending
                .push_back(Deferred::MetadataFailed(f.contributors)),
        }
        Ok(())
    }
}

impl<S: PieceStore> Engine<S> {
    /// Asks capable peers for the metadata pieces nobody is fetching.
    pub(super) fn request_metadata(&mut self) {
        let c = &mut self.core;
        if c.meta.is_some() {
            return;
        }
        let now = c.now;
        for p in self.peers.values_mut() {
            let (Some(their_id), Some(size)) = (p.ut_metadata, p.metadata_size) else {
                continue;
            };
            if p.metadata_rejected || size > MAX_METADATA_SIZE {
                continue;
            }
            let f = c.fetch.get_or_insert_with(|| MetaFetch::new(size));
            if f.size != size {
                continue;
            }
            let mut ask = Vec::new();
            for (i, (a, got)) in f.asked.iter_mut().zip(&f.pieces).enumerate() {
                if a.is_none() && got.is_none() {
                    *a = Some((p.key, now));
                    ask.push(u32::try_from(i).unwrap_or(u32::MAX));
                }
            }
            for piece in ask {
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
        c.meta = Some(m);
        c.fetch = None;
        c.out.push_back(Output::Event(Event::Metadata));
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
        if let Some(bits) = p.early_bitfield.take() {
            p.has = Bitfield::from_wire(&bits, n).map_err(DisconnectReason::BadBitfield)?;
        }
        for index in std::mem::take(&mut p.early_haves) {
            if index >= n {
                return Err(DisconnectReason::BadHave { index });
            }
            p.has.set(index);
        }
        picker.add_peer(&p.has);
        p.interesting = picker.count_wanted(&p.has);
        c.update_interest(p);
        Ok(())
    }
}
