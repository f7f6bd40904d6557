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

pub(super) struct SuperSeed {
    order: Vec<u32>,
    cursor: usize,
    /// Pieces some peer has shown it has.
    seen: Bitfield,
    /// Revealed pieces a peer finished that no other peer has shown yet, by piece.
    unspread: BTreeMap<u32, Vec<PeerKey>>,
}

impl SuperSeed {
    pub(super) fn new(num_pieces: u32, rng: &mut Rng) -> SuperSeed {
        let mut order: Vec<u32> = (0..num_pieces).collect();
        rng.shuffle(&mut order);
        SuperSeed {
            order,
            cursor: 0,
            seen: Bitfield::new(num_pieces),
            unspread: BTreeMap::new(),
        }
    }
}

impl<S: PieceStore> Core<S> {
    /// Whether we are a seed in initial-seeding mode.
    pub(super) fn super_seeding(&self) -> bool {
        self.super_seed.is_some()
    }

    /// Shows `p` new pieces until it has its quota of revealed, unfinished ones.
    pub(super) fn reveal(&mut self, p: &mut Peer) {
        let Some(ss) = &mut self.super_seed else {
            return;
        };
        let piece_len = self.meta.as_ref().map_or(1, |m| m.info.piece_length());
        let per_sec = p.upload_rate(self.now) / u64::from(piece_len.max(1));
        let quota = usize::try_from(per_sec)
            .unwrap_or(MAX_REVEALED)
            .saturating_add(MIN_REVEALED)
            .min(MAX_REVEALED);
        let n = ss.order.len();
        let mut scanned = 0;
        let mut show = Vec::new();
        let held = p.unspread.saturating_sub(HOLD_SLACK * quota);
        while p.revealed.len() + held + show.len() < quota && scanned < n.min(SCAN_LIMIT) {
            let piece = ss.order[ss.cursor];
            ss.cursor = (ss.cursor + 1) % n;
            scanned += 1;
            if !p.has.get(piece) && !p.revealed.contains(&piece) && !show.contains(&piece) {
                show.push(piece);
            }
        }
        for piece in show {
            p.revealed.push(piece);
            self.emit(p, &Message::Have { index: piece });
        }
    }

    /// A peer showed it has `piece` (a `have`, or a bit of its bitfield).
    pub(super) fn super_seed_saw(&mut self, p: &mut Peer, piece: u32) {
        let Some(ss) = &mut self.super_seed else {
            return;
        };
        let seen_before = ss.seen.get(piece);
        ss.seen.set(piece);
        // Peers whose finished reveal this was may be shown more: it has spread.
        if let Some(waiting) = ss.unspread.remove(&piece) {
            for key in waiting {
                if key != p.key {
                    self.pending.push_back(Deferred::Reveal(key));
                }
            }
        }
        if let Some(at) = p.revealed.iter().position(|&r| r == piece) {
            p.revealed.swap_remove(at);
            if !seen_before {
                // Strict BEP 16: it counts against the quota until someone else has it, so a
                // peer that never uploads is not shown piece after piece.
                p.unspread += 1;
                ss.unspread.entry(piece).or_default().push(p.key);
                self.pending.push_back(Deferred::HoldBack(p.key));
            }
        }
        if ss.seen.is_full() {
            self.end_super_seeding = true;
        } else {
            self.reveal(p);
        }
    }

    /// A reveal that `p` finished was seen at another peer.
    pub(super) fn super_seed_spread(&mut self, p: &mut Peer) {
        p.unspread = p.unspread.saturating_sub(1);
        self.reveal(p);
    }

    /// Lifts the strict rule for `p`: its finished reveals stop counting against its quota.
    pub(super) fn super_seed_waive(&mut self, p: &mut Peer) {
        let Some(ss) = &mut self.super_seed else {
            return;
        };
        if p.unspread == 0 {
            return;
        }
        p.unspread = 0;
        ss.unspread.retain(|_, keys| {
            keys.retain(|&k| k != p.key);
            !keys.is_empty()
        });
        self.reveal(p);
    }

    /// Whether some peer is held back by the strict rule.
    pub(super) fn super_seed_holding(&self) -> bool {
        self.super_seed
            .as_ref()
            .is_some_and(|ss| !ss.unspread.is_empty())
    }

    /// A peer's bitfield arrived: all its pieces are seen; then top up its reveals once.
    pub(super) fn super_seed_saw_all(&mut self, p: &mut Peer) {
        let Some(ss) = &mut self.super_seed else {
            return;
        };
        for piece in p.has.iter_ones() {
            ss.seen.set(piece);
        }
        p.revealed.retain(|&r| !p.has.get(r));
        if ss.seen.is_full() {
            self.end_super_seeding = true;
        } else {
            self.reveal(p);
        }
    }

    /// The swarm holds a full copy: tell `p` about every piece it lacks.
    pub(super) fn reveal_all(&mut self, p: &mut Peer) {
        let n = self.have.len();
        for piece in 0..n {
            if !p.has.get(piece) && !p.revealed.contains(&piece) {
                self.emit(p, &Message::Have { index: piece });
            }
        }
        p.revealed.clear();
    }
}
