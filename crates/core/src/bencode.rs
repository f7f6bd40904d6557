//! Bencode (BEP 3): a strict decoder and a canonical encoder.
//!
//! Decoding rules, each enforced by a [`BencodeError`] variant:
//! - integers: `i<digits>e`, optional `-`; no leading zeros (`i03e`), no `-0`, no empty `ie` or
//!   `i-e`, and the value must fit in an `i64`;
//! - byte strings: `<len>:<bytes>`, no leading zeros in `len` (`03:abc`), and `len` may not
//!   exceed the input that is left, checked before anything is allocated;
//! - nesting deeper than [`MAX_DEPTH`] lists or dicts is refused (no stack exhaustion);
//! - dict keys must be byte strings and unique. BEP 3 asks for sorted keys, but real torrents
//!   with unsorted keys exist and would become unusable, so the decoder accepts
//!   unsorted-but-unique keys. Such a dict does not re-encode to the same bytes, which is why
//!   [`dict_entry_span`] gives the raw bytes of an entry (the `info` dict is hashed as received);
//! - [`decode`] refuses trailing data after the top value; [`decode_prefix`] returns where the
//!   value ended (BEP 9 `ut_metadata` data messages carry raw bytes after the dict).
//!
//! - at most [`max_nodes`]`(input.len())` nodes (each value, and each dict key, is one node)
//!   are decoded; past that the input is refused with [`BencodeError::TooManyNodes`].
//!
//! Nothing here panics on any input, and memory use is proportional to the input size: a node
//! costs about 32 bytes of `Value` (or key) overhead but as little as two input bytes (`le`),
//! so without the node budget 1 MiB of `le` would allocate 16-32 MiB; with it, the tree's
//! overhead stays within about 8 times the input plus a constant. No length read from the input
//! is ever used to reserve memory. [`encode`] writes dict keys in sorted order (a `BTreeMap` keeps them so).

#![warn(clippy::arithmetic_side_effects)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

/// Deepest nesting of lists and dicts [`decode`] accepts.
pub const MAX_DEPTH: u32 = 64;

/// Nodes [`max_nodes`] allows on top of one per [`BYTES_PER_NODE`] input bytes, so that tiny
/// inputs (`le`, `d1:ai1ee`) are never refused.
pub const NODE_ALLOWANCE: usize = 64;

/// Input bytes per allowed node (see [`max_nodes`]).
pub const BYTES_PER_NODE: usize = 4;

/// The node budget for an input of `input_len` bytes: `input_len / 4 + 64`. Every value (int,
/// string, list, dict) and every dict key counts as one node. Real torrents use far fewer nodes
/// than this (the `pieces` string alone is 20 bytes per piece, and a file entry
/// `d6:lengthi1e4:pathl1:aee` is 6 nodes in 24 bytes); a run of empty lists is one node per 2
/// bytes and is refused.
pub const fn max_nodes(input_len: usize) -> usize {
    (input_len / BYTES_PER_NODE).saturating_add(NODE_ALLOWANCE)
}

/// A decoded bencode value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Why input is not valid bencode. `at` is the byte offset where the problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BencodeError {
    /// The input ended inside a value.
    UnexpectedEof,
    /// A byte that cannot start or continue a value here (e.g. `x`, or a non-string dict key).
    UnexpectedByte { at: usize, byte: u8 },
    /// `ie` or `i-e`: an integer needs at least one digit.
    EmptyInteger { at: usize },
    /// `i03e`, `i-03e` or `03:abc`: numbers have no leading zeros.
    LeadingZero { at: usize },
    /// `i-0e`: zero has no sign.
    NegativeZero { at: usize },
    /// The integer does not fit in an `i64`.
    IntegerOverflow { at: usize },
    /// A string length larger than the input that is left (or than `usize`).
    StringTooLong { at: usize },
    /// Lists and dicts nested deeper than [`MAX_DEPTH`].
    TooDeep { at: usize },
    /// The same key twice in one dict.
    DuplicateKey { at: usize },
    /// Bytes after the top-level value ([`decode`] only).
    TrailingData { at: usize },
    /// [`dict_entry_span`] was given something that is not a dict.
    NotADict,
    /// More nodes than [`max_nodes`] allows for the input's length; `at` is where the first
    /// node over the budget starts.
    TooManyNodes { at: usize },
}

