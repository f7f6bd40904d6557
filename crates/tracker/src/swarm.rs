//! The tracker's state and rules, free of IO: torrents, their peers, the connections that
//! announced them and the offers waiting for an answer.
//!
//! Every entry point takes the current [`Time`] and pushes the messages to send into an output
//! `Vec<Outgoing>`; randomness comes from the [`Rng`] seeded at construction. The server shell
//! (`conn.rs`) owns one [`Swarm`] behind a mutex, serializes the outputs after unlocking and
//! hands them to the connections.
//!
//! Invariants:
//! - a peer (info hash, peer id) belongs to exactly one connection, and that connection lists
//!   it in its `torrents`. A connection may hold several peer ids in one torrent:
//!   bittorrent-tracker's client shares one socket per tracker URL among all its clients in a
//!   page, so two clients of one torrent announce over one socket. The number of pairs per
//!   connection is capped instead (`max_torrents_per_conn`);
//! - `Torrent::index` maps every peer id of `Torrent::peers` to its position, and
//!   `Torrent::seeders` counts the peers with `seeder` set; `Swarm::peers`/`seeders` are the
//!   sums over all torrents; a torrent with no peers is removed;
//! - an answer is relayed only if the offerer has a pending offer with that `offer_id` made
//!   to the answering peer on the answering connection, younger than `offer_timeout`; the
//!   pending entry is consumed by the relay.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use tabswarm_core::rng::Rng;
use tabswarm_core::time::Time;
use tabswarm_core::tracker_proto::{
    Action, AnnounceRequest, AnnounceResponse, AnswerForward, ClientMessage, Event, InfoHash,
    OfferForward, OfferId, PeerId, ScrapeRequest, ScrapeResponse, ScrapeStats, TrackerMessage,
};
use torrent::{pick_targets, ConnEntry, Peer, PendingOffer, Torrent};

/// Identifies one WebSocket connection for the life of the server.
pub type ConnId = u64;

/// The swarm rules' knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmConfig {
    /// `interval` sent in announce replies, seconds.
    pub interval_secs: u32,
    /// A peer that has not announced for this long is dropped (3 × interval by default).
    pub peer_timeout: Duration,
    /// Answers are relayed only this long after the offer was forwarded.
    pub offer_timeout: Duration,
    /// Offers forwarded per announce; more are dropped, and the reply warns.
    pub max_offers: usize,
    /// Distinct torrents one connection may announce.
    pub max_torrents_per_conn: usize,
    /// Info hashes in one scrape.
    pub max_scrape: usize,
    /// Unanswered offers remembered per peer; the oldest is forgotten first.
    pub max_pending_offers: usize,
}

impl Default for SwarmConfig {
    fn default() -> SwarmConfig {
        SwarmConfig {
            interval_secs: 120,
            peer_timeout: Duration::from_secs(360),
            offer_timeout: Duration::from_secs(120),
            max_offers: 10,
            max_torrents_per_conn: 100,
            max_scrape: 255,
            max_pending_offers: 20,
        }
    }
}

/// Why the swarm refused a request; each is answered with a `failure reason` and changes
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmError {
    /// The connection already holds `max_torrents_per_conn` (torrent, peer id) pairs.
    TooManyTorrents { max: usize },
    /// Another connection holds this peer id in this torrent.
    PeerIdTaken,
    /// An answer matches no fresh offer that was forwarded to this peer on this connection.
    UnknownOffer,
    /// A scrape without info hashes (full scrapes are not served).
    FullScrape,
    /// A scrape with more than `max_scrape` info hashes.
    TooManyScrapeHashes { max: usize },
}

