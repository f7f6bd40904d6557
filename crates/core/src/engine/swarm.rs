//! Work that spans peers: verifying a completed piece and announcing it, strikes and bans,
//! choking decisions, endgame cancels, and the timers (rechoke, keep-alives, timeouts).
//!
//! Per-peer handlers (in `peer`) queue this work as [`Deferred`] items; the engine runs the
//! queue after every input, so a handler never needs two peers at once.
//!
//! # Fair blame (libtorrent's smart ban)
//! A piece that fails its hash check proves only that one of its senders lied. If one peer
//! sent all its blocks, that peer is struck. Otherwise each block's sender and SHA-1 are kept
//! and every sender goes on parole: it is asked for one piece at a time that nobody else is
//! asked for (`Picker::pick_exclusive`), so its next piece proves or clears it alone. When the
//! failed piece later passes, each sender of a block whose hash differs from the good block's
//! is struck. A peer leaves parole when a piece that it alone sent passes. Strikes count per
//! peer id; at [`Config::ban_strikes`](super::Config::ban_strikes) the id is banned for the
//! engine's life. An honest peer is never struck: it is blamed only for blocks that differ
//! from data that passed the hash check.

use std::collections::{BTreeMap, BTreeSet};

use super::{Blame, Deferred, DisconnectReason, Engine, Event, Output, PeerKey, TraceEvent, TICK};
use crate::choker::{Candidate, ChokeChange, Choker};
use crate::ids::PeerId;
use crate::lengths::PieceIndex;
use crate::rng::Rng;
use crate::store::PieceStore;
use crate::time::Time;
use crate::wire::Message;

/// What the engine knows about peer ids: who is connected (one connection per id), who is on
/// parole, strikes, bans. Only this module reads or changes it.
#[derive(Default)]
pub(super) struct PeerIds {
    /// Ids of the connections whose handshake we accepted.
    connected: BTreeSet<PeerId>,
    /// Proven offences per id, and the ids banned for them (for the engine's life).
    strikes: BTreeMap<PeerId, u32>,
    banned: BTreeSet<PeerId>,
    parole: BTreeSet<PeerId>,
}

/// What one strike did.
enum Strike {
    /// Below the limit: the id stays on parole.
    Parole,
    /// The id is banned now.
    Banned,
    AlreadyBanned,
}

impl PeerIds {
    /// A connection's handshake names `id`: refused if banned or already connected, else
    /// admitted; true if the id is on parole.
    pub(super) fn admit(&mut self, id: PeerId) -> Result<bool, DisconnectReason> {
        if self.banned.contains(&id) {
            return Err(DisconnectReason::Banned);
        }
        if !self.connected.insert(id) {
            return Err(DisconnectReason::DuplicatePeerId);
        }
        Ok(self.parole.contains(&id))
    }

    /// The connection with `id` closed.
    pub(super) fn leave(&mut self, id: PeerId) {
        self.connected.remove(&id);
    }

    fn set_parole(&mut self, id: PeerId, on: bool) {
        if on {
            self.parole.insert(id);
        } else {
            self.parole.remove(&id);
        }
    }

    fn strike(&mut self, id: PeerId, limit: u32) -> Strike {
        let n = self.strikes.entry(id).or_insert(0);
        *n = n.saturating_add(1);
        if *n < limit {
            Strike::Parole
        } else if self.banned.insert(id) {
            Strike::Banned
        } else {
            Strike::AlreadyBanned
        }
    }
}

/// Failed attempts at one piece whose blame is kept (the oldest is dropped beyond this).
const MAX_SUSPECT_ATTEMPTS: usize = 4;

impl<S: PieceStore> Engine<S> {
    pub(super) fn run_deferred(&mut self) {
        while let Some(d) = self.core.pending.pop_front() {
            match d {
                Deferred::Complete(piece) => self.complete_piece(piece),
                Deferred::CancelOthers(block, except) => {
                    for p in self.peers.values_mut() {
                        if p.key != except {
                            self.core.cancel_request(p, block);
                        }
                    }
                }
                Deferred::NotInterested(key) => {
                    self.choke_round(|ch, now, seeding, cands, rng, out| {
                        ch.on_leave(now, key, seeding, cands, rng, out);
                    });
                }
                Deferred::Disconnect(key, reason) => self.disconnect(key, reason),
                Deferred::Metadata(m) => self.install_metadata(*m),
                Deferred::MetadataFailed(size, peers) => self.metadata_failed(size, &peers),
                Deferred::RequestMetadata => self.request_metadata(),
                Deferred::RefillAll => self.refill_all(),
                Deferred::Steal(key) => self.steal(key),
                Deferred::Reveal(key) => {
                    if let Some(p) = self.peers.get_mut(&key) {
                        self.core.super_seed_spread(p);
                    }
                }
                Deferred::HoldBack(key) => {
                    let alone = !self
                        .peers
                        .iter()
                        .any(|(&k, q)| k != key && q.peer_interested);
                    if let (true, Some(p)) = (alone, self.peers.get_mut(&key)) {
                        self.core.super_seed_waive(p);
                    }
                }
            }
        }
        if let Some(ss) = self.core.super_seed.take_if(|ss| ss.is_over()) {
            for p in self.peers.values_mut() {
                if p.peer_id.is_some() {
                    self.core.reveal_all(p, ss.revealed(p.key));
                }
            }
        }
    }

