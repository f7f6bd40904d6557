//! Offers and answers through a real tracker over real WebSockets.

mod common;

use std::time::Duration;

use common::*;
use tabswarm_core::tracker_proto::*;
use tabswarm_tracker::{Config, SwarmConfig};

/// Connects `n` clients (peer ids 1..=n) that join torrent 1 as leechers.
async fn swarm_of(addr: std::net::SocketAddr, n: u8) -> Vec<Client> {
    let mut clients = Vec::new();
    for p in 1..=n {
        let mut c = Client::connect(addr).await;
        c.send(&announce(1, p, 100, Some(Event::Started), &[]))
            .await;
        let TrackerMessage::AnnounceResponse(r) = c.recv().await else {
            panic!()
        };
        assert_eq!(r.info_hash, ih(1));
        assert_eq!(r.incomplete, Some(u32::from(p)));
        assert_eq!(r.interval, Some(120));
        clients.push(c);
    }
    clients
}

#[tokio::test]
async fn offers_reach_distinct_peers_and_answers_come_back() {
    let server = start(Config::default()).await;
    let mut cs = swarm_of(server.local_addr(), 6).await;

    // Peer 1 announces with 3 offers: reply first, then 3 of the 5 others get one offer each.
    cs[0].send(&announce(1, 1, 100, None, &[11, 12, 13])).await;
    let TrackerMessage::AnnounceResponse(r) = cs[0].recv().await else {
        panic!()
    };
    assert_eq!((r.complete, r.incomplete), (Some(0), Some(6)));
    let mut got = Vec::new();
    for (i, c) in cs.iter_mut().enumerate().skip(1) {
        if let Ok(Some(f)) =
            tokio::time::timeout(Duration::from_millis(300), c.ws_next_offer()).await
        {
            got.push((i, f));
        }
    }
    assert_eq!(got.len(), 3, "three different peers got one offer each");
    let mut ids: Vec<_> = got.iter().map(|(_, f)| f.offer_id).collect();
    ids.sort();
    assert_eq!(ids, vec![oid(11), oid(12), oid(13)]);
    for (_, f) in &got {
        assert_eq!(f.peer_id, pid(1));
        assert_eq!(f.info_hash, ih(1));
        assert_eq!(f.offer.kind, SdpType::Offer);
        assert!(f.offer.sdp.contains(&format!("p1o{}", f.offer_id.0[0])));
    }
    cs[0].expect_silence(100).await;

    // Each recipient answers; the answers reach peer 1 and nobody else; no reply to answerers.
    for (i, f) in &got {
        let me = u8::try_from(*i + 1).unwrap();
        cs[*i].send(&answer(1, me, 1, f.offer_id)).await;
        let TrackerMessage::Answer(a) = cs[0].recv().await else {
            panic!()
        };
        assert_eq!(a.peer_id, pid(me));
        assert_eq!(a.offer_id, f.offer_id);
        assert_eq!(a.answer.kind, SdpType::Answer);
        assert!(a.answer.sdp.contains(&format!("a{me}")));
        cs[*i].expect_silence(100).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn answer_with_unknown_offer_id_is_not_relayed() {
    let server = start(Config::default()).await;
    let mut cs = swarm_of(server.local_addr(), 2).await;
    cs[0].send(&announce(1, 1, 100, None, &[21])).await;
    let _reply = cs[0].recv().await;
    let TrackerMessage::Offer(f) = cs[1].recv().await else {
        panic!()
    };
    assert_eq!(f.offer_id, oid(21));

    // Wrong offer id: a failure to the sender, nothing to peer 1.
    cs[1].send(&answer(1, 2, 1, oid(99))).await;
    let fl = cs[1].recv_failure("offer").await;
    assert_eq!(fl.action, Some(Action::Announce));
    assert_eq!(fl.info_hash, Some(ih(1)));
    cs[0].expect_silence(200).await;

    // Pushing an "answer" at a peer that made no offer to us: refused as well.
    cs[0].send(&answer(1, 1, 2, oid(21))).await;
    cs[0].recv_failure("offer").await;
    cs[1].expect_silence(200).await;

    // The real answer still goes through, once.
    cs[1].send(&answer(1, 2, 1, oid(21))).await;
    assert!(matches!(cs[0].recv().await, TrackerMessage::Answer(_)));
    cs[1].send(&answer(1, 2, 1, oid(21))).await;
    cs[1].recv_failure("offer").await;
    cs[0].expect_silence(200).await;
    server.shutdown().await;
}

#[tokio::test]
async fn stale_answers_are_not_relayed() {
    let cfg = Config {
        swarm: SwarmConfig {
            offer_timeout: Duration::from_millis(300),
            ..SwarmConfig::default()
        },
        ..Config::default()
    };
    let server = start(cfg).await;
    let mut cs = swarm_of(server.local_addr(), 2).await;
    cs[0].send(&announce(1, 1, 100, None, &[31, 32])).await;
    let _reply = cs[0].recv().await;
    let TrackerMessage::Offer(f) = cs[1].recv().await else {
        panic!()
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    cs[1].send(&answer(1, 2, 1, f.offer_id)).await;
    cs[1].recv_failure("expired").await;
    cs[0].expect_silence(200).await;
    server.shutdown().await;
}

#[tokio::test]
async fn scrape_one_and_several_torrents() {
    let server = start(Config::default()).await;
    let addr = server.local_addr();
    let mut seeder = Client::connect(addr).await;
    seeder
        .send(&announce(1, 1, 0, Some(Event::Started), &[]))
        .await;
    seeder.recv().await;
    let mut leecher = Client::connect(addr).await;
    leecher
        .send(&announce(1, 2, 50, Some(Event::Started), &[]))
        .await;
    leecher.recv().await;
    leecher
        .send(&announce(2, 2, 50, Some(Event::Started), &[]))
        .await;
    leecher.recv().await;
    leecher
        .send(&announce(1, 2, 0, Some(Event::Completed), &[]))
        .await;
    leecher.recv().await;

    let mut c = Client::connect(addr).await;
    // One info hash as a plain string (what bittorrent-tracker's client sends).
    let one = format!(
        r#"{{"action":"scrape","info_hash":{}}}"#,
        serde_json::to_string(&ih(2)).unwrap()
    );
    c.send_text(&one).await;
    let TrackerMessage::ScrapeResponse(r) = c.recv().await else {
        panic!()
    };
    assert_eq!(
        r.files,
        vec![(
            ih(2),
            ScrapeStats {
                complete: 0,
                incomplete: 1,
                downloaded: 0
            }
        )]
    );
    // Several, including an unknown torrent.
    c.send(&ClientMessage::Scrape(ScrapeRequest {
        info_hashes: vec![ih(1), ih(2), ih(3)],
    }))
    .await;
    let TrackerMessage::ScrapeResponse(r) = c.recv().await else {
        panic!()
    };
    assert_eq!(
        r.files,
        vec![
            (
                ih(1),
                ScrapeStats {
                    complete: 2,
                    incomplete: 0,
                    downloaded: 1
                }
            ),
            (
                ih(2),
                ScrapeStats {
                    complete: 0,
                    incomplete: 1,
                    downloaded: 0
                }
            ),
            (ih(3), ScrapeStats::default()),
        ]
    );
    server.shutdown().await;
}

trait NextOffer {
    async fn ws_next_offer(&mut self) -> Option<OfferForward>;
}

impl NextOffer for Client {
    async fn ws_next_offer(&mut self) -> Option<OfferForward> {
        match self.recv().await {
            TrackerMessage::Offer(f) => Some(f),
            _ => None,
        }
    }
}