impl fmt::Display for SwarmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwarmError::TooManyTorrents { max } => {
                write!(f, "too many torrents on this connection (max {max})")
            }
            SwarmError::PeerIdTaken => f.write_str("peer id is in use by another connection"),
            SwarmError::UnknownOffer => f.write_str(
                "could not find the offer corresponding to your answer; it may have expired",
            ),
            SwarmError::FullScrape => f.write_str("full scrapes are not allowed"),
            SwarmError::TooManyScrapeHashes { max } => {
                write!(f, "too many info hashes in scrape (max {max})")
            }
        }
    }
}

impl std::error::Error for SwarmError {}

/// A message for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub conn: ConnId,
    pub msg: TrackerMessage,
}

/// Counts for `/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwarmStats {
    pub torrents: u64,
    pub peers: u64,
    pub seeders: u64,
    pub leechers: u64,
    pub connections: u64,
}

/// What one [`Swarm::expire`] sweep removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expired {
    pub peers: u64,
    pub torrents: u64,
    pub offers: u64,
}

/// All torrents and the connections that announced them.
#[derive(Debug)]
pub struct Swarm {
    cfg: SwarmConfig,
    rng: Rng,
    torrents: HashMap<InfoHash, Torrent>,
    conns: HashMap<ConnId, ConnEntry>,
    peers: u64,
    seeders: u64,
    /// Scratch list of candidate indices for offer targets (kept to avoid reallocating).
    scratch: Vec<u32>,
}

impl Swarm {
    pub fn new(cfg: SwarmConfig, seed: u64) -> Swarm {
        Swarm {
            cfg,
            rng: Rng::new(seed),
            torrents: HashMap::new(),
            conns: HashMap::new(),
            peers: 0,
            seeders: 0,
            scratch: Vec::new(),
        }
    }

    pub fn config(&self) -> &SwarmConfig {
        &self.cfg
    }

    /// Registers a new connection (idempotent).
    pub fn connect(&mut self, conn: ConnId) {
        self.conns.entry(conn).or_default();
    }

    /// Handles one decoded message from `conn`; a refused request becomes a failure reply.
    pub fn handle(
        &mut self,
        conn: ConnId,
        msg: ClientMessage,
        now: Time,
        out: &mut Vec<Outgoing>,
    ) -> Result<(), SwarmError> {
        let (action, info_hash, result) = match msg {
            ClientMessage::Announce(req) => {
                let ih = req.info_hash;
                (
                    Action::Announce,
                    Some(ih),
                    self.announce(conn, req, now, out),
                )
            }
            ClientMessage::Scrape(req) => {
                let ih = req.info_hashes.first().copied();
                (Action::Scrape, ih, self.scrape(conn, &req, out))
            }
        };
        if let Err(e) = &result {
            out.push(Outgoing {
                conn,
                msg: TrackerMessage::failure(Some(action), info_hash, e.to_string()),
            });
        }
        result
    }

