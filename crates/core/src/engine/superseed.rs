//! Initial seeding (BEP 16 "super-seeding"), with [`Config::super_seeding`].
//!
//! A lone seed in a flash crowd is the bottleneck: every piece has to leave it at least once,
//! and rarest-first cannot stop two leechers that do not see each other from asking it for the
//! same piece. In this mode the seed does not send its bitfield. It reveals pieces with `have`
//! instead, a few to each peer, walking one shuffled order of all pieces round-robin, so no
//! piece is revealed twice before every piece was revealed once. A peer has a quota of about a
//! second of upload to it (at least two pieces). A revealed piece it finished still counts
//! against its quota until some *other* peer shows the piece (the strict rule of BEP 16): a
//! peer that passes pieces on is shown new ones as fast as it trades, and a peer that never
//! uploads gets its quota three times over (a slack of two, [`HOLD_SLACK`]) and then nothing
//! more from us while the mode lasts. The rule is
//! lifted whenever it would only idle the seed: for a peer that is the only one downloading
//! from us, and for everyone when nobody has a request queued at us (peers that cannot reach
//! each other). Requests for pieces we did not reveal are still served.
//!
//! Once every piece has been seen at some peer (in a bitfield or a `have`), the swarm holds a
//! full copy; the mode ends and every peer is told about every piece, so the seed behaves as a
//! normal seed from then on.
//!
//! [`Config::super_seeding`]: super::Config::super_seeding

use std::collections::BTreeMap;

use super::peer::Peer;
use super::{Core, Deferred, PeerKey};
use crate::bitfield::Bitfield;
use crate::rng::Rng;
use crate::store::PieceStore;
use crate::wire::Message;

/// Finished reveals that have not spread yet count against a peer's quota only beyond this
/// many quotas, so two leechers trading at the seed's pace do not stall each other.
const HOLD_SLACK: usize = 2;

/// Revealed-but-unfinished pieces per peer: at least this many.
const MIN_REVEALED: usize = 2;
/// And at most this many.
const MAX_REVEALED: usize = 64;
/// Pieces examined per call to find ones a peer lacks (bounds the work for a peer that has
/// almost everything).
const SCAN_LIMIT: usize = 1024;

/// The initial-seeding state, all of it: the engine asks it what to reveal and carries out
/// what it answers ([`Step`]).
pub(super) struct SuperSeed {
    order: Vec<u32>,
    cursor: usize,
    /// Bytes per piece, to turn a peer's upload rate into pieces per second.
    piece_len: u32,
    /// Pieces some peer has shown it has.
    seen: Bitfield,
    /// Revealed pieces a peer finished that no other peer has shown yet, by piece.
    unspread: BTreeMap<u32, Vec<PeerKey>>,
    peers: BTreeMap<PeerKey, Shown>,
    /// Every piece was seen somewhere: the mode ends once the engine's queue is drained.
    over: bool,
}

/// What one peer was shown.
#[derive(Default)]
struct Shown {
    /// Pieces revealed to it that it has not announced yet.
    revealed: Vec<u32>,
    /// Reveals it finished that no other peer has shown yet.
    unspread: usize,
}

/// What the engine does after the peer at hand showed pieces.
#[derive(Default)]
pub(super) struct Step {
    /// Pieces to reveal to that peer (`have`).
    show: Vec<u32>,
    /// Peers whose finished reveal has spread: show them more ([`Deferred::Reveal`]).
    spread: Vec<PeerKey>,
    /// That peer finished a reveal nobody else has ([`Deferred::HoldBack`]).
    hold_back: bool,
}

impl SuperSeed {
    pub(super) fn new(num_pieces: u32, piece_len: u32, rng: &mut Rng) -> SuperSeed {
        let mut order: Vec<u32> = (0..num_pieces).collect();
        rng.shuffle(&mut order);
        SuperSeed {
            order,
            cursor: 0,
            piece_len,
            seen: Bitfield::new(num_pieces),
            unspread: BTreeMap::new(),
            peers: BTreeMap::new(),
            over: false,
        }
    }

