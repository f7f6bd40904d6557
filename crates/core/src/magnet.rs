//! Magnet links (BEP 9): `magnet:?xt=urn:btih:<hash>&dn=<name>&tr=<tracker>...`.
//!
//! Parsing follows WebTorrent's `magnet-uri`: `xt=urn:btih:` with 40 hex digits (either case)
//! or 32 base32 characters; `dn` percent-decoded with `+` as a space; `tr` (repeatable),
//! `ws` and `as` (web seeds, BEP 19) and `xs` (exact sources) percent-decoded. Numbered keys
//! (`tr.1`, `xt.2`) count as their base key, unknown parameters are ignored, duplicates are
//! dropped, and the first `btih` wins (`urn:btmh:` v2 hashes are skipped). A malformed
//! percent escape is kept literally rather than refused. BEP 53's `so` (select only: file
//! indices and inclusive ranges, `so=0,2,4-6`) is untrusted and bounded: the first `so`
//! counts and goes through [`FileSet::parse`] (at most 1000 entries, `u32` indices, no
//! backwards range, memory per range rather than per index); a malformed one refuses the
//! link with [`MagnetError::BadSelectOnly`].
//!
//! Formatting ([`Magnet::to_uri`], `Display`) percent-encodes every byte outside RFC 3986's
//! unreserved set (like `encodeURIComponent`), writes spaces in `dn` as `+`, and lowercases
//! the hex hash, in the order `xt`, `dn`, `tr`, `ws`, `xs`, `so` (sorted and merged ranges,
//! commas unescaped).

use std::collections::BTreeSet;
use std::fmt;

use crate::metainfo::{InfoHash, Metainfo};
use crate::selection::{FileSet, FileSetError};

/// A parsed magnet link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Magnet {
    pub info_hash: InfoHash,
    /// `dn`: display name.
    pub name: Option<String>,
    /// `tr`: tracker URLs, in order, deduplicated.
    pub trackers: Vec<String>,
    /// `xs`: exact sources (a URL of the .torrent file, or `urn:btpk:`).
    pub exact_sources: Vec<String>,
    /// `ws` and `as`: web seed URLs.
    pub web_seeds: Vec<String>,
    /// `so` (BEP 53): download only these files; `None` when absent (every file).
    pub select_only: Option<FileSet>,
}

/// Why a string is not a usable magnet link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MagnetError {
    /// It does not start with `magnet:?` (scheme case-insensitive).
    NotAMagnet,
    /// No `xt=urn:btih:` parameter.
    MissingInfoHash,
    /// A `urn:btih:` value that is neither 40 hex digits nor 32 base32 characters.
    BadInfoHash(String),
    /// A `so` value that is not a bounded list of file indices and ranges.
    BadSelectOnly(FileSetError),
}

impl fmt::Display for MagnetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MagnetError::NotAMagnet => f.write_str("not a magnet link"),
            MagnetError::MissingInfoHash => f.write_str("magnet link has no urn:btih info hash"),
            MagnetError::BadInfoHash(h) => write!(f, "magnet link has a bad info hash {h:?}"),
            MagnetError::BadSelectOnly(e) => write!(f, "magnet link has a bad so= list: {e}"),
        }
    }
}

impl std::error::Error for MagnetError {}

impl Magnet {
    /// A magnet with only an info hash.
    pub fn new(info_hash: InfoHash) -> Magnet {
        Magnet {
            info_hash,
            name: None,
            trackers: Vec::new(),
            exact_sources: Vec::new(),
            web_seeds: Vec::new(),
            select_only: None,
        }
    }

