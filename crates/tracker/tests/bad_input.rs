//! Each kind of bad input gets a `failure reason` and changes nothing; a flood past the rate
//! limit, an idle connection and an oversized message close the socket.

mod common;

use std::time::Duration;

use common::*;
use tabswarm_core::tracker_proto::*;
use tabswarm_tracker::{Config, SwarmConfig};

const IH: &str = "AAAAAAAAAAAAAAAAAAAA";
const PID: &str = "BBBBBBBBBBBBBBBBBBBB";

/// After a refusal, the tracker still has no peers and the connection still works.
async fn still_clean(server: &tabswarm_tracker::ServerHandle, c: &mut Client) {
    assert_eq!(server.stats().peers, 0);
    c.send(&ClientMessage::Scrape(ScrapeRequest {
        info_hashes: vec![ih(b'A')],
    }))
    .await;
    assert!(matches!(c.recv().await, TrackerMessage::ScrapeResponse(_)));
}

#[tokio::test]
async fn malformed_messages_get_failure_reasons() {
    let server = start(Config::default()).await;
    let mut c = Client::connect(server.local_addr()).await;

    c.send_text("{this is not json").await;
    let f = c.recv_failure("invalid JSON").await;
    assert_eq!((f.action, f.info_hash), (None, None));

    c.send_text(r#"{"action":"dance","info_hash":"AAAAAAAAAAAAAAAAAAAA"}"#)
        .await;
    c.recv_failure("invalid action in WS request: dance").await;

    c.send_text(&format!(
        r#"{{"action":"announce","info_hash":"short","peer_id":"{PID}"}}"#
    ))
    .await;
    let f = c.recv_failure("info_hash").await;
    assert_eq!(f.action, Some(Action::Announce));

    c.send_text(&format!(
        r#"{{"action":"announce","info_hash":"{IH}","peer_id":"{PID}X"}}"#
    ))
    .await;
    let f = c.recv_failure("peer_id").await;
    assert_eq!(f.info_hash, Some(ih(b'A')), "the reply names the torrent");

    // 20 characters, one of them U+0100: not a binary string.
    let wide = format!("{}\u{100}", &PID[..19]);
    c.send_text(&format!(
        r#"{{"action":"announce","info_hash":"{IH}","peer_id":"{wide}"}}"#
    ))
    .await;
    c.recv_failure("U+00FF").await;

    let wide_hash = format!("{}\u{2603}", &IH[..19]);
    c.send_text(&format!(
        r#"{{"action":"scrape","info_hash":["{IH}","{wide_hash}"]}}"#
    ))
    .await;
    let f = c.recv_failure("info_hash").await;
    assert_eq!(f.action, Some(Action::Scrape));

    c.send_text(&format!(
        r#"{{"action":"announce","info_hash":"{IH}","peer_id":"{PID}","event":"exploded"}}"#
    ))
    .await;
    c.recv_failure("invalid event").await;

    still_clean(&server, &mut c).await;
    server.shutdown().await;
}

#[tokio::test]
async fn more_offers_than_the_cap_are_served_with_a_warning() {
    // A refusal would be ignored by libtorrent, which would then never find peers.
    let server = start(Config::default()).await;
    let mut c = Client::connect(server.local_addr()).await;
    let ids: Vec<u8> = (1..=11).collect();
    c.send(&announce(b'A', b'B', 10, Some(Event::Started), &ids))
        .await;
    match c.recv().await {
        TrackerMessage::AnnounceResponse(r) => assert_eq!(
            r.warning_message.as_deref(),
            Some("11 offers sent, the first 10 forwarded (max_offers 10)")
        ),
        other => panic!("expected an announce reply, got {other:?}"),
    }
    assert_eq!(server.stats().peers, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn too_many_torrents_on_one_connection() {
    let cfg = Config {
        swarm: SwarmConfig {
            max_torrents_per_conn: 3,
            ..SwarmConfig::default()
        },
        ..Config::default()
    };
    let server = start(cfg).await;
    let mut c = Client::connect(server.local_addr()).await;
    for t in 1..=3 {
        c.send(&announce(t, 1, 10, Some(Event::Started), &[])).await;
        assert!(matches!(
            c.recv().await,
            TrackerMessage::AnnounceResponse(_)
        ));
    }
    c.send(&announce(4, 1, 10, Some(Event::Started), &[])).await;
    let f = c.recv_failure("too many torrents").await;
    assert_eq!(f.info_hash, Some(ih(4)));
    assert_eq!(server.stats().torrents, 3);
    // Leaving one makes room.
    c.send(&announce(1, 1, 10, Some(Event::Stopped), &[])).await;
    c.recv().await;
    c.send(&announce(4, 1, 10, Some(Event::Started), &[])).await;
    assert!(matches!(
        c.recv().await,
        TrackerMessage::AnnounceResponse(_)
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn flooding_is_rate_limited_then_cut_off() {
    let cfg = Config {
        rate_per_sec: 2.0,
        rate_burst: 5.0,
        ..Config::default()
    };
    let server = start(cfg).await;
    let mut c = Client::connect(server.local_addr()).await;
    let scrape = ClientMessage::Scrape(ScrapeRequest {
        info_hashes: vec![ih(1)],
    });
    for _ in 0..5 {
        c.send(&scrape).await;
    }
    for _ in 0..5 {
        assert!(matches!(c.recv().await, TrackerMessage::ScrapeResponse(_)));
    }
    c.send(&scrape).await;
    let f = c.recv_failure("rate limit").await;
    assert_eq!(f.action, Some(Action::Scrape));
    // After a pause the budget refills.
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.send(&scrape).await;
    assert!(matches!(c.recv().await, TrackerMessage::ScrapeResponse(_)));
    // Keep flooding: refused, then disconnected.
    for _ in 0..20 {
        if tokio::time::timeout(Duration::from_millis(200), c.ws_send_ok(&scrape))
            .await
            .is_err()
        {
            break;
        }
    }
    c.expect_closed(WAIT).await;
    server.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_dropped() {
    let cfg = Config {
        idle_timeout: Duration::from_millis(400),
        ..Config::default()
    };
    let server = start(cfg).await;
    let addr = server.local_addr();
    let mut quiet = Client::connect(addr).await;
    quiet
        .send(&announce(1, 1, 10, Some(Event::Started), &[]))
        .await;
    quiet.recv().await;
    let mut chatty = Client::connect(addr).await;
    let scrape = ClientMessage::Scrape(ScrapeRequest {
        info_hashes: vec![ih(1)],
    });
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        chatty.send(&scrape).await;
        chatty.recv().await;
    }
    // 800 ms later the quiet one is gone (and its peer with it), the chatty one is not.
    quiet.expect_closed(Duration::from_millis(100)).await;
    assert_eq!(server.stats().peers, 0);
    chatty.send(&scrape).await;
    assert!(matches!(
        chatty.recv().await,
        TrackerMessage::ScrapeResponse(_)
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_message_closes_the_connection() {
    let server = start(Config::default()).await;
    let mut c = Client::connect(server.local_addr()).await;
    let pad = "x".repeat(70 * 1024);
    let big = format!(r#"{{"action":"scrape","info_hash":"{IH}","pad":"{pad}"}}"#);
    // The send may fail if the server already closed its side.
    let _ = futures_util::SinkExt::send(
        &mut c.ws,
        tokio_tungstenite::tungstenite::Message::text(big),
    )
    .await;
    let mut saw_failure = false;
    loop {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut c.ws)).await {
            Err(_) => panic!("connection not closed"),
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                let m = TrackerMessage::from_json(t.as_bytes()).unwrap();
                let TrackerMessage::Failure(f) = m else {
                    panic!("{m:?}")
                };
                assert!(f.reason.contains("too large"), "{}", f.reason);
                saw_failure = true;
            }
            Ok(_) => break,
        }
    }
    assert!(saw_failure, "a failure reason precedes the close");
    // A message just under the limit is fine.
    let mut c = Client::connect(server.local_addr()).await;
    let pad = "x".repeat(60 * 1024);
    c.send_text(&format!(
        r#"{{"action":"scrape","info_hash":"{IH}","pad":"{pad}"}}"#
    ))
    .await;
    assert!(matches!(c.recv().await, TrackerMessage::ScrapeResponse(_)));
    server.shutdown().await;
}

trait SendOk {
    async fn ws_send_ok(&mut self, m: &ClientMessage) -> bool;
}

impl SendOk for Client {
    async fn ws_send_ok(&mut self, m: &ClientMessage) -> bool {
        futures_util::SinkExt::send(
            &mut self.ws,
            tokio_tungstenite::tungstenite::Message::text(m.to_json()),
        )
        .await
        .is_ok()
    }
}
