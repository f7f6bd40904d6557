//! The browser's tracker JSON (src/tracker_json.rs) against the core's serde encoding, which
//! the native tracker uses: same text out, same messages in.
#![cfg(target_arch = "wasm32")]

use tabswarm::tracker_json::{announce_to_json, tracker_message_from_json};
use tabswarm_core::tracker_proto::{
    AnnounceRequest, Answer, ClientMessage, Event, InfoHash, Offer, OfferId, PeerId, ProtoError,
    Sdp, SdpType, TrackerMessage,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Ids with the bytes that need escaping or are not ASCII.
fn awkward_id(seed: u8) -> [u8; 20] {
    let mut id = [0u8; 20];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::try_from(i).unwrap().wrapping_mul(37).wrapping_add(seed);
    }
    id[0] = 0;
    id[1] = b'"';
    id[2] = b'\\';
    id[3] = 0x7f;
    id[4] = 0xff;
    id[5] = b'\n';
    id
}

fn sdp(kind: SdpType) -> Sdp {
    Sdp {
        kind,
        sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=x:\"quoted\" \\ é\r\n".to_owned(),
    }
}

#[wasm_bindgen_test]
fn announces_are_written_exactly_as_the_core_writes_them() {
    let mut full = AnnounceRequest::new(InfoHash(awkward_id(1)), PeerId(awkward_id(2)));
    full.event = Some(Event::Started);
    full.numwant = Some(5);
    full.uploaded = Some(0);
    full.downloaded = Some(1 << 40);
    full.left = Some(123_456_789);
    full.offers = vec![
        Offer {
            offer: sdp(SdpType::Offer),
            offer_id: OfferId(awkward_id(3)),
        },
        Offer {
            offer: sdp(SdpType::Offer),
            offer_id: OfferId([b'a'; 20]),
        },
    ];
    full.trackerid = Some("tid\u{1}".into());
    let mut answer = AnnounceRequest::new(InfoHash(awkward_id(4)), PeerId(awkward_id(5)));
    answer.answer = Some(Answer {
        to_peer_id: PeerId(awkward_id(6)),
        offer_id: OfferId(awkward_id(7)),
        answer: sdp(SdpType::Answer),
    });
    let bare = AnnounceRequest::new(InfoHash([0; 20]), PeerId([0xff; 20]));
    for req in [full, answer, bare] {
        let ours = announce_to_json(&req);
        assert_eq!(ours, ClientMessage::Announce(req.clone()).to_json());
    }
}

#[wasm_bindgen_test]
fn tracker_messages_are_read_as_the_core_reads_them() {
    let ih = InfoHash(awkward_id(8));
    let pid = PeerId(awkward_id(9));
    let oid = OfferId(awkward_id(10));
    let written = [
        TrackerMessage::Offer(tabswarm_core::tracker_proto::OfferForward {
            info_hash: ih,
            peer_id: pid,
            offer_id: oid,
            offer: sdp(SdpType::Offer),
        }),
        TrackerMessage::Answer(tabswarm_core::tracker_proto::AnswerForward {
            info_hash: ih,
            peer_id: pid,
            offer_id: oid,
            answer: sdp(SdpType::Answer),
        }),
        TrackerMessage::AnnounceResponse(tabswarm_core::tracker_proto::AnnounceResponse {
            info_hash: ih,
            complete: Some(3),
            incomplete: Some(0),
            interval: Some(120),
            tracker_id: Some("t".into()),
            warning_message: Some("w".into()),
        }),
        TrackerMessage::failure(None, None, "nope"),
        TrackerMessage::failure(
            Some(tabswarm_core::tracker_proto::Action::Announce),
            Some(ih),
            "full",
        ),
    ];
    for msg in written {
        let text = msg.to_json();
        assert_eq!(
            tracker_message_from_json(&text),
            Ok(Some(msg)),
            "reading {text}"
        );
    }
    // What JavaScript trackers send in practice: numbers as floats or strings, nulls, only a
    // `min interval`, unknown fields.
    let ih_json = ClientMessage::Announce(AnnounceRequest::new(ih, pid)).to_json();
    let ih_field =
        &ih_json[ih_json.find("\"info_hash\"").unwrap()..ih_json.find(",\"peer_id\"").unwrap()];
    for extra in [
        r#""complete":2.9,"incomplete":"7","interval":0,"min interval":30,"x":[1]"#,
        r#""complete":-1,"incomplete":null,"interval":" 45 ","tracker id":"5""#,
        r#""complete":1e12,"incomplete":"many","interval":true"#,
        r#""interval":null,"min interval":"15.5""#,
    ] {
        let text = format!("{{\"action\":\"announce\",{ih_field},{extra}}}");
        let core = TrackerMessage::from_json(text.as_bytes()).ok();
        let ours = tracker_message_from_json(&text).ok().flatten();
        // The core rejects a boolean interval; we read it as absent. Compare the rest.
        if text.contains("true") {
            assert!(core.is_none());
            let Some(TrackerMessage::AnnounceResponse(r)) = ours else {
                panic!("{text}: {ours:?}")
            };
            assert_eq!(
                (r.complete, r.incomplete, r.interval),
                (Some(u32::MAX), None, None)
            );
        } else {
            assert_eq!(ours, core, "reading {text}");
        }
    }
}

#[wasm_bindgen_test]
fn bad_messages_are_rejected_like_the_core_rejects_them() {
    let ih_ok = ClientMessage::Announce(AnnounceRequest::new(
        InfoHash([b'a'; 20]),
        PeerId([b'b'; 20]),
    ))
    .to_json();
    assert!(ih_ok.contains("aaaaaaaaaaaaaaaaaaaa"));
    type Check = fn(&ProtoError) -> bool;
    let cases: [(&str, Check); 8] = [
        ("not json", |e| matches!(e, ProtoError::InvalidJson(_))),
        ("[1,2]", |e| matches!(e, ProtoError::InvalidJson(_))),
        (
            r#"{"action":"nope"}"#,
            |e| matches!(e, ProtoError::UnknownAction(a) if a == "nope"),
        ),
        (r#"{"interval":1}"#, |e| {
            matches!(e, ProtoError::UnknownAction(_))
        }),
        (r#"{"action":"announce"}"#, |e| {
            *e == ProtoError::Missing { field: "info_hash" }
        }),
        (r#"{"action":"announce","info_hash":"short"}"#, |e| {
            *e == ProtoError::IdLength { field: "info_hash" }
        }),
        (
            r#"{"action":"announce","info_hash":"aaaaaaaaaaaaaaaaaaa\u0100"}"#,
            |e| *e == ProtoError::IdNotLatin1 { field: "info_hash" },
        ),
        (
            r#"{"action":"announce","info_hash":"aaaaaaaaaaaaaaaaaaaa","offer":{"type":"offer","sdp":"v=0"},"offer_id":"bbbbbbbbbbbbbbbbbbbb"}"#,
            |e| *e == ProtoError::Missing { field: "peer_id" },
        ),
    ];
    for (text, is_expected) in cases {
        let core = TrackerMessage::from_json(text.as_bytes()).map_err(|e| e.error);
        let ours = tracker_message_from_json(text);
        let (Err(c), Err(o)) = (&core, &ours) else {
            panic!("{text}: core {core:?}, ours {ours:?}")
        };
        assert!(is_expected(c), "{text}: core {c:?}");
        assert!(is_expected(o), "{text}: ours {o:?}");
    }
    // A scrape response is valid, and of no use to a client.
    assert_eq!(
        tracker_message_from_json(r#"{"action":"scrape","files":{}}"#),
        Ok(None)
    );
}