impl fmt::Display for BencodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BencodeError::UnexpectedEof => f.write_str("bencode: unexpected end of input"),
            BencodeError::UnexpectedByte { at, byte } => {
                write!(f, "bencode: unexpected byte 0x{byte:02x} at {at}")
            }
            BencodeError::EmptyInteger { at } => write!(f, "bencode: empty integer at {at}"),
            BencodeError::LeadingZero { at } => write!(f, "bencode: leading zero at {at}"),
            BencodeError::NegativeZero { at } => write!(f, "bencode: negative zero at {at}"),
            BencodeError::IntegerOverflow { at } => write!(f, "bencode: integer overflow at {at}"),
            BencodeError::StringTooLong { at } => {
                write!(f, "bencode: string longer than the input at {at}")
            }
            BencodeError::TooDeep { at } => write!(f, "bencode: nesting too deep at {at}"),
            BencodeError::DuplicateKey { at } => write!(f, "bencode: duplicate dict key at {at}"),
            BencodeError::TrailingData { at } => write!(f, "bencode: trailing data at {at}"),
            BencodeError::NotADict => f.write_str("bencode: not a dict"),
            BencodeError::TooManyNodes { at } => {
                write!(f, "bencode: too many values for the input size at {at}")
            }
        }
    }
}

impl std::error::Error for BencodeError {}

/// Decodes exactly one value that spans the whole input.
pub fn decode(input: &[u8]) -> Result<Value, BencodeError> {
    let (value, end) = decode_prefix(input)?;
    if end != input.len() {
        return Err(BencodeError::TrailingData { at: end });
    }
    Ok(value)
}

/// Decodes one value at the start of `input`; returns it and the offset just past it.
pub fn decode_prefix(input: &[u8]) -> Result<(Value, usize), BencodeError> {
    let mut p = Parser::new(input);
    let v = p.value(0)?;
    Ok((v, p.pos))
}

/// The raw byte range of the value stored under `key` in the top-level dict `input`, exactly
/// as received (BEP 3: the info hash is the SHA-1 of the `info` value's bytes). The whole
/// input is validated as by [`decode`]; `Ok(None)` if the dict has no such key.
pub fn dict_entry_span(input: &[u8], key: &[u8]) -> Result<Option<Range<usize>>, BencodeError> {
    let mut p = Parser::new(input);
    if p.peek()? != b'd' {
        return Err(BencodeError::NotADict);
    }
    p.advance(1);
    let mut found = None;
    let mut seen = BTreeSet::new();
    while p.peek()? != b'e' {
        let key_at = p.pos;
        p.count_node()?;
        let k = p.key()?;
        let start = p.pos;
        p.value(1)?;
        if !seen.insert(k) {
            return Err(BencodeError::DuplicateKey { at: key_at });
        }
        if k == key {
            found = Some(start..p.pos);
        }
    }
    p.advance(1);
    if p.pos != input.len() {
        return Err(BencodeError::TrailingData { at: p.pos });
    }
    Ok(found)
}

/// Canonical encoding (dict keys sorted).
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the canonical encoding of `value` to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Int(i) => {
            out.push(b'i');
            out.extend_from_slice(i.to_string().as_bytes());
            out.push(b'e');
        }
        Value::Bytes(b) => encode_bytes(b, out),
        Value::List(items) => {
            out.push(b'l');
            for item in items {
                encode_into(item, out);
            }
            out.push(b'e');
        }
        Value::Dict(map) => {
            out.push(b'd');
            for (k, v) in map {
                encode_bytes(k, out);
                encode_into(v, out);
            }
            out.push(b'e');
        }
    }
}

/// Appends `<len>:<bytes>`.
pub fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