    /// Runs one choker decision over every connected peer, at the current time, and carries
    /// out the changes it makes.
    pub(super) fn choke_round(
        &mut self,
        decide: impl FnOnce(&mut Choker, Time, bool, &[Candidate], &mut Rng, &mut Vec<ChokeChange>),
    ) {
        let cands = self.candidates();
        let mut changes = Vec::new();
        let c = &mut self.core;
        let seeding = c.is_seeding();
        decide(
            &mut c.choker,
            c.now,
            seeding,
            &cands,
            &mut c.rng,
            &mut changes,
        );
        self.apply_choke(&changes);
    }

    pub(super) fn apply_choke(&mut self, changes: &[ChokeChange]) {
        for &change in changes {
            let key = match change {
                ChokeChange::Choke(k) | ChokeChange::Unchoke(k) => k,
            };
            let Some(p) = self.peers.get_mut(&key) else {
                continue;
            };
            let c = &mut self.core;
            match change {
                ChokeChange::Unchoke(_) if p.am_choking && !c.uploads_disabled() => {
                    p.am_choking = false;
                    c.emit(p, &Message::Unchoke);
                    c.record(TraceEvent::Unchoke(key));
                    c.serve(p);
                }
                ChokeChange::Choke(_) if !p.am_choking => {
                    p.am_choking = true;
                    p.upload.choked();
                    c.emit(p, &Message::Choke);
                    c.record(TraceEvent::Choke(key));
                }
                _ => {}
            }
        }
    }

    pub(super) fn candidates(&self) -> Vec<Candidate> {
        let now = self.core.now;
        self.peers
            .values()
            .filter(|p| p.peer_id.is_some())
            .map(|p| p.candidate(now))
            .collect()
    }

    /// Verifies a piece whose blocks all arrived.
    pub(super) fn complete_piece(&mut self, piece: PieceIndex) {
        let Some(buf) = self.core.buffers.remove(&piece.get()) else {
            return;
        };
        let c = &mut self.core;
        let (Some(meta), Some(picker)) = (&c.meta, &mut c.picker) else {
            return;
        };
        let lengths = picker.lengths();
        let block_of = |data: &[u8], b: u32| {
            let info = lengths.block(piece, b);
            let start = info.begin as usize;
            data.get(start..start + info.len as usize)
                .map(crate::sha1)
                .unwrap_or_default()
        };
        let mut senders: Vec<(PeerKey, PeerId)> = Vec::new();
        for &(key, id) in buf.from.iter().flatten() {
            if !senders.iter().any(|&(_, i)| i == id) {
                senders.push((key, id));
            }
        }
        let good = crate::sha1(&buf.data) == *meta.info.piece_hash(piece);
        if !good {
            picker.failed(piece);
            c.out
                .push_back(Output::Event(Event::HashFailed { piece: piece.get() }));
            if let [(key, id)] = senders[..] {
                self.strike(key, id);
            } else {
                let blame: Vec<Option<Blame>> = (0u32..)
                    .zip(&buf.from)
                    .map(|(b, from)| {
                        from.map(|(peer, peer_id)| Blame {
                            peer,
                            peer_id,
                            hash: block_of(&buf.data, b),
                        })
                    })
                    .collect();
                let attempts = self.core.suspects.entry(piece.get()).or_default();
                if attempts.len() >= MAX_SUSPECT_ATTEMPTS {
                    attempts.remove(0);
                }
                attempts.push(blame);
                for &(_, id) in &senders {
                    self.set_parole(id, true);
                }
            }
            self.refill_all();
            return;
        }
        // The piece is good: blocks that differ from it in earlier attempts prove their
        // senders wrong.
        let mut proven: Vec<(PeerKey, PeerId)> = Vec::new();
        for attempt in self.core.suspects.remove(&piece.get()).unwrap_or_default() {
            for (b, blame) in (0u32..).zip(attempt) {
                let Some(blame) = blame else { continue };
                if blame.hash != block_of(&buf.data, b)
                    && !proven.iter().any(|&(_, i)| i == blame.peer_id)
                {
                    proven.push((blame.peer, blame.peer_id));
                }
            }
        }
        if let [(_, id)] = senders[..] {
            self.set_parole(id, false);
        }
        for (key, id) in proven {
            self.strike(key, id);
        }
        let c = &mut self.core;
        let Some(picker) = &mut c.picker else {
            return;
        };
        let len = buf.data.len() as u64;
        if let Err(error) = c.store.write_piece(piece, buf.data) {
            picker.failed(piece);
            c.out.push_back(Output::Event(Event::StoreFailed { error }));
            return;
        }
        // Only a wanted piece counts in peers' wanted pieces (one deselected in flight does not).
        let was_wanted = picker.wants(piece.get());
        picker.verified(piece);
        c.have.set(piece.get());
        c.bytes.downloaded += len;
        c.have_bytes += len;
        c.wanted.verified(piece.get(), len);
        c.out
            .push_back(Output::Event(Event::PieceVerified { piece: piece.get() }));
        let complete = picker.is_complete();
        for p in self.peers.values_mut() {
            if p.peer_id.is_none() {
                continue;
            }
            // Every peer hears `have`, even one that has the piece: a super-seeding peer
            // learns from it that the piece it revealed has spread.
            self.core.emit(p, &Message::Have { index: piece.get() });
            if was_wanted && p.has.get(piece.get()) {
                p.wanted_pieces = p.wanted_pieces.saturating_sub(1);
                self.core.update_interest(p);
            }
        }
        if complete && !self.core.done {
            self.core.done = true;
            self.core.out.push_back(Output::Event(Event::Done));
        }
    }

