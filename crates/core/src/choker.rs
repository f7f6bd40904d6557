//! Tit-for-tat choking as pure logic.
//!
//! The [`Choker`] decides which peers we upload to. It holds only its own decisions (which peers
//! have a *regular* slot, which one has the *optimistic* slot, and when the next rounds are due);
//! everything it judges by comes in as a slice of [`Candidate`]s, built by the engine in a
//! deterministic order, and every random choice is drawn from the caller's [`Rng`]. The same
//! inputs therefore give the same decisions bit for bit. Decisions come out as [`ChokeChange`]s
//! for the engine to turn into `choke` / `unchoke` messages.
//!
//! The rules (defaults in [`ChokerConfig::default`]):
//! - **Rechoke** every `rechoke_interval` (10 s): the `unchoke_slots` (4) interested peers
//!   that sent us the most over the rate window (20 s, measured by the engine) get the regular
//!   slots; while *seeding* the rank is our upload rate to them instead. Among equal rates a
//!   peer that does not *withhold* (below) comes first, then peers already unchoked, then the
//!   rng decides. Everyone else is choked, except the optimistic peer.
//! - **Optimistic unchoke** every `optimistic_interval` (30 s), and whenever the slot is empty
//!   or its peer was promoted to a regular slot or lost interest: one random interested peer
//!   without a regular slot is unchoked. A peer is *new* while it has been connected for less
//!   than one `optimistic_interval`; new peers are three times as likely to be drawn, since
//!   they have nothing to trade yet. While we download, the slot is a chance to reciprocate,
//!   so a peer that *withholds* (below) is a third as likely to be drawn as one that does not:
//!   it already knows we want its pieces and keeps us choked. If the optimistic peer still
//!   withholds at a rechoke a full `rechoke_interval` after it got the slot, the slot moves
//!   on at that rechoke, and that peer is not drawn again while others wait, until it sends
//!   us a block. An honest peer whose slots are full is only drawn less often; a free rider
//!   gets each peer's optimistic slot for one round instead of three, and from each peer
//!   about once.
//! - **Anti-snubbing**: a peer is *snubbed* when we have been interested in it for at least
//!   `snub_timeout` (60 s) and it sent us no block during the last `snub_timeout`. While we are
//!   downloading, a snubbed peer cannot hold a regular slot (it can still be drawn optimistic).
//! - **Between rounds**, as WebTorrent does, a peer that becomes interested is unchoked at once
//!   if a regular slot is free, and a slot freed by a peer that lost interest or disconnected
//!   is handed to the best waiting peer at once, so upload capacity is not left idle for up
//!   to 10 s. While we download, these slots are not given away blindly:
//!   - a peer that *withholds* (it has pieces we want, keeps us choked, and never sent us a
//!     block) does not get one: tit-for-tat has nothing to reward;
//!   - a peer that gets one without ever having sent us a block is on *probation*: if it sends
//!     us nothing for [`PROBATION`] (5 s), or withholds for [`WITHHOLD_GRACE`] (1 s) after we
//!     became interested in it, the slot moves on and it gets no more slots between rounds
//!     while it has sent us nothing. A newcomer with nothing to trade keeps its slot until
//!     the round ends; a free rider loses it within seconds.

use std::time::Duration;

use crate::ids::PeerKey;
use crate::rng::Rng;
use crate::time::Time;

/// Slot count and intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChokerConfig {
    /// Regular unchoke slots (the optimistic slot comes on top).
    pub unchoke_slots: u32,
    pub rechoke_interval: Duration,
    pub optimistic_interval: Duration,
    pub snub_timeout: Duration,
}

impl Default for ChokerConfig {
    fn default() -> Self {
        ChokerConfig {
            unchoke_slots: 4,
            rechoke_interval: Duration::from_secs(10),
            optimistic_interval: Duration::from_secs(30),
            snub_timeout: Duration::from_secs(60),
        }
    }
}

