//! One connection: its state, and how each message from it is handled.
//!
//! [`Peer`] holds what every side of the protocol reads (flags, its pieces, timestamps); the
//! rest is owned by the module of that side, in a type with private fields: the download side
//! (our requests at it) is [`Download`], the upload side (its requests at us) [`Upload`], and
//! its `ut_metadata` side [`PeerMetadata`].
//!
//! Handlers here see one peer and the engine's [`Core`]; work that touches other peers (have
//! broadcasts after a verified piece, endgame cancels, choker slot changes, disconnects) is
//! queued as a [`Deferred`] and carried out by the engine right after.

use super::download::Download;
use super::metadata::PeerMetadata;
use super::upload::Upload;
use super::{
    Core, Deferred, DisconnectReason, Event, Output, PeerKey, PeerStats, TraceEvent, SEND_CHUNK,
};
use crate::bitfield::Bitfield;
use crate::choker::Candidate;
use crate::ids::PeerId;
use crate::lengths::BlockInfo;
use crate::rate::RateEstimator;
use crate::store::PieceStore;
use crate::time::Time;
use crate::wire::{Decoder, ExtendedHandshake, Frame, Handshake, Message, WireLimits, UT_METADATA};

/// Our id for `ut_metadata` in the `m` dict we send.
pub(super) const OUR_UT_METADATA: u8 = 1;
/// Per-connection state.
pub(super) struct Peer {
    pub key: PeerKey,
    pub decoder: Decoder,
    /// Encoded messages not yet handed to the driver.
    pub out: Vec<u8>,
    /// Listed in `Core::dirty`.
    pub dirty: bool,
    /// Set once its handshake was accepted.
    pub peer_id: Option<PeerId>,
    pub client: Option<String>,
    /// `Event::PeerHandshake` was emitted for it.
    pub handshake_emitted: bool,
    /// Our BEP 3 handshake went out (at once on a connection we started, else in reply to its).
    pub handshake_sent: bool,
    /// Its handshake has the BEP 10 bit.
    pub extended: bool,
    /// Its `ut_metadata` side (see `metadata`).
    pub metadata: PeerMetadata,
    /// Its pieces (zero length before the metadata).
    pub has: Bitfield,
    /// Our requests at it (see `download`).
    pub download: Download,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    /// How many of its pieces we want (we are interested iff this is non-zero).
    pub wanted_pieces: u32,
    /// It sent blocks of a piece that failed its hash check, and no piece from it alone has
    /// passed since: it gets blocks of one exclusive piece at a time.
    pub parole: bool,
    /// When a block we asked for last came from it, and since when we are interested (the
    /// choker's snub and withholding rules).
    pub last_block_at: Option<Time>,
    pub am_interested_since: Option<Time>,
    /// Block bytes it sent us that we asked for (the choker ranks by it).
    pub down_rate: RateEstimator,
    /// Its requests at us (see `upload`).
    pub upload: Upload,
    /// Bytes in its transport (as last reported, plus what we emitted since).
    pub buffered: u64,
    pub connected_at: Time,
    pub last_recv: Time,
    pub last_sent: Time,
}

impl Peer {
    pub(super) fn new<S>(key: PeerKey, core: &Core<S>) -> Peer {
        let now = core.now;
        let limits = match &core.meta {
            Some(m) => WireLimits::for_pieces(m.info.lengths().num_pieces()),
            None => WireLimits::default(),
        };
        let window = core.config.rate_window;
        Peer {
            key,
            decoder: Decoder::new(limits),
            out: Vec::new(),
            dirty: false,
            peer_id: None,
            client: None,
            handshake_emitted: false,
            handshake_sent: false,
            extended: false,
            metadata: PeerMetadata::default(),
            has: Bitfield::new(core.have.len()),
            download: Download::new(now, core.config.pipeline_depth),
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            wanted_pieces: 0,
            parole: false,
            last_block_at: None,
            am_interested_since: None,
            down_rate: RateEstimator::new(window, now),
            upload: Upload::new(window, now),
            buffered: 0,
            connected_at: now,
            last_recv: now,
            last_sent: now,
        }
    }

