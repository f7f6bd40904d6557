//! Hostile peers against one engine: blocks nobody asked for, corrupt blocks mixed with an
//! honest seed's, wrong metadata sizes and out-of-range metadata requests.
//!
//! [`Lab`] plays every remote peer by hand: it feeds the engine raw bytes per connection and
//! decodes what the engine sends to each, in virtual time.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::BTreeMap;
use std::time::Duration;

use super::tests::make_torrent;
use super::*;
use crate::bencode::{self, Value};
use crate::lengths::BLOCK_LEN;
use crate::wire::{
    Decoder, ExtendedHandshake, Frame, Handshake, Message, UtMetadata, WireLimits,
    METADATA_PIECE_LEN, UT_METADATA,
};

/// The `ut_metadata` id our remote peers ask to receive under.
const THEIR_UT: u8 = 3;

struct Lab {
    engine: Engine<MemoryStore>,
    now: Time,
    decoders: BTreeMap<u64, Decoder>,
    got: BTreeMap<u64, Vec<Message>>,
    closed: BTreeMap<u64, DisconnectReason>,
    events: Vec<Event>,
}

fn remote_id(k: u64) -> PeerId {
    let mut id = *b"-XX0001-remote000000";
    id[19] = b'a' + u8::try_from(k).unwrap();
    PeerId(id)
}

impl Lab {
    fn new(engine: Engine<MemoryStore>) -> Lab {
        Lab {
            engine,
            now: Time::ZERO,
            decoders: BTreeMap::new(),
            got: BTreeMap::new(),
            closed: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    fn leecher(m: &Metainfo) -> Lab {
        let config = Config::new(PeerId(*b"-TS0001-leecher00000"), 1);
        Lab::new(Engine::new(config, Torrent::Download(m.clone()), MemoryStore::new()).unwrap())
    }

    fn input(&mut self, input: Input<'_>) {
        self.engine.handle_input(self.now, input);
        loop {
            match self.engine.poll_output(self.now) {
                Output::Send { peer, data } => {
                    let d = self
                        .decoders
                        .entry(peer.0)
                        .or_insert_with(|| Decoder::new(WireLimits::default()));
                    d.push(&data);
                    while let Ok(Some(f)) = d.next() {
                        if let Frame::Message(m) = f {
                            self.got.entry(peer.0).or_default().push(m);
                        }
                    }
                }
                Output::Disconnect { peer, reason } => {
                    self.closed.insert(peer.0, reason);
                }
                Output::Event(e) => self.events.push(e),
                Output::Timeout(_) => break,
            }
        }
        assert_eq!(self.engine.check_invariants(), Ok(()));
    }

    /// Connects remote peer `k` and sends its handshake.
    fn connect(&mut self, k: u64, info_hash: InfoHash) {
        self.decoders.remove(&k);
        self.closed.remove(&k);
        self.input(Input::Connected { peer: PeerKey(k) });
        self.send(k, &Handshake::new(info_hash, remote_id(k)).encode());
    }

    fn send(&mut self, k: u64, bytes: &[u8]) {
        self.input(Input::Data {
            peer: PeerKey(k),
            data: bytes,
        });
    }

    fn msg(&mut self, k: u64, msg: &Message) {
        let mut b = Vec::new();
        msg.encode(&mut b);
        self.send(k, &b);
    }

    fn ext_handshake(&mut self, k: u64, metadata_size: Option<u64>) {
        let h = ExtendedHandshake {
            m: [(UT_METADATA.to_string(), THEIR_UT)].into(),
            metadata_size,
            ..ExtendedHandshake::default()
        };
        self.msg(
            k,
            &Message::Extended {
                id: 0,
                payload: h.encode(),
            },
        );
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.input(Input::Timeout);
    }

    fn take(&mut self, k: u64) -> Vec<Message> {
        self.got.remove(&k).unwrap_or_default()
    }

    /// Remote `k` answers every request the engine sent it since the last call, with the
    /// bytes `content` gives for each block.
    fn answer(&mut self, k: u64, content: impl Fn(u32, u32, u32) -> Vec<u8>) -> usize {
        let mut n = 0;
        for m in self.take(k) {
            if let Message::Request {
                index,
                begin,
                length,
            } = m
            {
                let data = content(index, begin, length);
                self.msg(k, &Message::Piece { index, begin, data });
                n += 1;
            }
        }
        n
    }

    fn banned(&self) -> Vec<PeerKey> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::PeerBanned { peer, .. } => Some(*peer),
                _ => None,
            })
            .collect()
    }
}