    /// An announce: relay its answer, update the peer, forward its offers, reply.
    pub fn announce(
        &mut self,
        conn: ConnId,
        mut req: AnnounceRequest,
        now: Time,
        out: &mut Vec<Outgoing>,
    ) -> Result<(), SwarmError> {
        // More offers than the cap: forward the first `max_offers` and say so in the reply. A
        // refusal would be worse: libtorrent and others ignore it and never find peers.
        let trimmed = trim_offers(&mut req.offers, self.cfg.max_offers);
        // An answer-only announce (what WebTorrent sends) neither registers nor gets a reply.
        let registers = req.answer.is_none() || req.event.is_some() || !req.offers.is_empty();
        // Check everything before changing anything.
        let answer_target = match &req.answer {
            Some(a) => Some(self.check_answer(conn, &req, a.to_peer_id, a.offer_id, now)?),
            None => None,
        };
        let stopping = req.event == Some(Event::Stopped);
        if registers {
            self.check_registration(conn, &req, stopping)?;
        }

        if let (Some(a), Some((target_conn, idx))) = (req.answer.take(), answer_target) {
            if let Some(t) = self.torrents.get_mut(&req.info_hash) {
                if let Some(p) = t.peers.get_mut(idx) {
                    p.pending
                        .retain(|o| o.offer_id != a.offer_id || o.to != req.peer_id);
                }
            }
            out.push(Outgoing {
                conn: target_conn,
                msg: TrackerMessage::Answer(AnswerForward {
                    info_hash: req.info_hash,
                    peer_id: req.peer_id,
                    offer_id: a.offer_id,
                    answer: a.answer,
                }),
            });
            if let Some(t) = self.torrents.get_mut(&req.info_hash) {
                if let Some(&i) = t.index.get(&req.peer_id) {
                    if let Some(p) = t.peers.get_mut(i as usize) {
                        p.last_seen = now;
                    }
                }
            }
        }
        if !registers {
            return Ok(());
        }

        if stopping {
            self.remove_peer(conn, req.info_hash, req.peer_id);
            self.reply(conn, req.info_hash, trimmed, out);
        } else {
            let seeder = req.left == Some(0) || req.event == Some(Event::Completed);
            let self_idx = self.upsert_peer(conn, &req, seeder, now);
            self.reply(conn, req.info_hash, trimmed, out);
            if !req.offers.is_empty() {
                self.forward_offers(req, self_idx, seeder, now, out);
            }
        }
        Ok(())
    }

    /// A scrape: counts for each info hash (zeros for unknown torrents).
    pub fn scrape(
        &mut self,
        conn: ConnId,
        req: &ScrapeRequest,
        out: &mut Vec<Outgoing>,
    ) -> Result<(), SwarmError> {
        if req.info_hashes.is_empty() {
            return Err(SwarmError::FullScrape);
        }
        if req.info_hashes.len() > self.cfg.max_scrape {
            return Err(SwarmError::TooManyScrapeHashes {
                max: self.cfg.max_scrape,
            });
        }
        let files = req
            .info_hashes
            .iter()
            .map(|ih| {
                let st = self
                    .torrents
                    .get(ih)
                    .map_or_else(ScrapeStats::default, |t| ScrapeStats {
                        complete: t.seeders,
                        incomplete: t.leechers(),
                        downloaded: t.downloaded,
                    });
                (*ih, st)
            })
            .collect();
        out.push(Outgoing {
            conn,
            msg: TrackerMessage::ScrapeResponse(ScrapeResponse {
                files,
                min_request_interval: Some(self.cfg.interval_secs),
            }),
        });
        Ok(())
    }

    /// The connection closed: its peers leave every swarm.
    pub fn disconnect(&mut self, conn: ConnId) {
        let Some(entry) = self.conns.remove(&conn) else {
            return;
        };
        for (ih, pid) in entry.torrents {
            self.remove_from_torrent(conn, ih, pid);
        }
    }