/// What the choker knows about one connected peer when it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub peer: PeerKey,
    pub peer_interested: bool,
    /// Bytes/s of blocks it sent us over the rate window.
    pub download_rate: u64,
    /// Bytes/s of blocks we sent it over the rate window.
    pub upload_rate: u64,
    pub connected_at: Time,
    /// Since when we have been interested in it (`None`: we are not).
    pub am_interested_since: Option<Time>,
    /// When it last sent us a block we asked for (`None`: never).
    pub last_block_at: Option<Time>,
    /// It is choking us.
    pub chokes_us: bool,
}

impl Candidate {
    /// It has something we want, keeps us choked, and has never sent us a block: it gets no
    /// slot between rounds while we download (it can still win one at a rechoke, or the
    /// optimistic slot).
    fn withholds(&self) -> bool {
        self.am_interested_since.is_some() && self.chokes_us && self.last_block_at.is_none()
    }
}

/// One decision for the engine to carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChokeChange {
    Unchoke(PeerKey),
    Choke(PeerKey),
}

/// The choking state machine for one torrent.
#[derive(Debug, Clone)]
pub struct Choker {
    config: ChokerConfig,
    regular: Vec<PeerKey>,
    optimistic: Option<PeerKey>,
    /// When the optimistic peer got the slot.
    optimistic_since: Time,
    next_rechoke: Time,
    next_optimistic: Time,
    /// Regular slots handed out between rounds to peers that had sent us nothing, and when.
    probation: Vec<(PeerKey, Time)>,
    /// Peers that sent us nothing during their probation: no more slots between rounds.
    failed_probation: Vec<PeerKey>,
    /// Peers that withheld through a round in the optimistic slot: not drawn again while
    /// others wait, until they send us a block.
    withheld_optimistic: Vec<PeerKey>,
}

/// How long a peer unchoked between rounds may send us nothing before its slot moves on.
pub const PROBATION: Duration = Duration::from_secs(5);

/// How long a peer on probation may keep us choked once it has something we want.
pub const WITHHOLD_GRACE: Duration = Duration::from_secs(1);

impl Choker {
    /// First rechoke one interval after `now`; the first optimistic unchoke happens at the first
    /// rechoke that finds the slot empty.
    pub fn new(config: ChokerConfig, now: Time) -> Choker {
        let next_rechoke = now + config.rechoke_interval;
        Choker {
            config,
            regular: Vec::new(),
            optimistic: None,
            optimistic_since: now,
            next_rechoke,
            next_optimistic: now,
            probation: Vec::new(),
            failed_probation: Vec::new(),
            withheld_optimistic: Vec::new(),
        }
    }

    pub fn config(&self) -> &ChokerConfig {
        &self.config
    }

    /// When [`rechoke`](Choker::rechoke) is due next.
    pub fn next_rechoke(&self) -> Time {
        self.next_rechoke
    }

    /// Whether we are uploading to `peer` (regular or optimistic).
    pub fn is_unchoked(&self, peer: PeerKey) -> bool {
        self.optimistic == Some(peer) || self.regular.contains(&peer)
    }

    /// The peer holding the optimistic slot.
    pub fn optimistic(&self) -> Option<PeerKey> {
        self.optimistic
    }

