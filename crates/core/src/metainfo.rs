//! Torrent metainfo (BEP 3): the info dict, `.torrent` files, and streaming torrent creation.
//!
//! The info hash is the SHA-1 of the `info` dict's bytes *exactly as received*
//! ([`crate::bencode::dict_entry_span`]), never of a re-encoding: a dict with unsorted keys or
//! keys we do not know keeps its hash. [`Info::from_bytes`] parses the info dict alone (what
//! `ut_metadata` delivers) into a value that cannot be invalid: the piece hashes match the
//! piece count of the total length, and no name or path component can escape the download
//! directory (no empty component, `.`, `..`, `/`, `\` or NUL).
//!
//! [`TorrentBuilder`] creates a torrent from file contents fed in slices of any size, hashing
//! as it goes (it holds no piece data, only a running SHA-1), with WebTorrent's info layout
//! (`name`, `piece length`, `pieces`, `length` or `files`, optional `private`) and default
//! piece length ([`default_piece_length`]), so the same files make the same info hash as in
//! WebTorrent when the piece length and name agree.

use std::fmt;
use std::ops::Range;

use crate::bencode::{self, BencodeError, Value};
use crate::lengths::{Lengths, LengthsError, PieceIndex};

mod create;
pub use crate::ids::InfoHash;
pub use create::{
    default_piece_length, is_junk, LaidOutFile, Layout, TorrentBuilder, MAX_PATH_BYTES,
    MAX_PATH_COMPONENTS,
};

/// Largest `piece length` we accept: 64 MiB (a verified piece is held in memory whole).
pub const MAX_PIECE_LENGTH: u32 = 1 << 26;

/// Why a torrent, an info dict or a torrent being built was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetainfoError {
    /// Not valid bencode.
    Bencode(BencodeError),
    /// The `.torrent` file or the info dict is not a dict.
    NotADict,
    /// A required key is missing (`info`, `name`, `piece length`, `pieces`, `length`/`files`,
    /// a file's `length` or `path`).
    Missing(&'static str),
    /// A key holds the wrong type or an out-of-range number.
    Invalid(&'static str),
    /// BEP 3: an info dict has `length` (single file) or `files` (multi-file), not both.
    LengthAndFiles,
    /// `piece length` must be `1..=MAX_PIECE_LENGTH`.
    BadPieceLength,
    /// `pieces` must be a multiple of 20 bytes, one SHA-1 per piece of the total length.
    PieceCount { expected: u32, got: u64 },
    /// A name or path component that is empty, `.`, `..`, or holds `/`, `\` or NUL (path
    /// traversal), or a file with an empty path.
    BadPath(String),
    /// A seeded file's path ([`Layout::new`]) that is not a relative path under the limits.
    BadSeedPath { path: String, reason: &'static str },
    /// The lengths do not describe a torrent (zero total, overflow, too many pieces).
    Lengths(LengthsError),
    /// [`TorrentBuilder::update`] got more bytes than the files' declared lengths.
    TooManyBytes,
    /// [`TorrentBuilder::finish`] before all declared bytes were fed.
    TooFewBytes { expected: u64, got: u64 },
    /// [`TorrentBuilder::add_piece_hash`] while part of a piece was fed through `update`.
    MidPiece,
}

impl fmt::Display for MetainfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetainfoError::Bencode(e) => e.fmt(f),
            MetainfoError::NotADict => f.write_str("metainfo: not a dict"),
            MetainfoError::Missing(k) => write!(f, "metainfo: missing `{k}`"),
            MetainfoError::Invalid(k) => write!(f, "metainfo: invalid `{k}`"),
            MetainfoError::LengthAndFiles => f.write_str("metainfo: both `length` and `files`"),
            MetainfoError::BadPieceLength => f.write_str("metainfo: invalid piece length"),
            MetainfoError::PieceCount { expected, got } => {
                write!(f, "metainfo: {got} piece hashes, expected {expected}")
            }
            MetainfoError::BadPath(p) => write!(f, "metainfo: unsafe path component {p:?}"),
            MetainfoError::BadSeedPath { path, reason } => {
                write!(f, "invalid file path {path:?}: {reason}")
            }
            MetainfoError::Lengths(e) => write!(f, "metainfo: {e}"),
            MetainfoError::TooManyBytes => f.write_str("torrent builder: more bytes than declared"),
            MetainfoError::TooFewBytes { expected, got } => {
                write!(f, "torrent builder: {got} of {expected} bytes")
            }
            MetainfoError::MidPiece => {
                f.write_str("torrent builder: a piece hash in the middle of a piece")
            }
        }
    }
}

