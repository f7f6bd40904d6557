//! Deterministic scenarios for the swarm rules (no sockets).

use super::*;
use tabswarm_core::tracker_proto::{Answer, Offer, Sdp, SdpType};

const T0: Time = Time::ZERO;

fn ih(b: u8) -> InfoHash {
    InfoHash([b; 20])
}
fn pid(b: u8) -> PeerId {
    PeerId([b; 20])
}
fn oid(b: u8) -> OfferId {
    OfferId([b; 20])
}
fn secs(s: u64) -> Time {
    Time::from_millis(s * 1000)
}

fn offers(n: u8) -> Vec<Offer> {
    (0..n)
        .map(|i| Offer {
            offer: Sdp {
                kind: SdpType::Offer,
                sdp: format!("offer {i}"),
            },
            offer_id: oid(100 + i),
        })
        .collect()
}

fn announce(t: u8, p: u8, left: u64, event: Option<Event>, n_offers: u8) -> ClientMessage {
    let mut a = AnnounceRequest::new(ih(t), pid(p));
    a.left = Some(left);
    a.event = event;
    a.offers = offers(n_offers);
    ClientMessage::Announce(a)
}

fn answer(t: u8, from: u8, to: u8, offer: OfferId) -> ClientMessage {
    let mut a = AnnounceRequest::new(ih(t), pid(from));
    a.answer = Some(Answer {
        to_peer_id: pid(to),
        offer_id: offer,
        answer: Sdp {
            kind: SdpType::Answer,
            sdp: "answer".into(),
        },
    });
    ClientMessage::Announce(a)
}

/// Peer `p` on connection `p` announces (started) in torrent `t`.
fn join(s: &mut Swarm, t: u8, p: u8, left: u64, now: Time) -> Vec<Outgoing> {
    let mut out = Vec::new();
    s.handle(
        ConnId::from(p),
        announce(t, p, left, Some(Event::Started), 0),
        now,
        &mut out,
    )
    .unwrap();
    out
}

