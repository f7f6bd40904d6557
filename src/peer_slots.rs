//! The peer limit of one torrent, in one place.
//!
//! Every WebRTC connection costs the tab an ICE agent, DTLS and SCTP state, so the limit has
//! to hold for connections still being made, not only for open ones: an offer we made that
//! awaits an answer, and a remote's offer we are answering, each hold a [`Slot`] until the
//! connection is handed to the driver (or given up). Without that, a tracker relaying many
//! offers at once made the tab answer every one of them.
//!
//! Peer ids banned by the engine get no slot: their offers are not answered, their answers
//! to our offers are ignored, and a connection that finishes signalling anyway is dropped.
//! (Peer ids are all a WebRTC peer can be known by; a banned peer that picks a new id starts
//! over with no strikes, as in every WebTorrent client.)

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;

use tabswarm_core::tracker_proto::PeerId;

/// Connections, signalling slots and bans of one torrent.
pub struct PeerSlots {
    max: usize,
    /// Remote peer ids with a connection (open or opening).
    connected: RefCell<HashSet<PeerId>>,
    signalling: Rc<Signalling>,
    banned: RefCell<HashSet<PeerId>>,
}

#[derive(Default)]
struct Signalling {
    held: Cell<usize>,
    /// Remotes whose offer we are answering: one answer at a time per remote.
    answering: RefCell<HashSet<PeerId>>,
}

/// One place in the peer limit, held while signalling; dropping it gives the place back.
pub struct Slot {
    owner: Rc<Signalling>,
    answering: Option<PeerId>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.owner.held.set(self.owner.held.get().saturating_sub(1));
        if let Some(remote) = self.answering {
            self.owner.answering.borrow_mut().remove(&remote);
        }
    }
}

impl PeerSlots {
    /// At most `max` connections and signalling slots together.
    pub fn new(max: usize) -> PeerSlots {
        PeerSlots {
            max,
            connected: RefCell::new(HashSet::new()),
            signalling: Rc::new(Signalling::default()),
            banned: RefCell::new(HashSet::new()),
        }
    }

    /// Places neither connected nor held by signalling.
    pub fn free(&self) -> usize {
        self.max
            .saturating_sub(self.connected.borrow().len())
            .saturating_sub(self.signalling.held.get())
    }

    fn take(&self, answering: Option<PeerId>) -> Slot {
        self.signalling.held.set(self.signalling.held.get() + 1);
        if let Some(remote) = answering {
            self.signalling.answering.borrow_mut().insert(remote);
        }
        Slot {
            owner: self.signalling.clone(),
            answering,
        }
    }

    /// A slot for answering `remote`'s offer, unless it is banned, connected, already being
    /// answered, or the torrent is full.
    pub fn for_answer(&self, remote: &PeerId) -> Option<Slot> {
        let refused = self.is_banned(remote)
            || self.connected.borrow().contains(remote)
            || self.signalling.answering.borrow().contains(remote)
            || self.free() == 0;
        (!refused).then(|| self.take(Some(*remote)))
    }

    /// Up to `want` slots for offers of our own (fewer when the torrent is nearly full).
    pub fn for_offers(&self, want: usize) -> Vec<Slot> {
        (0..want.min(self.free()))
            .map(|_| self.take(None))
            .collect()
    }

    /// Records a connection to `remote` (its signalling slot, if any, is dropped after this);
    /// false, and nothing recorded, when `remote` is banned.
    pub fn connect(&self, remote: PeerId) -> bool {
        if self.is_banned(&remote) {
            return false;
        }
        self.connected.borrow_mut().insert(remote);
        true
    }

    /// The connection to `remote` is gone.
    pub fn disconnect(&self, remote: &PeerId) {
        self.connected.borrow_mut().remove(remote);
    }

    /// Bans `remote` for the torrent's life.
    pub fn ban(&self, remote: PeerId) {
        self.banned.borrow_mut().insert(remote);
    }

    pub fn is_banned(&self, remote: &PeerId) -> bool {
        self.banned.borrow().contains(remote)
    }

    /// No connection at all (open or opening).
    pub fn none_connected(&self) -> bool {
        self.connected.borrow().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> PeerId {
        PeerId([n; 20])
    }

    #[test]
    fn signalling_counts_against_the_limit() {
        let slots = PeerSlots::new(4);
        let offers = slots.for_offers(3);
        assert_eq!(offers.len(), 3);
        let answer = slots.for_answer(&id(1)).expect("one place left");
        assert_eq!(slots.free(), 0);
        assert!(slots.for_answer(&id(2)).is_none(), "full while signalling");
        assert!(slots.for_offers(5).is_empty());
        drop(answer);
        assert_eq!(slots.free(), 1);
        drop(offers);
        assert_eq!(slots.free(), 4);
    }

    #[test]
    fn a_connection_keeps_the_place_its_slot_held() {
        let slots = PeerSlots::new(2);
        let slot = slots.for_answer(&id(1)).unwrap();
        assert!(slots.connect(id(1)));
        drop(slot);
        assert_eq!(slots.free(), 1);
        assert!(slots.for_answer(&id(1)).is_none(), "already connected");
        slots.disconnect(&id(1));
        assert_eq!(slots.free(), 2);
        assert!(slots.none_connected());
    }

    #[test]
    fn one_answer_at_a_time_per_remote() {
        let slots = PeerSlots::new(50);
        let first = slots.for_answer(&id(1)).unwrap();
        for _ in 0..10 {
            assert!(slots.for_answer(&id(1)).is_none());
        }
        assert_eq!(slots.free(), 49);
        drop(first);
        assert!(slots.for_answer(&id(1)).is_some());
    }

    #[test]
    fn banned_peers_get_no_slot_and_no_connection() {
        let slots = PeerSlots::new(50);
        slots.ban(id(9));
        assert!(slots.for_answer(&id(9)).is_none());
        assert!(!slots.connect(id(9)));
        assert!(slots.none_connected());
        assert!(slots.for_answer(&id(8)).is_some());
    }

    #[test]
    fn a_full_torrent_makes_no_offers() {
        let slots = PeerSlots::new(2);
        assert!(slots.connect(id(1)));
        assert!(slots.connect(id(2)));
        assert!(slots.for_offers(10).is_empty());
        assert!(slots.for_answer(&id(3)).is_none());
    }
}