impl std::error::Error for MetainfoError {}

impl From<BencodeError> for MetainfoError {
    fn from(e: BencodeError) -> MetainfoError {
        MetainfoError::Bencode(e)
    }
}

impl From<LengthsError> for MetainfoError {
    fn from(e: LengthsError) -> MetainfoError {
        MetainfoError::Lengths(e)
    }
}

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components: `[name]` for a single-file torrent; for a multi-file torrent the
    /// `path` list, relative to the directory [`Info::name`].
    pub path: Vec<String>,
    pub length: u64,
}

/// A validated info dict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    name: String,
    piece_length: u32,
    pieces: Vec<[u8; 20]>,
    files: Vec<FileEntry>,
    single_file: bool,
    private: bool,
    lengths: Lengths,
}

impl Info {
    /// Parses and validates a bencoded info dict (e.g. assembled from `ut_metadata` pieces).
    pub fn from_bytes(raw: &[u8]) -> Result<Info, MetainfoError> {
        Info::from_value(&bencode::decode(raw)?)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Nominal piece length.
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// One SHA-1 per piece.
    pub fn pieces(&self) -> &[[u8; 20]] {
        &self.pieces
    }

    /// The expected SHA-1 of `piece`.
    pub fn piece_hash(&self, piece: PieceIndex) -> &[u8; 20] {
        // Validated: pieces.len() == lengths.num_pieces(), and PieceIndex < num_pieces.
        &self.pieces[piece.get() as usize]
    }

    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Each file with its byte range in the torrent's concatenated stream.
    pub fn file_ranges(&self) -> impl Iterator<Item = (&FileEntry, Range<u64>)> {
        let mut offset = 0u64;
        self.files.iter().map(move |f| {
            let start = offset;
            offset += f.length;
            (f, start..offset)
        })
    }

    /// BEP 3 single-file layout (`length` key) rather than `files`.
    pub fn is_single_file(&self) -> bool {
        self.single_file
    }

    /// BEP 27 `private` flag.
    pub fn private(&self) -> bool {
        self.private
    }

    pub fn total_length(&self) -> u64 {
        self.lengths.total_length()
    }

    pub fn lengths(&self) -> Lengths {
        self.lengths
    }

    /// Canonical bencoding (sorted keys) with WebTorrent's keys only. For a received torrent
    /// use the raw bytes instead ([`Metainfo::info_bytes`]): unknown keys are not kept here.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut entries = vec![
            ("name", Value::str(&self.name)),
            ("piece length", Value::Int(i64::from(self.piece_length))),
            ("pieces", Value::Bytes(self.pieces.concat())),
        ];
        if self.single_file {
            entries.push(("length", int_u64(self.total_length())));
        } else {
            let files = self
                .files
                .iter()
                .map(|f| {
                    Value::dict([
                        ("length", int_u64(f.length)),
                        (
                            "path",
                            Value::List(f.path.iter().map(|p| Value::str(p)).collect()),
                        ),
                    ])
                })
                .collect();
            entries.push(("files", Value::List(files)));
        }
        if self.private {
            entries.push(("private", Value::Int(1)));
        }
        bencode::encode(&Value::dict(entries))
    }

    fn from_value(v: &Value) -> Result<Info, MetainfoError> {
        let d = v.as_dict().ok_or(MetainfoError::NotADict)?;
        let name = text(v, "name")?.ok_or(MetainfoError::Missing("name"))?;
        check_component(&name)?;
        let piece_length = match v.get("piece length") {
            None => return Err(MetainfoError::Missing("piece length")),
            Some(pl) => pl
                .as_int()
                .and_then(|p| u32::try_from(p).ok())
                .filter(|&p| p > 0 && p <= MAX_PIECE_LENGTH)
                .ok_or(MetainfoError::BadPieceLength)?,
        };
        let raw_pieces = v
            .get("pieces")
            .ok_or(MetainfoError::Missing("pieces"))?
            .as_bytes()
            .ok_or(MetainfoError::Invalid("pieces"))?;
        let (files, single_file) = match (d.get(&b"length"[..]), d.get(&b"files"[..])) {
            (Some(_), Some(_)) => return Err(MetainfoError::LengthAndFiles),
            (None, None) => return Err(MetainfoError::Missing("length")),
            (Some(len), None) => {
                let length = non_negative(len, "length")?;
                let path = vec![name.clone()];
                (vec![FileEntry { path, length }], true)
            }
            (None, Some(files)) => (parse_files(files)?, false),
        };
        let total = files
            .iter()
            .try_fold(0u64, |t, f| t.checked_add(f.length))
            .ok_or(MetainfoError::Invalid("length"))?;
        let lengths = Lengths::new(total, piece_length)?;
        if raw_pieces.len() % 20 != 0 || raw_pieces.len() / 20 != lengths.num_pieces() as usize {
            return Err(MetainfoError::PieceCount {
                expected: lengths.num_pieces(),
                got: raw_pieces.len() as u64 / 20,
            });
        }
        let pieces = raw_pieces
            .chunks_exact(20)
            .map(|c| {
                let mut h = [0u8; 20];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Info {
            name,
            piece_length,
            pieces,
            files,
            single_file,
            private: v.get("private").and_then(Value::as_int) == Some(1),
            lengths,
        })
    }
}