    /// The full round: regular slots by rate, optimistic slot rotation. Call it when
    /// `now >= next_rechoke()`. `candidates` are all connected peers (interested or not).
    pub fn rechoke(
        &mut self,
        now: Time,
        seeding: bool,
        candidates: &[Candidate],
        rng: &mut Rng,
        changes: &mut Vec<ChokeChange>,
    ) {
        self.next_rechoke = now + self.config.rechoke_interval;
        self.probation.clear();
        self.failed_probation.retain(|p| {
            candidates
                .iter()
                .any(|c| c.peer == *p && c.download_rate == 0)
        });
        let before = self.unchoked_set();
        let ranked = self.rank(now, seeding, candidates, rng);
        self.regular = ranked
            .into_iter()
            .take(self.config.unchoke_slots as usize)
            .collect();
        self.withheld_optimistic.retain(|p| {
            candidates
                .iter()
                .any(|c| c.peer == *p && c.last_block_at.is_none())
        });
        let held = now.saturating_since(self.optimistic_since) >= self.config.rechoke_interval;
        let optimistic = self
            .optimistic
            .and_then(|p| candidates.iter().find(|c| c.peer == p));
        let spurns = optimistic.is_some_and(|c| held && c.withholds());
        let keep_optimistic = optimistic.is_some_and(|c| {
            now < self.next_optimistic
                && !self.regular.contains(&c.peer)
                && c.peer_interested
                && !spurns
        });
        if spurns {
            self.withheld_optimistic.extend(self.optimistic);
        }
        if !keep_optimistic {
            self.optimistic = self.draw_optimistic(now, candidates, rng);
            self.optimistic_since = now;
            self.next_optimistic = now + self.config.optimistic_interval;
        }
        self.diff(&before, candidates, changes);
    }

    /// `peer` said `interested`: unchoke it now if a regular slot is free. While downloading,
    /// a peer that has sent us nothing holds such a slot on probation (see [`Choker::review`]).
    pub fn on_interested(
        &mut self,
        now: Time,
        c: &Candidate,
        seeding: bool,
        changes: &mut Vec<ChokeChange>,
    ) {
        let peer = c.peer;
        if self.is_unchoked(peer) || self.regular.len() >= self.config.unchoke_slots as usize {
            return;
        }
        if self.may_take_free_slot(c, seeding) {
            self.grant(now, c, seeding, changes);
        }
    }

    /// Whether `c` may be given a slot between rounds: while we download, not if it has sent
    /// us nothing and either withholds or already failed a probation.
    fn may_take_free_slot(&self, c: &Candidate, seeding: bool) -> bool {
        seeding
            || c.last_block_at.is_some()
            || !(self.failed_probation.contains(&c.peer) || c.withholds())
    }

    /// Gives `c` a regular slot between rounds; while downloading, a peer that has sent us
    /// nothing holds it on probation.
    fn grant(&mut self, now: Time, c: &Candidate, seeding: bool, changes: &mut Vec<ChokeChange>) {
        if !seeding && c.last_block_at.is_none() {
            self.probation.push((c.peer, now));
        }
        self.regular.push(c.peer);
        changes.push(ChokeChange::Unchoke(c.peer));
    }

    /// Whether a peer is on probation ([`Choker::review`] has something to do).
    pub fn has_probation(&self) -> bool {
        !self.probation.is_empty()
    }

    /// Every second: a peer on probation that sent us a block keeps its slot until the next
    /// round; one that sent nothing for [`PROBATION`] is choked and its slot handed on, so a
    /// peer that never uploads cannot hold slots won between rounds for a whole round.
    pub fn review(
        &mut self,
        now: Time,
        seeding: bool,
        candidates: &[Candidate],
        rng: &mut Rng,
        changes: &mut Vec<ChokeChange>,
    ) {
        if seeding {
            self.probation.clear();
            return;
        }
        let mut expired = Vec::new();
        self.probation.retain(|&(peer, since)| {
            let Some(c) = candidates.iter().find(|c| c.peer == peer) else {
                return false;
            };
            if c.last_block_at.is_some_and(|t| t >= since) {
                return false;
            }
            let withholding = c.withholds()
                && c.am_interested_since
                    .is_some_and(|t| now.saturating_since(t) >= WITHHOLD_GRACE);
            if withholding || now.saturating_since(since) >= PROBATION {
                expired.push(peer);
                return false;
            }
            true
        });
        for peer in expired {
            if !self.regular.contains(&peer) {
                continue;
            }
            self.failed_probation.push(peer);
            self.on_leave(now, peer, seeding, candidates, rng, changes);
        }
    }

