//! The per-torrent tables behind [`super::Swarm`] and the choice of offer targets.

use std::collections::HashMap;

use tabswarm_core::rng::Rng;
use tabswarm_core::time::Time;
use tabswarm_core::tracker_proto::{InfoHash, OfferId, PeerId};

use super::ConnId;

/// Fills `chosen` with up to `want` distinct random peer indices, excluding `self_idx` and,
/// when `only_leechers`, seeders.
pub(super) fn pick_targets(
    rng: &mut Rng,
    t: &Torrent,
    self_idx: usize,
    only_leechers: bool,
    want: usize,
    chosen: &mut Vec<u32>,
) {
    chosen.clear();
    let n = t.peers.len();
    let eligible_count = if only_leechers {
        t.leechers() as usize
    } else {
        n - 1
    };
    let want = want.min(eligible_count);
    if want == 0 {
        return;
    }
    let eligible = |i: usize| i != self_idx && !(only_leechers && t.peers[i].seeder);
    // Many candidates: sample with rejection (expected < 4 draws per pick).
    if eligible_count >= 2 * want && eligible_count * 4 >= n {
        let mut draws = 0;
        while chosen.len() < want && draws < 64 * want {
            draws += 1;
            let i = rng.index(n);
            let i32 = u32::try_from(i).unwrap_or(u32::MAX);
            if eligible(i) && !chosen.contains(&i32) {
                chosen.push(i32);
            }
        }
        if chosen.len() == want {
            return;
        }
        chosen.clear();
    }
    // Few candidates: list them and take a random prefix (partial Fisher-Yates).
    chosen.extend(
        (0..n)
            .filter(|&i| eligible(i))
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX)),
    );
    for k in 0..want {
        let j = k + rng.index(chosen.len() - k);
        chosen.swap(k, j);
    }
    chosen.truncate(want);
}

#[derive(Debug, Default)]
pub(super) struct ConnEntry {
    /// The (torrent, peer id) pairs this connection announced.
    pub(super) torrents: Vec<(InfoHash, PeerId)>,
}

#[derive(Debug, Default)]
pub(super) struct Torrent {
    pub(super) peers: Vec<Peer>,
    pub(super) index: HashMap<PeerId, u32>,
    pub(super) seeders: u32,
    /// `completed` events seen (the scrape's `downloaded`).
    pub(super) downloaded: u32,
}

impl Torrent {
    pub(super) fn get(&self, id: &PeerId) -> Option<&Peer> {
        self.index.get(id).and_then(|&i| self.peers.get(i as usize))
    }

    pub(super) fn leechers(&self) -> u32 {
        let n = u32::try_from(self.peers.len()).unwrap_or(u32::MAX);
        n - self.seeders
    }

    /// Removes peer `i` keeping `index` right; fixes `seeders` (the caller fixes the totals).
    pub(super) fn swap_remove(&mut self, i: usize) {
        let p = self.peers.swap_remove(i);
        self.index.remove(&p.id);
        if p.seeder {
            self.seeders -= 1;
        }
        if let Some(moved) = self.peers.get(i) {
            let i32 = u32::try_from(i).unwrap_or(u32::MAX);
            self.index.insert(moved.id, i32);
        }
    }
}

#[derive(Debug)]
pub(super) struct Peer {
    pub(super) id: PeerId,
    pub(super) conn: ConnId,
    pub(super) seeder: bool,
    pub(super) last_seen: Time,
    /// Offers forwarded for this peer, oldest first.
    pub(super) pending: Vec<PendingOffer>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct PendingOffer {
    pub(super) offer_id: OfferId,
    /// The peer the offer went to: the only one whose answer is relayed.
    pub(super) to: PeerId,
    pub(super) expires: Time,
}
