//! The WebSocket tracker's JSON, written and read with the browser's own `JSON` object.
//!
//! `tabswarm_core::tracker_proto` has the same encoding and decoding built on serde_json for the
//! native tracker; the browser build leaves that feature out because serde_json and the float
//! formatting and parsing it pulls in were about a fifth of the wasm download. The shapes and
//! the leniency are those of the core's decoder, and `tests/web_tracker_json.rs` checks both
//! directions against it.
//!
//! Only what a client needs: it writes announces and reads the tracker's replies to them.

use js_sys::{Array, Object, Reflect, JSON};
use tabswarm_core::tracker_proto::{
    Action, AnnounceRequest, AnnounceResponse, AnswerForward, Failure, InfoHash, OfferForward,
    OfferId, PeerId, ProtoError, Sdp, SdpType, TrackerMessage,
};
use wasm_bindgen::JsValue;

use crate::js;

/// The JSON text of an announce, field for field what `ClientMessage::to_json` writes.
pub fn announce_to_json(a: &AnnounceRequest) -> String {
    let o = Object::new();
    set(&o, "action", &"announce".into());
    set(&o, "info_hash", &a.info_hash.to_binary_string().into());
    set(&o, "peer_id", &a.peer_id.to_binary_string().into());
    if let Some(e) = a.event {
        set(&o, "event", &e.as_str().into());
    }
    if let Some(n) = a.numwant {
        set(&o, "numwant", &n.into());
    }
    for (key, n) in [
        ("uploaded", a.uploaded),
        ("downloaded", a.downloaded),
        ("left", a.left),
    ] {
        if let Some(n) = n {
            set(&o, key, &u64_to_f64(n).into());
        }
    }
    if !a.offers.is_empty() {
        let offers: Array = a
            .offers
            .iter()
            .map(|x| {
                let e = Object::new();
                set(&e, "offer", &sdp_to_js(&x.offer));
                set(&e, "offer_id", &x.offer_id.to_binary_string().into());
                JsValue::from(e)
            })
            .collect();
        set(&o, "offers", &offers);
    }
    if let Some(ans) = &a.answer {
        set(&o, "to_peer_id", &ans.to_peer_id.to_binary_string().into());
        set(&o, "offer_id", &ans.offer_id.to_binary_string().into());
        set(&o, "answer", &sdp_to_js(&ans.answer));
    }
    if let Some(t) = &a.trackerid {
        set(&o, "trackerid", &t.into());
    }
    // Only strings and finite numbers inside: stringify cannot throw.
    JSON::stringify(&o).map(String::from).unwrap_or_default()
}

/// Reads one message from a tracker, as `TrackerMessage::from_json` does. `Ok(None)` is a
/// valid message that a client has no use for (a scrape response).
pub fn tracker_message_from_json(text: &str) -> Result<Option<TrackerMessage>, ProtoError> {
    let v = JSON::parse(text).map_err(|e| ProtoError::InvalidJson(js::error_text(&e)))?;
    if !v.is_object() || Array::is_array(&v) {
        return Err(ProtoError::InvalidJson("not a JSON object".into()));
    }
    let action = match js::prop(&v, "action") {
        a if absent(&a) => None,
        a => match a.as_string().as_deref() {
            Some("announce") => Some(Action::Announce),
            Some("scrape") => Some(Action::Scrape),
            _ => return Err(ProtoError::UnknownAction(display(&a))),
        },
    };
    let info_hash = id(&v, "info_hash", InfoHash::from_binary_str)?;
    let reason = js::prop(&v, "failure reason");
    if !absent(&reason) {
        let reason = reason
            .as_string()
            .ok_or_else(|| ProtoError::InvalidJson("failure reason is not a string".into()))?;
        return Ok(Some(TrackerMessage::Failure(Failure {
            action,
            info_hash,
            reason,
        })));
    }
    match action {
        None => Err(ProtoError::UnknownAction("undefined".into())),
        Some(Action::Scrape) => Ok(None),
        Some(Action::Announce) => {
            let info_hash = info_hash.ok_or(ProtoError::Missing { field: "info_hash" })?;
            let offer = js::prop(&v, "offer");
            let answer = js::prop(&v, "answer");
            if absent(&offer) && absent(&answer) {
                return Ok(Some(TrackerMessage::AnnounceResponse(AnnounceResponse {
                    info_hash,
                    complete: num(&v, "complete"),
                    incomplete: num(&v, "incomplete"),
                    interval: num(&v, "interval")
                        .filter(|&i| i > 0)
                        .or_else(|| num(&v, "min interval")),
                    tracker_id: js::prop(&v, "tracker id").as_string(),
                    warning_message: js::prop(&v, "warning message").as_string(),
                })));
            }
            let peer_id = id(&v, "peer_id", PeerId::from_binary_str)?
                .ok_or(ProtoError::Missing { field: "peer_id" })?;
            let offer_id = id(&v, "offer_id", OfferId::from_binary_str)?
                .ok_or(ProtoError::Missing { field: "offer_id" })?;
            Ok(Some(if absent(&offer) {
                TrackerMessage::Answer(AnswerForward {
                    info_hash,
                    peer_id,
                    offer_id,
                    answer: sdp_from_js(&answer)?,
                })
            } else {
                TrackerMessage::Offer(OfferForward {
                    info_hash,
                    peer_id,
                    offer_id,
                    offer: sdp_from_js(&offer)?,
                })
            }))
        }
    }
}

