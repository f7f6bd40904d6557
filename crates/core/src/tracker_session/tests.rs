//! The announce policy: numwant, the interval clamp, the tracker id bound, re-announce and
//! reconnect delays, and which messages count.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;
use crate::tracker_proto::{Failure, OfferId, Sdp, SdpType};

const OURS: InfoHash = InfoHash([1; 20]);
const ME: PeerId = PeerId([2; 20]);
const THEM: PeerId = PeerId([3; 20]);

fn session() -> TrackerSession {
    TrackerSession::new(OURS, ME)
}

fn sdp(kind: SdpType) -> Sdp {
    Sdp {
        kind,
        sdp: "v=0".into(),
    }
}

fn offer(info_hash: InfoHash, peer_id: PeerId) -> TrackerMessage {
    TrackerMessage::Offer(OfferForward {
        info_hash,
        peer_id,
        offer_id: OfferId([9; 20]),
        offer: sdp(SdpType::Offer),
    })
}

fn answer(info_hash: InfoHash, peer_id: PeerId) -> TrackerMessage {
    TrackerMessage::Answer(AnswerForward {
        info_hash,
        peer_id,
        offer_id: OfferId([9; 20]),
        answer: sdp(SdpType::Answer),
    })
}

fn response(interval: Option<u32>, tracker_id: Option<String>) -> TrackerMessage {
    TrackerMessage::AnnounceResponse(AnnounceResponse {
        info_hash: OURS,
        complete: Some(1),
        incomplete: Some(2),
        interval,
        tracker_id,
        warning_message: None,
    })
}

fn nobody(_: &PeerId) -> bool {
    false
}

fn offers(n: u8) -> Vec<Offer> {
    (0..n)
        .map(|i| Offer {
            offer: sdp(SdpType::Offer),
            offer_id: OfferId([i; 20]),
        })
        .collect()
}

#[test]
fn numwant_is_the_number_of_offers_or_50_without_any() {
    let s = session();
    let t = Transfer {
        uploaded: 3,
        downloaded: 4,
        left: Some(5),
    };
    let req = s.announce(Some(Event::Started), offers(5), t);
    assert_eq!(req.numwant, Some(5));
    assert_eq!(req.offers.len(), 5);
    assert_eq!((req.info_hash, req.peer_id), (OURS, ME));
    assert_eq!(req.event, Some(Event::Started));
    assert_eq!(
        (req.uploaded, req.downloaded, req.left),
        (Some(3), Some(4), Some(5))
    );
    assert_eq!(s.announce(None, offers(2), t).numwant, Some(2));
    let stopped = s.announce(Some(Event::Stopped), Vec::new(), Transfer::default());
    assert_eq!(stopped.numwant, Some(50));
    assert_eq!(stopped.left, None);
}

#[test]
fn intervals_are_clamped_to_10_s_to_an_hour() {
    let mut s = session();
    assert_eq!(s.next_announce_ms(false), 120_000, "until the tracker says");
    for (interval, ms) in [
        (0, 10_000),
        (9, 10_000),
        (45, 45_000),
        (3_600, 3_600_000),
        (u32::MAX, 3_600_000),
    ] {
        s.on_message(response(Some(interval), None), nobody);
        assert_eq!(s.next_announce_ms(false), ms, "interval {interval}");
    }
    // A response without an interval keeps the last one.
    s.on_message(response(Some(30), None), nobody);
    s.on_message(response(None, None), nobody);
    assert_eq!(s.next_announce_ms(false), 30_000);
}