    /// `peer` said `not interested` or disconnected: its slot goes to the best waiting
    /// candidate. `peer` still listed in `candidates` means it is still connected and gets a
    /// `Choke`; a disconnected peer must not be listed.
    pub fn on_leave(
        &mut self,
        now: Time,
        peer: PeerKey,
        seeding: bool,
        candidates: &[Candidate],
        rng: &mut Rng,
        changes: &mut Vec<ChokeChange>,
    ) {
        let was_regular = self.regular.contains(&peer);
        let was_optimistic = self.optimistic == Some(peer);
        if !was_regular && !was_optimistic {
            return;
        }
        self.regular.retain(|&p| p != peer);
        if was_optimistic {
            self.optimistic = None;
        }
        if candidates.iter().any(|c| c.peer == peer) {
            changes.push(ChokeChange::Choke(peer));
        }
        let others: Vec<Candidate> = candidates
            .iter()
            .filter(|c| c.peer != peer && !self.is_unchoked(c.peer))
            .cloned()
            .collect();
        if was_regular {
            let next = self
                .rank(now, seeding, &others, rng)
                .into_iter()
                .filter_map(|p| others.iter().find(|c| c.peer == p))
                .find(|c| self.may_take_free_slot(c, seeding));
            if let Some(next) = next {
                self.grant(now, next, seeding, changes);
            }
        } else if let Some(next) = self.draw_optimistic(now, &others, rng) {
            self.optimistic = Some(next);
            self.optimistic_since = now;
            changes.push(ChokeChange::Unchoke(next));
        }
    }

    /// Whether `c` counts as snubbing us at `now` (see the module docs).
    pub fn is_snubbed(&self, now: Time, c: &Candidate) -> bool {
        let Some(since) = c.am_interested_since else {
            return false;
        };
        let quiet_since = c.last_block_at.map_or(since, |b| b.max(since));
        now.saturating_since(quiet_since) >= self.config.snub_timeout
    }

    /// Interested, eligible peers, best first. Draws one rng value per candidate in slice order
    /// for the tie-break, so the rng stream does not depend on the rates.
    fn rank(
        &self,
        now: Time,
        seeding: bool,
        candidates: &[Candidate],
        rng: &mut Rng,
    ) -> Vec<PeerKey> {
        let mut ranked: Vec<(u64, bool, bool, u64, PeerKey)> = candidates
            .iter()
            .filter(|c| {
                c.peer_interested
                    && (seeding
                        || (!self.is_snubbed(now, c) && !self.failed_probation.contains(&c.peer)))
            })
            .map(|c| {
                let rate = if seeding {
                    c.upload_rate
                } else {
                    c.download_rate
                };
                let incumbent = self.regular.contains(&c.peer);
                (rate, !c.withholds(), incumbent, rng.next_u64(), c.peer)
            })
            .collect();
        ranked.sort_unstable_by(|a, b| b.cmp(a));
        ranked.into_iter().map(|(_, _, _, _, p)| p).collect()
    }

