//! Round trips, WebTorrent field names and rejected input.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;

fn ih(b: u8) -> InfoHash {
    InfoHash([b; 20])
}
fn pid(b: u8) -> PeerId {
    PeerId([b; 20])
}
fn sdp(kind: SdpType) -> Sdp {
    Sdp {
        kind,
        sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".to_owned(),
    }
}
fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn binary_string_ids_round_trip_every_byte_value() {
    let mut bytes = [0u8; 20];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::try_from(i * 13 + 1).unwrap().wrapping_mul(7);
    }
    bytes[0] = 0x00;
    bytes[1] = 0xff;
    bytes[2] = b'"';
    bytes[3] = b'\\';
    let id = InfoHash(bytes);
    let s = serde_json::to_string(&id).unwrap();
    // Control chars are escaped, high bytes become 2-byte UTF-8, never hex.
    assert!(s.starts_with("\"\\u0000ÿ\\\"\\\\"), "{s}");
    let back: InfoHash = serde_json::from_str(&s).unwrap();
    assert_eq!(back, id);
    assert_eq!(InfoHash::from_binary_str(&id.to_binary_string()), Ok(id));
    assert_eq!(id.to_hex().len(), 40);
    assert_eq!(&id.to_hex()[..4], "00ff");
}

#[test]
fn binary_string_ids_reject_wrong_length_and_wide_chars() {
    assert_eq!(
        PeerId::from_binary_str("short"),
        Err(ProtoError::IdLength { field: "peer_id" })
    );
    assert_eq!(
        PeerId::from_binary_str(&"a".repeat(21)),
        Err(ProtoError::IdLength { field: "peer_id" })
    );
    let wide = format!("{}Ā", "a".repeat(19)); // U+0100
    assert_eq!(
        OfferId::from_binary_str(&wide),
        Err(ProtoError::IdNotLatin1 { field: "offer_id" })
    );
    // 20 chars but 40 UTF-8 bytes is fine.
    assert!(InfoHash::from_binary_str(&"é".repeat(20)).is_ok());
    assert!(serde_json::from_str::<InfoHash>("\"abc\"").is_err());
    assert!(serde_json::from_str::<InfoHash>("12").is_err());
}

#[test]
fn webtorrent_announce_with_offers_decodes() {
    let text = r#"{"numwant":5,"uploaded":0,"downloaded":0,"left":1024,"event":"started",
        "action":"announce","info_hash":"AAAAAAAAAAAAAAAAAAAA","peer_id":"-WW0300-abcdefghijkl",
        "offers":[{"offer":{"type":"offer","sdp":"v=0\r\n"},"offer_id":"OOOOOOOOOOOOOOOOOOOO"}]}"#;
    let ClientMessage::Announce(a) = ClientMessage::from_json(text.as_bytes()).unwrap() else {
        panic!("not an announce")
    };
    assert_eq!(a.info_hash, ih(b'A'));
    assert_eq!(a.peer_id.0, *b"-WW0300-abcdefghijkl");
    assert_eq!(a.event, Some(Event::Started));
    assert_eq!(
        (a.numwant, a.uploaded, a.downloaded, a.left),
        (Some(5), Some(0), Some(0), Some(1024))
    );
    assert_eq!(a.offers.len(), 1);
    assert_eq!(a.offers[0].offer_id, OfferId([b'O'; 20]));
    assert_eq!(a.offers[0].offer.kind, SdpType::Offer);
    assert_eq!(a.offers[0].offer.sdp, "v=0\r\n");
    assert!(a.answer.is_none());
}