#[test]
fn a_tracker_id_is_echoed_unless_it_is_over_64_bytes() {
    let mut s = session();
    assert_eq!(
        s.announce(None, Vec::new(), Transfer::default()).trackerid,
        None
    );
    s.on_message(response(None, Some("t".repeat(64))), nobody);
    let echoed = Some("t".repeat(64));
    assert_eq!(
        s.announce(None, Vec::new(), Transfer::default()).trackerid,
        echoed
    );
    // Too long: ignored, the last good one stays.
    s.on_message(response(None, Some("u".repeat(65))), nobody);
    assert_eq!(
        s.announce(None, Vec::new(), Transfer::default()).trackerid,
        echoed
    );
    let a = s.answer(Answer {
        to_peer_id: THEM,
        offer_id: OfferId([9; 20]),
        answer: sdp(SdpType::Answer),
    });
    assert_eq!(a.trackerid, echoed);
    assert_eq!(a.event, None);
    assert_eq!(a.numwant, None);
    assert_eq!(a.answer.map(|x| x.to_peer_id), Some(THEM));
}

#[test]
fn reconnects_back_off_from_one_second_to_a_minute_until_a_response() {
    let mut s = session();
    let delays: Vec<u32> = (0..8).map(|_| s.lost(0)).collect();
    assert_eq!(
        delays,
        [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
    );
    for _ in 0..1_000 {
        s.lost(0);
    }
    assert_eq!(s.lost(0), 60_000);
    // Jitter: up to a second more, from the caller's random number.
    assert_eq!(s.lost(250), 60_250);
    assert_eq!(s.lost(u16::MAX), 60_000 + u32::from(u16::MAX) % 1_000);
    // A message that is not a response (a failure) does not reset it; a response does.
    s.on_message(TrackerMessage::failure(None, None, "busy"), nobody);
    assert_eq!(s.lost(0), 60_000);
    s.on_message(response(Some(120), None), nobody);
    assert_eq!(s.lost(0), 1_000);
    assert_eq!(s.lost(0), 2_000);
}

#[test]
fn hungry_clients_announce_sooner_with_backoff() {
    let mut s = session();
    // Each announce made while hungry doubles the next delay from 5 s, up to the interval.
    let hungry: Vec<Option<u32>> = (0..7).map(|_| s.announced(None, true)).collect();
    assert_eq!(
        hungry,
        [5_000, 10_000, 20_000, 40_000, 80_000, 120_000, 120_000].map(Some)
    );
    // A response re-arms the timer: still hungry, still backed off.
    s.on_message(response(Some(10), None), nobody);
    assert_eq!(s.next_announce_ms(true), 10_000);
    // Fed: back to the interval, and the next hungry spell starts over at 5 s.
    s.on_message(response(Some(120), None), nobody);
    assert_eq!(s.announced(None, false), Some(120_000));
    assert_eq!(s.announced(None, true), Some(5_000));
    // Nothing is scheduled after `stopped`.
    assert_eq!(s.announced(Some(Event::Stopped), true), None);
    assert_eq!(s.announced(Some(Event::Stopped), false), None);
}

#[test]
fn completed_is_announced_once_and_on_every_reconnection() {
    let mut s = session();
    assert_eq!(s.opened_event(), Event::Started);
    assert!(s.complete());
    assert!(!s.complete());
    assert_eq!(s.opened_event(), Event::Completed);
}

#[test]
fn only_our_torrent_and_not_our_own_messages_are_acted_on() {
    let mut s = session();
    let other = InfoHash([7; 20]);
    assert!(matches!(
        s.on_message(offer(OURS, THEM), nobody),
        Step::Offer(_)
    ));
    assert_eq!(s.on_message(offer(OURS, ME), nobody), Step::Ignore);
    assert_eq!(s.on_message(offer(other, THEM), nobody), Step::Ignore);
    assert!(matches!(
        s.on_message(answer(OURS, THEM), nobody),
        Step::Answer(_)
    ));
    assert_eq!(s.on_message(answer(OURS, ME), nobody), Step::Ignore);
    assert_eq!(s.on_message(answer(other, THEM), nobody), Step::Ignore);
    assert!(matches!(
        s.on_message(response(None, None), nobody),
        Step::Response(_)
    ));
    let mut theirs = response(Some(5), Some("x".into()));
    if let TrackerMessage::AnnounceResponse(r) = &mut theirs {
        r.info_hash = other;
    }
    assert_eq!(s.on_message(theirs, nobody), Step::Ignore);
    // Another torrent's response changed nothing.
    assert_eq!(s.next_announce_ms(false), 120_000);
    assert_eq!(
        s.announce(None, Vec::new(), Transfer::default()).trackerid,
        None
    );
    let scrape = TrackerMessage::ScrapeResponse(crate::tracker_proto::ScrapeResponse {
        files: Vec::new(),
        min_request_interval: None,
    });
    assert_eq!(s.on_message(scrape, nobody), Step::Ignore);
}

#[test]
fn offers_and_answers_from_banned_peers_are_ignored() {
    let mut s = session();
    let banned = |id: &PeerId| *id == THEM;
    assert_eq!(s.on_message(offer(OURS, THEM), banned), Step::Ignore);
    assert_eq!(s.on_message(answer(OURS, THEM), banned), Step::Ignore);
    let other = PeerId([4; 20]);
    assert!(matches!(
        s.on_message(offer(OURS, other), banned),
        Step::Offer(_)
    ));
}

#[test]
fn failures_without_an_info_hash_are_ours_too_and_texts_are_cut() {
    let mut s = session();
    let failure = |info_hash, reason: String| {
        TrackerMessage::Failure(Failure {
            action: None,
            info_hash,
            reason,
        })
    };
    assert_eq!(
        s.on_message(failure(None, "nope".into()), nobody),
        Step::Failure("nope".into())
    );
    assert_eq!(
        s.on_message(failure(Some(OURS), "nope".into()), nobody),
        Step::Failure("nope".into())
    );
    assert_eq!(
        s.on_message(failure(Some(InfoHash([7; 20])), "nope".into()), nobody),
        Step::Ignore
    );
    assert_eq!(
        s.on_message(failure(None, "x".repeat(1 << 20)), nobody),
        Step::Failure("x".repeat(MAX_TRACKER_TEXT))
    );
    let mut warned = response(None, None);
    if let TrackerMessage::AnnounceResponse(r) = &mut warned {
        r.warning_message = Some("é".repeat(1 << 16));
    }
    let Step::Response(r) = s.on_message(warned, nobody) else {
        panic!()
    };
    assert_eq!(r.warning_message, Some("é".repeat(MAX_TRACKER_TEXT / 2)));
}

#[test]
fn a_message_over_128_kib_is_refused_before_it_is_read() {
    assert_eq!(check_size(MAX_TRACKER_MESSAGE), Ok(()));
    let e = check_size(MAX_TRACKER_MESSAGE + 1).unwrap_err();
    assert!(matches!(
        e.error,
        crate::tracker_proto::ProtoError::InvalidJson(_)
    ));
    assert!(e.to_string().contains("131073"), "{e}");
    assert_eq!(MAX_TRACKER_MESSAGE, 128 * 1024);
}

#[test]
fn a_lost_peer_brings_an_announce_soon_and_such_announces_stay_apart() {
    let mut s = session();
    let at = |ms| Time::from_millis(ms);
    // A seed is not hungry: without this rule its next announce is the interval away.
    assert_eq!(s.announced(None, false), Some(DEFAULT_INTERVAL_SECS * 1000));
    // The first loss: an announce in half a second.
    assert_eq!(s.peer_lost(at(1_000)), Some(PEER_LOST_DELAY_MS));
    // More losses before it is made share it.
    assert_eq!(s.peer_lost(at(1_200)), None);
    assert_eq!(s.peer_lost(at(1_499)), None);
    // A loss after it: the next one waits until 10 s after the last.
    assert_eq!(s.peer_lost(at(4_000)), Some(7_500));
    assert_eq!(s.peer_lost(at(5_000)), None);
    // Long after: soon again.
    assert_eq!(s.peer_lost(at(60_000)), Some(PEER_LOST_DELAY_MS));
    // The regular schedule is untouched.
    assert_eq!(s.next_announce_ms(false), DEFAULT_INTERVAL_SECS * 1000);
}