impl Value {
    /// A byte string from UTF-8 text.
    pub fn str(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    /// A dict from `(key, value)` pairs; a later duplicate key replaces an earlier one.
    pub fn dict<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        // Inserted one by one (a later duplicate key wins, as with `collect`): collecting into
        // a `BTreeMap` runs the stable sort, and its code was a few KB of the wasm per caller.
        let mut d = BTreeMap::new();
        for (k, v) in entries {
            d.insert(k.as_bytes().to_vec(), v);
        }
        Value::Dict(d)
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, `None` if it is not a string or not valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, Value>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// `self[key]` if `self` is a dict holding `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_dict()?.get(key.as_bytes())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Value {
        Value::Bytes(b)
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// Nodes still allowed (see [`max_nodes`]).
    nodes_left: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a [u8]) -> Parser<'a> {
        Parser {
            input,
            pos: 0,
            nodes_left: max_nodes(input.len()),
        }
    }

    /// Moves past `n` bytes. `pos` never exceeds `input.len()` (callers only advance over bytes
    /// they have seen), so saturating is exact.
    fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.input.len());
    }

    /// Charges one node to the budget.
    fn count_node(&mut self) -> Result<(), BencodeError> {
        self.nodes_left = self
            .nodes_left
            .checked_sub(1)
            .ok_or(BencodeError::TooManyNodes { at: self.pos })?;
        Ok(())
    }

    fn peek(&self) -> Result<u8, BencodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(BencodeError::UnexpectedEof)
    }

    /// `depth` is the number of enclosing lists and dicts.
    fn value(&mut self, depth: u32) -> Result<Value, BencodeError> {
        let first = self.peek()?;
        self.count_node()?;
        match first {
            b'i' => self.int().map(Value::Int),
            b'0'..=b'9' => self.bytes().map(|b| Value::Bytes(b.to_vec())),
            b'l' => {
                if depth >= MAX_DEPTH {
                    return Err(BencodeError::TooDeep { at: self.pos });
                }
                self.advance(1);
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth.saturating_add(1))?);
                }
                self.advance(1);
                Ok(Value::List(items))
            }
            b'd' => {
                if depth >= MAX_DEPTH {
                    return Err(BencodeError::TooDeep { at: self.pos });
                }
                self.advance(1);
                let mut map = BTreeMap::new();
                while self.peek()? != b'e' {
                    let key_at = self.pos;
                    self.count_node()?;
                    let k = self.key()?.to_vec();
                    let v = self.value(depth.saturating_add(1))?;
                    if map.insert(k, v).is_some() {
                        return Err(BencodeError::DuplicateKey { at: key_at });
                    }
                }
                self.advance(1);
                Ok(Value::Dict(map))
            }
            byte => Err(BencodeError::UnexpectedByte { at: self.pos, byte }),
        }
    }

    fn key(&mut self) -> Result<&'a [u8], BencodeError> {
        match self.peek()? {
            b'0'..=b'9' => self.bytes(),
            byte => Err(BencodeError::UnexpectedByte { at: self.pos, byte }),
        }
    }

    fn int(&mut self) -> Result<i64, BencodeError> {
        let start = self.pos;
        self.advance(1); // 'i'
        let negative = self.peek()? == b'-';
        if negative {
            self.advance(1);
        }
        let digits_at = self.pos;
        let mut value: i64 = 0;
        loop {
            match self.peek()? {
                b'e' => break,
                d @ b'0'..=b'9' => {
                    if self.pos > digits_at && value == 0 {
                        return Err(BencodeError::LeadingZero { at: digits_at });
                    }
                    let digit = i64::from(d.wrapping_sub(b'0'));
                    // Accumulate with the final sign so that i64::MIN is representable.
                    value = value
                        .checked_mul(10)
                        .and_then(|v| {
                            if negative {
                                v.checked_sub(digit)
                            } else {
                                v.checked_add(digit)
                            }
                        })
                        .ok_or(BencodeError::IntegerOverflow { at: start })?;
                    self.advance(1);
                }
                byte => return Err(BencodeError::UnexpectedByte { at: self.pos, byte }),
            }
        }
        if self.pos == digits_at {
            return Err(BencodeError::EmptyInteger { at: start });
        }
        if negative && value == 0 {
            return Err(BencodeError::NegativeZero { at: start });
        }
        self.advance(1); // 'e'
        Ok(value)
    }

    fn bytes(&mut self) -> Result<&'a [u8], BencodeError> {
        let start = self.pos;
        let mut len: usize = 0;
        loop {
            match self.peek()? {
                b':' => break,
                d @ b'0'..=b'9' => {
                    if self.pos > start && len == 0 {
                        return Err(BencodeError::LeadingZero { at: start });
                    }
                    len = len
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(usize::from(d.wrapping_sub(b'0'))))
                        .ok_or(BencodeError::StringTooLong { at: start })?;
                    self.advance(1);
                }
                byte => return Err(BencodeError::UnexpectedByte { at: self.pos, byte }),
            }
        }
        self.advance(1); // ':'
        let s = self
            .pos
            .checked_add(len)
            .and_then(|end| self.input.get(self.pos..end))
            .ok_or(BencodeError::StringTooLong { at: start })?;
        self.advance(len);
        Ok(s)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // Test code: overflow would fail the test.