    /// Drops peers silent for longer than `peer_timeout`, forgets stale offers, removes empty
    /// torrents and gives unused table capacity back.
    pub fn expire(&mut self, now: Time) -> Expired {
        let mut gone = Expired::default();
        let timeout = self.cfg.peer_timeout;
        let mut removed: Vec<(ConnId, InfoHash)> = Vec::new();
        self.torrents.retain(|ih, t| {
            let mut i = 0;
            while i < t.peers.len() {
                let p = &mut t.peers[i];
                if now.saturating_since(p.last_seen) > timeout {
                    removed.push((p.conn, *ih));
                    if p.seeder {
                        self.seeders -= 1;
                    }
                    t.swap_remove(i);
                    gone.peers += 1;
                } else {
                    let before = p.pending.len();
                    p.pending.retain(|o| o.expires > now);
                    gone.offers += (before - p.pending.len()) as u64;
                    i += 1;
                }
            }
            let keep = !t.peers.is_empty();
            if !keep {
                gone.torrents += 1;
            } else if t.peers.capacity() > 4 * t.peers.len() + 16 {
                t.peers.shrink_to_fit();
                t.index.shrink_to_fit();
            }
            keep
        });
        self.peers -= gone.peers;
        for (conn, ih) in removed {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.torrents.retain(|(h, _)| *h != ih);
            }
        }
        if self.torrents.capacity() > 4 * self.torrents.len() + 64 {
            self.torrents.shrink_to_fit();
        }
        if self.conns.capacity() > 4 * self.conns.len() + 64 {
            self.conns.shrink_to_fit();
        }
        gone
    }

    pub fn stats(&self) -> SwarmStats {
        SwarmStats {
            torrents: self.torrents.len() as u64,
            peers: self.peers,
            seeders: self.seeders,
            leechers: self.peers - self.seeders,
            connections: self.conns.len() as u64,
        }
    }

    /// Peer ids in a torrent (for tests and debugging).
    pub fn peer_ids(&self, info_hash: &InfoHash) -> Vec<PeerId> {
        self.torrents
            .get(info_hash)
            .map(|t| t.peers.iter().map(|p| p.id).collect())
            .unwrap_or_default()
    }

    // ----- private -----

    /// The offerer's connection and index for an answer, or why it may not be relayed.
    fn check_answer(
        &self,
        conn: ConnId,
        req: &AnnounceRequest,
        to: PeerId,
        offer_id: OfferId,
        now: Time,
    ) -> Result<(ConnId, usize), SwarmError> {
        let t = self
            .torrents
            .get(&req.info_hash)
            .ok_or(SwarmError::UnknownOffer)?;
        let answerer = t.get(&req.peer_id).ok_or(SwarmError::UnknownOffer)?;
        if answerer.conn != conn {
            return Err(SwarmError::UnknownOffer);
        }
        let idx = *t.index.get(&to).ok_or(SwarmError::UnknownOffer)? as usize;
        let offerer = t.peers.get(idx).ok_or(SwarmError::UnknownOffer)?;
        let fresh = offerer
            .pending
            .iter()
            .any(|o| o.offer_id == offer_id && o.to == req.peer_id && o.expires > now);
        if fresh {
            Ok((offerer.conn, idx))
        } else {
            Err(SwarmError::UnknownOffer)
        }
    }

    fn check_registration(
        &self,
        conn: ConnId,
        req: &AnnounceRequest,
        stopping: bool,
    ) -> Result<(), SwarmError> {
        let entry = self.conns.get(&conn);
        let known = entry.is_some_and(|c| {
            c.torrents
                .iter()
                .any(|(h, p)| *h == req.info_hash && *p == req.peer_id)
        });
        let n = entry.map_or(0, |c| c.torrents.len());
        if !known && !stopping && n >= self.cfg.max_torrents_per_conn {
            return Err(SwarmError::TooManyTorrents {
                max: self.cfg.max_torrents_per_conn,
            });
        }
        if let Some(p) = self
            .torrents
            .get(&req.info_hash)
            .and_then(|t| t.get(&req.peer_id))
        {
            if p.conn != conn {
                return Err(SwarmError::PeerIdTaken);
            }
        }
        Ok(())
    }

    /// Adds or refreshes the announcing peer; returns its index in the torrent.
    fn upsert_peer(
        &mut self,
        conn: ConnId,
        req: &AnnounceRequest,
        seeder: bool,
        now: Time,
    ) -> usize {
        let t = self.torrents.entry(req.info_hash).or_default();
        if req.event == Some(Event::Completed) {
            t.downloaded = t.downloaded.saturating_add(1);
        }
        if let Some(&i) = t.index.get(&req.peer_id) {
            let i = i as usize;
            let p = &mut t.peers[i];
            p.last_seen = now;
            if p.seeder != seeder {
                p.seeder = seeder;
                if seeder {
                    t.seeders += 1;
                    self.seeders += 1;
                } else {
                    t.seeders -= 1;
                    self.seeders -= 1;
                }
            }
            return i;
        }
        let i = t.peers.len();
        // Peer counts per torrent stay far below u32::MAX (one per connection).
        let i32 = u32::try_from(i).unwrap_or(u32::MAX);
        t.index.insert(req.peer_id, i32);
        t.peers.push(Peer {
            id: req.peer_id,
            conn,
            seeder,
            last_seen: now,
            pending: Vec::new(),
        });
        if seeder {
            t.seeders += 1;
            self.seeders += 1;
        }
        self.peers += 1;
        self.conns
            .entry(conn)
            .or_default()
            .torrents
            .push((req.info_hash, req.peer_id));
        i
    }

    fn remove_peer(&mut self, conn: ConnId, ih: InfoHash, pid: PeerId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.torrents.retain(|(h, p)| !(*h == ih && *p == pid));
        }
        self.remove_from_torrent(conn, ih, pid);
    }

    fn remove_from_torrent(&mut self, conn: ConnId, ih: InfoHash, pid: PeerId) {
        let Some(t) = self.torrents.get_mut(&ih) else {
            return;
        };
        let Some(&i) = t.index.get(&pid) else {
            return;
        };
        let i = i as usize;
        if t.peers[i].conn != conn {
            return;
        }
        if t.peers[i].seeder {
            self.seeders -= 1;
        }
        t.swap_remove(i);
        self.peers -= 1;
        if t.peers.is_empty() {
            self.torrents.remove(&ih);
        }
    }

    /// The announce reply, with `warning` as its `warning message`.
    fn reply(&self, conn: ConnId, ih: InfoHash, warning: Option<String>, out: &mut Vec<Outgoing>) {
        let (complete, incomplete) = self
            .torrents
            .get(&ih)
            .map_or((0, 0), |t| (t.seeders, t.leechers()));
        out.push(Outgoing {
            conn,
            msg: TrackerMessage::AnnounceResponse(AnnounceResponse {
                info_hash: ih,
                complete: Some(complete),
                incomplete: Some(incomplete),
                interval: Some(self.cfg.interval_secs),
                tracker_id: None,
                warning_message: warning,
            }),
        });
    }

    /// Sends each offer to a different random peer (never the sender; a seeder's offers go
    /// only to leechers) and remembers it until answered or stale.
    fn forward_offers(
        &mut self,
        req: AnnounceRequest,
        self_idx: usize,
        seeder: bool,
        now: Time,
        out: &mut Vec<Outgoing>,
    ) {
        let Some(t) = self.torrents.get_mut(&req.info_hash) else {
            return;
        };
        pick_targets(
            &mut self.rng,
            t,
            self_idx,
            seeder,
            req.offers.len(),
            &mut self.scratch,
        );
        let expires = now + self.cfg.offer_timeout;
        let max_pending = self.cfg.max_pending_offers;
        for (offer, &target) in req.offers.into_iter().zip(self.scratch.iter()) {
            let target = &t.peers[target as usize];
            let (to, to_conn) = (target.id, target.conn);
            out.push(Outgoing {
                conn: to_conn,
                msg: TrackerMessage::Offer(OfferForward {
                    info_hash: req.info_hash,
                    peer_id: req.peer_id,
                    offer_id: offer.offer_id,
                    offer: offer.offer,
                }),
            });
            let me = &mut t.peers[self_idx];
            if me.pending.len() >= max_pending {
                me.pending.remove(0);
            }
            me.pending.push(PendingOffer {
                offer_id: offer.offer_id,
                to,
                expires,
            });
        }
    }
}

mod torrent;

/// Cuts `offers` to `max`; returns the warning for the reply when it did.
fn trim_offers<T>(offers: &mut Vec<T>, max: usize) -> Option<String> {
    let sent = offers.len();
    (sent > max).then(|| {
        offers.truncate(max);
        format!("{sent} offers sent, the first {max} forwarded (max_offers {max})")
    })
}

#[cfg(test)]
mod tests;