fn forwarded_offers(out: &[Outgoing]) -> Vec<(ConnId, OfferForward)> {
    out.iter()
        .filter_map(|o| match &o.msg {
            TrackerMessage::Offer(f) => Some((o.conn, f.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn announce_reply_counts_seeders_and_leechers() {
    let mut s = Swarm::new(SwarmConfig::default(), 1);
    join(&mut s, 1, 1, 0, T0);
    join(&mut s, 1, 2, 100, T0);
    let out = join(&mut s, 1, 3, 100, T0);
    assert_eq!(
        out,
        vec![Outgoing {
            conn: 3,
            msg: TrackerMessage::AnnounceResponse(AnnounceResponse {
                info_hash: ih(1),
                complete: Some(1),
                incomplete: Some(2),
                interval: Some(120),
                tracker_id: None,
                warning_message: None,
            }),
        }]
    );
    let st = s.stats();
    assert_eq!(
        (st.torrents, st.peers, st.seeders, st.leechers),
        (1, 3, 1, 2)
    );
    // completed turns a leecher into a seeder and counts a download.
    let mut out = Vec::new();
    s.handle(
        2,
        announce(1, 2, 0, Some(Event::Completed), 0),
        T0,
        &mut out,
    )
    .unwrap();
    assert_eq!(s.stats().seeders, 2);
    s.handle(
        9,
        ClientMessage::Scrape(ScrapeRequest {
            info_hashes: vec![ih(1), ih(2)],
        }),
        T0,
        &mut out,
    )
    .unwrap();
    let Some(TrackerMessage::ScrapeResponse(r)) = out.last().map(|o| &o.msg) else {
        panic!("{out:?}")
    };
    assert_eq!(
        r.files,
        vec![
            (
                ih(1),
                ScrapeStats {
                    complete: 2,
                    incomplete: 1,
                    downloaded: 1
                }
            ),
            (ih(2), ScrapeStats::default())
        ]
    );
}

#[test]
fn offers_go_to_distinct_random_peers_never_the_sender() {
    for seed in 0..50 {
        let mut s = Swarm::new(SwarmConfig::default(), seed);
        for p in 1..=12 {
            join(&mut s, 1, p, 100, T0);
        }
        let mut out = Vec::new();
        s.handle(5, announce(1, 5, 100, None, 5), T0, &mut out)
            .unwrap();
        let fw = forwarded_offers(&out);
        assert_eq!(fw.len(), 5, "seed {seed}");
        let mut targets: Vec<ConnId> = fw.iter().map(|(c, _)| *c).collect();
        targets.sort_unstable();
        targets.dedup();
        assert_eq!(targets.len(), 5, "seed {seed}: duplicates");
        assert!(!targets.contains(&5), "seed {seed}: offer back to sender");
        for (i, (_, f)) in fw.iter().enumerate() {
            assert_eq!(f.peer_id, pid(5));
            assert_eq!(f.offer_id, oid(100 + u8::try_from(i).unwrap()));
            assert_eq!(f.offer.sdp, format!("offer {i}"));
        }
        // The announce reply comes first, to the sender.
        assert_eq!(out[0].conn, 5);
        assert!(matches!(out[0].msg, TrackerMessage::AnnounceResponse(_)));
    }
}

#[test]
fn offers_are_spread_over_the_whole_swarm() {
    let mut s = Swarm::new(SwarmConfig::default(), 7);
    for p in 1..=40 {
        join(&mut s, 1, p, 100, T0);
    }
    let mut hits = [0u32; 41];
    for _ in 0..400 {
        let mut out = Vec::new();
        s.handle(1, announce(1, 1, 100, None, 5), T0, &mut out)
            .unwrap();
        for (c, _) in forwarded_offers(&out) {
            hits[usize::try_from(c).unwrap()] += 1;
        }
    }
    // 2000 offers over 39 peers: about 51 each.
    assert_eq!(hits[1], 0);
    assert!(
        hits[2..].iter().all(|&h| (20..100).contains(&h)),
        "{hits:?}"
    );
}

#[test]
fn fewer_peers_than_offers_and_seeders_skip_seeders() {
    let mut s = Swarm::new(SwarmConfig::default(), 3);
    join(&mut s, 1, 1, 0, T0);
    join(&mut s, 1, 2, 0, T0);
    join(&mut s, 1, 3, 50, T0);
    let mut out = Vec::new();
    // Leecher 3: both seeders get one offer each, no more.
    s.handle(3, announce(1, 3, 50, None, 5), T0, &mut out)
        .unwrap();
    let mut to: Vec<_> = forwarded_offers(&out).iter().map(|(c, _)| *c).collect();
    to.sort_unstable();
    assert_eq!(to, vec![1, 2]);
    // Seeder 1: only the leecher.
    out.clear();
    s.handle(1, announce(1, 1, 0, None, 5), T0, &mut out)
        .unwrap();
    let to: Vec<_> = forwarded_offers(&out).iter().map(|(c, _)| *c).collect();
    assert_eq!(to, vec![3]);
    // Alone in a swarm: no offers at all.
    out.clear();
    s.handle(7, announce(2, 7, 50, None, 5), T0, &mut out)
        .unwrap();
    assert!(forwarded_offers(&out).is_empty());
}

/// Peers 1 (offerer) and 2 join; 1 offers; returns the offer id that reached peer 2.
fn offer_to_two(s: &mut Swarm, now: Time) -> OfferId {
    join(s, 1, 1, 100, now);
    join(s, 1, 2, 100, now);
    let mut out = Vec::new();
    s.handle(1, announce(1, 1, 100, None, 1), now, &mut out)
        .unwrap();
    let fw = forwarded_offers(&out);
    assert_eq!(fw.len(), 1);
    assert_eq!(fw[0].0, 2);
    fw[0].1.offer_id
}

#[test]
fn answer_is_relayed_once_to_the_offerer_only() {
    let mut s = Swarm::new(SwarmConfig::default(), 1);
    let offer = offer_to_two(&mut s, T0);
    let mut out = Vec::new();
    s.handle(2, answer(1, 2, 1, offer), secs(10), &mut out)
        .unwrap();
    assert_eq!(
        out,
        vec![Outgoing {
            conn: 1,
            msg: TrackerMessage::Answer(AnswerForward {
                info_hash: ih(1),
                peer_id: pid(2),
                offer_id: offer,
                answer: Sdp {
                    kind: SdpType::Answer,
                    sdp: "answer".into()
                },
            }),
        }],
        "no reply to the answerer, one forward to the offerer"
    );
    // A second answer to the same offer is refused.
    out.clear();
    let r = s.handle(2, answer(1, 2, 1, offer), secs(11), &mut out);
    assert_eq!(r, Err(SwarmError::UnknownOffer));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].conn, 2);
    assert!(matches!(out[0].msg, TrackerMessage::Failure(_)));
}

#[test]
fn answers_that_match_no_fresh_offer_are_refused() {
    let mut s = Swarm::new(SwarmConfig::default(), 1);
    let offer = offer_to_two(&mut s, T0);
    join(&mut s, 1, 3, 100, T0);
    let mut out = Vec::new();
    // Unknown offer id.
    assert_eq!(
        s.handle(2, answer(1, 2, 1, oid(1)), T0, &mut out),
        Err(SwarmError::UnknownOffer)
    );
    // Right offer id, but peer 3 never got that offer.
    assert_eq!(
        s.handle(3, answer(1, 3, 1, offer), T0, &mut out),
        Err(SwarmError::UnknownOffer)
    );
    // Peer 2's id from another connection.
    assert_eq!(
        s.handle(3, answer(1, 2, 1, offer), T0, &mut out),
        Err(SwarmError::UnknownOffer)
    );
    // Too late (offer timeout 120 s).
    assert_eq!(
        s.handle(2, answer(1, 2, 1, offer), secs(121), &mut out),
        Err(SwarmError::UnknownOffer)
    );
    assert!(out
        .iter()
        .all(|o| matches!(o.msg, TrackerMessage::Failure(_)) && o.conn != 1));
}

#[test]
fn pending_offers_per_peer_are_capped() {
    let cfg = SwarmConfig {
        max_pending_offers: 3,
        ..SwarmConfig::default()
    };
    let mut s = Swarm::new(cfg, 1);
    let first = offer_to_two(&mut s, T0);
    let mut out = Vec::new();
    for i in 0..3 {
        let ClientMessage::Announce(mut a) = announce(1, 1, 100, None, 1) else {
            unreachable!()
        };
        a.offers[0].offer_id = oid(200 + i);
        s.handle(1, ClientMessage::Announce(a), T0, &mut out)
            .unwrap();
    }
    // The oldest offer was forgotten; the newest ones still count.
    assert_eq!(
        s.handle(2, answer(1, 2, 1, first), T0, &mut out),
        Err(SwarmError::UnknownOffer)
    );
    assert_eq!(s.handle(2, answer(1, 2, 1, oid(200)), T0, &mut out), Ok(()));
}

#[test]
fn identity_and_limit_rules() {
    let cfg = SwarmConfig {
        max_torrents_per_conn: 2,
        max_offers: 10,
        ..SwarmConfig::default()
    };
    let mut s = Swarm::new(cfg, 1);
    let mut out = Vec::new();
    let mut ann = |s: &mut Swarm, conn: ConnId, t: u8, p: u8, n: u8| {
        s.handle(conn, announce(t, p, 1, None, n), T0, &mut out)
    };
    ann(&mut s, 1, 1, 1, 0).unwrap();
    ann(&mut s, 1, 2, 1, 0).unwrap();
    assert_eq!(
        ann(&mut s, 1, 3, 1, 0),
        Err(SwarmError::TooManyTorrents { max: 2 })
    );
    // A second peer id in a known torrent counts against the same cap.
    assert_eq!(
        ann(&mut s, 1, 1, 9, 0),
        Err(SwarmError::TooManyTorrents { max: 2 })
    );
    // Re-announcing a known pair is always fine.
    ann(&mut s, 1, 2, 1, 0).unwrap();
    assert_eq!(ann(&mut s, 2, 1, 1, 0), Err(SwarmError::PeerIdTaken));
    // Refusals changed nothing.
    assert_eq!(s.peer_ids(&ih(1)), vec![pid(1)]);
    assert_eq!(s.stats().torrents, 2);
    assert_eq!(
        s.handle(
            1,
            ClientMessage::Scrape(ScrapeRequest {
                info_hashes: vec![]
            }),
            T0,
            &mut out
        ),
        Err(SwarmError::FullScrape)
    );
}

#[test]
fn stopped_disconnect_and_expiry_remove_peers() {
    let cfg = SwarmConfig {
        peer_timeout: Duration::from_secs(360),
        ..SwarmConfig::default()
    };
    let mut s = Swarm::new(cfg, 1);
    join(&mut s, 1, 1, 0, T0);
    join(&mut s, 1, 2, 10, T0);
    join(&mut s, 2, 2, 10, T0);
    join(&mut s, 1, 3, 10, secs(300));
    let mut out = Vec::new();
    s.handle(1, announce(1, 1, 0, Some(Event::Stopped), 0), T0, &mut out)
        .unwrap();
    assert_eq!(s.peer_ids(&ih(1)).len(), 2);
    assert_eq!(s.stats().seeders, 0);
    // Connection 2 closes: it leaves both torrents; torrent 2 disappears.
    s.disconnect(2);
    assert_eq!(s.peer_ids(&ih(1)), vec![pid(3)]);
    assert_eq!(s.stats().torrents, 1);
    // Peer 3 last announced at 300 s: still there at 600 s, gone after 660 s.
    assert_eq!(s.expire(secs(600)).peers, 0);
    let gone = s.expire(secs(661));
    assert_eq!((gone.peers, gone.torrents), (1, 1));
    let st = s.stats();
    assert_eq!((st.torrents, st.peers, st.seeders), (0, 0, 0));
    // The connection may announce the torrent again (its list was cleaned too).
    join(&mut s, 1, 3, 10, secs(700));
    assert_eq!(s.peer_ids(&ih(1)), vec![pid(3)]);
}

#[test]
fn random_churn_keeps_counts_consistent() {
    let mut rng = Rng::new(99);
    let mut s = Swarm::new(SwarmConfig::default(), 5);
    let mut out = Vec::new();
    for step in 0..20_000u64 {
        let now = Time::from_millis(step * 50);
        let conn = rng.below(30) + 1;
        let p = u8::try_from(conn).unwrap();
        let t = u8::try_from(rng.below(4)).unwrap();
        match rng.below(10) {
            0 => s.disconnect(conn),
            1 => {
                let _ = s.handle(
                    conn,
                    announce(t, p, 0, Some(Event::Stopped), 0),
                    now,
                    &mut out,
                );
            }
            2 => {
                s.expire(now);
            }
            _ => {
                let left = rng.below(2) * 100;
                let n = u8::try_from(rng.below(6)).unwrap();
                let _ = s.handle(conn, announce(t, p, left, None, n), now, &mut out);
            }
        }
        out.clear();
        let st = s.stats();
        let mut peers = 0;
        let mut seeders = 0;
        for (h, tor) in &s.torrents {
            assert!(!tor.peers.is_empty());
            assert_eq!(tor.index.len(), tor.peers.len());
            for (i, p) in tor.peers.iter().enumerate() {
                assert_eq!(tor.index[&p.id] as usize, i);
                assert!(s.conns[&p.conn].torrents.contains(&(*h, p.id)));
                seeders += u64::from(p.seeder);
            }
            assert_eq!(
                u64::from(tor.seeders),
                tor.peers.iter().filter(|p| p.seeder).count() as u64
            );
            peers += tor.peers.len() as u64;
        }
        assert_eq!((st.peers, st.seeders), (peers, seeders), "step {step}");
    }
}

#[test]
fn two_peer_ids_of_one_torrent_can_share_a_connection() {
    // bittorrent-tracker's client shares one socket per tracker URL among all clients of a
    // page, so two clients of one torrent announce over one connection.
    let mut s = Swarm::new(SwarmConfig::default(), 4);
    let mut out = Vec::new();
    s.handle(1, announce(1, 1, 0, Some(Event::Started), 0), T0, &mut out)
        .unwrap();
    s.handle(1, announce(1, 2, 10, Some(Event::Started), 1), T0, &mut out)
        .unwrap();
    let fw = forwarded_offers(&out);
    assert_eq!(fw.len(), 1);
    assert_eq!(
        (fw[0].0, fw[0].1.peer_id),
        (1, pid(2)),
        "peer 2's offer reaches peer 1"
    );
    out.clear();
    s.handle(1, answer(1, 1, 2, fw[0].1.offer_id), T0, &mut out)
        .unwrap();
    assert!(matches!(
        &out[..],
        [Outgoing {
            conn: 1,
            msg: TrackerMessage::Answer(_)
        }]
    ));
    s.disconnect(1);
    assert_eq!(s.stats().peers, 0);
}

#[test]
fn more_offers_than_the_cap_are_trimmed_and_the_reply_says_so() {
    // libtorrent set to more than 10 offers ignores a refusal and never finds peers, so the
    // announce is served with the first `max_offers` offers and a warning.
    let mut s = Swarm::new(SwarmConfig::default(), 1);
    for p in 1..=12 {
        join(&mut s, 1, p, 100, T0);
    }
    let mut out = Vec::new();
    let sent = announce(1, 13, 100, Some(Event::Started), 11);
    assert_eq!(s.handle(13, sent, T0, &mut out), Ok(()));
    let mut ids: Vec<_> = forwarded_offers(&out)
        .iter()
        .map(|(_, f)| f.offer_id)
        .collect();
    ids.sort();
    let first_ten: Vec<_> = offers(10).iter().map(|o| o.offer_id).collect();
    assert_eq!(ids, first_ten, "the first ten offers, each once: {out:?}");
    let warning = out.iter().find_map(|o| match &o.msg {
        TrackerMessage::AnnounceResponse(r) if o.conn == 13 => r.warning_message.clone(),
        _ => None,
    });
    assert_eq!(
        warning.as_deref(),
        Some("11 offers sent, the first 10 forwarded (max_offers 10)")
    );
    assert!(s.peer_ids(&ih(1)).contains(&pid(13)));
    // At the cap there is no warning.
    let mut out = Vec::new();
    s.handle(
        14,
        announce(1, 14, 100, Some(Event::Started), 10),
        T0,
        &mut out,
    )
    .unwrap();
    assert!(out.iter().all(|o| match &o.msg {
        TrackerMessage::AnnounceResponse(r) => r.warning_message.is_none(),
        _ => true,
    }));
}