mod tests {
    use super::*;
    use crate::rng::Rng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// `l` + `le` * n + `e`: n + 1 nodes in 2n + 2 bytes.
    fn empty_lists(n: usize) -> Vec<u8> {
        let mut v = vec![b'l'];
        for _ in 0..n {
            v.extend_from_slice(b"le");
        }
        v.push(b'e');
        v
    }

    #[test]
    fn node_budget_is_a_quarter_of_the_input_plus_64() {
        assert_eq!(max_nodes(0), 64);
        assert_eq!(max_nodes(1000), 314);
        // n + 1 nodes fit while n + 1 <= (2n + 2) / 4 + 64, i.e. up to n = 127.
        assert_eq!(empty_lists(127).len(), 256);
        assert_eq!(max_nodes(256), 128);
        assert!(decode(&empty_lists(127)).is_ok());
        // One more list (258 bytes, still a budget of 128): the 129th node, the 128th inner
        // list at offset 255, is refused.
        assert_eq!(
            decode(&empty_lists(128)),
            Err(BencodeError::TooManyNodes { at: 255 })
        );
        // 1 MiB of empty lists and dicts is refused.
        assert!(matches!(
            decode(&empty_lists(512 * 1024)),
            Err(BencodeError::TooManyNodes { .. })
        ));
        let mut dicts = vec![b'l'];
        for _ in 0..100_000 {
            dicts.extend_from_slice(b"de");
        }
        dicts.push(b'e');
        assert!(matches!(
            decode(&dicts),
            Err(BencodeError::TooManyNodes { .. })
        ));
        // Dict keys count too: l + (d1:alee) * n + e is 3n + 1 nodes in 7n + 2 bytes.
        let mut keyed = vec![b'l'];
        for _ in 0..1000 {
            keyed.extend_from_slice(b"d1:alee");
        }
        keyed.push(b'e');
        assert!(matches!(
            decode(&keyed),
            Err(BencodeError::TooManyNodes { .. })
        ));
        // dict_entry_span has the same budget.
        let mut top = b"d1:a".to_vec();
        top.extend_from_slice(&empty_lists(1000));
        top.push(b'e');
        assert!(matches!(
            dict_entry_span(&top, b"a"),
            Err(BencodeError::TooManyNodes { .. })
        ));
    }

    #[test]
    fn node_budget_admits_many_file_torrents() {
        // 2000 files with one-letter names and a single piece: 6 nodes per 24-byte entry.
        let files: Vec<Value> = (0..2000)
            .map(|_| {
                Value::dict([
                    ("length", Value::Int(1)),
                    ("path", Value::List(vec![Value::str("a")])),
                ])
            })
            .collect();
        let info = Value::dict([
            ("files", Value::List(files)),
            ("name", Value::str("d")),
            ("piece length", Value::Int(16384)),
            ("pieces", Value::Bytes(vec![0; 20])),
        ]);
        let torrent = encode(&Value::dict([("info", info)]));
        assert!(decode(&torrent).is_ok());
    }

