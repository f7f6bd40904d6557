//! Compatibility: npm `bittorrent-tracker` 11's own WebSocket client announces to our tracker,
//! gets offers and answers through it and scrapes it.
//!
//! The client code is the real package from `node_modules`; only WebRTC is faked
//! (`tests/compat/fake-webrtc.mjs`, swapped in for `webrtc-polyfill` by a Node module hook,
//! because node-datachannel's native binary is not built on these machines). The fake makes
//! ~500-byte SDPs and records the descriptions it receives, so the script checks that the
//! answer SDP made by one client reached the other's peer connection.
//!
//! Skipped (with a message) when `node` or `node_modules/bittorrent-tracker` is missing.

mod common;

use std::path::PathBuf;
use std::process::Command;

use tabswarm_tracker::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bittorrent_tracker_client_exchanges_offer_and_answer() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let compat = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat");
    if !root
        .join("node_modules/bittorrent-tracker/package.json")
        .exists()
    {
        eprintln!("SKIPPED: node_modules/bittorrent-tracker is missing (run npm ci)");
        return;
    }
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: node is not installed");
        return;
    }
    let server = common::start(Config::default()).await;
    let url = format!("ws://{}/announce", server.local_addr());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("--import")
            .arg(compat.join("register.mjs"))
            .arg(compat.join("client-exchange.mjs"))
            .arg(url)
            .output()
    })
    .await
    .unwrap()
    .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node failed: {stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(last).expect("JSON result line");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["scrape"]["complete"], 1);
    // Both clients said `stopped`: the swarm is empty again.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while server.stats().peers != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "peers left: {:?}",
            server.stats()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}