/// Metainfo of a torrent whose content nobody has (hashes of zeros): for a leecher that only
/// meets hostile peers.
fn unreachable_torrent(len: u64, piece_len: u32) -> Metainfo {
    let n = len.div_ceil(u64::from(piece_len));
    let info = Value::dict([
        ("name", Value::str("big.bin")),
        ("piece length", Value::Int(i64::from(piece_len))),
        (
            "pieces",
            Value::Bytes(vec![0; usize::try_from(n).unwrap() * 20]),
        ),
        ("length", Value::Int(i64::try_from(len).unwrap())),
    ]);
    Metainfo::from_info_bytes(bencode::encode(&info)).unwrap()
}

fn slice(data: &[u8], piece_len: u32, index: u32, begin: u32, length: u32) -> Vec<u8> {
    let start = index as usize * piece_len as usize + begin as usize;
    data[start..start + length as usize].to_vec()
}

#[test]
fn unrequested_blocks_are_dropped_without_allocating_and_the_sender_disconnected() {
    // 64 MiB in 1 MiB pieces; the peer never unchokes us, so we never ask it for anything.
    let m = unreachable_torrent(64 << 20, 1 << 20);
    let mut lab = Lab::leecher(&m);
    lab.connect(7, m.info_hash);
    lab.msg(7, &Message::Bitfield(Bitfield::full(64).as_wire().to_vec()));
    let mut sent = 0;
    for index in 0..64 {
        if lab.closed.contains_key(&7) {
            break;
        }
        lab.msg(
            7,
            &Message::Piece {
                index,
                begin: 0,
                data: vec![0xAB; BLOCK_LEN as usize],
            },
        );
        sent += 1;
        assert_eq!(lab.engine.piece_buffer_bytes(), 0);
    }
    assert_eq!(
        lab.closed.get(&7),
        Some(&DisconnectReason::UnrequestedBlock)
    );
    assert!(sent <= 9, "{sent} unrequested blocks before the disconnect");
    assert_eq!(lab.engine.stats().wasted, sent * u64::from(BLOCK_LEN));
}

#[test]
fn garbage_blocks_for_pieces_in_flight_cannot_get_the_honest_seed_banned() {
    // The review's attack: the honest seed is slow to answer, and meanwhile another peer sends
    // a garbage copy of the last block of every piece we asked for.
    let piece_len = 2 * BLOCK_LEN;
    let (m, data) = make_torrent(16 * piece_len as usize, piece_len, 21);
    let mut lab = Lab::leecher(&m);
    lab.connect(7, m.info_hash);
    lab.msg(7, &Message::Bitfield(Bitfield::full(16).as_wire().to_vec()));
    lab.msg(7, &Message::Unchoke);
    lab.connect(8, m.info_hash);
    lab.msg(8, &Message::Bitfield(Bitfield::full(16).as_wire().to_vec()));
    for _ in 0..100 {
        if lab.engine.is_complete() {
            break;
        }
        let asked: Vec<Message> = lab.got.get(&7).cloned().unwrap_or_default();
        for m in asked {
            if let Message::Request { index, .. } = m {
                if !lab.closed.contains_key(&8) {
                    lab.msg(
                        8,
                        &Message::Piece {
                            index,
                            begin: BLOCK_LEN,
                            data: vec![0; BLOCK_LEN as usize],
                        },
                    );
                }
            }
        }
        lab.answer(7, |i, b, l| slice(&data, piece_len, i, b, l));
        lab.advance(Duration::from_millis(50));
    }
    assert!(lab.engine.is_complete());
    assert_eq!(lab.engine.store().content().unwrap(), &data[..]);
    assert!(lab.banned().is_empty(), "banned {:?}", lab.banned());
    assert_eq!(
        lab.closed.get(&8),
        Some(&DisconnectReason::UnrequestedBlock)
    );
    assert!(!lab.closed.contains_key(&7));
    assert!(!lab
        .events
        .iter()
        .any(|e| matches!(e, Event::HashFailed { .. })));
}

/// A leecher beside an honest seed (7) and a liar (8) that answers requests but spoils blocks
/// 0 and 2 of every piece; both answer in the same rounds, so pieces mix their blocks.
fn liar_beside_an_honest_seed(ban_strikes: u32) -> Lab {
    let piece_len = 4 * BLOCK_LEN;
    let (m, data) = make_torrent(40 * piece_len as usize, piece_len, 22);
    let config = Config {
        ban_strikes,
        ..Config::new(PeerId(*b"-TS0001-leecher00000"), 1)
    };
    let engine = Engine::new(config, Torrent::Download(m.clone()), MemoryStore::new()).unwrap();
    let mut lab = Lab::new(engine);
    for k in [7, 8] {
        lab.connect(k, m.info_hash);
        // Short queues (`reqq` 2) make the two peers share pieces.
        let h = ExtendedHandshake {
            reqq: Some(2),
            ..ExtendedHandshake::default()
        };
        let payload = h.encode();
        lab.msg(k, &Message::Extended { id: 0, payload });
        lab.msg(k, &Message::Bitfield(Bitfield::full(40).as_wire().to_vec()));
        lab.msg(k, &Message::Unchoke);
    }
    let mut corrupted = 0;
    for _ in 0..2000 {
        if lab.engine.is_complete() {
            break;
        }
        lab.answer(7, |i, b, l| slice(&data, piece_len, i, b, l));
        lab.answer(8, |i, b, l| {
            let mut d = slice(&data, piece_len, i, b, l);
            if b % (2 * BLOCK_LEN) == 0 {
                d[100] ^= 0x5a;
            }
            d
        });
        corrupted += 1;
        lab.advance(Duration::from_millis(50));
    }
    assert!(corrupted > 0);
    assert!(lab.engine.is_complete());
    assert_eq!(lab.engine.store().content().unwrap(), &data[..]);
    lab
}