    /// The torrent's size became known: bitfields are now checked against it.
    pub(super) fn set_limits(&mut self, limits: WireLimits) {
        self.decoder.set_max_bitfield_len(limits.max_bitfield_len);
    }

    pub(super) fn stats(&self, now: Time) -> PeerStats {
        PeerStats {
            peer: self.key,
            peer_id: self.peer_id,
            client: self.client.clone(),
            download_rate: self.down_rate.rate(now),
            upload_rate: self.upload.rate(now),
            am_choking: self.am_choking,
            am_interested: self.am_interested,
            peer_choking: self.peer_choking,
            peer_interested: self.peer_interested,
            pieces: self.has.count_ones(),
            requests_out: u32::try_from(self.download.outstanding()).unwrap_or(u32::MAX),
            requests_in: u32::try_from(self.upload.queued()).unwrap_or(u32::MAX),
        }
    }

    /// Block bytes/s we sent it over the rate window.
    pub(super) fn upload_rate(&self, now: Time) -> u64 {
        self.upload.rate(now)
    }

    pub(super) fn candidate(&self, now: Time) -> Candidate {
        Candidate {
            peer: self.key,
            peer_interested: self.peer_interested,
            download_rate: self.down_rate.rate(now),
            upload_rate: self.upload.rate(now),
            connected_at: self.connected_at,
            am_interested_since: self.am_interested_since,
            last_block_at: self.last_block_at,
            chokes_us: self.peer_choking,
        }
    }
}

impl<S: PieceStore> Core<S> {
    /// Appends `msg` to the peer's outgoing bytes.
    pub(super) fn emit(&mut self, p: &mut Peer, msg: &Message) {
        let before = p.out.len();
        msg.encode(&mut p.out);
        self.emitted(p, before);
    }

    /// Hands the peer's pending small messages out as one send.
    pub(super) fn flush(&mut self, p: &mut Peer) {
        if !p.out.is_empty() {
            let data = std::mem::take(&mut p.out);
            self.out.push_back(Output::Send { peer: p.key, data });
        }
    }

    /// Bookkeeping after bytes were appended to `p.out` from `before` on.
    fn emitted(&mut self, p: &mut Peer, before: usize) {
        p.buffered += (p.out.len() - before) as u64;
        p.last_sent = self.now;
        if p.out.len() >= SEND_CHUNK {
            let data = std::mem::replace(&mut p.out, Vec::with_capacity(SEND_CHUNK + 1024));
            self.out.push_back(Output::Send { peer: p.key, data });
        } else if !p.dirty && !p.out.is_empty() {
            p.dirty = true;
            self.dirty.push(p.key);
        }
    }

    pub(super) fn send_handshake(&mut self, p: &mut Peer) {
        let h = Handshake::new(self.info_hash, self.config.peer_id);
        p.handshake_sent = true;
        let before = p.out.len();
        p.out.extend_from_slice(&h.encode());
        self.emitted(p, before);
    }

    pub(super) fn on_data(&mut self, p: &mut Peer, data: &[u8]) {
        self.bytes.received += data.len() as u64;
        p.last_recv = self.now;
        p.decoder.push(data);
        loop {
            let frame = match p.decoder.next() {
                Ok(Some(f)) => f,
                Ok(None) => return,
                Err(e) => {
                    self.drop_peer(p, DisconnectReason::Protocol(e));
                    return;
                }
            };
            let result = match frame {
                Frame::Handshake(h) => self.on_handshake(p, h),
                Frame::Message(m) => self.on_message(p, m),
            };
            if let Err(reason) = result {
                self.drop_peer(p, reason);
                return;
            }
        }
    }

    fn drop_peer(&mut self, p: &mut Peer, reason: DisconnectReason) {
        // Stop reading this peer; the engine removes it when it runs the deferred queue.
        p.decoder = Decoder::new(WireLimits::default());
        self.pending.push_back(Deferred::Disconnect(p.key, reason));
    }

