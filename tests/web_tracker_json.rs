//! The browser's tracker JSON (src/tracker_json.rs) against the core's serde encoding, which
//! the native tracker uses: same text out, and the same messages in. Reading is the core's
//! rules on both sides (`tracker_proto::read_tracker_message`, unit-tested in the core); what
//! is checked here is that `JSON.parse` and the `JsValue` view give those rules what
//! serde_json does.
#![cfg(target_arch = "wasm32")]

use tabswarm::tracker_json::{announce_to_json, tracker_message_from_json};
use tabswarm_core::tracker_proto::{
    AnnounceRequest, Answer, ClientMessage, DecodeError, Event, InfoHash, Offer, OfferId, PeerId,
    ProtoError, Sdp, SdpType, TrackerMessage,
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

/// Both readings of `text`, with the parsers' own descriptions of bad JSON left out.
fn both(text: &str) -> [Result<TrackerMessage, DecodeError>; 2] {
    let blank = |mut e: DecodeError| {
        if let ProtoError::InvalidJson(_) = e.error {
            e.error = ProtoError::InvalidJson(String::new());
        }
        e
    };
    [
        TrackerMessage::from_json(text.as_bytes()).map_err(blank),
        tracker_message_from_json(text).map_err(blank),
    ]
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
        TrackerMessage::ScrapeResponse(tabswarm_core::tracker_proto::ScrapeResponse {
            // Read back sorted by info hash, so written that way.
            files: vec![
                (ih, Default::default()),
                (InfoHash([b'1'; 20]), Default::default()),
            ],
            min_request_interval: Some(60),
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
        assert_eq!(tracker_message_from_json(&text), Ok(msg), "reading {text}");
    }
    // What JavaScript trackers send in practice (numbers as floats or strings, nulls, only a
    // `min interval`, unknown fields), and messages both sides reject.
    let ih_json = ClientMessage::Announce(AnnounceRequest::new(ih, pid)).to_json();
    let ih_field =
        &ih_json[ih_json.find("\"info_hash\"").unwrap()..ih_json.find(",\"peer_id\"").unwrap()];
    let mut texts: Vec<String> = [
        r#""complete":2.9,"incomplete":"7","interval":0,"min interval":30,"x":[1]"#,
        r#""complete":-1,"incomplete":null,"interval":" 45 ","tracker id":"5""#,
        r#""complete":1e12,"incomplete":"many","interval":true"#,
        r#""interval":null,"min interval":"15.5""#,
        r#""offer":{"type":"offer","sdp":"v=0"},"offer_id":"bbbbbbbbbbbbbbbbbbbb""#,
    ]
    .iter()
    .map(|extra| format!("{{\"action\":\"announce\",{ih_field},{extra}}}"))
    .collect();
    texts.extend(
        [
            "not json",
            "[1,2]",
            "null",
            r#"{"action":"nope"}"#,
            r#"{"action":{"a":1}}"#,
            r#"{"interval":1}"#,
            r#"{"action":"announce"}"#,
            r#"{"action":"announce","info_hash":"short"}"#,
            r#"{"action":"announce","info_hash":"aaaaaaaaaaaaaaaaaaa\u0100"}"#,
            r#"{"action":"scrape","files":{"short":{}}}"#,
            r#"{"action":"scrape","files":[]}"#,
        ]
        .map(String::from),
    );
    texts.push(format!(r#"{{"action":"{}"}}"#, "é".repeat(100)));
    for text in &texts {
        let [core, ours] = both(text);
        assert_eq!(ours, core, "reading {text}");
    }
}

/// Random tracker messages: each field of the vocabulary present or not, with a value of a
/// right or a wrong shape. The browser's reading must never throw or panic and must be the
/// core's, message for message and error for error.
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
        match rng.below(12) {
            0 => "-1".into(),
            1 => "2.9".into(),
            2 => "1e12".into(),
            3 => "4294967296".into(),
            4 => "\"7\"".into(),
            5 => "\" 45 \"".into(),
            6 => "null".into(),
            7 => "true".into(),
            8 => "\"many\"".into(),
            9 => "\"1.5e1\"".into(),
            10 => "{}".into(),
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
            let v = format!("{{{}:{{\"complete\":2}}}}", id_text(&mut rng));
            maybe(&mut rng, "files", v);
        }
        rng.shuffle(&mut fields);
        let text = format!("{{{}}}", fields.join(","));
        let [core, ours] = both(&text);
        assert_eq!(ours, core, "reading {text}");
        if core.is_ok() {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    // The generator reaches both sides.
    assert!(
        accepted > 300 && rejected > 300,
        "accepted {accepted}, rejected {rejected}"
    );
}