#[test]
fn a_peer_that_spoils_single_blocks_is_banned_and_the_honest_seed_is_not() {
    let lab = liar_beside_an_honest_seed(BAN_STRIKES);
    let failed = lab
        .events
        .iter()
        .filter(|e| matches!(e, Event::HashFailed { .. }))
        .count();
    assert!(failed >= 1, "the liar's blocks never made a piece fail");
    assert_eq!(lab.banned(), vec![PeerKey(8)]);
    assert_eq!(lab.closed.get(&8), Some(&DisconnectReason::Banned));
    assert!(!lab.closed.contains_key(&7));
}

#[test]
fn with_a_high_ban_threshold_nobody_is_banned_and_the_download_still_completes() {
    let lab = liar_beside_an_honest_seed(1000);
    assert!(lab.banned().is_empty());
    assert!(!lab.closed.contains_key(&7));
}

#[test]
fn a_banned_peer_id_cannot_come_back_on_a_new_connection() {
    let mut lab = liar_beside_an_honest_seed(BAN_STRIKES);
    let info_hash = lab.engine.info_hash();
    lab.input(Input::Connected { peer: PeerKey(9) });
    lab.send(9, &Handshake::new(info_hash, remote_id(8)).encode());
    assert_eq!(lab.closed.get(&9), Some(&DisconnectReason::Banned));
}

/// The info dict of a small torrent, and a magnet leecher for it.
fn magnet_lab() -> (Metainfo, Lab) {
    let (m, _) = make_torrent(40 * BLOCK_LEN as usize, BLOCK_LEN, 23);
    let config = Config::new(PeerId(*b"-TS0001-leecher00000"), 1);
    let engine = Engine::new(config, Torrent::Magnet(m.info_hash), MemoryStore::new()).unwrap();
    (m, Lab::new(engine))
}

/// Remote `k` answers every `ut_metadata` request with the right bytes.
fn serve_metadata(lab: &mut Lab, k: u64, info: &[u8]) -> usize {
    let mut n = 0;
    for msg in lab.take(k) {
        let Message::Extended { id, payload } = msg else {
            continue;
        };
        if id != THEIR_UT {
            continue;
        }
        if let Ok(Some(UtMetadata::Request { piece })) = UtMetadata::decode(&payload) {
            let start = piece as usize * METADATA_PIECE_LEN as usize;
            let end = (start + METADATA_PIECE_LEN as usize).min(info.len());
            let data = UtMetadata::Data {
                piece,
                total_size: info.len() as u64,
                data: info[start..end].to_vec(),
            };
            lab.msg(k, &data.to_message(OUR_UT));
            n += 1;
        }
    }
    n
}

/// The `ut_metadata` id the engine asks to receive under.
const OUR_UT: u8 = 1;

/// Peer 7 offers a wrong `metadata_size` (and leaves, if `leaves`), then peer 8 offers the right
/// one: peer 8 must be asked and the metadata must arrive. Returns the lab.
fn magnet_after_a_wrong_size(leaves: bool) -> Lab {
    let (m, mut lab) = magnet_lab();
    let h = m.info_hash;
    lab.connect(7, h);
    lab.ext_handshake(7, Some(12_345));
    if leaves {
        lab.input(Input::Disconnected { peer: PeerKey(7) });
    }
    lab.connect(8, h);
    lab.ext_handshake(8, Some(m.info_bytes.len() as u64));
    lab.advance(Duration::from_millis(100));
    assert!(
        serve_metadata(&mut lab, 8, &m.info_bytes) > 0,
        "peer 8 never asked"
    );
    assert!(lab.events.contains(&Event::Metadata));
    lab
}

#[test]
fn a_wrong_metadata_size_from_a_peer_that_left_does_not_wedge_the_magnet() {
    magnet_after_a_wrong_size(true);
}