    /// Parses a magnet link; see the module docs for what is read and how it is bounded.
    pub fn parse(uri: &str) -> Result<Magnet, MagnetError> {
        let uri = uri.trim();
        let query = uri
            .get(..8)
            .filter(|p| p.eq_ignore_ascii_case("magnet:?"))
            .map(|_| &uri[8..])
            .ok_or(MagnetError::NotAMagnet)?;
        let mut info_hash = None;
        let mut m = Magnet::new(InfoHash::default());
        let mut seen = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
        // Trackers past the cap are kept for `tracker_list` to count, up to a bound.
        let tracker_cap = MAX_TRACKERS * 64;
        for param in query.split('&') {
            let (raw_key, raw_value) = param.split_once('=').unwrap_or((param, ""));
            let key = base_key(raw_key);
            match key {
                "xt" => {
                    let v = percent_decode(raw_value, false);
                    let prefix = "urn:btih:";
                    let is_btih = v
                        .get(..prefix.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(prefix));
                    if is_btih && info_hash.is_none() {
                        let h = &v[prefix.len()..];
                        let parsed = InfoHash::from_hex(h).or_else(|| InfoHash::from_base32(h));
                        info_hash =
                            Some(parsed.ok_or_else(|| MagnetError::BadInfoHash(h.to_string()))?);
                    }
                }
                "dn" if m.name.is_none() => m.name = Some(percent_decode(raw_value, true)),
                "so" if m.select_only.is_none() => {
                    let set = FileSet::parse(&percent_decode(raw_value, false))
                        .map_err(MagnetError::BadSelectOnly)?;
                    m.select_only = Some(set);
                }
                "tr" => push_unique(
                    &mut m.trackers,
                    &mut seen[0],
                    tracker_cap,
                    percent_decode(raw_value, false),
                ),
                "ws" | "as" => push_unique(
                    &mut m.web_seeds,
                    &mut seen[1],
                    MAX_MAGNET_SOURCES,
                    percent_decode(raw_value, false),
                ),
                "xs" => push_unique(
                    &mut m.exact_sources,
                    &mut seen[2],
                    MAX_MAGNET_SOURCES,
                    percent_decode(raw_value, false),
                ),
                _ => {}
            }
        }
        m.info_hash = info_hash.ok_or(MagnetError::MissingInfoHash)?;
        Ok(m)
    }

    /// The magnet for a torrent: its info hash, name, trackers and web seeds.
    pub fn from_metainfo(meta: &Metainfo) -> Magnet {
        Magnet {
            info_hash: meta.info_hash,
            name: Some(meta.info.name().to_string()),
            trackers: meta.announce.clone(),
            exact_sources: Vec::new(),
            web_seeds: meta.url_list.clone(),
            select_only: None,
        }
    }