    fn on_handshake(&mut self, p: &mut Peer, h: Handshake) -> Result<(), DisconnectReason> {
        if h.info_hash != self.info_hash {
            return Err(DisconnectReason::InfoHashMismatch);
        }
        if h.peer_id == self.config.peer_id {
            return Err(DisconnectReason::OwnPeerId);
        }
        p.parole = self.ids.admit(h.peer_id)?;
        p.peer_id = Some(h.peer_id);
        p.extended = h.supports_extended();
        if !p.handshake_sent {
            self.send_handshake(p);
        }
        if p.extended {
            self.send_ext_handshake(p);
        } else {
            self.emit_peer_handshake(p);
        }
        if self.super_seeding() {
            self.reveal(p);
        } else if self.have.count_ones() > 0 {
            let msg = Message::Bitfield(self.have.as_wire().to_vec());
            self.emit(p, &msg);
        }
        Ok(())
    }

    /// Sends our BEP 10 handshake. It goes out again once a magnet's metadata is in, so that
    /// peers that met us before then learn our `metadata_size` (BEP 10 allows repeats).
    pub(super) fn send_ext_handshake(&mut self, p: &mut Peer) {
        let ours = ExtendedHandshake {
            m: [(UT_METADATA.to_string(), OUR_UT_METADATA)].into(),
            metadata_size: self.meta.as_ref().map(|m| m.info_bytes.len() as u64),
            reqq: Some(self.config.pipeline_depth),
            v: Some(self.config.client.clone()),
            p: None,
        };
        let msg = Message::Extended {
            id: 0,
            payload: ours.encode(),
        };
        self.emit(p, &msg);
    }

    /// Emits `Event::PeerHandshake` once, after its handshakes (BEP 3, and BEP 10 if any).
    fn emit_peer_handshake(&mut self, p: &mut Peer) {
        if p.handshake_emitted {
            return;
        }
        let Some(peer_id) = p.peer_id else {
            return;
        };
        p.handshake_emitted = true;
        if p.client.is_none() {
            p.client = client_from_peer_id(&peer_id);
        }
        self.out.push_back(Output::Event(Event::PeerHandshake {
            peer: p.key,
            peer_id,
            client: p.client.clone(),
        }));
    }