/// A `.torrent` file: the info dict (raw and parsed) and the keys around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    pub info: Info,
    /// The info dict's bytes exactly as received; `info_hash` is their SHA-1.
    pub info_bytes: Vec<u8>,
    pub info_hash: InfoHash,
    /// `announce` then `announce-list` (BEP 12) flattened, deduplicated, in order.
    pub announce: Vec<String>,
    /// BEP 19 web seeds (`url-list`, a string or a list).
    pub url_list: Vec<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    /// Seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    pub encoding: Option<String>,
}

impl Metainfo {
    /// Parses a `.torrent` file. Keys outside `info` are read tolerantly: a wrong type is
    /// treated as absent.
    pub fn from_bytes(raw: &[u8]) -> Result<Metainfo, MetainfoError> {
        let span = bencode::dict_entry_span(raw, b"info")
            .map_err(|e| match e {
                BencodeError::NotADict => MetainfoError::NotADict,
                e => MetainfoError::Bencode(e),
            })?
            .ok_or(MetainfoError::Missing("info"))?;
        let mut m = Metainfo::from_info_bytes(raw[span].to_vec())?;
        let top = bencode::decode(raw)?;
        let mut announce: Vec<String> = Vec::new();
        let mut add = |url: &Value| {
            if let Some(u) = url.as_str().filter(|u| !u.is_empty()) {
                if !announce.iter().any(|a| a == u) {
                    announce.push(u.to_string());
                }
            }
        };
        if let Some(a) = top.get("announce") {
            add(a);
        }
        for tier in top
            .get("announce-list")
            .and_then(Value::as_list)
            .unwrap_or(&[])
        {
            tier.as_list().unwrap_or(&[]).iter().for_each(&mut add);
        }
        m.announce = announce;
        m.url_list = match top.get("url-list") {
            Some(Value::List(l)) => l
                .iter()
                .filter_map(|u| u.as_str())
                .map(String::from)
                .collect(),
            Some(u) => u.as_str().map(String::from).into_iter().collect(),
            None => Vec::new(),
        };
        m.url_list.retain(|u| !u.is_empty());
        let text_of = |k: &str| top.get(k).and_then(Value::as_str).map(String::from);
        m.comment = text_of("comment");
        m.created_by = text_of("created by");
        m.encoding = text_of("encoding");
        m.creation_date = top.get("creation date").and_then(Value::as_int);
        Ok(m)
    }