#[test]
fn a_peer_with_a_wrong_metadata_size_that_stays_does_not_wedge_the_magnet() {
    let lab = magnet_after_a_wrong_size(false);
    assert!(!lab.closed.contains_key(&8));
}

#[test]
fn metadata_that_fails_the_info_hash_strikes_its_only_sender_and_an_honest_peer_gets_asked() {
    let (m, mut lab) = magnet_lab();
    let h = m.info_hash;
    let size = m.info_bytes.len() as u64;
    let mut forged = m.info_bytes.clone();
    forged[10] ^= 1;
    lab.connect(7, h);
    lab.ext_handshake(7, Some(size));
    assert!(serve_metadata(&mut lab, 7, &forged) > 0);
    assert_eq!(lab.closed.get(&7), Some(&DisconnectReason::BadMetadata));
    assert!(!lab.events.contains(&Event::Metadata));
    lab.connect(8, h);
    lab.ext_handshake(8, Some(size));
    assert!(serve_metadata(&mut lab, 8, &m.info_bytes) > 0);
    assert!(lab.events.contains(&Event::Metadata));
}

#[test]
fn a_metadata_request_whose_offset_overflows_32_bits_is_rejected() {
    let (m, data) = make_torrent(40 * BLOCK_LEN as usize, BLOCK_LEN, 24);
    let config = Config::new(PeerId(*b"-TS0001-seed00000000"), 1);
    let store = MemoryStore::with_content(data);
    let mut lab = Lab::new(Engine::new(config, Torrent::Seed(m.clone()), store).unwrap());
    lab.connect(7, m.info_hash);
    lab.ext_handshake(7, None);
    lab.take(7);
    // 262 144 * 16 KiB = 2^32: wraps to offset 0 in 32-bit arithmetic.
    for piece in [262_144, u32::MAX, 1] {
        let req = UtMetadata::Request { piece };
        lab.msg(7, &req.to_message(OUR_UT));
        let replies: Vec<UtMetadata> = lab
            .take(7)
            .into_iter()
            .filter_map(|msg| match msg {
                Message::Extended { id, payload } if id == THEIR_UT => {
                    UtMetadata::decode(&payload).ok().flatten()
                }
                _ => None,
            })
            .collect();
        assert_eq!(replies, vec![UtMetadata::Reject { piece }]);
    }
}

/// A seed whose info dict has 3 metadata pieces (about 40 KiB of piece hashes), which
/// pauses uploads at 1000 buffered bytes, connected to remote 7 whose transport holds
/// `buffered` bytes.
fn seed_with_a_small_send_buffer(buffered: u64) -> Lab {
    let (m, data) = make_torrent(2000 * BLOCK_LEN as usize, BLOCK_LEN, 25);
    assert!(m.info_bytes.len() > 2 * METADATA_PIECE_LEN as usize);
    let config = Config {
        max_send_buffer: 1000,
        ..Config::new(PeerId(*b"-TS0001-seed00000000"), 1)
    };
    let store = MemoryStore::with_content(data);
    let mut lab = Lab::new(Engine::new(config, Torrent::Seed(m.clone()), store).unwrap());
    lab.connect(7, m.info_hash);
    lab.ext_handshake(7, None);
    lab.input(Input::SendBuffer {
        peer: PeerKey(7),
        buffered,
    });
    lab.take(7);
    lab
}

#[test]
fn metadata_replies_wait_for_the_send_buffer() {
    let mut lab = seed_with_a_small_send_buffer(0);
    for piece in 0..3 {
        lab.msg(7, &UtMetadata::Request { piece }.to_message(OUR_UT));
    }
    let data_replies = |msgs: Vec<Message>| {
        msgs.into_iter()
            .filter(|msg| {
                matches!(msg, Message::Extended { id, payload }
                    if *id == THEIR_UT
                        && matches!(UtMetadata::decode(payload), Ok(Some(UtMetadata::Data { .. }))))
            })
            .count()
    };
    assert_eq!(data_replies(lab.take(7)), 1);
    for _ in 0..2 {
        lab.input(Input::SendBuffer {
            peer: PeerKey(7),
            buffered: 0,
        });
        assert_eq!(data_replies(lab.take(7)), 1);
    }
}

#[test]
fn metadata_requests_beyond_the_queue_are_dropped() {
    let mut lab = seed_with_a_small_send_buffer(100_000);
    for _ in 0..1000 {
        lab.msg(7, &UtMetadata::Request { piece: 0 }.to_message(OUR_UT));
    }
    let mut replies = 0;
    for _ in 0..20 {
        lab.input(Input::SendBuffer {
            peer: PeerKey(7),
            buffered: 0,
        });
        replies += lab.take(7).len();
    }
    assert!(replies <= metadata::MAX_METADATA_QUEUE, "{replies} replies");
}
