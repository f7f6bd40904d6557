//! Browser tests of the WebRTC transport: two `RTCPeerConnection`s in one page, signalled by
//! passing the offer and answer directly (no tracker), with `iceServers: []`.
#![cfg(target_arch = "wasm32")]

use futures::StreamExt;
use sha1::{Digest, Sha1};
use tabswarm::rtc::{RtcError, RtcEvent, RtcPeer, HIGH_WATER};
use tabswarm_core::rng::Rng;
use wasm_bindgen_test::*;

mod rtc_common;
use rtc_common::{config, connected_pair, sink, Events};

wasm_bindgen_test_configure!(run_in_browser);

struct Outcome {
    received_digest: [u8; 20],
    received: usize,
    max_buffered: u32,
    blocked: u32,
}

/// Sends `total` pseudo-random bytes (from `seed`) in 64 KiB messages, pausing whenever `send`
/// says stop until `Writable`, while reading the `expect` bytes the other side sends.
async fn pump(
    peer: &RtcPeer,
    events: &mut Events,
    seed: u64,
    total: usize,
    expect: usize,
) -> Outcome {
    let mut rng = Rng::new(seed);
    let mut chunk = vec![0u8; 64 * 1024];
    let (mut sent, mut received, mut max_buffered, mut blocked) = (0usize, 0usize, 0u32, 0u32);
    let mut writable = true;
    let mut digest = Sha1::new();
    loop {
        while writable && sent < total {
            let n = chunk.len().min(total - sent);
            rng.fill(&mut chunk[..n]);
            writable = peer.send(&chunk[..n]).expect("send");
            sent += n;
            max_buffered = max_buffered.max(peer.buffered_amount());
            if !writable {
                blocked += 1;
            }
        }
        if sent == total && received == expect {
            break;
        }
        match events.next().await.expect("events until done") {
            RtcEvent::Data(d) => {
                digest.update(&d);
                received += d.len();
            }
            // (A Writable may also be left over from an earlier pump of this channel.)
            RtcEvent::Writable => writable = true,
            other => panic!("unexpected event {other:?}"),
        }
    }
    Outcome {
        received_digest: digest.finalize().into(),
        received,
        max_buffered,
        blocked,
    }
}

fn expected_digest(seed: u64, total: usize) -> [u8; 20] {
    let mut rng = Rng::new(seed);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut digest = Sha1::new();
    let mut done = 0;
    while done < total {
        let n = chunk.len().min(total - done);
        rng.fill(&mut chunk[..n]);
        digest.update(&chunk[..n]);
        done += n;
    }
    digest.finalize().into()
}

#[wasm_bindgen_test]
async fn bytes_flow_both_ways_with_backpressure() {
    // 24 MiB each way: without backpressure the buffer would pass Chrome's ~16 MiB limit and
    // the channel would close. One direction at a time: with both ends of both directions in
    // one page, this Chromium sometimes stops updating one channel's `bufferedAmount` (it
    // stays at the 2 MiB mark while the other side has received every byte), which would hang
    // the test for a reason that peers in separate pages never meet.
    const TOTAL: usize = 24 * 1024 * 1024;
    let ((a, mut rx_a), (b, mut rx_b)) = connected_pair().await;
    let (a_to_b, got_b) = futures::join!(
        pump(&a, &mut rx_a, 1, TOTAL, 0),
        pump(&b, &mut rx_b, 0, 0, TOTAL)
    );
    let (got_a, b_to_a) = futures::join!(
        pump(&a, &mut rx_a, 0, 0, TOTAL),
        pump(&b, &mut rx_b, 2, TOTAL, 0)
    );
    assert_eq!(got_b.received, TOTAL);
    assert_eq!(got_a.received, TOTAL);
    assert_eq!(got_b.received_digest, expected_digest(1, TOTAL), "A to B");
    assert_eq!(got_a.received_digest, expected_digest(2, TOTAL), "B to A");
    for out in [&a_to_b, &b_to_a] {
        assert!(out.blocked > 0, "backpressure engaged");
        assert!(
            out.max_buffered <= HIGH_WATER + 64 * 1024,
            "buffer stayed bounded: {}",
            out.max_buffered
        );
    }
}

#[wasm_bindgen_test]
async fn a_malformed_offer_is_an_error_not_a_panic() {
    let (s, _rx) = sink();
    match RtcPeer::answer(&config(), "this is not SDP", s).await {
        Err(RtcError::Negotiation(msg)) => assert!(!msg.is_empty()),
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("garbage SDP accepted"),
    }
}
