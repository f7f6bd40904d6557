//! One leecher engine, two honest seeds and one hostile peer whose every move comes from the
//! fuzz input: raw bytes, well-framed messages with arbitrary fields, answers to the leecher's
//! requests with right or spoiled blocks, metadata of any size, reconnects and clock jumps.
//!
//! After every input to the leecher: no panic, `check_invariants` holds (piece memory only for
//! pieces we requested, requests only inside the torrent), every request sent to the hostile
//! peer lies inside the torrent, and no honest seed is ever banned. At the end the hostile
//! peer goes quiet and the leecher must finish with the right bytes from the honest seeds.
//!
//! Shared by the fuzz target (fuzz/fuzz_targets/engine.rs) and the native replay of its corpus
//! (crates/core/tests/fuzz_corpus.rs).
// A test harness: its casts are of small constants and offsets inside the 150 KB torrent.
#![allow(clippy::cast_possible_truncation)]

use std::collections::BTreeMap;
use std::time::Duration;

use tabswarm_core::bencode::{self, Value};
use tabswarm_core::engine::{Config, Engine, Event, Input, Output, PeerKey, Torrent};
use tabswarm_core::ids::PeerId;
use tabswarm_core::metainfo::Metainfo;
use tabswarm_core::store::MemoryStore;
use tabswarm_core::time::Time;
use tabswarm_core::wire::{
    Decoder, ExtendedHandshake, Frame, Handshake, Message, UtMetadata, WireLimits, UT_METADATA,
};

const PIECE_LEN: u32 = 32 * 1024;
const LEN: usize = 4 * PIECE_LEN as usize + 20_000;
const HONEST: [u64; 2] = [1, 2];
/// The key every seed engine gives its one connection, to the leecher.
const UPSTREAM: PeerKey = PeerKey(0);

fn content() -> Vec<u8> {
    (0..LEN)
        .map(|i| (i.wrapping_mul(131) % 251) as u8)
        .collect()
}

fn torrent(data: &[u8]) -> Metainfo {
    let pieces: Vec<u8> = data
        .chunks(PIECE_LEN as usize)
        .flat_map(tabswarm_core::sha1)
        .collect();
    let info = Value::dict([
        ("name", Value::str("fuzz.bin")),
        ("piece length", Value::Int(i64::from(PIECE_LEN))),
        ("pieces", Value::Bytes(pieces)),
        ("length", Value::Int(LEN as i64)),
    ]);
    Metainfo::from_info_bytes(bencode::encode(&info)).unwrap()
}

fn id(tag: u8) -> PeerId {
    let mut id = *b"-FZ0001-000000000000";
    id[19] = tag;
    PeerId(id)
}