    fn on_message(&mut self, p: &mut Peer, msg: Message) -> Result<(), DisconnectReason> {
        if !matches!(msg, Message::Extended { id: 0, .. }) {
            self.emit_peer_handshake(p);
        }
        match msg {
            Message::KeepAlive => {}
            Message::Choke => {
                p.peer_choking = true;
                // Without BEP 6 a choke discards our requests at the peer.
                self.withdraw_requests(p);
                self.pending.push_back(Deferred::RefillAll);
            }
            Message::Unchoke => {
                if p.peer_choking {
                    // Measure the rate from the moment data can flow.
                    p.download.restart_rate(self.now);
                }
                p.peer_choking = false;
                self.fill_requests(p);
            }
            Message::Interested => {
                if !p.peer_interested {
                    p.peer_interested = true;
                    // Unchoke at once if a regular slot is free (only this peer can change).
                    let mut changes = Vec::new();
                    let seeding = self.is_seeding();
                    let cand = p.candidate(self.now);
                    self.choker
                        .on_interested(self.now, &cand, seeding, &mut changes);
                    if !changes.is_empty() && p.am_choking && !self.uploads_disabled() {
                        p.am_choking = false;
                        self.emit(p, &Message::Unchoke);
                        self.record(TraceEvent::Unchoke(p.key));
                    }
                }
            }
            Message::NotInterested => {
                if p.peer_interested {
                    p.peer_interested = false;
                    self.pending.push_back(Deferred::NotInterested(p.key));
                }
            }
            Message::Have { index } => self.on_have(p, index)?,
            Message::Bitfield(bits) => self.on_bitfield(p, bits)?,
            Message::Request {
                index,
                begin,
                length,
            } => self.on_request(p, index, begin, length)?,
            Message::Piece { index, begin, data } => self.on_piece(p, index, begin, &data)?,
            Message::Cancel {
                index,
                begin,
                length,
            } => {
                let block = self.validate(index, begin, length)?;
                p.upload.cancel(block);
            }
            Message::Extended { id: 0, payload } => {
                // A malformed extended handshake is tolerated as an empty one.
                let ext = ExtendedHandshake::decode(&payload).unwrap_or_default();
                p.metadata
                    .on_handshake(ext.extension_id(UT_METADATA), ext.metadata_size);
                if let Some(r) = ext.reqq {
                    p.download
                        .set_reqq(r.clamp(1, self.config.pipeline_depth.max(1)));
                }
                if ext.v.is_some() {
                    p.client = ext.v;
                }
                self.emit_peer_handshake(p);
                self.on_metadata_offer(p);
            }
            Message::Extended { id, payload } => {
                if id == OUR_UT_METADATA {
                    self.on_ut_metadata(p, &payload)?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn validate(
        &self,
        index: u32,
        begin: u32,
        len: u32,
    ) -> Result<BlockInfo, DisconnectReason> {
        self.meta
            .as_ref()
            .and_then(|m| m.info.lengths().validate_block(index, begin, len))
            .ok_or(DisconnectReason::BadBlock { index, begin, len })
    }

    fn on_have(&mut self, p: &mut Peer, index: u32) -> Result<(), DisconnectReason> {
        let Some(picker) = &mut self.picker else {
            return p.metadata.keep_early_have(index);
        };
        let piece = picker
            .lengths()
            .validate_piece(index)
            .ok_or(DisconnectReason::BadHave { index })?;
        if p.has.set(index) {
            picker.peer_has(piece);
            if picker.wants(index) {
                p.wanted_pieces += 1;
                self.update_interest(p);
            }
            self.super_seed_saw(p, index);
        }
        Ok(())
    }

    fn on_bitfield(&mut self, p: &mut Peer, bits: Vec<u8>) -> Result<(), DisconnectReason> {
        let Some(picker) = &mut self.picker else {
            p.metadata.keep_early_bitfield(bits);
            return Ok(());
        };
        let has = Bitfield::from_wire(&bits, picker.lengths().num_pieces())
            .map_err(DisconnectReason::BadBitfield)?;
        picker.remove_peer(&p.has);
        picker.add_peer(&has);
        p.wanted_pieces = picker.count_wanted(&has);
        p.has = has;
        self.update_interest(p);
        self.super_seed_saw_all(p);
        Ok(())
    }

    /// Sends `interested` / `not interested` when our want of its pieces changed.
    pub(super) fn update_interest(&mut self, p: &mut Peer) {
        let want = p.wanted_pieces > 0;
        if want == p.am_interested {
            return;
        }
        p.am_interested = want;
        if want {
            p.am_interested_since = Some(self.now);
            self.emit(p, &Message::Interested);
            self.fill_requests(p);
        } else {
            p.am_interested_since = None;
            self.emit(p, &Message::NotInterested);
        }
    }
}

/// A readable client name from an Azureus-style peer id (`-WW0300-…` → `WW 0300`).
pub(super) fn client_from_peer_id(id: &PeerId) -> Option<String> {
    let id = &id.0;
    if id[0] != b'-' || id[7] != b'-' {
        return None;
    }
    let code = std::str::from_utf8(&id[1..3]).ok()?;
    let version = std::str::from_utf8(&id[3..7]).ok()?;
    let name = match code {
        "WW" => "WebTorrent",
        "WD" => "WebTorrent Desktop",
        "TS" => "tabswarm",
        "qB" => "qBittorrent",
        "TR" => "Transmission",
        "LT" | "lt" => "libtorrent",
        "UT" => "uTorrent",
        "DE" => "Deluge",
        "AZ" => "Vuze",
        _ => code,
    };
    Some(format!("{name} {version}"))
}