    /// A weighted draw among interested peers without a regular slot: new peers weigh three
    /// times as much, and so do peers that do not withhold. Spurned peers are drawn only if
    /// nobody else waits.
    fn draw_optimistic(
        &self,
        now: Time,
        candidates: &[Candidate],
        rng: &mut Rng,
    ) -> Option<PeerKey> {
        let weight = |c: &Candidate| -> u64 {
            let new = now.saturating_since(c.connected_at) < self.config.optimistic_interval;
            (if new { 3 } else { 1 }) * (if c.withholds() { 1 } else { 3 })
        };
        let mut pool: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| c.peer_interested && !self.regular.contains(&c.peer))
            .collect();
        if pool
            .iter()
            .any(|c| !self.withheld_optimistic.contains(&c.peer))
        {
            pool.retain(|c| !self.withheld_optimistic.contains(&c.peer));
        }
        let total: u64 = pool.iter().map(|c| weight(c)).sum();
        let mut pick = rng.below(total);
        for c in pool {
            let w = weight(c);
            if pick < w {
                return Some(c.peer);
            }
            pick -= w;
        }
        None
    }

    fn unchoked_set(&self) -> Vec<PeerKey> {
        let mut v = self.regular.clone();
        v.extend(self.optimistic);
        v
    }

    fn diff(&self, before: &[PeerKey], candidates: &[Candidate], out: &mut Vec<ChokeChange>) {
        for c in candidates {
            let was = before.contains(&c.peer);
            let is = self.is_unchoked(c.peer);
            if was && !is {
                out.push(ChokeChange::Choke(c.peer));
            } else if is && !was {
                out.push(ChokeChange::Unchoke(c.peer));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn secs(s: u64) -> Time {
        Time::from_millis(s * 1000)
    }

    fn cand(key: u64, interested: bool, down: u64, up: u64) -> Candidate {
        Candidate {
            peer: PeerKey(key),
            peer_interested: interested,
            download_rate: down,
            upload_rate: up,
            connected_at: Time::ZERO,
            am_interested_since: None,
            last_block_at: None,
            chokes_us: false,
        }
    }

    fn unchoked(ch: &Choker, cands: &[Candidate]) -> Vec<u64> {
        cands
            .iter()
            .filter(|c| ch.is_unchoked(c.peer))
            .map(|c| c.peer.0)
            .collect()
    }

    #[test]
    fn rechoke_keeps_the_four_fastest_uploaders_plus_one_optimistic() {
        let mut rng = Rng::new(1);
        let mut ch = Choker::new(ChokerConfig::default(), Time::ZERO);
        // Peers 0..10; the download rate from peer i is i * 100; peer 9 is not interested.
        let cands: Vec<Candidate> = (0..10)
            .map(|i| cand(i, i != 9, i * 100, 1000 - i * 100))
            .collect();
        let mut changes = Vec::new();
        assert_eq!(ch.next_rechoke(), secs(10));
        ch.rechoke(secs(10), false, &cands, &mut rng, &mut changes);
        let on = unchoked(&ch, &cands);
        assert_eq!(on.len(), 5);
        for fast in [5, 6, 7, 8] {
            assert!(on.contains(&fast), "{on:?}");
        }
        assert!(!on.contains(&9));
        let opt = ch.optimistic().unwrap().0;
        assert!(opt < 5);
        assert_eq!(changes.len(), 5);
        assert!(changes.iter().all(|c| matches!(c, ChokeChange::Unchoke(_))));
        // Seeding ranks by our upload rate to them instead: peers 0..3 win.
        changes.clear();
        ch.rechoke(secs(20), true, &cands, &mut rng, &mut changes);
        let on = unchoked(&ch, &cands);
        for fast in [0, 1, 2, 3] {
            assert!(on.contains(&fast), "{on:?}");
        }
        assert!(changes.contains(&ChokeChange::Choke(PeerKey(8))));
        assert_eq!(ch.next_rechoke(), secs(30));
    }

    #[test]
    fn optimistic_slot_rotates_every_30_s_and_favours_new_peers() {
        let mut ch = Choker::new(ChokerConfig::default(), Time::ZERO);
        let mut rng = Rng::new(2);
        let mut changes = Vec::new();
        // Four fast peers take the regular slots; 1 old and 1 new slow peer compete for
        // the optimistic slot. Count who wins over many independent draws.
        let mut wins_new = 0;
        for round in 0..3000u64 {
            let now = secs(100);
            let mut cands: Vec<Candidate> = (0..4).map(|i| cand(i, true, 1000, 0)).collect();
            cands.push(cand(10, true, 0, 0));
            let mut fresh = cand(11, true, 0, 0);
            fresh.connected_at = secs(90);
            cands.push(fresh);
            let mut c2 = Choker::new(ChokerConfig::default(), Time::ZERO);
            c2.rechoke(now, false, &cands, &mut rng, &mut changes);
            if c2.optimistic() == Some(PeerKey(11)) {
                wins_new += 1;
            }
            if round == 0 {
                ch = c2;
            }
        }
        // Expected 3/4 of 3000 = 2250.
        assert!((2100..2400).contains(&wins_new), "{wins_new}");
        // The optimistic peer survives a rechoke before 30 s and rotates at 30 s.
        let cands: Vec<Candidate> = (0..4)
            .map(|i| cand(i, true, 1000, 0))
            .chain((10..20).map(|i| cand(i, true, 0, 0)))
            .collect();
        let first = ch.optimistic().unwrap();
        let mut changed = false;
        ch.rechoke(secs(110), false, &cands, &mut rng, &mut changes);
        assert_eq!(ch.optimistic(), Some(first));
        ch.rechoke(secs(120), false, &cands, &mut rng, &mut changes);
        assert_eq!(ch.optimistic(), Some(first));
        for t in [130, 160, 190, 220] {
            ch.rechoke(secs(t), false, &cands, &mut rng, &mut changes);
            changed |= ch.optimistic() != Some(first);
        }
        assert!(changed);
    }

    /// A peer that has pieces we want, keeps us choked and never sent us a block.
    fn withholding(key: u64) -> Candidate {
        let mut c = cand(key, true, 0, 0);
        c.am_interested_since = Some(Time::ZERO);
        c.chokes_us = true;
        c
    }

    #[test]
    fn optimistic_draws_favour_peers_that_do_not_withhold() {
        let mut rng = Rng::new(12);
        let mut changes = Vec::new();
        let mut wins_open = 0;
        for _ in 0..3000 {
            let mut cands: Vec<Candidate> = (0..4).map(|i| cand(i, true, 1000, 0)).collect();
            cands.push(withholding(10));
            cands.push(cand(11, true, 0, 0));
            let mut ch = Choker::new(ChokerConfig::default(), Time::ZERO);
            ch.rechoke(secs(100), false, &cands, &mut rng, &mut changes);
            if ch.optimistic() == Some(PeerKey(11)) {
                wins_open += 1;
            }
        }
        // Expected 3/4 of 3000 = 2250.
        assert!((2100..2400).contains(&wins_open), "{wins_open}");
    }

    #[test]
    fn optimistic_peer_that_withholds_through_a_round_loses_the_slot() {
        let mut ch = Choker::new(ChokerConfig::default(), Time::ZERO);
        let mut rng = Rng::new(13);
        let mut changes = Vec::new();
        let fast: Vec<Candidate> = (0..4).map(|i| cand(i, true, 1000, 0)).collect();
        let with =
            |extra: &[Candidate]| -> Vec<Candidate> { fast.iter().chain(extra).cloned().collect() };
        let mut w = withholding(10);
        let mut x = cand(11, true, 0, 0);
        // One rechoke at `t` seconds with w and x besides the fast four: who is optimistic.
        let mut round = |t: u64, w: &Candidate, x: &Candidate| {
            ch.rechoke(
                secs(t),
                false,
                &with(&[w.clone(), x.clone()]),
                &mut rng,
                &mut changes,
            );
            ch.optimistic()
        };
        x.peer_interested = false;
        // Only w waits: it gets the optimistic slot at t = 10.
        assert_eq!(round(10, &w, &x), Some(PeerKey(10)));
        // A round later it still withholds: the slot moves on to x, 20 s early.
        x.peer_interested = true;
        assert_eq!(round(20, &w, &x), Some(PeerKey(11)));
        // At the next rotations w is not drawn while x waits.
        for t in [50, 80, 110] {
            assert_eq!(round(t, &w, &x), Some(PeerKey(11)), "t = {t}");
        }
        // Nobody else waits: w may have the slot again.
        x.peer_interested = false;
        assert_eq!(round(140, &w, &x), Some(PeerKey(10)));
        // Once it has sent us a block it no longer withholds and keeps the slot for 30 s.
        w.last_block_at = Some(secs(145));
        x.peer_interested = true;
        for t in [150, 160] {
            assert_eq!(round(t, &w, &x), Some(PeerKey(10)), "t = {t}");
        }
    }

    #[test]
    fn snubbing_peer_loses_its_regular_slot() {
        let mut ch = Choker::new(ChokerConfig::default(), Time::ZERO);
        let mut rng = Rng::new(3);
        let mut changes = Vec::new();
        // Only two interested peers: both get regular slots while they deliver.
        let mut a = cand(1, true, 500, 0);
        let mut b = cand(2, true, 400, 0);
        for p in [&mut a, &mut b] {
            p.am_interested_since = Some(Time::ZERO);
            p.last_block_at = Some(secs(5));
        }
        ch.rechoke(
            secs(10),
            false,
            &[a.clone(), b.clone()],
            &mut rng,
            &mut changes,
        );
        assert!(ch.is_unchoked(PeerKey(1)) && ch.is_unchoked(PeerKey(2)));
        // 60 s later b has sent nothing since t=5: snubbed; a keeps delivering.
        a.last_block_at = Some(secs(64));
        b.download_rate = 0;
        assert!(ch.is_snubbed(secs(70), &b));
        assert!(!ch.is_snubbed(secs(70), &a));
        ch.rechoke(
            secs(70),
            false,
            &[a.clone(), b.clone()],
            &mut rng,
            &mut changes,
        );
        // b lost its regular slot; with no other candidate it may hold the optimistic one.
        assert!(ch.is_unchoked(PeerKey(1)));
        assert!(!ch.regular.contains(&PeerKey(2)));
        // Not interested in it any more: no longer snubbed.
        b.am_interested_since = None;
        assert!(!ch.is_snubbed(secs(70), &b));
        // While seeding, snubbing does not apply.
        b.am_interested_since = Some(Time::ZERO);
        ch.rechoke(secs(80), true, &[a, b], &mut rng, &mut changes);
        assert!(ch.regular.contains(&PeerKey(2)));
    }

    #[test]
    fn interest_fills_free_slots_and_leaving_hands_them_on() {
        let mut ch = Choker::new(ChokerConfig::default(), Time::ZERO);
        let mut rng = Rng::new(4);
        let mut changes = Vec::new();
        for i in 0..6 {
            ch.on_interested(Time::ZERO, &cand(i, true, 0, 0), false, &mut changes);
        }
        // Four free regular slots at the start; the rest wait for the rechoke.
        assert_eq!(
            changes,
            (0..4)
                .map(|i| ChokeChange::Unchoke(PeerKey(i)))
                .collect::<Vec<_>>()
        );
        changes.clear();
        let cands: Vec<Candidate> = (0..6).map(|i| cand(i, true, i * 10, 0)).collect();
        // Peer 2 loses interest: it is choked and the best waiting peer (5) gets its slot.
        ch.on_leave(secs(1), PeerKey(2), false, &cands, &mut rng, &mut changes);
        assert_eq!(
            changes,
            vec![
                ChokeChange::Choke(PeerKey(2)),
                ChokeChange::Unchoke(PeerKey(5))
            ]
        );
        changes.clear();
        // Peer 0 disconnects: no choke message for it; peer 4 moves up.
        let rest = &cands[1..];
        ch.on_leave(secs(2), PeerKey(0), false, rest, &mut rng, &mut changes);
        assert_eq!(changes, vec![ChokeChange::Unchoke(PeerKey(4))]);
        // A peer that holds no slot leaving changes nothing.
        changes.clear();
        ch.on_leave(secs(3), PeerKey(2), false, rest, &mut rng, &mut changes);
        assert!(changes.is_empty());
    }

    #[test]
    fn same_rng_same_decisions() {
        let run = |seed| {
            let mut ch = Choker::new(ChokerConfig::default(), Time::ZERO);
            let mut rng = Rng::new(seed);
            let mut changes = Vec::new();
            let cands: Vec<Candidate> = (0..30).map(|i| cand(i, true, i % 3, 0)).collect();
            for t in 1..20 {
                ch.rechoke(secs(t * 10), false, &cands, &mut rng, &mut changes);
            }
            changes
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }
}