    fn err(input: &[u8]) -> BencodeError {
        decode(input).expect_err(&String::from_utf8_lossy(input))
    }

    #[test]
    fn decodes_each_kind() {
        assert_eq!(decode(b"i42e"), Ok(Value::Int(42)));
        assert_eq!(decode(b"i-42e"), Ok(Value::Int(-42)));
        assert_eq!(decode(b"i0e"), Ok(Value::Int(0)));
        assert_eq!(decode(b"4:spam"), Ok(Value::str("spam")));
        assert_eq!(decode(b"0:"), Ok(Value::Bytes(vec![])));
        assert_eq!(
            decode(b"l4:spami7ee"),
            Ok(Value::List(vec![Value::str("spam"), Value::Int(7)]))
        );
        let d = decode(b"d3:cow3:moo4:spaml1:a1:bee").unwrap();
        assert_eq!(d.get("cow").and_then(Value::as_str), Some("moo"));
        assert_eq!(
            d.get("spam").and_then(Value::as_list).map(<[_]>::len),
            Some(2)
        );
        assert_eq!(decode(b"de"), Ok(Value::Dict(BTreeMap::new())));
        assert_eq!(decode(b"i9223372036854775807e"), Ok(Value::Int(i64::MAX)));
        assert_eq!(decode(b"i-9223372036854775808e"), Ok(Value::Int(i64::MIN)));
    }

    #[test]
    fn rejects_each_malformed_case() {
        use BencodeError::*;
        assert!(matches!(err(b"i03e"), LeadingZero { .. }));
        assert!(matches!(err(b"i-03e"), LeadingZero { .. }));
        assert!(matches!(err(b"i00e"), LeadingZero { .. }));
        assert!(matches!(err(b"03:abc"), LeadingZero { .. }));
        assert!(matches!(err(b"00:"), LeadingZero { .. }));
        assert!(matches!(err(b"i-0e"), NegativeZero { .. }));
        assert!(matches!(err(b"i-e"), EmptyInteger { .. }));
        assert!(matches!(err(b"ie"), EmptyInteger { .. }));
        assert!(matches!(err(b"i1-2e"), UnexpectedByte { byte: b'-', .. }));
        assert!(matches!(err(b"i+1e"), UnexpectedByte { byte: b'+', .. }));
        assert!(matches!(
            err(b"i9223372036854775808e"),
            IntegerOverflow { .. }
        ));
        assert!(matches!(
            err(b"i-9223372036854775809e"),
            IntegerOverflow { .. }
        ));
        assert!(matches!(err(b"i12"), UnexpectedEof));
        assert!(matches!(err(b"i4ei5e"), TrailingData { at: 3 }));
        assert!(matches!(err(b"4:spamx"), TrailingData { at: 6 }));
        assert!(matches!(err(b"5:spam"), StringTooLong { .. }));
        assert!(matches!(
            err(b"99999999999999999999999:x"),
            StringTooLong { .. }
        ));
        assert!(matches!(err(b"4spam"), UnexpectedByte { byte: b's', .. }));
        assert!(matches!(err(b"l4:spam"), UnexpectedEof));
        assert!(matches!(
            err(b"di1ei2ee"),
            UnexpectedByte { byte: b'i', .. }
        ));
        assert!(matches!(err(b"d1:ai1e1:ai2ee"), DuplicateKey { at: 7 }));
        assert!(matches!(err(b"d1:ae"), UnexpectedByte { byte: b'e', .. }));
        assert!(matches!(err(b""), UnexpectedEof));
        assert!(matches!(err(b"x"), UnexpectedByte { byte: b'x', at: 0 }));
    }

