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

/// Random tracker messages: each field of the vocabulary present or not, with a value of a
/// right or a wrong shape. The browser's decoder must never throw or panic and must read each
/// message as the core does: the same message, or an error for both. (The fuzz target
/// `tracker` covers the core's decoder itself.)
#[wasm_bindgen_test]
fn random_tracker_messages_are_read_as_the_core_reads_them() {
    use tabswarm_core::rng::Rng;
    fn id_text(rng: &mut Rng) -> String {
        // 20 latin1 chars (escapes included), or a wrong length, or a char above U+00FF.
        let n = match rng.below(8) {
            0 => rng.index(40),
            _ => 20,
        };
        let mut s = String::new();
        for i in 0..n {
            let c = match rng.below(6) {
                0 => '"',
                1 => '\\',
                2 => char::from(u8::try_from(rng.below(32)).unwrap()),
                3 if i == 3 && rng.below(4) == 0 => 'Ā',
                _ => char::from(u8::try_from(rng.below(256)).unwrap()),
            };
            s.push(c);
        }
        serde_json_string(&s)
    }
    fn serde_json_string(s: &str) -> String {
        // The core's writer escapes strings the way JSON needs; reuse it through a message.
        let m = TrackerMessage::failure(None, None, s);
        let json = m.to_json();
        let start = json.find(':').unwrap() + 1;
        json[start..json.len() - 1].to_owned()
    }
    fn number(rng: &mut Rng) -> String {
        match rng.below(10) {
            0 => "-1".into(),
            1 => "2.9".into(),
            2 => "1e12".into(),
            3 => "4294967296".into(),
            4 => "\"7\"".into(),
            5 => "\" 45 \"".into(),
            6 => "null".into(),
            7 => "true".into(),
            8 => "\"many\"".into(),
            _ => rng.below(100_000).to_string(),
        }
    }
    fn sdp_value(rng: &mut Rng, kind: &str) -> String {
        match rng.below(6) {
            0 => "null".into(),
            1 => "\"v=0\"".into(),
            2 => r#"{"type":"offer"}"#.into(),
            3 => r#"{"sdp":"v=0"}"#.into(),
            4 => format!(r#"{{"type":"{kind}","sdp":3}}"#),
            _ => format!(r#"{{"type":"{kind}","sdp":"v=0\r\na=x"}}"#),
        }
    }
    let mut rng = Rng::new(0x7ac4);
    let (mut accepted, mut rejected) = (0, 0);
    let mut mismatches = Vec::new();
    for _ in 0..3000 {
        let mut fields: Vec<String> = Vec::new();
        let mut maybe = |rng: &mut Rng, key: &str, value: String| {
            if rng.below(3) != 0 {
                fields.push(format!("\"{key}\":{value}"));
            }
        };
        let action = match rng.below(8) {
            0 => "\"scrape\"".to_owned(),
            1 => "\"nope\"".to_owned(),
            2 => "3".to_owned(),
            _ => "\"announce\"".to_owned(),
        };
        maybe(&mut rng, "action", action);
        let v = id_text(&mut rng);
        maybe(&mut rng, "info_hash", v);
        let offer_or_answer = rng.below(3);
        if offer_or_answer < 2 {
            let v = id_text(&mut rng);
            maybe(&mut rng, "peer_id", v);
            let v = id_text(&mut rng);
            maybe(&mut rng, "offer_id", v);
            let (key, kind) = if offer_or_answer == 0 {
                ("offer", "offer")
            } else {
                ("answer", "answer")
            };
            let v = sdp_value(&mut rng, kind);
            maybe(&mut rng, key, v);
        }
        for key in ["complete", "incomplete", "interval", "min interval"] {
            let v = number(&mut rng);
            maybe(&mut rng, key, v);
        }
        if rng.below(4) == 0 {
            let v = serde_json_string("w\u{e9}");
            maybe(&mut rng, "warning message", v);
        }
        if rng.below(4) == 0 {
            let v = id_text(&mut rng);
            maybe(&mut rng, "tracker id", v);
        }
        if rng.below(6) == 0 {
            let v = serde_json_string("full");
            maybe(&mut rng, "failure reason", v);
        }
        if rng.below(6) == 0 {
            maybe(&mut rng, "files", "{}".into());
        }
        rng.shuffle(&mut fields);
        let text = format!("{{{}}}", fields.join(","));
        let without_sdp: Vec<&str> = fields
            .iter()
            .map(String::as_str)
            .filter(|f| !f.starts_with("\"offer\":") && !f.starts_with("\"answer\":"))
            .collect();
        let text_without_sdp = format!("{{{}}}", without_sdp.join(","));
        let core = TrackerMessage::from_json(text.as_bytes()).map_err(|e| e.error);
        let ours = tracker_message_from_json(&text);
        match (&core, &ours) {
            (Ok(TrackerMessage::ScrapeResponse(_)), Ok(None)) => accepted += 1,
            (Ok(c), Ok(Some(o))) => {
                assert_eq!(c, o, "reading {text}");
                accepted += 1;
            }
            (Err(_), Err(_)) => rejected += 1,
            // Two leniencies, both where the core rejects what we read: a boolean number
            // field reads as absent here, and a failure or scrape reply is read without
            // looking at an `offer` or `answer` it does not use (the core's typed decoder
            // rejects a malformed one). For the second, the core must read the message as
            // we did once those fields are gone. Nothing else may differ.
            (Err(_), Ok(_)) if text.contains(":true") => rejected += 1,
            (Err(_), Ok(o @ (None | Some(TrackerMessage::Failure(_)))))
                if text_without_sdp != text =>
            {
                let again = TrackerMessage::from_json(text_without_sdp.as_bytes()).ok();
                match (again, o) {
                    (Some(TrackerMessage::ScrapeResponse(_)), None) => {}
                    (Some(c), Some(o)) if c == *o => {}
                    (again, _) => mismatches.push(format!(
                        "reading {text}: ours {ours:?}, core without the SDPs {again:?}"
                    )),
                }
                accepted += 1;
            }
            _ => mismatches.push(format!("reading {text}: core {core:?}, ours {ours:?}")),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // The generator reaches both sides.
    assert!(
        accepted > 300 && rejected > 300,
        "accepted {accepted}, rejected {rejected}"
    );
}