    /// A metainfo from the info dict alone (a magnet link's metadata fetched over BEP 9).
    pub fn from_info_bytes(info_bytes: Vec<u8>) -> Result<Metainfo, MetainfoError> {
        let info = Info::from_bytes(&info_bytes)?;
        Ok(Metainfo {
            info,
            info_hash: InfoHash(crate::sha1(&info_bytes)),
            info_bytes,
            announce: Vec::new(),
            url_list: Vec::new(),
            comment: None,
            created_by: None,
            creation_date: None,
            encoding: None,
        })
    }

    /// The `.torrent` file. `info` is written from [`info_bytes`](Self::info_bytes) verbatim,
    /// so the info hash survives; `announce-list` puts each tracker in its own tier, as
    /// WebTorrent does.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut entries: Vec<(&str, Option<Value>)> = vec![
            ("announce", self.announce.first().map(|a| Value::str(a))),
            (
                "announce-list",
                (!self.announce.is_empty()).then(|| {
                    Value::List(
                        self.announce
                            .iter()
                            .map(|a| Value::List(vec![Value::str(a)]))
                            .collect(),
                    )
                }),
            ),
            ("comment", self.comment.as_deref().map(Value::str)),
            ("created by", self.created_by.as_deref().map(Value::str)),
            ("creation date", self.creation_date.map(Value::Int)),
            ("encoding", self.encoding.as_deref().map(Value::str)),
            ("info", None),
            (
                "url-list",
                (!self.url_list.is_empty())
                    .then(|| Value::List(self.url_list.iter().map(|u| Value::str(u)).collect())),
            ),
        ];
        // Keys above are in sorted (byte) order; `info` goes in verbatim at its place.
        let mut out = vec![b'd'];
        for (key, value) in entries.drain(..) {
            if key == "info" {
                bencode::encode_bytes(b"info", &mut out);
                out.extend_from_slice(&self.info_bytes);
            } else if let Some(v) = value {
                bencode::encode_bytes(key.as_bytes(), &mut out);
                bencode::encode_into(&v, &mut out);
            }
        }
        out.push(b'e');
        out
    }
}

fn int_u64(n: u64) -> Value {
    // Lengths are validated to fit the wire's i64 when decoded; built ones are below 2^63.
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn non_negative(v: &Value, key: &'static str) -> Result<u64, MetainfoError> {
    v.as_int()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(MetainfoError::Invalid(key))
}

/// The text under `key` (preferring BEP 3's `key.utf-8` variant), lossily decoded.
fn text(d: &Value, key: &'static str) -> Result<Option<String>, MetainfoError> {
    let utf8_key = format!("{key}.utf-8");
    if let Some(s) = d.get(&utf8_key).and_then(Value::as_str) {
        return Ok(Some(s.to_string()));
    }
    match d.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_bytes()
            .map(|b| Some(String::from_utf8_lossy(b).into_owned()))
            .ok_or(MetainfoError::Invalid(key)),
    }
}

