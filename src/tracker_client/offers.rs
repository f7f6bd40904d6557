//! Our WebRTC offers and our answers to others': making the offers of an announce, keeping
//! them until an answer comes or they expire, and completing the handshake either way.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use tabswarm_core::tracker_proto::{
    Answer, Event, Offer, OfferForward, OfferId, PeerId, Sdp, SdpType,
};
use tabswarm_core::tracker_session::OFFERS_PER_ANNOUNCE;
use wasm_bindgen_futures::spawn_local;

use super::join::join_all;
use super::{socket, Host, State};
use crate::js::{self, Timer};
use crate::peer_slots::Slot;
use crate::rtc::{RtcConfig, RtcPeer};

/// Unanswered offers are dropped after this long (WebTorrent: 50 s).
const OFFER_TTL_MS: u32 = 50_000;

/// One of our offers, awaiting the answer that comes through the tracker.
pub(super) struct PendingOffer {
    conn: u64,
    peer: RtcPeer,
    made_ms: f64,
    slot: Slot,
}

/// Makes the offers the host wants, then announces with them.
pub(super) fn announce_with_offers(state: &Rc<RefCell<State>>, event: Option<Event>) {
    let (host, rtc) = {
        let s = state.borrow();
        (s.host.upgrade(), s.identity.rtc.clone())
    };
    let Some(host) = host else { return };
    let slots = host.offer_slots(OFFERS_PER_ANNOUNCE as usize);
    let weak = Rc::downgrade(state);
    let weak_host = Rc::downgrade(&host);
    drop(host);
    spawn_local(async move {
        let mut making = Vec::new();
        for slot in slots {
            let Some((conn, sink)) = weak_host.upgrade().map(|h| h.connection_sink()) else {
                return;
            };
            let rtc = rtc.clone();
            making.push(async move { (conn, slot, RtcPeer::offer(&rtc, sink).await) });
        }
        // An offer that failed gives its slot back here.
        let made: Vec<(u64, Slot, RtcPeer, String)> = join_all(making)
            .await
            .into_iter()
            .filter_map(|(conn, slot, r)| r.ok().map(|(peer, sdp)| (conn, slot, peer, sdp)))
            .collect();
        let Some(state) = weak.upgrade() else { return };
        let now = js::now_ms();
        let mut offers = Vec::new();
        for (conn, slot, peer, sdp) in made {
            let mut id = [0u8; 20];
            js::random_bytes(&mut id);
            let offer_id = OfferId(id);
            offers.push(Offer {
                offer: Sdp {
                    kind: SdpType::Offer,
                    sdp,
                },
                offer_id,
            });
            state.borrow_mut().pending.insert(
                offer_id,
                PendingOffer {
                    conn,
                    peer,
                    made_ms: now,
                    slot,
                },
            );
        }
        socket::send_announce(&state, event, offers);
        arm_expiry(&state);
    });
}

/// The answer to one of our offers came: the connection is the host's once it is applied.
pub(super) async fn complete_offer(
    host: Weak<dyn Host>,
    p: PendingOffer,
    remote: PeerId,
    answer: Sdp,
) {
    if answer.kind != SdpType::Answer {
        return;
    }
    if p.peer.accept_answer(&answer.sdp).await.is_ok() {
        if let Some(host) = host.upgrade() {
            host.connected(p.conn, p.peer, remote, true, p.slot);
        }
    }
}

/// Answers a peer's offer through the tracker; the connection is the host's once sent.
pub(super) async fn answer_offer(
    state: Weak<RefCell<State>>,
    host: Weak<dyn Host>,
    rtc: RtcConfig,
    offer: OfferForward,
    slot: Slot,
) {
    let (remote, offer_id, offer_sdp) = (offer.peer_id, offer.offer_id, offer.offer.sdp);
    let Some((conn, sink)) = host.upgrade().map(|h| h.connection_sink()) else {
        return;
    };
    let Ok((peer, sdp)) = RtcPeer::answer(&rtc, &offer_sdp, sink).await else {
        return;
    };
    let Some(state) = state.upgrade() else { return };
    let req = {
        let s = state.borrow();
        if s.stopped {
            return;
        }
        s.session.answer(Answer {
            to_peer_id: remote,
            offer_id,
            answer: Sdp {
                kind: SdpType::Answer,
                sdp,
            },
        })
    };
    if socket::send(&state, &req) {
        if let Some(host) = host.upgrade() {
            host.connected(conn, peer, remote, false, slot);
        }
    }
}

/// Drops the offers that went unanswered for [`OFFER_TTL_MS`]; re-arms while any are left.
fn arm_expiry(state: &Rc<RefCell<State>>) {
    if state.borrow().pending.is_empty() {
        return;
    }
    let weak = Rc::downgrade(state);
    let timer = Timer::once(OFFER_TTL_MS, move || {
        let Some(state) = weak.upgrade() else { return };
        let cutoff = js::now_ms() - f64::from(OFFER_TTL_MS) + 1.0;
        let expired: Vec<PendingOffer> = {
            let mut s = state.borrow_mut();
            s.expiry = None;
            let ids: Vec<OfferId> = s
                .pending
                .iter()
                .filter(|(_, p)| p.made_ms <= cutoff)
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| s.pending.remove(id)).collect()
        };
        drop(expired);
        arm_expiry(&state);
    });
    state.borrow_mut().expiry = Some(timer);
}