    /// Every piece has been seen at some peer: the mode is to end.
    pub(super) fn is_over(&self) -> bool {
        self.over
    }

    /// Pieces to show `peer` (which has `has` and receives `upload_rate` bytes/s from us)
    /// until it has its quota of revealed, unfinished ones.
    fn reveal(&mut self, peer: PeerKey, has: &Bitfield, upload_rate: u64) -> Vec<u32> {
        let per_sec = upload_rate / u64::from(self.piece_len.max(1));
        let quota = usize::try_from(per_sec)
            .unwrap_or(MAX_REVEALED)
            .saturating_add(MIN_REVEALED)
            .min(MAX_REVEALED);
        let n = self.order.len();
        let shown = self.peers.entry(peer).or_default();
        let mut scanned = 0;
        let mut show = Vec::new();
        let held = shown.unspread.saturating_sub(HOLD_SLACK * quota);
        while shown.revealed.len() + held + show.len() < quota && scanned < n.min(SCAN_LIMIT) {
            let piece = self.order[self.cursor];
            self.cursor = (self.cursor + 1) % n;
            scanned += 1;
            if !has.get(piece) && !shown.revealed.contains(&piece) && !show.contains(&piece) {
                show.push(piece);
            }
        }
        shown.revealed.extend_from_slice(&show);
        show
    }

    /// `peer` showed it has `piece` (a `have`).
    fn saw(&mut self, peer: PeerKey, piece: u32, has: &Bitfield, upload_rate: u64) -> Step {
        let mut step = Step::default();
        let seen_before = self.seen.get(piece);
        self.seen.set(piece);
        // Peers whose finished reveal this was may be shown more: it has spread.
        if let Some(waiting) = self.unspread.remove(&piece) {
            step.spread = waiting.into_iter().filter(|&k| k != peer).collect();
        }
        let shown = self.peers.entry(peer).or_default();
        if let Some(at) = shown.revealed.iter().position(|&r| r == piece) {
            shown.revealed.swap_remove(at);
            if !seen_before {
                // Strict BEP 16: it counts against the quota until someone else has it, so a
                // peer that never uploads is not shown piece after piece.
                shown.unspread += 1;
                self.unspread.entry(piece).or_default().push(peer);
                step.hold_back = true;
            }
        }
        self.top_up(peer, has, upload_rate, &mut step);
        step
    }

    /// `peer`'s bitfield arrived: all its pieces are seen.
    fn saw_all(&mut self, peer: PeerKey, has: &Bitfield, upload_rate: u64) -> Step {
        for piece in has.iter_ones() {
            self.seen.set(piece);
        }
        let shown = self.peers.entry(peer).or_default();
        shown.revealed.retain(|&r| !has.get(r));
        let mut step = Step::default();
        self.top_up(peer, has, upload_rate, &mut step);
        step
    }

    /// Ends the mode if every piece was seen, or else tops up `peer`'s reveals.
    fn top_up(&mut self, peer: PeerKey, has: &Bitfield, upload_rate: u64, step: &mut Step) {
        if self.seen.is_full() {
            self.over = true;
        } else {
            step.show = self.reveal(peer, has, upload_rate);
        }
    }

    /// A reveal that `peer` finished was seen at another peer: it may be shown more.
    fn spread(&mut self, peer: PeerKey, has: &Bitfield, upload_rate: u64) -> Vec<u32> {
        let shown = self.peers.entry(peer).or_default();
        shown.unspread = shown.unspread.saturating_sub(1);
        self.reveal(peer, has, upload_rate)
    }