#[test]
fn client_messages_round_trip_with_webtorrent_field_names() {
    let mut a = AnnounceRequest::new(ih(1), pid(2));
    a.event = Some(Event::Completed);
    a.numwant = Some(5);
    a.uploaded = Some(10);
    a.downloaded = Some(1 << 40);
    a.left = Some(0);
    a.offers = vec![Offer {
        offer: sdp(SdpType::Offer),
        offer_id: OfferId([0xee; 20]),
    }];
    a.trackerid = Some("t1".to_owned());
    let msg = ClientMessage::Announce(a);
    let s = msg.to_json();
    let v = json(&s);
    for k in [
        "action",
        "info_hash",
        "peer_id",
        "event",
        "numwant",
        "uploaded",
        "downloaded",
        "left",
        "offers",
        "trackerid",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {s}");
    }
    assert_eq!(v["action"], "announce");
    assert_eq!(v["event"], "completed");
    assert_eq!(v["offers"][0]["offer"]["type"], "offer");
    assert_eq!(
        v["offers"][0]["offer_id"].as_str().unwrap().chars().count(),
        20
    );
    assert_eq!(ClientMessage::from_json(s.as_bytes()).unwrap(), msg);

    let mut ans = AnnounceRequest::new(ih(1), pid(3));
    ans.answer = Some(Answer {
        to_peer_id: pid(2),
        offer_id: OfferId([0xee; 20]),
        answer: sdp(SdpType::Answer),
    });
    let msg = ClientMessage::Announce(ans);
    let s = msg.to_json();
    let v = json(&s);
    assert_eq!(v["answer"]["type"], "answer");
    assert_eq!(v["to_peer_id"], pid(2).to_binary_string());
    assert_eq!(v["offer_id"], OfferId([0xee; 20]).to_binary_string());
    assert!(v.get("event").is_none() && v.get("offers").is_none());
    assert_eq!(ClientMessage::from_json(s.as_bytes()).unwrap(), msg);

    for hashes in [vec![], vec![ih(7)], vec![ih(7), ih(8), ih(9)]] {
        let msg = ClientMessage::Scrape(ScrapeRequest {
            info_hashes: hashes,
        });
        assert_eq!(
            ClientMessage::from_json(msg.to_json().as_bytes()).unwrap(),
            msg
        );
    }
}

#[test]
fn tracker_messages_round_trip_with_webtorrent_field_names() {
    let msgs = [
        TrackerMessage::AnnounceResponse(AnnounceResponse {
            info_hash: ih(1),
            complete: Some(3),
            incomplete: Some(4),
            interval: Some(120),
            tracker_id: Some("x".to_owned()),
            warning_message: Some("careful".to_owned()),
        }),
        TrackerMessage::Offer(OfferForward {
            info_hash: ih(1),
            peer_id: pid(2),
            offer_id: OfferId([9; 20]),
            offer: sdp(SdpType::Offer),
        }),
        TrackerMessage::Answer(AnswerForward {
            info_hash: ih(1),
            peer_id: pid(3),
            offer_id: OfferId([9; 20]),
            answer: sdp(SdpType::Answer),
        }),
        TrackerMessage::ScrapeResponse(ScrapeResponse {
            files: vec![
                (
                    ih(5),
                    ScrapeStats {
                        complete: 1,
                        incomplete: 2,
                        downloaded: 1,
                    },
                ),
                (ih(6), ScrapeStats::default()),
            ],
            min_request_interval: Some(600),
        }),
        TrackerMessage::failure(Some(Action::Announce), Some(ih(1)), "nope"),
        TrackerMessage::failure(Some(Action::Scrape), None, "nope"),
    ];
    for m in &msgs {
        let s = m.to_json();
        assert_eq!(&TrackerMessage::from_json(s.as_bytes()).unwrap(), m, "{s}");
        let mut buf = Vec::new();
        m.write_json(&mut buf);
        assert_eq!(buf, s.as_bytes());
    }
    let v = json(&msgs[0].to_json());
    assert_eq!(v["interval"], 120);
    assert_eq!(v["complete"], 3);
    assert_eq!(v["incomplete"], 4);
    assert_eq!(v["tracker id"], "x");
    assert_eq!(v["warning message"], "careful");
    let v = json(&msgs[1].to_json());
    assert_eq!(v["offer"]["type"], "offer");
    assert_eq!(v["peer_id"], pid(2).to_binary_string());
    let v = json(&msgs[3].to_json());
    assert_eq!(v["files"][ih(5).to_binary_string()]["incomplete"], 2);
    assert_eq!(v["flags"]["min_request_interval"], 600);
    let v = json(&msgs[4].to_json());
    assert_eq!(v["failure reason"], "nope");
    assert_eq!(v["action"], "announce");
}

