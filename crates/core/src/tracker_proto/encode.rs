//! JSON encoding: the messages as WebTorrent clients and trackers write them.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::*;

pub(super) fn to_json<T: Serialize>(v: &T) -> String {
    // Cannot fail: every map key is a string and there are no floats.
    serde_json::to_string(v).unwrap_or_default()
}

impl Serialize for ClientMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            ClientMessage::Announce(a) => {
                m.serialize_entry("action", "announce")?;
                m.serialize_entry("info_hash", &a.info_hash)?;
                m.serialize_entry("peer_id", &a.peer_id)?;
                if let Some(e) = a.event {
                    m.serialize_entry("event", e.as_str())?;
                }
                if let Some(n) = a.numwant {
                    m.serialize_entry("numwant", &n)?;
                }
                if let Some(n) = a.uploaded {
                    m.serialize_entry("uploaded", &n)?;
                }
                if let Some(n) = a.downloaded {
                    m.serialize_entry("downloaded", &n)?;
                }
                if let Some(n) = a.left {
                    m.serialize_entry("left", &n)?;
                }
                if !a.offers.is_empty() {
                    m.serialize_entry("offers", &a.offers)?;
                }
                if let Some(ans) = &a.answer {
                    m.serialize_entry("to_peer_id", &ans.to_peer_id)?;
                    m.serialize_entry("offer_id", &ans.offer_id)?;
                    m.serialize_entry("answer", &ans.answer)?;
                }
                if let Some(t) = &a.trackerid {
                    m.serialize_entry("trackerid", t)?;
                }
            }
            ClientMessage::Scrape(sc) => {
                m.serialize_entry("action", "scrape")?;
                match sc.info_hashes.as_slice() {
                    [] => {}
                    [one] => m.serialize_entry("info_hash", one)?,
                    many => m.serialize_entry("info_hash", many)?,
                }
            }
        }
        m.end()
    }
}

impl Serialize for TrackerMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            TrackerMessage::AnnounceResponse(r) => {
                m.serialize_entry("action", "announce")?;
                m.serialize_entry("info_hash", &r.info_hash)?;
                if let Some(n) = r.complete {
                    m.serialize_entry("complete", &n)?;
                }
                if let Some(n) = r.incomplete {
                    m.serialize_entry("incomplete", &n)?;
                }
                if let Some(n) = r.interval {
                    m.serialize_entry("interval", &n)?;
                }
                if let Some(t) = &r.tracker_id {
                    m.serialize_entry("tracker id", t)?;
                }
                if let Some(w) = &r.warning_message {
                    m.serialize_entry("warning message", w)?;
                }
            }
            TrackerMessage::Offer(o) => {
                m.serialize_entry("action", "announce")?;
                m.serialize_entry("info_hash", &o.info_hash)?;
                m.serialize_entry("peer_id", &o.peer_id)?;
                m.serialize_entry("offer_id", &o.offer_id)?;
                m.serialize_entry("offer", &o.offer)?;
            }
            TrackerMessage::Answer(a) => {
                m.serialize_entry("action", "announce")?;
                m.serialize_entry("info_hash", &a.info_hash)?;
                m.serialize_entry("peer_id", &a.peer_id)?;
                m.serialize_entry("offer_id", &a.offer_id)?;
                m.serialize_entry("answer", &a.answer)?;
            }
            TrackerMessage::ScrapeResponse(r) => {
                m.serialize_entry("action", "scrape")?;
                m.serialize_entry("files", &ScrapeFiles(&r.files))?;
                if let Some(n) = r.min_request_interval {
                    m.serialize_entry("flags", &Flags(n))?;
                }
            }
            TrackerMessage::Failure(fl) => {
                if let Some(a) = fl.action {
                    m.serialize_entry("action", a.as_str())?;
                }
                m.serialize_entry("failure reason", &fl.reason)?;
                if let Some(h) = &fl.info_hash {
                    m.serialize_entry("info_hash", h)?;
                }
            }
        }
        m.end()
    }
}

struct ScrapeFiles<'a>(&'a [(InfoHash, ScrapeStats)]);

impl Serialize for ScrapeFiles<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (h, st) in self.0 {
            m.serialize_entry(h, &StatsOut(*st))?;
        }
        m.end()
    }
}

struct StatsOut(ScrapeStats);

impl Serialize for StatsOut {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("complete", &self.0.complete)?;
        m.serialize_entry("incomplete", &self.0.incomplete)?;
        m.serialize_entry("downloaded", &self.0.downloaded)?;
        m.end()
    }
}

struct Flags(u32);

impl Serialize for Flags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("min_request_interval", &self.0)?;
        m.end()
    }
}

/// 20 bytes as 20 Latin-1 chars, UTF-8 encoded into `buf` (at most 2 bytes each); no
/// allocation. serde_json escapes control characters when it writes the string.
pub(super) fn latin1<'a>(bytes: &[u8; 20], buf: &'a mut [u8; 40]) -> &'a str {
    let mut n = 0;
    for &b in bytes {
        n += char::from(b).encode_utf8(&mut buf[n..]).len();
    }
    // Every char was encoded whole, so this is valid UTF-8.
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}