/// Reads the fuzz input as a script; past its end every read is zero.
struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn u8(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

struct World {
    now: Time,
    data: Vec<u8>,
    meta: Metainfo,
    leecher: Engine<MemoryStore>,
    leecher_due: Time,
    /// Honest seeds by the key the leecher knows them under.
    seeds: BTreeMap<u64, (Engine<MemoryStore>, Time)>,
    /// Bytes in flight on each honest link, delivered by `pump`.
    to_leecher: BTreeMap<u64, Vec<Vec<u8>>>,
    to_seed: BTreeMap<u64, Vec<Vec<u8>>>,
    /// The hostile peer's current key, and what the leecher sent it.
    hostile: Option<u64>,
    next_key: u64,
    hostile_decoder: Decoder,
    hostile_requests: Vec<(u32, u32, u32)>,
    leecher_ut: Option<u8>,
    /// Honest links that closed, to reopen on the next clock step.
    down: std::collections::BTreeSet<u64>,
}

impl World {
    fn new(magnet: bool) -> World {
        let data = content();
        let meta = torrent(&data);
        let torrent = if magnet {
            Torrent::Magnet(meta.info_hash)
        } else {
            Torrent::Download(meta.clone())
        };
        let leecher = Engine::new(Config::new(id(b'L'), 7), torrent, MemoryStore::new()).unwrap();
        let mut w = World {
            now: Time::ZERO,
            data,
            meta,
            leecher,
            leecher_due: Time::ZERO,
            seeds: BTreeMap::new(),
            to_leecher: BTreeMap::new(),
            to_seed: BTreeMap::new(),
            hostile: None,
            next_key: 10,
            hostile_decoder: Decoder::new(WireLimits::default()),
            hostile_requests: Vec::new(),
            leecher_ut: None,
            down: Default::default(),
        };
        for k in HONEST {
            let config = Config::new(id(b'0' + k as u8), k);
            let store = MemoryStore::with_content(w.data.clone());
            let seed = Engine::new(config, Torrent::Seed(w.meta.clone()), store).unwrap();
            w.seeds.insert(k, (seed, Time::ZERO));
        }
        for k in HONEST {
            w.seed_input(k, Input::Connected { peer: UPSTREAM });
            w.leecher_input(Input::Connected { peer: PeerKey(k) });
        }
        w
    }

    fn check(&mut self) {
        if std::env::var_os("FUZZ_TRACE").is_some() {
            let map: Vec<_> = self
                .leecher
                .piece_map()
                .iter()
                .map(|(s, _)| format!("{s:?}"))
                .collect();
            eprintln!(
                "  pieces {map:?}, buffers {} bytes",
                self.leecher.piece_buffer_bytes()
            );
        }
        if let Err(e) = self.leecher.check_invariants() {
            panic!("invariant broken: {e}");
        }
    }

    fn leecher_input(&mut self, input: Input<'_>) {
        self.leecher.handle_input(self.now, input);
        self.drain_leecher();
        self.check();
    }

    fn drain_leecher(&mut self) {
        loop {
            match self.leecher.poll_output(self.now) {
                Output::Send { peer, data } => {
                    if HONEST.contains(&peer.0) {
                        self.to_seed.entry(peer.0).or_default().push(data);
                    } else if Some(peer.0) == self.hostile {
                        self.hostile_receives(&data);
                    }
                }
                Output::Disconnect { peer, reason } => {
                    if std::env::var_os("FUZZ_TRACE").is_some() {
                        eprintln!("{:?} leecher drops {peer:?}: {reason:?}", self.now);
                    }
                    if HONEST.contains(&peer.0) {
                        // A seed can time out (say, the script stalled the link); it comes
                        // back on the next clock step, as the tracker would bring it.
                        self.link_down(peer.0);
                        self.seed_input(peer.0, Input::Disconnected { peer: UPSTREAM });
                    } else if Some(peer.0) == self.hostile {
                        self.hostile = None;
                    }
                }
                Output::Event(Event::PeerBanned { peer_id, .. }) => {
                    assert!(
                        !HONEST.iter().any(|&k| id(b'0' + k as u8) == peer_id),
                        "an honest seed was banned"
                    );
                }
                Output::Event(_) => {}
                Output::Timeout(at) => {
                    self.leecher_due = at;
                    break;
                }
            }
        }
    }

    fn hostile_receives(&mut self, data: &[u8]) {
        self.hostile_decoder.push(data);
        while let Ok(Some(frame)) = self.hostile_decoder.next() {
            match frame {
                Frame::Message(Message::Request {
                    index,
                    begin,
                    length,
                }) => {
                    let lengths = self.meta.info.lengths();
                    assert!(
                        lengths.validate_block(index, begin, length).is_some(),
                        "request outside the torrent: {index} {begin} {length}"
                    );
                    if self.hostile_requests.len() < 4096 {
                        self.hostile_requests.push((index, begin, length));
                    }
                }
                Frame::Message(Message::Extended { id: 0, payload }) => {
                    if let Ok(h) = ExtendedHandshake::decode(&payload) {
                        self.leecher_ut = h.extension_id(UT_METADATA);
                    }
                }
                _ => {}
            }
        }
    }

    fn link_down(&mut self, k: u64) {
        self.to_seed.remove(&k);
        self.to_leecher.remove(&k);
        self.down.insert(k);
    }

    fn reconnect(&mut self) {
        for k in std::mem::take(&mut self.down) {
            self.seed_input(k, Input::Connected { peer: UPSTREAM });
            self.leecher_input(Input::Connected { peer: PeerKey(k) });
        }
    }

    fn seed_input(&mut self, k: u64, input: Input<'_>) {
        let Some((seed, due)) = self.seeds.get_mut(&k) else {
            return;
        };
        seed.handle_input(self.now, input);
        loop {
            match seed.poll_output(self.now) {
                Output::Send { data, .. } => self.to_leecher.entry(k).or_default().push(data),
                Output::Disconnect { reason, .. } => {
                    if std::env::var_os("FUZZ_TRACE").is_some() {
                        eprintln!("{:?} seed {k} drops the leecher: {reason:?}", self.now);
                    }
                    self.link_down(k);
                    self.leecher_input(Input::Disconnected { peer: PeerKey(k) });
                    return;
                }
                Output::Event(_) => {}
                Output::Timeout(at) => {
                    *due = at;
                    break;
                }
            }
        }
    }

    /// Delivers what is in flight on the honest links until they are quiet (bounded).
    fn pump(&mut self) {
        for _ in 0..64 {
            let mut moved = false;
            for k in HONEST {
                for data in self.to_seed.remove(&k).unwrap_or_default() {
                    moved = true;
                    self.seed_input(
                        k,
                        Input::Data {
                            peer: UPSTREAM,
                            data: &data,
                        },
                    );
                }
                for data in self.to_leecher.remove(&k).unwrap_or_default() {
                    moved = true;
                    self.leecher_input(Input::Data {
                        peer: PeerKey(k),
                        data: &data,
                    });
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Delivers what is in flight, then moves the clock and fires what is due.
    fn advance(&mut self, by: Duration) {
        self.pump();
        self.reconnect();
        self.now += by;
        let due: Vec<u64> = self
            .seeds
            .iter()
            .filter(|(_, (_, at))| *at <= self.now)
            .map(|(&k, _)| k)
            .collect();
        for k in due {
            self.seed_input(k, Input::Timeout);
        }
        if self.leecher_due <= self.now {
            self.leecher_input(Input::Timeout);
        }
        self.pump();
    }

    fn hostile_connect(&mut self, valid_handshake: bool, s: &mut Script) {
        if let Some(k) = self.hostile.take() {
            self.leecher_input(Input::Disconnected { peer: PeerKey(k) });
        }
        let k = self.next_key;
        self.next_key += 1;
        self.hostile = Some(k);
        self.hostile_decoder = Decoder::new(WireLimits::default());
        self.hostile_requests.clear();
        self.leecher_input(Input::Connected { peer: PeerKey(k) });
        if valid_handshake {
            let mut hs = Handshake::new(self.meta.info_hash, id(b'H'));
            hs.reserved[5] |= 0x10;
            hs.reserved[7] |= 0x04;
            self.hostile_send(&hs.encode());
            let ext = ExtendedHandshake {
                m: [(UT_METADATA.to_string(), 3)].into(),
                metadata_size: Some(if s.u8() & 1 == 0 {
                    self.meta.info_bytes.len() as u64
                } else {
                    u64::from(s.u32() % 20_000_000)
                }),
                reqq: Some(250),
                v: Some("fuzz".into()),
                p: None,
            };
            self.hostile_msg(&Message::Extended {
                id: 0,
                payload: ext.encode(),
            });
        }
    }

    fn hostile_send(&mut self, data: &[u8]) {
        if let Some(k) = self.hostile {
            self.leecher_input(Input::Data {
                peer: PeerKey(k),
                data,
            });
        }
    }

    fn hostile_msg(&mut self, m: &Message) {
        let mut out = Vec::new();
        m.encode(&mut out);
        self.hostile_send(&out);
    }

    fn step(&mut self, s: &mut Script) {
        let op = s.u8();
        if std::env::var_os("FUZZ_TRACE").is_some() {
            eprintln!("{:?} op {}", self.now, op % 16);
        }
        match op % 16 {
            0 => {
                let n = usize::from(s.u8());
                let bytes = s.bytes(n).to_vec();
                self.hostile_send(&bytes);
            }
            1 => {
                // A block nobody asked for, or a piece message with odd fields.
                let index = u32::from(s.u8() % 8);
                let begin = u32::from(s.u16()) * if s.u8() & 1 == 0 { 1 } else { 16 };
                let len = match s.u8() % 4 {
                    0 => 16384,
                    1 => usize::from(s.u16() % 16385),
                    2 => 0,
                    _ => 1,
                };
                let fill = s.u8();
                self.hostile_msg(&Message::Piece {
                    index,
                    begin,
                    data: vec![fill; len],
                });
            }
            2 => {
                // Answer one of the leecher's requests: right bytes, or spoiled ones.
                if self.hostile_requests.is_empty() {
                    return;
                }
                let i = usize::from(s.u16()) % self.hostile_requests.len();
                let (index, begin, length) = self.hostile_requests.swap_remove(i);
                if std::env::var_os("FUZZ_TRACE").is_some() {
                    eprintln!(
                        "answer {index} {begin} {length} of {:?}",
                        self.hostile_requests
                    );
                }
                let at = u64::from(index) * u64::from(PIECE_LEN) + u64::from(begin);
                let at = at as usize;
                let mut block = self.data[at..at + length as usize].to_vec();
                if s.u8() & 1 == 1 {
                    let j = usize::from(s.u16()) % block.len();
                    block[j] ^= 0x5a;
                }
                self.hostile_msg(&Message::Piece {
                    index,
                    begin,
                    data: block,
                });
            }
            3 => {
                let index = s.u32() % 16;
                let begin = s.u32() % (2 * PIECE_LEN);
                let length = match s.u8() % 3 {
                    0 => 16384,
                    1 => s.u32(),
                    _ => u32::from(s.u16()),
                };
                let m = if s.u8() & 1 == 0 {
                    Message::Request {
                        index,
                        begin,
                        length,
                    }
                } else {
                    Message::Cancel {
                        index,
                        begin,
                        length,
                    }
                };
                self.hostile_msg(&m);
            }
            4 => {
                let m = match s.u8() % 6 {
                    0 => Message::Bitfield(vec![0xff; usize::from(s.u8() % 3)]),
                    1 => Message::Have { index: s.u32() % 8 },
                    2 => Message::Unchoke,
                    3 => Message::Choke,
                    4 => Message::Interested,
                    _ => Message::NotInterested,
                };
                self.hostile_msg(&m);
            }
            5 => {
                // ut_metadata under the id the leecher asked for (or a wrong one).
                let ext_id = if s.u8() & 3 == 0 {
                    s.u8()
                } else {
                    self.leecher_ut.unwrap_or(1)
                };
                let info = self.meta.info_bytes.clone();
                let m = match s.u8() % 4 {
                    0 => UtMetadata::Request {
                        piece: u32::from(s.u16()),
                    },
                    1 => UtMetadata::Reject {
                        piece: u32::from(s.u8()),
                    },
                    2 => {
                        let mut data = info.clone();
                        if s.u8() & 1 == 1 && !data.is_empty() {
                            let j = usize::from(s.u16()) % data.len();
                            data[j] ^= 1;
                        }
                        UtMetadata::Data {
                            piece: 0,
                            total_size: info.len() as u64,
                            data,
                        }
                    }
                    _ => {
                        let n = usize::from(s.u16() % 16385);
                        UtMetadata::Data {
                            piece: u32::from(s.u8()),
                            total_size: u64::from(s.u32()),
                            data: vec![s.u8(); n],
                        }
                    }
                };
                self.hostile_msg(&m.to_message(ext_id));
            }
            6 => {
                let handshake = s.u8() & 1 == 0;
                self.hostile_connect(handshake, s);
            }
            7 => {
                if let Some(k) = self.hostile.take() {
                    self.leecher_input(Input::Disconnected { peer: PeerKey(k) });
                }
            }
            8 => {
                let ms = u64::from(s.u16()) * 10;
                self.advance(Duration::from_millis(ms));
            }
            9 => {
                let buffered = u64::from(s.u32());
                let peer = if s.u8() & 1 == 0 {
                    self.hostile.unwrap_or(1)
                } else {
                    1
                };
                self.leecher_input(Input::SendBuffer {
                    peer: PeerKey(peer),
                    buffered,
                });
            }
            10 => self.leecher_input(Input::StoreReady),
            _ => self.pump(),
        }
    }
}

/// Plays one script; panics when a rule is broken.
pub(crate) fn run(input: &[u8]) {
    let mut s = Script(input);
    let flags = s.u8();
    let mut w = World::new(flags & 1 == 1);
    if flags & 2 == 0 {
        w.hostile_connect(flags & 4 == 0, &mut s);
    }
    let mut steps = 0;
    while !s.done() && steps < 2000 {
        w.step(&mut s);
        steps += 1;
    }
    // The hostile peer goes quiet (but may stay connected); the honest seeds must finish the
    // download within a few virtual minutes.
    for _ in 0..600 {
        if w.leecher.is_complete() {
            break;
        }
        w.advance(Duration::from_secs(1));
    }
    assert!(
        w.leecher.is_complete(),
        "no progress with two honest seeds: have {} of {} pieces, {} peers",
        w.leecher.have().iter_ones().count(),
        w.meta.info.pieces().len(),
        w.leecher.num_peers()
    );
    assert_eq!(w.leecher.store().content(), Some(&w.data[..]));
}
