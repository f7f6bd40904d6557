//! Peers come and go: expiry, socket close, stats, static files, both upgrade paths, shutdown.

mod common;

use std::time::Duration;

use common::*;
use tabswarm_core::tracker_proto::*;
use tabswarm_tracker::{Config, SwarmConfig};

#[tokio::test]
async fn silent_peers_expire_but_announcing_peers_stay() {
    let cfg = Config {
        swarm: SwarmConfig {
            peer_timeout: Duration::from_millis(600),
            ..SwarmConfig::default()
        },
        cleanup_interval: Duration::from_millis(100),
        ..Config::default()
    };
    let server = start(cfg).await;
    let addr = server.local_addr();
    let mut a = Client::connect(addr).await;
    let mut b = Client::connect(addr).await;
    a.send(&announce(1, 1, 10, Some(Event::Started), &[])).await;
    a.recv().await;
    b.send(&announce(1, 2, 10, Some(Event::Started), &[])).await;
    b.recv().await;
    assert_eq!(server.stats().peers, 2);
    // b re-announces every 200 ms; a stays silent (but its socket stays open).
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.send(&announce(1, 2, 10, None, &[])).await;
        b.recv().await;
    }
    let s = server.stats();
    assert_eq!((s.peers, s.torrents, s.connections), (1, 1, 2));
    // a's offers now reach b... and b's reach nobody but a once a is back.
    b.send(&announce(1, 2, 10, None, &[7])).await;
    let TrackerMessage::AnnounceResponse(r) = b.recv().await else {
        panic!()
    };
    assert_eq!(r.incomplete, Some(1), "only b is left");
    a.expect_silence(200).await;
    server.shutdown().await;
}

#[tokio::test]
async fn closing_the_socket_removes_its_peers() {
    let server = start(Config::default()).await;
    let addr = server.local_addr();
    let mut a = Client::connect(addr).await;
    for t in 1..=3 {
        a.send(&announce(t, 1, 0, Some(Event::Started), &[])).await;
        a.recv().await;
    }
    let mut b = Client::connect(addr).await;
    b.send(&announce(1, 2, 10, Some(Event::Started), &[])).await;
    b.recv().await;
    let s = server.stats();
    assert_eq!(
        (s.torrents, s.peers, s.seeders, s.leechers, s.connections),
        (3, 4, 3, 1, 2)
    );
    a.ws.close(None).await.unwrap();
    drop(a);
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.stats().connections != 1 {
        assert!(tokio::time::Instant::now() < deadline, "close not noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = server.stats();
    assert_eq!((s.torrents, s.peers, s.seeders, s.leechers), (1, 1, 0, 1));
    // b's offers now have nobody to go to.
    b.send(&announce(1, 2, 10, None, &[5])).await;
    let TrackerMessage::AnnounceResponse(r) = b.recv().await else {
        panic!()
    };
    assert_eq!((r.complete, r.incomplete), (Some(0), Some(1)));
    server.shutdown().await;
}

#[tokio::test]
async fn one_port_serves_page_stats_and_both_upgrade_paths() {
    let dir = std::env::temp_dir().join(format!("tabswarm-tracker-test-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>tabswarm</title>",
    )
    .unwrap();
    std::fs::write(dir.join("pkg/tabswarm_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.join("www/app.js"), "export {}").unwrap();
    let server = start(Config {
        static_dir: Some(dir.clone()),
        ..Config::default()
    })
    .await;
    let addr = server.local_addr();

    let (status, headers, body) = http_get(addr, "/").await;
    assert!(status.contains("200"), "{status}");
    assert!(headers.contains("content-type: text/html"), "{headers}");
    assert!(String::from_utf8_lossy(&body).contains("<title>tabswarm</title>"));
    let (status, headers, body) = http_get(addr, "/pkg/tabswarm_bg.wasm").await;
    assert!(status.contains("200"));
    assert!(
        headers.contains("content-type: application/wasm"),
        "{headers}"
    );
    assert_eq!(body, b"\0asm\x01\0\0\0");
    let (_, headers, _) = http_get(addr, "/www/app.js").await;
    assert!(
        headers.contains("content-type: text/javascript"),
        "{headers}"
    );
    let (status, _, _) = http_get(addr, "/nope.txt").await;
    assert!(status.contains("404"), "{status}");
    let (status, _, _) = http_get(addr, "/announce").await;
    assert!(status.contains("426"), "{status}");

    // The tracker at "/" and at "/announce" is the same tracker.
    let mut a = Client::connect_path(addr, "/").await;
    let mut b = Client::connect_path(addr, "/announce").await;
    a.send(&announce(1, 1, 10, Some(Event::Started), &[])).await;
    a.recv().await;
    b.send(&announce(1, 2, 0, Some(Event::Started), &[9])).await;
    b.recv().await;
    let TrackerMessage::Offer(f) = a.recv().await else {
        panic!()
    };
    assert_eq!(f.peer_id, pid(2));

    let (status, headers, body) = http_get(addr, "/stats").await;
    assert!(status.contains("200"));
    assert!(headers.contains("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for (k, want) in [
        ("torrents", 1),
        ("peers", 2),
        ("seeders", 1),
        ("leechers", 1),
        ("connections", 2),
    ] {
        assert_eq!(v[k], want, "{k} in {v}");
    }
    assert!(v["messages_per_sec"].is_number());
    assert!(v["messages_in_total"].as_u64().unwrap() >= 2);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn shutdown_closes_websockets_and_stops_listening() {
    let server = start(Config::default()).await;
    let addr = server.local_addr();
    let mut a = Client::connect(addr).await;
    a.send(&announce(1, 1, 10, Some(Event::Started), &[])).await;
    a.recv().await;
    let t = tokio::time::Instant::now();
    server.shutdown().await;
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        t.elapsed()
    );
    a.expect_closed(Duration::from_secs(1)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}

/// A message and the end of the stream that arrive together are both handled: the read that
/// empties the socket tells tokio it is no longer readable, which must not hide the close.
#[tokio::test]
async fn a_message_right_before_the_end_of_stream_is_answered_and_the_close_noticed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::MaybeTlsStream;

    let server = start(Config::default()).await;
    let mut a = Client::connect(server.local_addr()).await;
    let payload = announce(1, 1, 10, Some(Event::Started), &[]).to_json();
    let len = u16::try_from(payload.len()).unwrap();
    assert!(len >= 126, "the frame below uses the 16-bit length form");
    // A masked text frame (all-zero key, so the payload goes as is), then FIN, written
    // without yielding to the tracker's task (same thread), so one read finds both.
    let mut frame = vec![0x81, 0x80 | 126];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload.as_bytes());
    let MaybeTlsStream::Plain(tcp) = a.ws.get_mut() else {
        panic!("plain TCP expected")
    };
    tcp.write_all(&frame).await.unwrap();
    tcp.shutdown().await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut got))
        .await
        .expect("the tracker did not close its side")
        .unwrap();
    let reply = String::from_utf8_lossy(&got);
    assert!(
        reply.contains("\"complete\":"),
        "no announce reply: {reply}"
    );
    let s = server.stats();
    assert_eq!((s.messages_in_total, s.connections, s.peers), (1, 0, 0));
    server.shutdown().await;
}