fn sdp_to_js(s: &Sdp) -> JsValue {
    let o = Object::new();
    let kind = match s.kind {
        SdpType::Offer => "offer",
        SdpType::Answer => "answer",
    };
    set(&o, "type", &kind.into());
    set(&o, "sdp", &s.sdp.as_str().into());
    o.into()
}

fn sdp_from_js(v: &JsValue) -> Result<Sdp, ProtoError> {
    let kind = match js::prop(v, "type").as_string().as_deref() {
        Some("offer") => SdpType::Offer,
        Some("answer") => SdpType::Answer,
        _ => {
            return Err(ProtoError::InvalidJson(
                "SDP type is not offer or answer".into(),
            ))
        }
    };
    let sdp = js::prop(v, "sdp")
        .as_string()
        .ok_or_else(|| ProtoError::InvalidJson("SDP without an sdp string".into()))?;
    Ok(Sdp { kind, sdp })
}

/// A 20-byte id field: absent (or `null`), or a binary string (anything else is the wrong
/// length, as in the core's decoder).
fn id<T>(
    v: &JsValue,
    key: &'static str,
    parse: fn(&str) -> Result<T, ProtoError>,
) -> Result<Option<T>, ProtoError> {
    let x = js::prop(v, key);
    if absent(&x) {
        return Ok(None);
    }
    match x.as_string() {
        Some(s) => parse(&s).map(Some),
        None => Err(ProtoError::IdLength { field: key }),
    }
}

/// A count as JavaScript trackers send it: a number or a numeric string, fractions truncated,
/// negatives read as 0, too big as `u32::MAX`; anything else reads as absent.
fn num(v: &JsValue, key: &str) -> Option<u32> {
    let x = js::prop(v, key);
    let f = match x.as_string() {
        Some(s) if s.trim().is_empty() => return None,
        // `Number(s)`, as JavaScript reads it (Rust's float parser would add to the wasm).
        Some(s) => s
            .parse::<js_sys::Number>()
            .map_or(f64::NAN, |n| n.value_of()),
        None => x.as_f64()?,
    };
    if f.is_nan() {
        return None;
    }
    // `as` saturates (negative -> 0, too big -> u32::MAX) and truncates the fraction.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = f as u32;
    Some(n)
}

fn set(o: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(key), value);
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// A string as itself, any other value as its JSON text.
fn display(v: &JsValue) -> String {
    v.as_string().unwrap_or_else(|| {
        JSON::stringify(v)
            .map(String::from)
            .unwrap_or_else(|_| "?".into())
    })
}

fn u64_to_f64(x: u64) -> f64 {
    // Byte counts stay far below 2^53.
    #[allow(clippy::cast_precision_loss)]
    let v = x as f64;
    v
}