    /// Puts a peer id on parole or takes it off, on the connection that carries it too.
    fn set_parole(&mut self, id: PeerId, on: bool) {
        self.core.ids.set_parole(id, on);
        for p in self.peers.values_mut() {
            if p.peer_id == Some(id) {
                p.parole = on;
            }
        }
    }

    /// One proven offence of `id` (last seen on connection `key`): it stays on parole, and at
    /// [`Config::ban_strikes`](super::Config::ban_strikes) it is banned and disconnected.
    pub(super) fn strike(&mut self, key: PeerKey, id: PeerId) {
        match self.core.ids.strike(id, self.core.config.ban_strikes) {
            Strike::Parole => {
                self.set_parole(id, true);
                return;
            }
            Strike::AlreadyBanned => return,
            Strike::Banned => {}
        }
        self.core.out.push_back(Output::Event(Event::PeerBanned {
            peer: key,
            peer_id: id,
        }));
        let conn = self
            .peers
            .values()
            .find(|p| p.peer_id == Some(id))
            .map(|p| p.key);
        if let Some(conn) = conn {
            self.disconnect(conn, DisconnectReason::Banned);
        }
    }

    /// Gives every unchoked, interesting peer a chance to fill its pipeline.
    pub(super) fn refill_all(&mut self) {
        for p in self.peers.values_mut() {
            self.core.fill_requests(p);
        }
    }

    // ---- timers ----

    pub(super) fn deadline(&self) -> Time {
        let c = &self.core;
        let mut d = c.next_tick.min(c.choker.next_rechoke());
        if let Some(w) = c.wake_at {
            d = d.min(w);
        }
        d
    }

    pub(super) fn run_timers(&mut self) {
        let now = self.core.now;
        if self.core.wake_at.is_some_and(|w| w <= now) {
            self.core.wake_at = None;
            for p in self.peers.values_mut() {
                self.core.serve(p);
            }
            self.refill_all();
        }
        if self.core.choker.next_rechoke() <= now {
            self.choke_round(Choker::rechoke);
        }
        if self.core.next_tick <= now {
            self.core.next_tick = now + TICK;
            self.housekeeping();
        }
        self.run_deferred();
    }

    /// Keep-alives, idle and handshake timeouts, stalled requests, metadata timeouts.
    fn housekeeping(&mut self) {
        let now = self.core.now;
        let cfg = &self.core.config;
        let mut drop = Vec::new();
        for p in self.peers.values_mut() {
            if p.peer_id.is_none() && now.saturating_since(p.connected_at) >= cfg.handshake_timeout
            {
                drop.push((p.key, DisconnectReason::HandshakeTimeout));
            } else if now.saturating_since(p.last_recv) >= cfg.idle_timeout {
                drop.push((p.key, DisconnectReason::Idle));
            }
        }
        for (key, reason) in drop {
            self.disconnect(key, reason);
        }
        let mut stalled = false;
        for p in self.peers.values_mut() {
            let c = &mut self.core;
            if now.saturating_since(p.last_sent) >= c.config.keepalive_interval {
                c.emit(p, &Message::KeepAlive);
            }
            if p.download.timed_out(now, c.config.request_timeout) {
                c.cancel_all_requests(p);
                stalled = true;
            }
        }
        let expired = self.core.fetches.expire(now);
        if expired {
            self.request_metadata();
        }
        // Initial seeding: the strict rule must not leave the seed idle.
        if self.core.super_seed_holding() && self.peers.values().all(|p| p.upload.queued() == 0) {
            for p in self.peers.values_mut() {
                self.core.super_seed_waive(p);
            }
        }
        if self.core.choker.has_probation() {
            self.choke_round(Choker::review);
        }
        if stalled {
            self.refill_all();
        }
    }
}