fn parse_files(files: &Value) -> Result<Vec<FileEntry>, MetainfoError> {
    let list = files.as_list().ok_or(MetainfoError::Invalid("files"))?;
    if list.is_empty() {
        return Err(MetainfoError::Missing("files"));
    }
    list.iter()
        .map(|f| {
            if f.as_dict().is_none() {
                return Err(MetainfoError::Invalid("files"));
            }
            let length = non_negative(
                f.get("length").ok_or(MetainfoError::Missing("length"))?,
                "length",
            )?;
            let raw_path = f
                .get("path.utf-8")
                .filter(|p| {
                    p.as_list()
                        .is_some_and(|l| l.iter().all(|c| c.as_str().is_some()))
                })
                .or_else(|| f.get("path"))
                .ok_or(MetainfoError::Missing("path"))?;
            let path = raw_path
                .as_list()
                .ok_or(MetainfoError::Invalid("path"))?
                .iter()
                .map(|c| {
                    c.as_bytes()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .ok_or(MetainfoError::Invalid("path"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            check_path(&path)?;
            Ok(FileEntry { path, length })
        })
        .collect()
}

fn check_path(path: &[String]) -> Result<(), MetainfoError> {
    if path.is_empty() {
        return Err(MetainfoError::BadPath(String::new()));
    }
    path.iter().try_for_each(|c| check_component(c))
}

/// A single name or path component that cannot leave its directory.
fn check_component(c: &str) -> Result<(), MetainfoError> {
    if c.is_empty() || c == "." || c == ".." || c.contains(['/', '\\', '\0']) {
        return Err(MetainfoError::BadPath(c.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn info_hash_hex_and_base32() {
        let hex = "dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c";
        let h = InfoHash::from_hex(hex).unwrap();
        assert_eq!(h.to_string(), hex);
        assert_eq!(InfoHash::from_hex(&hex.to_uppercase()), Some(h));
        assert_eq!(
            InfoHash::from_base32("3WBFL3G4PSSV7MF37AJSHWDQMLNR63I4"),
            Some(h)
        );
        assert_eq!(
            InfoHash::from_base32("3wbfl3g4pssv7mf37ajshwdqmlnr63i4"),
            Some(h)
        );
        assert_eq!(InfoHash::from_hex(&hex[..39]), None);
        assert_eq!(InfoHash::from_hex(&format!("{}g", &hex[..39])), None);
        assert_eq!(InfoHash::from_hex("é".repeat(20).as_str()), None);
        assert_eq!(
            InfoHash::from_base32("1WBFL3G4PSSV7MF37AJSHWDQMLNR63I4"),
            None
        );
        assert_eq!(InfoHash::from_base32("3WBFL3G4"), None);
    }

    /// An info dict with unsorted keys and an unknown key, as some real torrents have.
    fn odd_info() -> Vec<u8> {
        let mut info = b"d4:name3:abc12:piece lengthi16384e6:lengthi10e6:pieces20:".to_vec();
        info.extend_from_slice(&crate::sha1(&[7u8; 10]));
        info.extend_from_slice(b"7:x-extrad1:ai1eee");
        info
    }

    #[test]
    fn info_hash_is_of_the_bytes_as_received() {
        let info = odd_info();
        let mut file = b"d8:announce15:wss://t.example4:info".to_vec();
        file.extend_from_slice(&info);
        file.extend_from_slice(b"e");
        let m = Metainfo::from_bytes(&file).unwrap();
        assert_eq!(m.info_hash, InfoHash(crate::sha1(&info)));
        assert_eq!(m.info_bytes, info);
        assert_ne!(
            m.info_hash,
            InfoHash(crate::sha1(&m.info.to_bytes())),
            "re-encoding differs"
        );
        assert_eq!(m.announce, ["wss://t.example"]);
        // Re-encoding the file keeps the info bytes, hence the hash.
        let again = Metainfo::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(again.info_hash, m.info_hash);
        assert_eq!(again.info_bytes, info);
        // From the info dict alone (ut_metadata).
        assert_eq!(
            Metainfo::from_info_bytes(info).unwrap().info_hash,
            m.info_hash
        );
    }

    #[test]
    fn announce_list_is_flattened_and_deduplicated() {
        let info = odd_info();
        let mut file =
            b"d8:announce5:wss:a13:announce-listll5:wss:ael5:wss:b5:wss:aeli7eee".to_vec();
        file.extend_from_slice(b"4:info");
        file.extend_from_slice(&info);
        file.extend_from_slice(b"8:url-list12:https://seede");
        let m = Metainfo::from_bytes(&file).unwrap();
        assert_eq!(m.announce, ["wss:a", "wss:b"]);
        assert_eq!(m.url_list, ["https://seed"]);
    }

    fn info_with(extra: &str, files: &str) -> Vec<u8> {
        format!(
            "d{files}4:name3:abc12:piece lengthi16384e6:pieces20:{}{extra}e",
            "p".repeat(20)
        )
        .into_bytes()
    }

    #[test]
    fn malicious_and_malformed_info_dicts_are_refused() {
        let bad_path = |p: &str| {
            let files = format!("5:filesld6:lengthi10e4:pathl{p}eee");
            Info::from_bytes(&info_with("", &files))
        };
        assert!(bad_path("3:abc").is_ok());
        assert!(bad_path("3:dir3:abc").is_ok());
        for p in [
            "2:..",
            "1:.",
            "0:",
            "3:a/b",
            "3:a\\b",
            "3:a\0b",
            "2:..3:abc",
        ] {
            assert!(
                matches!(bad_path(p), Err(MetainfoError::BadPath(_))),
                "{p:?}"
            );
        }
        assert!(matches!(bad_path(""), Err(MetainfoError::BadPath(_))));
        // A name that escapes, in the builder too.
        let with_name = |n: &str| {
            Info::from_bytes(
                format!(
                    "d6:lengthi10e4:name{}:{n}12:piece lengthi16384e6:pieces20:{}e",
                    n.len(),
                    "p".repeat(20)
                )
                .as_bytes(),
            )
        };
        assert!(with_name("ok").is_ok());
        assert!(matches!(with_name(".."), Err(MetainfoError::BadPath(_))));
        assert!(matches!(with_name("/etc"), Err(MetainfoError::BadPath(_))));
        assert!(TorrentBuilder::single("..", 1, None).is_err());
        assert!(TorrentBuilder::new("d", vec![(vec!["..".into(), "x".into()], 1)], None).is_err());
        assert!(TorrentBuilder::new("d", vec![(vec![], 1)], None).is_err());
        assert!(TorrentBuilder::new("d", vec![], None).is_err());

        let single = "6:lengthi10e";
        assert!(Info::from_bytes(&info_with("", single)).is_ok());
        assert_eq!(
            Info::from_bytes(&info_with("", "")),
            Err(MetainfoError::Missing("length"))
        );
        assert_eq!(
            Info::from_bytes(&info_with(
                "",
                "5:filesld6:lengthi10e4:pathl1:aeee6:lengthi10e"
            )),
            Err(MetainfoError::LengthAndFiles)
        );
        assert!(matches!(
            Info::from_bytes(&info_with("", "6:lengthi-1e")),
            Err(MetainfoError::Invalid("length"))
        ));
        // 16 385 bytes need two hashes, not one.
        assert_eq!(
            Info::from_bytes(&info_with("", "6:lengthi16385e")),
            Err(MetainfoError::PieceCount {
                expected: 2,
                got: 1
            })
        );
        let odd_pieces =
            b"d6:lengthi10e4:name1:a12:piece lengthi16384e6:pieces21:123456789012345678901e";
        assert!(matches!(
            Info::from_bytes(odd_pieces),
            Err(MetainfoError::PieceCount { .. })
        ));
        let zero_pl = b"d6:lengthi10e4:name1:a12:piece lengthi0e6:pieces0:e";
        assert_eq!(
            Info::from_bytes(zero_pl),
            Err(MetainfoError::BadPieceLength)
        );
        let huge_pl = b"d6:lengthi10e4:name1:a12:piece lengthi134217728e6:pieces0:e";
        assert_eq!(
            Info::from_bytes(huge_pl),
            Err(MetainfoError::BadPieceLength)
        );
        assert_eq!(Info::from_bytes(b"le"), Err(MetainfoError::NotADict));
        assert_eq!(Metainfo::from_bytes(b"le"), Err(MetainfoError::NotADict));
        assert_eq!(
            Metainfo::from_bytes(b"d8:announce1:xe"),
            Err(MetainfoError::Missing("info"))
        );
        // A total length that overflows u64 (three files of i64::MAX bytes).
        let files = format!(
            "5:filesld6:lengthi{0}e4:pathl1:aeed6:lengthi{0}e4:pathl1:beed6:lengthi{0}e4:pathl1:ceee",
            i64::MAX
        );
        assert_eq!(
            Info::from_bytes(&info_with("", &files)),
            Err(MetainfoError::Invalid("length"))
        );
    }
}