#[test]
fn decodes_bittorrent_tracker_replies() {
    let ihs = ih(b'h').to_binary_string();
    let r = format!(
        r#"{{"complete":0,"incomplete":1,"action":"announce","interval":120,"info_hash":"{ihs}"}}"#
    );
    let TrackerMessage::AnnounceResponse(r) = TrackerMessage::from_json(r.as_bytes()).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (r.complete, r.incomplete, r.interval),
        (Some(0), Some(1), Some(120))
    );
    // Only "min interval".
    let r = format!(r#"{{"action":"announce","min interval":60,"info_hash":"{ihs}"}}"#);
    let TrackerMessage::AnnounceResponse(r) = TrackerMessage::from_json(r.as_bytes()).unwrap()
    else {
        panic!()
    };
    assert_eq!(r.interval, Some(60));
    // Unparsable-request failure has no action.
    let f = TrackerMessage::from_json(br#"{"failure reason":"invalid info_hash"}"#).unwrap();
    assert_eq!(f, TrackerMessage::failure(None, None, "invalid info_hash"));
    assert!(matches!(
        TrackerMessage::from_json(br#"{"action":"boom"}"#)
            .unwrap_err()
            .error,
        ProtoError::UnknownAction(_)
    ));
}

#[test]
fn lenient_numbers_and_scrape_forms() {
    let base = r#""action":"announce","info_hash":"AAAAAAAAAAAAAAAAAAAA","peer_id":"BBBBBBBBBBBBBBBBBBBB""#;
    let m = format!(r#"{{{base},"left":null,"uploaded":1.9,"downloaded":"12","numwant":-3}}"#);
    let ClientMessage::Announce(a) = ClientMessage::from_json(m.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(
        (a.left, a.uploaded, a.downloaded, a.numwant),
        (None, Some(1), Some(12), Some(0))
    );
    let m = format!(r#"{{{base},"left":1e30,"unknown_field":[1,2]}}"#);
    let ClientMessage::Announce(a) = ClientMessage::from_json(m.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(a.left, Some(u64::MAX));
    let s = ClientMessage::from_json(br#"{"action":"scrape","info_hash":"AAAAAAAAAAAAAAAAAAAA"}"#);
    assert_eq!(
        s.unwrap(),
        ClientMessage::Scrape(ScrapeRequest {
            info_hashes: vec![ih(b'A')]
        })
    );
    let s = ClientMessage::from_json(br#"{"action":"scrape"}"#).unwrap();
    assert_eq!(
        s,
        ClientMessage::Scrape(ScrapeRequest {
            info_hashes: vec![]
        })
    );
}

#[test]
fn bad_client_messages_are_errors_with_context() {
    let err = |s: &str| ClientMessage::from_json(s.as_bytes()).unwrap_err();
    assert!(matches!(err("{not json").error, ProtoError::InvalidJson(_)));
    assert!(matches!(err("[1,2]").error, ProtoError::InvalidJson(_)));
    assert!(matches!(
        ClientMessage::from_json(b"\xff\xfe").unwrap_err().error,
        ProtoError::InvalidJson(_)
    ));
    let e = err(r#"{"action":"dance"}"#);
    assert_eq!(e.error, ProtoError::UnknownAction("dance".to_owned()));
    assert_eq!(
        e.to_failure().to_json(),
        r#"{"failure reason":"invalid action in WS request: dance"}"#
    );
    assert!(matches!(err("{}").error, ProtoError::UnknownAction(_)));
    let e = err(r#"{"action":"announce","info_hash":"short","peer_id":"BBBBBBBBBBBBBBBBBBBB"}"#);
    assert_eq!(e.error, ProtoError::IdLength { field: "info_hash" });
    assert_eq!(e.action, Some(Action::Announce));
    let e = err(
        r#"{"action":"announce","info_hash":"AAAAAAAAAAAAAAAAAAAA","peer_id":"BBBBBBBBBBBBBBBBBBBĀ"}"#,
    );
    assert_eq!(e.error, ProtoError::IdNotLatin1 { field: "peer_id" });
    assert_eq!(e.info_hash, Some(ih(b'A')));
    let v = json(&e.to_failure().to_json());
    assert_eq!(v["action"], "announce");
    assert_eq!(v["info_hash"], "AAAAAAAAAAAAAAAAAAAA");
    assert!(v["failure reason"].as_str().unwrap().contains("peer_id"));
    let base = r#""action":"announce","info_hash":"AAAAAAAAAAAAAAAAAAAA","peer_id":"BBBBBBBBBBBBBBBBBBBB""#;
    let e = err(&format!(
        r#"{{{base},"answer":{{"type":"answer","sdp":"x"}},"offer_id":"OOOOOOOOOOOOOOOOOOOO"}}"#
    ));
    assert_eq!(
        e.error,
        ProtoError::Missing {
            field: "to_peer_id"
        }
    );
    let e = err(&format!(
        r#"{{{base},"answer":{{"type":"answer","sdp":"x"}},"to_peer_id":"CCCCCCCCCCCCCCCCCCCC"}}"#
    ));
    assert_eq!(e.error, ProtoError::Missing { field: "offer_id" });
    let e = err(&format!(r#"{{{base},"event":"exploded"}}"#));
    assert_eq!(e.error, ProtoError::InvalidEvent("exploded".to_owned()));
    let e = err(&format!(
        r#"{{{base},"offers":[{{"offer":{{"type":"offer","sdp":"x"}},"offer_id":"x"}}]}}"#
    ));
    assert_eq!(e.error, ProtoError::IdLength { field: "offer_id" });
    let e = err(&format!(
        r#"{{{base},"offers":[{{"offer":{{"type":"bogus","sdp":"x"}},"offer_id":"OOOOOOOOOOOOOOOOOOOO"}}]}}"#
    ));
    assert!(matches!(e.error, ProtoError::InvalidJson(_)));
    let e = err(r#"{"action":"scrape","info_hash":["AAAAAAAAAAAAAAAAAAAA", 7]}"#);
    assert_eq!(e.error, ProtoError::IdLength { field: "info_hash" });
    let e = err(r#"{"action":"announce","peer_id":"BBBBBBBBBBBBBBBBBBBB"}"#);
    assert_eq!(e.error, ProtoError::Missing { field: "info_hash" });
    // A huge unknown action is cut short in the failure text.
    let long = format!(r#"{{"action":"{}"}}"#, "z".repeat(10_000));
    assert!(err(&long).to_failure().to_json().len() < 200);
}

/// A tracker's message as the browser and the native side both read it (`view.rs`).
fn tracker(s: &str) -> Result<TrackerMessage, DecodeError> {
    TrackerMessage::from_json(s.as_bytes())
}

fn response(s: &str) -> AnnounceResponse {
    match tracker(s) {
        Ok(TrackerMessage::AnnounceResponse(r)) => r,
        other => panic!("{s}: {other:?}"),
    }
}

#[test]
fn counts_are_numbers_or_decimal_strings_and_anything_else_is_absent() {
    let ihs = ih(b'h').to_binary_string();
    let read = |value: &str| {
        let r = response(&format!(
            r#"{{"action":"announce","info_hash":"{ihs}","complete":{value}}}"#
        ));
        r.complete
    };
    for (value, expected) in [
        ("7", Some(7)),
        ("2.9", Some(2)),
        ("-1", Some(0)),
        ("-0.5", Some(0)),
        ("1e12", Some(u32::MAX)),
        ("4294967296", Some(u32::MAX)),
        (r#""7""#, Some(7)),
        (r#"" 45 ""#, Some(45)),
        (r#""2.9""#, Some(2)),
        (r#""-3""#, Some(0)),
        (r#""1.5e1""#, Some(15)),
        (r#""+8E-0""#, Some(8)),
        (r#""1e12""#, Some(u32::MAX)),
        (r#""0e999999999999""#, Some(0)),
        (r#""5e-1""#, Some(0)),
        (r#"".5""#, Some(0)),
        (r#""5.""#, Some(5)),
        (r#""""#, None),
        (r#""  ""#, None),
        (r#"".""#, None),
        (r#""1e""#, None),
        (r#""0x10""#, None),
        (r#""inf""#, None),
        (r#""many""#, None),
        (r#""--1""#, None),
        ("null", None),
        ("true", None),
        ("[1]", None),
        (r#"{"n":1}"#, None),
    ] {
        assert_eq!(read(value), expected, "complete: {value}");
    }
    assert_eq!(view::decimal_number("18446744073709551615"), Some(u64::MAX));
    assert_eq!(view::decimal_number("18446744073709551616"), Some(u64::MAX));
    assert_eq!(
        view::decimal_number("1e19"),
        Some(10_000_000_000_000_000_000)
    );
    assert_eq!(view::decimal_number("1e20"), Some(u64::MAX));
    assert_eq!(
        view::decimal_number(&format!("1{}", "0".repeat(100_000))),
        Some(u64::MAX)
    );
}

#[test]
fn interval_falls_back_to_min_interval_and_bad_texts_read_as_absent() {
    let ihs = ih(b'h').to_binary_string();
    let r = response(&format!(
        r#"{{"action":"announce","info_hash":"{ihs}","interval":0,"min interval":"30","tracker id":7,"warning message":{{}}}}"#
    ));
    assert_eq!(
        (r.interval, r.tracker_id, r.warning_message),
        (Some(30), None, None)
    );
    let r = response(&format!(
        r#"{{"action":"announce","info_hash":"{ihs}","interval":null,"offer":null,"answer":null}}"#
    ));
    assert_eq!(r.interval, None);
}

#[test]
fn only_the_fields_a_message_uses_are_looked_at() {
    // A failure with a malformed offer, a scrape reply with junk: the unused fields are not read.
    let f = tracker(r#"{"failure reason":"full","offer":{"type":"x"},"complete":true}"#).unwrap();
    assert_eq!(f, TrackerMessage::failure(None, None, "full"));
    let s = tracker(r#"{"action":"scrape","peer_id":3,"answer":"v=0"}"#).unwrap();
    assert!(matches!(s, TrackerMessage::ScrapeResponse(r) if r.files.is_empty()));
    // But `failure reason` itself must be a string.
    let e = tracker(r#"{"failure reason":5}"#).unwrap_err();
    assert!(matches!(e.error, ProtoError::InvalidJson(_)));
}

#[test]
fn bad_tracker_messages_are_errors_with_context() {
    let err = |s: &str| tracker(s).unwrap_err();
    for not_an_object in ["[1,2]", "3", r#""announce""#, "null", "{not json"] {
        assert!(
            matches!(err(not_an_object).error, ProtoError::InvalidJson(_)),
            "{not_an_object}"
        );
    }
    // A parser's description is cut like any quoted value.
    let e = err(&format!("{{\"{}", "z".repeat(10_000)));
    assert!(e.to_string().len() < 100, "{e}");
    // An unknown action is cut to 64 bytes (the browser's decoder once kept all of it).
    let e = err(&format!(r#"{{"action":"{}"}}"#, "é".repeat(1000)));
    assert_eq!(
        e.error,
        ProtoError::UnknownAction(format!("{}…", "é".repeat(32)))
    );
    for (action, shown) in [
        ("3", "3"),
        ("-2", "-2"),
        ("2.5", "a number"),
        ("true", "true"),
        ("[]", "an array"),
        ("{}", "an object"),
    ] {
        let e = err(&format!(r#"{{"action":{action}}}"#));
        assert_eq!(
            e.error,
            ProtoError::UnknownAction(shown.to_owned()),
            "{action}"
        );
    }
    assert_eq!(
        err(r#"{"interval":1}"#).error,
        ProtoError::UnknownAction("undefined".to_owned())
    );
    let ihs = ih(b'h').to_binary_string();
    let e = err(r#"{"action":"announce","info_hash":12}"#);
    assert_eq!(
        (e.action, e.error),
        (
            Some(Action::Announce),
            ProtoError::IdLength { field: "info_hash" }
        )
    );
    assert_eq!(
        err(r#"{"action":"announce"}"#).error,
        ProtoError::Missing { field: "info_hash" }
    );
    let offer = |rest: &str| {
        format!(
            r#"{{"action":"announce","info_hash":"{ihs}","offer":{{"type":"offer","sdp":"v=0"}}{rest}}}"#
        )
    };
    let e = err(&offer(r#","offer_id":"OOOOOOOOOOOOOOOOOOOO""#));
    assert_eq!(
        (e.info_hash, e.error),
        (Some(ih(b'h')), ProtoError::Missing { field: "peer_id" })
    );
    assert_eq!(
        err(&offer(r#","peer_id":"PPPPPPPPPPPPPPPPPPPP""#)).error,
        ProtoError::Missing { field: "offer_id" }
    );
    let ids = r#""peer_id":"PPPPPPPPPPPPPPPPPPPP","offer_id":"OOOOOOOOOOOOOOOOOOOO""#;
    for bad_sdp in [
        r#""v=0""#,
        r#"{"type":"offer"}"#,
        r#"{"sdp":"v=0"}"#,
        r#"{"type":"pranswer","sdp":"v=0"}"#,
        r#"{"type":"answer","sdp":3}"#,
    ] {
        let m = format!(r#"{{"action":"announce","info_hash":"{ihs}",{ids},"answer":{bad_sdp}}}"#);
        assert!(matches!(err(&m).error, ProtoError::InvalidJson(_)), "{m}");
    }
    // With both, the offer is read.
    let m = format!(
        r#"{{"action":"announce","info_hash":"{ihs}",{ids},"answer":{{"type":"answer","sdp":"a"}},"offer":{{"type":"offer","sdp":"o"}}}}"#
    );
    assert!(matches!(tracker(&m), Ok(TrackerMessage::Offer(o)) if o.offer.sdp == "o"));
    let e = err(r#"{"action":"scrape","files":{"short":{}}}"#);
    assert_eq!(e.error, ProtoError::IdLength { field: "info_hash" });
    assert!(matches!(
        err(r#"{"action":"scrape","files":[]}"#).error,
        ProtoError::InvalidJson(_)
    ));
}

#[test]
fn scrape_files_are_read_in_info_hash_order_with_missing_counts_zero() {
    let (a, b) = (ih(b'a').to_binary_string(), ih(b'b').to_binary_string());
    let m = format!(
        r#"{{"action":"scrape","files":{{"{b}":{{"complete":"2","downloaded":1.5}},"{a}":7}},"flags":{{"min_request_interval":"600"}}}}"#
    );
    assert_eq!(
        tracker(&m).unwrap(),
        TrackerMessage::ScrapeResponse(ScrapeResponse {
            files: vec![
                (ih(b'a'), ScrapeStats::default()),
                (
                    ih(b'b'),
                    ScrapeStats {
                        complete: 2,
                        incomplete: 0,
                        downloaded: 1
                    }
                ),
            ],
            min_request_interval: Some(600),
        })
    );
}
