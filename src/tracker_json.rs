//! The WebSocket tracker's JSON, written and read with the browser's own `JSON` object.
//!
//! `tabswarm_core::tracker_proto` writes and parses with serde_json natively; the browser build
//! leaves that feature out because serde_json and the float formatting and parsing it pulls in
//! were about a fifth of the wasm download. Reading is the core's own rules
//! ([`read_tracker_message`]) over the parsed `JsValue`; writing builds the object the core's
//! serializer writes, which `tests/web_tracker_json.rs` checks.
//!
//! Only what a client needs: it writes announces and reads the tracker's replies to them.

use js_sys::{Array, Object, JSON};
use tabswarm_core::tracker_proto::{
    read_tracker_message, AnnounceRequest, DecodeError, JsonKind, JsonView, Sdp, SdpType,
    TrackerMessage,
};
use wasm_bindgen::{JsCast, JsValue};

use crate::js::{self, set, u64_to_f64};

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

/// Reads one message from a tracker, as `TrackerMessage::from_json` does: the browser parses,
/// the core's [`read_tracker_message`] reads.
pub fn tracker_message_from_json(text: &str) -> Result<TrackerMessage, DecodeError> {
    let v = JSON::parse(text).map_err(|e| DecodeError::invalid_json(js::error_text(&e)))?;
    read_tracker_message(Js(v))
}

/// A value from `JSON.parse`, seen as the core's message rules look at it.
struct Js(JsValue);

impl JsonView for Js {
    fn get(&self, key: &str) -> Option<Js> {
        if !self.0.is_object() || Array::is_array(&self.0) {
            return None;
        }
        let v = js::prop(&self.0, key);
        (!v.is_undefined() && !v.is_null()).then_some(Js(v))
    }

    fn kind(&self) -> JsonKind {
        let v = &self.0;
        if let Some(s) = v.as_string() {
            JsonKind::String(s)
        } else if let Some(f) = v.as_f64() {
            JsonKind::Number(f)
        } else if let Some(b) = v.as_bool() {
            JsonKind::Bool(b)
        } else if Array::is_array(v) {
            JsonKind::Array
        } else if v.is_object() {
            JsonKind::Object
        } else {
            JsonKind::Null
        }
    }

    fn keys(&self) -> Vec<String> {
        if !self.0.is_object() || Array::is_array(&self.0) {
            return Vec::new();
        }
        let keys = Object::keys(self.0.unchecked_ref::<Object>());
        keys.iter().filter_map(|k| k.as_string()).collect()
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