    /// Lifts the strict rule for `peer`: its finished reveals stop counting against its quota.
    fn waive(&mut self, peer: PeerKey, has: &Bitfield, upload_rate: u64) -> Vec<u32> {
        let shown = self.peers.entry(peer).or_default();
        if shown.unspread == 0 {
            return Vec::new();
        }
        shown.unspread = 0;
        self.unspread.retain(|_, keys| {
            keys.retain(|&k| k != peer);
            !keys.is_empty()
        });
        self.reveal(peer, has, upload_rate)
    }

    /// Whether some peer is held back by the strict rule.
    pub(super) fn holding(&self) -> bool {
        !self.unspread.is_empty()
    }

    /// `peer` disconnected.
    pub(super) fn forget(&mut self, peer: PeerKey) {
        self.peers.remove(&peer);
    }

    /// Pieces revealed to `peer` that it has not announced.
    pub(super) fn revealed(&self, peer: PeerKey) -> &[u32] {
        self.peers.get(&peer).map_or(&[], |s| &s.revealed)
    }
}

impl<S: PieceStore> Core<S> {
    /// Whether we are a seed in initial-seeding mode.
    pub(super) fn super_seeding(&self) -> bool {
        self.super_seed.is_some()
    }

    /// Shows `p` new pieces until it has its quota of revealed, unfinished ones.
    pub(super) fn reveal(&mut self, p: &mut Peer) {
        let rate = p.upload_rate(self.now);
        if let Some(ss) = &mut self.super_seed {
            let show = ss.reveal(p.key, &p.has, rate);
            self.show(p, &show);
        }
    }

    /// A peer showed it has `piece` (a `have`).
    pub(super) fn super_seed_saw(&mut self, p: &mut Peer, piece: u32) {
        let rate = p.upload_rate(self.now);
        if let Some(ss) = &mut self.super_seed {
            let step = ss.saw(p.key, piece, &p.has, rate);
            self.carry_out(p, step);
        }
    }

    /// A peer's bitfield arrived: all its pieces are seen; then top up its reveals once.
    pub(super) fn super_seed_saw_all(&mut self, p: &mut Peer) {
        let rate = p.upload_rate(self.now);
        if let Some(ss) = &mut self.super_seed {
            let step = ss.saw_all(p.key, &p.has, rate);
            self.carry_out(p, step);
        }
    }

    /// A reveal that `p` finished was seen at another peer.
    pub(super) fn super_seed_spread(&mut self, p: &mut Peer) {
        let rate = p.upload_rate(self.now);
        if let Some(ss) = &mut self.super_seed {
            let show = ss.spread(p.key, &p.has, rate);
            self.show(p, &show);
        }
    }

    /// Lifts the strict rule for `p`: its finished reveals stop counting against its quota.
    pub(super) fn super_seed_waive(&mut self, p: &mut Peer) {
        let rate = p.upload_rate(self.now);
        if let Some(ss) = &mut self.super_seed {
            let show = ss.waive(p.key, &p.has, rate);
            self.show(p, &show);
        }
    }

    /// Whether some peer is held back by the strict rule.
    pub(super) fn super_seed_holding(&self) -> bool {
        self.super_seed.as_ref().is_some_and(SuperSeed::holding)
    }

    fn carry_out(&mut self, p: &mut Peer, step: Step) {
        for key in step.spread {
            self.pending.push_back(Deferred::Reveal(key));
        }
        if step.hold_back {
            self.pending.push_back(Deferred::HoldBack(p.key));
        }
        self.show(p, &step.show);
    }

    fn show(&mut self, p: &mut Peer, pieces: &[u32]) {
        for &piece in pieces {
            self.emit(p, &Message::Have { index: piece });
        }
    }

    /// The mode ended: tell `p` about every piece it lacks (`revealed` were shown already).
    pub(super) fn reveal_all(&mut self, p: &mut Peer, revealed: &[u32]) {
        let n = self.have.len();
        for piece in 0..n {
            if !p.has.get(piece) && !revealed.contains(&piece) {
                self.emit(p, &Message::Have { index: piece });
            }
        }
    }
}