    #[test]
    fn nesting_limit_is_64() {
        let ok = [vec![b'l'; 64], vec![b'e'; 64]].concat();
        assert!(decode(&ok).is_ok());
        let deep = [vec![b'l'; 65], vec![b'e'; 65]].concat();
        assert_eq!(decode(&deep), Err(BencodeError::TooDeep { at: 64 }));
        // A long hostile run of openers fails fast without recursing past the limit.
        assert!(matches!(
            decode(&vec![b'd'; 1_000_000]),
            Err(BencodeError::UnexpectedByte { .. })
        ));
        assert!(matches!(
            decode(&vec![b'l'; 1_000_000]),
            Err(BencodeError::TooDeep { .. })
        ));
    }

    #[test]
    fn unsorted_unique_keys_are_accepted_and_reencode_sorted() {
        let v = decode(b"d1:bi1e1:ai2ee").unwrap();
        assert_eq!(encode(&v), b"d1:ai2e1:bi1ee");
    }

    #[test]
    fn round_trips() {
        let v = Value::dict([
            ("announce", Value::str("wss://t.example")),
            ("n", Value::Int(-5)),
            (
                "list",
                Value::List(vec![Value::Bytes(vec![0, 255, b':']), Value::dict([])]),
            ),
            ("z", Value::Int(i64::MIN)),
        ]);
        let bytes = encode(&v);
        assert_eq!(decode(&bytes), Ok(v.clone()));
        assert_eq!(encode(&decode(&bytes).unwrap()), bytes);
        let (prefix, end) = decode_prefix(&[bytes.as_slice(), b"raw tail"].concat()).unwrap();
        assert_eq!((prefix, end), (v, bytes.len()));
    }

    #[test]
    fn dict_entry_span_returns_raw_bytes() {
        // The inner dict has unsorted keys, so re-encoding it would change its bytes.
        let input = b"d8:announce3:url4:infod4:name1:x1:ai1ee1:zi0ee";
        let span = dict_entry_span(input, b"info").unwrap().unwrap();
        assert_eq!(&input[span], b"d4:name1:x1:ai1ee");
        assert_eq!(dict_entry_span(input, b"missing"), Ok(None));
        assert_eq!(
            dict_entry_span(b"li1ee", b"info"),
            Err(BencodeError::NotADict)
        );
        assert!(matches!(
            dict_entry_span(b"d4:infoi1ee4:junk", b"info"),
            Err(BencodeError::TrailingData { .. })
        ));
        assert!(matches!(
            dict_entry_span(b"d4:infoi1e4:infoi2ee", b"info"),
            Err(BencodeError::DuplicateKey { .. })
        ));
    }

    #[test]
    fn random_and_mutated_inputs_never_panic() {
        let mut rng = Rng::new(0xbe_c0de);
        let seed_doc = encode(&Value::dict([
            ("a", Value::List(vec![Value::Int(12), Value::str("xyz")])),
            ("bb", Value::dict([("c", Value::Int(-3))])),
            ("pieces", Value::Bytes(vec![7; 40])),
        ]));
        let alphabet = b"ilde0123456789:-x";
        let mut decoded_ok = 0u32;
        for round in 0..20_000 {
            let mut buf = if round % 2 == 0 {
                seed_doc.clone()
            } else {
                let n = rng.index(64);
                (0..n)
                    .map(|_| alphabet[rng.index(alphabet.len())])
                    .collect()
            };
            for _ in 0..rng.below(4) {
                if buf.is_empty() {
                    break;
                }
                let i = rng.index(buf.len());
                match rng.below(3) {
                    0 => buf[i] = alphabet[rng.index(alphabet.len())],
                    1 => {
                        buf.remove(i);
                    }
                    _ => buf.truncate(i),
                }
            }
            if let Ok(v) = decode(&buf) {
                decoded_ok = decoded_ok.saturating_add(1);
                // Whatever decodes re-encodes to something that decodes to the same value.
                assert_eq!(decode(&encode(&v)), Ok(v));
            }
            let _ = dict_entry_span(&buf, b"a");
        }
        assert!(decoded_ok > 100, "the fuzz reached valid documents too");
    }
}