    /// The `magnet:?` URI (same as `to_string()`).
    pub fn to_uri(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Magnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "magnet:?xt=urn:btih:{}", self.info_hash)?;
        if let Some(name) = &self.name {
            write!(f, "&dn={}", percent_encode(name, true))?;
        }
        for (key, values) in [
            ("tr", &self.trackers),
            ("ws", &self.web_seeds),
            ("xs", &self.exact_sources),
        ] {
            for v in values {
                write!(f, "&{key}={}", percent_encode(v, false))?;
            }
        }
        if let Some(set) = &self.select_only {
            // Digits, `-` and `,`: nothing to escape.
            write!(f, "&so={set}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Magnet {
    type Err = MagnetError;
    fn from_str(s: &str) -> Result<Magnet, MagnetError> {
        Magnet::parse(s)
    }
}

/// `tr.1` -> `tr`: BEP 9 allows numbered keys when several values are given.
fn base_key(key: &str) -> &str {
    match key.split_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => key,
    }
}

/// Most tracker URLs one torrent uses (each is a WebSocket): the rest are ignored.
pub const MAX_TRACKERS: usize = 16;
/// Most web seeds and exact sources a magnet link keeps.
pub const MAX_MAGNET_SOURCES: usize = 16;

/// Tracker URLs for one torrent: trailing `/` trimmed, empty ones and repeats dropped, at
/// most [`MAX_TRACKERS`] kept in order. Returns them and how many distinct URLs were ignored
/// past the cap. Linear in the input.
pub fn tracker_list(urls: impl IntoIterator<Item = String>) -> (Vec<String>, usize) {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut ignored = 0usize;
    for url in urls {
        let url = url.trim_end_matches('/').to_string();
        if url.is_empty() || !seen.insert(url.clone()) {
            continue;
        }
        if out.len() < MAX_TRACKERS {
            out.push(url);
        } else {
            ignored = ignored.saturating_add(1);
        }
    }
    (out, ignored)
}

/// Appends `v` unless empty, a repeat (`seen` holds what `list` has) or past `cap`.
fn push_unique(list: &mut Vec<String>, seen: &mut BTreeSet<String>, cap: usize, v: String) {
    if !v.is_empty() && list.len() < cap && seen.insert(v.clone()) {
        list.push(v);
    }
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); invalid escapes stay
/// literal and invalid UTF-8 becomes U+FFFD.
fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| char::from(c).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `encodeURIComponent`-style: keeps `A-Z a-z 0-9 - . _ ~`, escapes every other byte; a
/// space becomes `+` when `space_as_plus`.
fn percent_encode(s: &str, space_as_plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' if space_as_plus => out.push('+'),
            _ => {
                out.push('%');
                out.push_str(&format!("{b:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::TorrentBuilder;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const HEX: &str = "dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c";

    #[test]
    fn parses_a_webtorrent_magnet() {
        // As WebTorrent prints it (Sintel, from webtorrent.io).
        let uri = "magnet:?xt=urn:btih:08ada5a7a6183aae1e09d831df6748d566095a10&dn=Sintel\
&tr=udp%3A%2F%2Fexplodie.org%3A6969&tr=udp%3A%2F%2Ftracker.coppersurfer.tk%3A6969\
&tr=wss%3A%2F%2Ftracker.btorrent.xyz&tr=wss%3A%2F%2Ftracker.fastcast.nz\
&tr=wss%3A%2F%2Ftracker.openwebtorrent.com&ws=https%3A%2F%2Fwebtorrent.io%2Ftorrents%2F\
&xs=https%3A%2F%2Fwebtorrent.io%2Ftorrents%2Fsintel.torrent";
        let m = Magnet::parse(uri).unwrap();
        assert_eq!(
            m.info_hash.to_hex(),
            "08ada5a7a6183aae1e09d831df6748d566095a10"
        );
        assert_eq!(m.name.as_deref(), Some("Sintel"));
        assert_eq!(
            m.trackers,
            [
                "udp://explodie.org:6969",
                "udp://tracker.coppersurfer.tk:6969",
                "wss://tracker.btorrent.xyz",
                "wss://tracker.fastcast.nz",
                "wss://tracker.openwebtorrent.com"
            ]
        );
        assert_eq!(m.web_seeds, ["https://webtorrent.io/torrents/"]);
        assert_eq!(
            m.exact_sources,
            ["https://webtorrent.io/torrents/sintel.torrent"]
        );
        // Formatting reproduces WebTorrent's string exactly.
        assert_eq!(m.to_uri(), uri);
        assert_eq!(Magnet::parse(&m.to_uri()), Ok(m));
    }

    #[test]
    fn hash_forms_and_parameters() {
        let upper = format!("MAGNET:?xt=urn:btih:{}", HEX.to_uppercase());
        assert_eq!(Magnet::parse(&upper).unwrap().info_hash.to_hex(), HEX);
        let b32 = Magnet::parse("magnet:?xt=urn:btih:3WBFL3G4PSSV7MF37AJSHWDQMLNR63I4").unwrap();
        assert_eq!(b32.info_hash.to_hex(), HEX);
        let m = Magnet::parse(&format!(
            "magnet:?xt=urn:btmh:1220abcd&xt.1=urn:btih:{HEX}&dn=My+Movie%20%E2%9C%93%zz\
             &tr.1=wss%3A%2F%2Fa&tr.2=wss://a&tr=wss://b+c&kt=x&x.pe=1.2.3.4:5&so=0-3&as=http://s&&junk"
        ))
        .unwrap();
        assert_eq!(m.info_hash.to_hex(), HEX);
        assert_eq!(m.name.as_deref(), Some("My Movie \u{2713}%zz"));
        assert_eq!(
            m.trackers,
            ["wss://a", "wss://b+c"],
            "+ is literal outside dn"
        );
        assert_eq!(m.web_seeds, ["http://s"]);
        assert_eq!(m.select_only, Some(FileSet::from_ranges([(0, 3)])));
        assert_eq!(
            Magnet::parse("magnet:?dn=x&tr=wss://a"),
            Err(MagnetError::MissingInfoHash)
        );
        assert_eq!(
            Magnet::parse("magnet:?xt=urn:btih:1234"),
            Err(MagnetError::BadInfoHash("1234".into()))
        );
        assert_eq!(
            Magnet::parse("http://example.com/?xt=urn:btih:x"),
            Err(MagnetError::NotAMagnet)
        );
        assert_eq!(Magnet::parse("magnet"), Err(MagnetError::NotAMagnet));
        assert_eq!(
            Magnet::parse("magnet:?xt=urn:btih:%"),
            Err(MagnetError::BadInfoHash("%".into()))
        );
    }

    #[test]
    fn round_trips_awkward_names_and_urls() {
        let mut m = Magnet::new(InfoHash::from_hex(HEX).unwrap());
        m.name = Some("a b+c&d=e%f/ü 100%".into());
        m.trackers = vec![
            "wss://t.example:8000/announce?x=1&y=2".into(),
            "ws://127.0.0.1:8080".into(),
        ];
        m.web_seeds = vec!["https://seed.example/a b".into()];
        m.exact_sources = vec!["urn:btpk:abc".into()];
        let uri = m.to_uri();
        assert!(uri.starts_with(&format!(
            "magnet:?xt=urn:btih:{HEX}&dn=a+b%2Bc%26d%3De%25f%2F%C3%BC+100%25&tr=wss%3A%2F%2F"
        )));
        assert_eq!(Magnet::parse(&uri), Ok(m));
        assert_eq!(
            Magnet::new(InfoHash::from_hex(HEX).unwrap()).to_string(),
            format!("magnet:?xt=urn:btih:{HEX}")
        );
    }

    #[test]
    fn from_metainfo_carries_name_trackers_and_web_seeds() {
        let mut b = TorrentBuilder::single("video one.mp4", 3, None)
            .unwrap()
            .url_list(vec!["https://seed.example/".into()]);
        b.update(b"abc").unwrap();
        let meta = b
            .finish(vec!["wss://a".into(), "wss://b".into()], None)
            .unwrap();
        let m = Magnet::from_metainfo(&meta);
        assert_eq!(m.info_hash, meta.info_hash);
        assert_eq!(m.name.as_deref(), Some("video one.mp4"));
        assert_eq!(m.trackers, ["wss://a", "wss://b"]);
        assert_eq!(m.web_seeds, ["https://seed.example/"]);
        let parsed: Magnet = m.to_uri().parse().unwrap();
        assert_eq!(parsed, m);
    }

    #[test]
    fn a_magnet_with_100_000_trackers_parses_in_linear_time_and_keeps_a_bounded_list() {
        let mut uri = format!("magnet:?xt=urn:btih:{HEX}");
        for i in 0..100_000 {
            uri.push_str(&format!("&tr=wss%3A%2F%2Ft{i}.example"));
        }
        // Quadratic dedupe would do 5e9 string compares here; this finishes at once.
        let m = Magnet::parse(&uri).unwrap();
        assert_eq!(m.trackers.len(), MAX_TRACKERS * 64);
        let (list, ignored) = tracker_list(m.trackers);
        assert_eq!(list.len(), MAX_TRACKERS);
        assert_eq!(list[0], "wss://t0.example");
        assert_eq!(ignored, MAX_TRACKERS * 63);
    }

    #[test]
    fn select_only_parses_round_trips_and_is_bounded() {
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=0,2,4-6&so=9")).unwrap();
        let set = m.select_only.clone().unwrap();
        assert_eq!(
            set.ranges(),
            [(0, 0), (2, 2), (4, 6)],
            "the first so counts"
        );
        assert_eq!(m.to_uri(), format!("magnet:?xt=urn:btih:{HEX}&so=0,2,4-6"));
        assert_eq!(Magnet::parse(&m.to_uri()), Ok(m));
        // Escaped commas read the same; output is canonical (sorted, merged).
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=5%2C3-4%2C0")).unwrap();
        assert_eq!(m.to_uri(), format!("magnet:?xt=urn:btih:{HEX}&so=0,3-5"));
        // No so: every file.
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}")).unwrap();
        assert_eq!(m.select_only, None);
        // A huge range is one entry, not four billion.
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=0-4000000000")).unwrap();
        assert_eq!(m.select_only.unwrap().ranges(), [(0, 4_000_000_000)]);
        for (so, err) in [
            ("6-4", FileSetError::Reversed { start: 6, end: 4 }),
            ("", FileSetError::EmptyEntry),
            ("1,,2", FileSetError::EmptyEntry),
            ("4294967296", FileSetError::BadEntry("4294967296".into())),
            ("a", FileSetError::BadEntry("a".into())),
        ] {
            assert_eq!(
                Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so={so}")),
                Err(MagnetError::BadSelectOnly(err)),
                "{so}"
            );
        }
        let many: Vec<String> = (0..1001).map(|i| (2 * i).to_string()).collect();
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so={}", many.join(","))),
            Err(MagnetError::BadSelectOnly(FileSetError::TooManyEntries))
        );
    }

    #[test]
    fn tracker_list_trims_dedupes_and_caps() {
        let urls = ["ws://a/", "ws://a", "", "ws://b"].map(String::from);
        assert_eq!(
            tracker_list(urls),
            (vec!["ws://a".to_string(), "ws://b".to_string()], 0)
        );
    }
}
