//! Engine scenarios over an in-memory network with virtual time.
//!
//! [`Net`] connects engines pairwise (at node `a`, the connection to node `b` is
//! `PeerKey(b)`), delivers every `Send` after a fixed latency and fires timeouts, all in
//! virtual time, so each scenario is deterministic.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::*;
use crate::bencode::{self, Value};
use crate::lengths::BLOCK_LEN;
use crate::store::ReadStatus;
use crate::wire::{Decoder, ExtendedHandshake, Frame, Handshake, Message, WireLimits};

pub(super) fn make_torrent(len: usize, piece_len: u32, seed: u64) -> (Metainfo, Vec<u8>) {
    let mut data = vec![0u8; len];
    Rng::new(seed).fill(&mut data);
    let pieces: Vec<u8> = data
        .chunks(piece_len as usize)
        .flat_map(crate::sha1)
        .collect();
    let info = Value::dict([
        ("name", Value::str("test.bin")),
        ("piece length", Value::Int(i64::from(piece_len))),
        ("pieces", Value::Bytes(pieces)),
        ("length", Value::Int(i64::try_from(len).unwrap())),
    ]);
    let m = Metainfo::from_info_bytes(bencode::encode(&info)).unwrap();
    (m, data)
}

fn peer_id(i: usize) -> PeerId {
    let mut id = *b"-TS0001-000000000000";
    id[19] = b'a' + u8::try_from(i).unwrap();
    PeerId(id)
}

fn config(i: usize) -> Config {
    Config {
        trace: true,
        ..Config::new(peer_id(i), 1000 + i as u64)
    }
}

struct Node<S: PieceStore> {
    engine: Engine<S>,
    events: Vec<Event>,
    disconnects: Vec<(PeerKey, DisconnectReason)>,
    deadline: Time,
}

struct Net<S: PieceStore> {
    nodes: Vec<Node<S>>,
    now: Time,
    latency: Duration,
    /// (arrival, from, to, bytes) in send order.
    wire: VecDeque<(Time, usize, usize, Vec<u8>)>,
    links: BTreeMap<(usize, usize), bool>,
}

impl<S: PieceStore> Net<S> {
    fn new(engines: Vec<Engine<S>>) -> Net<S> {
        Net {
            nodes: engines
                .into_iter()
                .map(|engine| Node {
                    engine,
                    events: Vec::new(),
                    disconnects: Vec::new(),
                    deadline: Time::ZERO,
                })
                .collect(),
            now: Time::ZERO,
            latency: Duration::from_millis(20),
            wire: VecDeque::new(),
            links: BTreeMap::new(),
        }
    }

    fn connect(&mut self, a: usize, b: usize) {
        self.links.insert((a, b), true);
        self.links.insert((b, a), true);
        self.input(a, Input::Connected { peer: key(b) });
        self.input(b, Input::Connected { peer: key(a) });
    }

    fn input(&mut self, i: usize, input: Input<'_>) {
        self.nodes[i].engine.handle_input(self.now, input);
        self.drain(i);
    }

    fn drain(&mut self, i: usize) {
        loop {
            match self.nodes[i].engine.poll_output(self.now) {
                Output::Send { peer, data } => {
                    let to = usize::try_from(peer.0).unwrap();
                    if self.links.get(&(i, to)) == Some(&true) {
                        self.wire.push_back((self.now + self.latency, i, to, data));
                    }
                }
                Output::Disconnect { peer, reason } => {
                    let other = usize::try_from(peer.0).unwrap();
                    self.nodes[i].disconnects.push((peer, reason));
                    self.links.insert((i, other), false);
                    if self.links.insert((other, i), false) == Some(true) {
                        self.input(other, Input::Disconnected { peer: key(i) });
                    }
                }
                Output::Event(e) => self.nodes[i].events.push(e),
                Output::Timeout(t) => {
                    self.nodes[i].deadline = t;
                    return;
                }
            }
        }
    }

    /// Runs until `until` (virtual) or until `stop` holds.
    fn run(&mut self, until: Time, stop: impl Fn(&Net<S>) -> bool) {
        while self.now < until && !stop(self) {
            let next_msg = self.wire.front().map(|w| w.0);
            let next_timer = self.nodes.iter().map(|n| n.deadline).min();
            let next = [next_msg, next_timer].into_iter().flatten().min();
            let Some(next) = next else { return };
            self.now = self.now.max(next.min(until));
            while let Some(&(t, _, _, _)) = self.wire.front() {
                if t > self.now {
                    break;
                }
                let (_, from, to, data) = self.wire.pop_front().unwrap();
                if self.links.get(&(to, from)) == Some(&true) {
                    self.input(
                        to,
                        Input::Data {
                            peer: key(from),
                            data: &data,
                        },
                    );
                    // The transport sent it: report an empty buffer to the sender.
                    if self.links.get(&(from, to)) == Some(&true) {
                        self.input(
                            from,
                            Input::SendBuffer {
                                peer: key(to),
                                buffered: 0,
                            },
                        );
                    }
                }
            }
            for i in 0..self.nodes.len() {
                if self.nodes[i].deadline <= self.now {
                    self.input(i, Input::Timeout);
                }
            }
        }
    }
}

fn key(i: usize) -> PeerKey {
    PeerKey(i as u64)
}

fn mem_seed(m: &Metainfo, data: &[u8], i: usize) -> Engine<MemoryStore> {
    let store = MemoryStore::with_content(data.to_vec());
    Engine::new(config(i), Torrent::Seed(m.clone()), store).unwrap()
}

/// A seed (node 0) in initial-seeding mode that sends 2 pieces of 16 KiB a second.
fn super_seed(m: &Metainfo, data: &[u8]) -> Engine<MemoryStore> {
    let config = Config {
        super_seeding: true,
        ..config(0)
    };
    let store = MemoryStore::with_content(data.to_vec());
    let mut seed = Engine::new(config, Torrent::Seed(m.clone()), store).unwrap();
    seed.set_limits(Some(32_768), None);
    seed
}

fn mem_leech(m: &Metainfo, i: usize) -> Engine<MemoryStore> {
    Engine::new(config(i), Torrent::Download(m.clone()), MemoryStore::new()).unwrap()
}

fn all_done(net: &Net<MemoryStore>) -> bool {
    net.nodes.iter().all(|n| n.engine.is_complete())
}

#[test]
fn seed_to_one_leecher_transfers_every_byte() {
    // 10 pieces of 64 KiB and a short last piece of 1000 bytes.
    let (m, data) = make_torrent(10 * 65_536 + 1000, 65_536, 1);
    let mut net = Net::new(vec![mem_seed(&m, &data, 0), mem_leech(&m, 1)]);
    net.connect(0, 1);
    net.run(Time::from_millis(60_000), all_done);
    let leech = &net.nodes[1];
    assert!(leech.engine.is_complete(), "{:?}", leech.engine.stats());
    assert_eq!(leech.engine.store().content().unwrap(), &data[..]);
    let verified = leech
        .events
        .iter()
        .filter(|e| matches!(e, Event::PieceVerified { .. }))
        .count();
    assert_eq!(verified, 11);
    assert!(leech.events.contains(&Event::Done));
    assert!(leech.events.iter().any(|e| matches!(
        e,
        Event::PeerHandshake { client: Some(c), .. } if c.starts_with("tabswarm")
    )));
    let s = leech.engine.stats();
    assert_eq!(s.downloaded, data.len() as u64);
    assert_eq!(s.progress(), 1.0);
    assert!(s.received > s.downloaded);
    assert_eq!(s.wasted, 0);
    assert_eq!(net.nodes[0].engine.stats().uploaded, data.len() as u64);
    assert!(net.nodes.iter().all(|n| n.disconnects.is_empty()));
    // After the download the leecher is not interested any more.
    assert!(!leech.engine.peer_stats()[0].am_interested);
}

#[test]
fn bytes_left_is_the_total_minus_the_verified_pieces() {
    // 3 pieces of 32 KiB and a short last piece: the count must not assume full pieces.
    let (m, data) = make_torrent(3 * 32_768 + 1000, 32_768, 9);
    let total = data.len() as u64;
    let mut net = Net::new(vec![mem_seed(&m, &data, 0), mem_leech(&m, 1)]);
    assert_eq!(net.nodes[0].engine.bytes_left(), Some(0));
    assert_eq!(net.nodes[1].engine.bytes_left(), Some(total));
    net.connect(0, 1);
    let lengths = m.info.lengths();
    let seen = std::cell::Cell::new(0u32);
    net.run(Time::from_millis(60_000), |net| {
        let e = &net.nodes[1].engine;
        let have: u64 = lengths
            .iter_pieces()
            .filter(|p| e.have().get(p.get()))
            .map(|p| u64::from(lengths.piece_len(p)))
            .sum();
        assert_eq!(e.bytes_left(), Some(total - have));
        seen.set(seen.get().max(e.have().count_ones()));
        e.is_complete()
    });
    assert_eq!(seen.get(), 4);
    assert_eq!(net.nodes[1].engine.bytes_left(), Some(0));
    let magnet = Engine::new(config(2), Torrent::Magnet(m.info_hash), MemoryStore::new()).unwrap();
    assert_eq!(magnet.bytes_left(), None);
}

#[test]
fn magnet_fetches_metadata_then_content() {
    let (m, data) = make_torrent(300_000, 32_768, 2);
    let magnet = Engine::new(config(1), Torrent::Magnet(m.info_hash), MemoryStore::new()).unwrap();
    let mut net = Net::new(vec![mem_seed(&m, &data, 0), magnet]);
    net.connect(0, 1);
    net.run(Time::from_millis(60_000), all_done);
    let leech = &net.nodes[1];
    assert_eq!(
        leech.events.first(),
        Some(&Event::PeerHandshake {
            peer: key(0),
            peer_id: peer_id(0),
            client: Some(Config::new(PeerId([0; 20]), 0).client),
        })
    );
    assert!(leech.events.contains(&Event::Metadata));
    assert_eq!(leech.engine.metainfo().unwrap().info_hash, m.info_hash);
    assert_eq!(leech.engine.store().content().unwrap(), &data[..]);
}

#[test]
fn magnet_peer_learns_metadata_from_a_peer_that_got_it_later() {
    // 1 and 2 both start from the magnet and meet first; only 1 ever meets the seed. 2 asks 1,
    // is rejected, and must still get the metadata once 1 has it (from 1's new handshake).
    let (m, data) = make_torrent(200_000, 16_384, 4);
    let magnet =
        |i| Engine::new(config(i), Torrent::Magnet(m.info_hash), MemoryStore::new()).unwrap();
    let mut net = Net::new(vec![mem_seed(&m, &data, 0), magnet(1), magnet(2)]);
    net.connect(1, 2);
    net.run(Time::from_millis(2_000), |_| false);
    assert!(!net.nodes[2].events.contains(&Event::Metadata));
    net.connect(0, 1);
    net.run(Time::from_millis(60_000), all_done);
    let late = &net.nodes[2];
    assert!(late.events.contains(&Event::Metadata), "{:?}", late.events);
    assert_eq!(late.engine.store().content().unwrap(), &data[..]);
    assert!(net.nodes.iter().all(|n| n.disconnects.is_empty()));
}

#[test]
fn initial_seeding_shows_more_only_once_reveals_spread() {
    // 200 pieces, a seed in initial-seeding mode sending 2 pieces a second. Peer 1 never
    // uploads (upload limit 0) and reaches only the seed; peers 2 and 3 trade with each
    // other. Peers 2 and 3 are shown new pieces as theirs spread; peer 1 gets its quota three
    // times over (the slack) and then nothing more, because none of its pieces is ever seen
    // at another peer (strict BEP 16).
    let (m, data) = make_torrent(200 * 16_384, 16_384, 5);
    let seed = super_seed(&m, &data);
    let mut net = Net::new(vec![
        seed,
        mem_leech(&m, 1),
        mem_leech(&m, 2),
        mem_leech(&m, 3),
    ]);
    net.nodes[1].engine.set_limits(Some(0), None);
    net.connect(0, 1);
    net.connect(0, 2);
    net.connect(0, 3);
    net.connect(2, 3);
    net.run(Time::from_millis(20_000), |_| false);
    let free_rider = net.nodes[1].engine.have().count_ones();
    let honest = net.nodes[2].engine.have().count_ones();
    // 12 and 29 measured; without the strict rule the free rider, whose pipeline to the seed
    // is always full, takes 40 of the 42 pieces the seed sends in 20 s.
    assert!(
        (1..=16).contains(&free_rider) && honest >= 22,
        "free rider {free_rider} pieces, honest peer {honest}"
    );
}

#[test]
fn initial_seeding_serves_a_lone_leecher_at_full_speed() {
    // Alone with the seed, a leecher's pieces can never spread: holding its quota back would
    // only idle the seed. 40 pieces at 2 a second take about 20 s.
    let (m, data) = make_torrent(40 * 16_384, 16_384, 5);
    let seed = super_seed(&m, &data);
    let mut net = Net::new(vec![seed, mem_leech(&m, 1)]);
    net.connect(0, 1);
    net.run(Time::from_millis(60_000), all_done);
    assert!(all_done(&net));
    let took = net.now.as_secs_f64();
    assert!(took < 23.0, "took {took:.1} s");
    assert_eq!(net.nodes[1].engine.store().content().unwrap(), &data[..]);
}

#[test]
fn swarm_of_five_completes_and_leechers_trade() {
    let (m, data) = make_torrent(40 * 16_384, 16_384, 3);
    let mut engines = vec![mem_seed(&m, &data, 0)];
    for i in 1..5 {
        engines.push(mem_leech(&m, i));
    }
    let mut net = Net::new(engines);
    for a in 0..5 {
        for b in a + 1..5 {
            net.connect(a, b);
        }
    }
    // The seed uploads slowly, so leechers must trade among themselves.
    net.nodes[0].engine.set_limits(Some(64 * 1024), None);
    net.run(Time::from_millis(120_000), all_done);
    assert!(all_done(&net));
    for n in &net.nodes[1..] {
        assert_eq!(n.engine.store().content().unwrap(), &data[..]);
    }
    let from_leechers: u64 = net.nodes[1..]
        .iter()
        .map(|n| n.engine.stats().uploaded)
        .sum();
    assert!(
        from_leechers > data.len() as u64,
        "leechers uploaded only {from_leechers}"
    );
}

#[test]
fn same_seed_same_trace() {
    let run = || {
        let (m, data) = make_torrent(30 * 16_384, 32_768, 4);
        let mut engines = vec![mem_seed(&m, &data, 0)];
        for i in 1..4 {
            engines.push(mem_leech(&m, i));
        }
        let mut net = Net::new(engines);
        for a in 0..4 {
            for b in a + 1..4 {
                net.connect(a, b);
            }
        }
        net.run(Time::from_millis(60_000), all_done);
        net.nodes
            .iter_mut()
            .map(|n| n.engine.take_trace())
            .collect::<Vec<_>>()
    };
    let a = run();
    assert!(a.iter().map(Vec::len).sum::<usize>() > 50);
    assert_eq!(a, run());
}

/// A raw peer: feeds hand-made bytes to one engine and decodes what it answers.
struct Raw {
    engine: Engine<MemoryStore>,
    now: Time,
    decoder: Decoder,
    got: Vec<Message>,
    disconnected: Option<DisconnectReason>,
    events: Vec<Event>,
}

impl Raw {
    fn new(engine: Engine<MemoryStore>) -> Raw {
        let mut r = Raw {
            engine,
            now: Time::ZERO,
            decoder: Decoder::new(WireLimits::default()),
            got: Vec::new(),
            disconnected: None,
            events: Vec::new(),
        };
        r.input(Input::Connected { peer: PeerKey(7) });
        r
    }

    fn input(&mut self, input: Input<'_>) {
        self.engine.handle_input(self.now, input);
        self.drain();
    }

    fn drain(&mut self) {
        loop {
            match self.engine.poll_output(self.now) {
                Output::Send { data, .. } => {
                    self.decoder.push(&data);
                    while let Ok(Some(f)) = self.decoder.next() {
                        if let Frame::Message(m) = f {
                            self.got.push(m);
                        }
                    }
                }
                Output::Disconnect { reason, .. } => self.disconnected = Some(reason),
                Output::Event(e) => self.events.push(e),
                Output::Timeout(_) => return,
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.input(Input::Data {
            peer: PeerKey(7),
            data: bytes,
        });
    }

    fn send_msg(&mut self, msg: &Message) {
        let mut b = Vec::new();
        msg.encode(&mut b);
        self.send(&b);
    }

    fn handshake(&mut self, info_hash: InfoHash) {
        self.send(&Handshake::new(info_hash, PeerId(*b"-XX0001-rawpeer00000")).encode());
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.input(Input::Timeout);
    }

    fn take(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.got)
    }
}

#[test]
fn handshake_then_extended_handshake_then_bitfield() {
    let (m, data) = make_torrent(5 * 16_384, 16_384, 5);
    let mut r = Raw::new(mem_seed(&m, &data, 0));
    r.handshake(m.info_hash);
    let got = r.take();
    assert_eq!(got.len(), 2, "{got:?}");
    let Message::Extended { id: 0, payload } = &got[0] else {
        panic!("{got:?}")
    };
    let ext = ExtendedHandshake::decode(payload).unwrap();
    assert_eq!(ext.extension_id("ut_metadata"), Some(1));
    assert_eq!(ext.metadata_size, Some(m.info_bytes.len() as u64));
    assert_eq!(ext.reqq, Some(250));
    assert!(ext.v.unwrap().starts_with("tabswarm "));
    assert_eq!(got[1], Message::Bitfield(vec![0b1111_1000]));
    // A leecher with nothing sends no bitfield.
    let mut r = Raw::new(mem_leech(&m, 1));
    r.handshake(m.info_hash);
    let got = r.take();
    assert_eq!(got.len(), 1);
    assert!(matches!(got[0], Message::Extended { id: 0, .. }));
}

/// Bytes to send and a check of the disconnect reason they must cause.
type Case = (Vec<u8>, fn(&DisconnectReason) -> bool);

#[test]
fn malformed_input_disconnects_without_panicking() {
    let (m, data) = make_torrent(5 * 16_384, 16_384, 6);
    let cases: Vec<Case> = vec![
        (
            Handshake::new(InfoHash([9; 20]), PeerId([1; 20]))
                .encode()
                .to_vec(),
            |r| *r == DisconnectReason::InfoHashMismatch,
        ),
        (
            Handshake::new(m.info_hash, peer_id(0)).encode().to_vec(),
            |r| *r == DisconnectReason::OwnPeerId,
        ),
        (b"\x13BitTorrent protocoX".to_vec(), |r| {
            matches!(r, DisconnectReason::Protocol(_))
        }),
    ];
    for (bytes, check) in cases {
        let mut r = Raw::new(mem_seed(&m, &data, 0));
        r.send(&bytes);
        let reason = r.disconnected.clone().expect("disconnected");
        assert!(check(&reason), "{reason:?}");
    }
    let after_handshake: Vec<Case> = vec![
        // A piece message claiming 1 MiB.
        ([&(1u32 << 20).to_be_bytes()[..], &[7]].concat(), |r| {
            matches!(
                r,
                DisconnectReason::Protocol(WireError::MessageTooLong { .. })
            )
        }),
        // A bitfield with a spare bit set (5 pieces: low 3 bits are spare).
        (vec![0, 0, 0, 2, 5, 0b1111_1001], |r| {
            matches!(r, DisconnectReason::BadBitfield(_))
        }),
        // A have for piece 5 of 5.
        (vec![0, 0, 0, 5, 4, 0, 0, 0, 5], |r| {
            *r == DisconnectReason::BadHave { index: 5 }
        }),
        // A request past the end of the torrent and one longer than 16 KiB.
        (
            {
                let mut b = Vec::new();
                Message::Request {
                    index: 4,
                    begin: 16_000,
                    length: 1000,
                }
                .encode(&mut b);
                b
            },
            |r| matches!(r, DisconnectReason::BadBlock { .. }),
        ),
        (
            {
                let mut b = Vec::new();
                Message::Request {
                    index: 0,
                    begin: 0,
                    length: BLOCK_LEN + 1,
                }
                .encode(&mut b);
                b
            },
            |r| matches!(r, DisconnectReason::BadBlock { .. }),
        ),
        // Fast-extension message without negotiation.
        (vec![0, 0, 0, 1, 14], |r| {
            matches!(
                r,
                DisconnectReason::Protocol(WireError::FastNotNegotiated { .. })
            )
        }),
        // A ut_metadata message that is not bencode.
        (vec![0, 0, 0, 4, 20, 1, b'x', b'y'], |r| {
            *r == DisconnectReason::BadMetadata
        }),
    ];
    for (bytes, check) in after_handshake {
        let mut r = Raw::new(mem_seed(&m, &data, 0));
        r.handshake(m.info_hash);
        assert!(r.disconnected.is_none());
        r.send(&bytes);
        let reason = r.disconnected.clone().expect("disconnected");
        assert!(check(&reason), "{reason:?}");
        assert_eq!(r.engine.num_peers(), 0);
        // Bytes after the disconnect are ignored.
        r.send(&bytes);
    }
    // Random garbage of many lengths never panics.
    let mut rng = Rng::new(66);
    for len in 0..300 {
        let mut r = Raw::new(mem_seed(&m, &data, 0));
        r.handshake(m.info_hash);
        let mut junk = vec![0u8; len];
        rng.fill(&mut junk);
        r.send(&junk);
    }
}

#[test]
fn fragmented_and_merged_input_is_handled() {
    let (m, data) = make_torrent(3 * 16_384, 16_384, 7);
    let mut r = Raw::new(mem_seed(&m, &data, 0));
    // Handshake, interested and a request in one buffer, fed one byte at a time.
    let mut bytes = Handshake::new(m.info_hash, PeerId([3; 20]))
        .encode()
        .to_vec();
    Message::Interested.encode(&mut bytes);
    Message::Request {
        index: 1,
        begin: 0,
        length: BLOCK_LEN,
    }
    .encode(&mut bytes);
    for b in &bytes {
        r.send(std::slice::from_ref(b));
    }
    let got = r.take();
    assert!(got.contains(&Message::Unchoke), "{got:?}");
    let piece = got.iter().find_map(|m| match m {
        Message::Piece { index: 1, data, .. } => Some(data.clone()),
        _ => None,
    });
    assert_eq!(piece.as_deref(), Some(&data[16_384..32_768]));
}

#[test]
fn requests_while_choked_are_ignored_and_send_buffer_limits_uploads() {
    let (m, data) = make_torrent(64 * 16_384, 16_384, 8);
    let mut cfg = config(0);
    cfg.max_send_buffer = 100_000;
    let seed = Engine::new(
        cfg,
        Torrent::Seed(m.clone()),
        MemoryStore::with_content(data.clone()),
    )
    .unwrap();
    let mut r = Raw::new(seed);
    r.handshake(m.info_hash);
    r.take();
    let request = |i: u32| Message::Request {
        index: i,
        begin: 0,
        length: BLOCK_LEN,
    };
    r.send_msg(&request(0));
    assert!(r.take().is_empty(), "served while choked");
    r.send_msg(&Message::Interested);
    assert_eq!(r.take(), vec![Message::Unchoke]);
    for i in 0..20 {
        r.send_msg(&request(i));
    }
    // 100 000 bytes of buffer: 7 blocks of 16 397 bytes fit before the limit is reached.
    let served = |got: &[Message]| {
        got.iter()
            .filter(|m| matches!(m, Message::Piece { .. }))
            .count()
    };
    assert_eq!(served(&r.take()), 7);
    r.input(Input::SendBuffer {
        peer: PeerKey(7),
        buffered: 0,
    });
    assert_eq!(served(&r.take()), 7);
    // A cancel removes a queued request.
    r.send_msg(&Message::Cancel {
        index: 14,
        begin: 0,
        length: BLOCK_LEN,
    });
    r.input(Input::SendBuffer {
        peer: PeerKey(7),
        buffered: 0,
    });
    assert_eq!(served(&r.take()), 5);
}

#[test]
fn keepalive_and_idle_timeout() {
    let (m, data) = make_torrent(16_384, 16_384, 9);
    let mut r = Raw::new(mem_seed(&m, &data, 0));
    r.handshake(m.info_hash);
    r.take();
    r.advance(Duration::from_secs(30));
    assert!(r.take().is_empty());
    r.advance(Duration::from_secs(26));
    assert_eq!(r.take(), vec![Message::KeepAlive]);
    r.send_msg(&Message::KeepAlive);
    for _ in 0..14 {
        r.advance(Duration::from_secs(10));
        assert!(r.disconnected.is_none());
    }
    r.advance(Duration::from_secs(11));
    assert_eq!(r.disconnected, Some(DisconnectReason::Idle));
    // No handshake at all: dropped after 25 s.
    let mut r = Raw::new(mem_seed(&m, &data, 0));
    r.advance(Duration::from_secs(26));
    assert_eq!(r.disconnected, Some(DisconnectReason::HandshakeTimeout));
}

#[test]
fn bad_pieces_are_refetched_and_the_sender_banned() {
    let (m, data) = make_torrent(8 * 16_384, 16_384, 10);
    let mut corrupt = data.clone();
    for piece in 0..8 {
        corrupt[piece * 16_384 + 5] ^= 0xff;
    }
    let liar = Engine::new(
        config(0),
        Torrent::Seed(m.clone()),
        MemoryStore::with_content(corrupt),
    )
    .unwrap();
    let mut net = Net::new(vec![liar, mem_leech(&m, 1), mem_seed(&m, &data, 2)]);
    net.connect(0, 1);
    net.run(Time::from_millis(20_000), |n| {
        !n.nodes[1].disconnects.is_empty()
    });
    let leech = &net.nodes[1];
    let failed = leech
        .events
        .iter()
        .filter(|e| matches!(e, Event::HashFailed { .. }))
        .count();
    // The third failure bans; a piece already complete in the same batch may fail after it.
    assert!((3..=4).contains(&failed), "{failed}");
    assert!(leech.events.contains(&Event::PeerBanned {
        peer: key(0),
        peer_id: peer_id(0),
    }));
    assert_eq!(leech.disconnects, vec![(key(0), DisconnectReason::Banned)]);
    // An honest seed then delivers everything, and the liar cannot come back.
    net.connect(1, 2);
    net.run(Time::from_millis(60_000), |n| {
        n.nodes[1].engine.is_complete()
    });
    assert_eq!(net.nodes[1].engine.store().content().unwrap(), &data[..]);
    net.links.insert((0, 1), true);
    net.links.insert((1, 0), true);
    net.connect(0, 1);
    net.run(net.now + Duration::from_secs(1), |_| false);
    assert_eq!(
        net.nodes[1].disconnects.last(),
        Some(&(key(0), DisconnectReason::Banned))
    );
}

#[test]
fn upload_limit_caps_throughput() {
    let (m, data) = make_torrent(64 * 16_384, 16_384, 11);
    let mut seed_cfg = config(0);
    seed_cfg.upload_limit = Some(200_000);
    let seed = Engine::new(
        seed_cfg,
        Torrent::Seed(m.clone()),
        MemoryStore::with_content(data.clone()),
    )
    .unwrap();
    let mut net = Net::new(vec![seed, mem_leech(&m, 1)]);
    net.connect(0, 1);
    net.run(Time::from_millis(120_000), all_done);
    assert!(all_done(&net));
    // 1 MiB at 200 kB/s after a 64 KiB burst: about 4.9 s.
    let secs = net.now.as_secs_f64();
    assert!((4.5..6.0).contains(&secs), "{secs}");
}

#[test]
fn download_limit_caps_throughput() {
    let (m, data) = make_torrent(64 * 16_384, 16_384, 12);
    let mut leech_cfg = config(1);
    leech_cfg.download_limit = Some(100_000);
    let leech = Engine::new(leech_cfg, Torrent::Download(m.clone()), MemoryStore::new()).unwrap();
    let mut net = Net::new(vec![mem_seed(&m, &data, 0), leech]);
    net.connect(0, 1);
    net.run(Time::from_millis(120_000), all_done);
    assert!(all_done(&net));
    let secs = net.now.as_secs_f64();
    assert!((9.5..12.0).contains(&secs), "{secs}");
}

/// A store whose reads complete only after `StoreReady`.
#[derive(Default)]
struct SlowStore {
    inner: MemoryStore,
    ready: bool,
    pending: u32,
}

impl PieceStore for SlowStore {
    fn set_lengths(&mut self, l: crate::lengths::Lengths) -> Result<(), StoreError> {
        self.inner.set_lengths(l)
    }
    fn read_block(&mut self, b: BlockInfo, out: &mut Vec<u8>) -> Result<ReadStatus, StoreError> {
        if self.ready {
            self.inner.read_block(b, out)
        } else {
            self.pending += 1;
            Ok(ReadStatus::Pending)
        }
    }
    fn write_piece(&mut self, p: PieceIndex, d: Vec<u8>) -> Result<(), StoreError> {
        self.inner.write_piece(p, d)
    }
}

#[test]
fn pending_reads_are_retried_on_store_ready() {
    let (m, data) = make_torrent(4 * 16_384, 16_384, 13);
    let store = SlowStore {
        inner: MemoryStore::with_content(data.clone()),
        ..SlowStore::default()
    };
    let seed = Engine::new(config(0), Torrent::Seed(m.clone()), store).unwrap();
    let mut net = Net::new(vec![seed]);
    net.nodes[0]
        .engine
        .handle_input(Time::ZERO, Input::Connected { peer: key(1) });
    let mut bytes = Handshake::new(m.info_hash, PeerId([5; 20]))
        .encode()
        .to_vec();
    Message::Interested.encode(&mut bytes);
    Message::Request {
        index: 2,
        begin: 0,
        length: BLOCK_LEN,
    }
    .encode(&mut bytes);
    let e = &mut net.nodes[0].engine;
    e.handle_input(
        Time::ZERO,
        Input::Data {
            peer: key(1),
            data: &bytes,
        },
    );
    let mut sent = Vec::new();
    let drain = |e: &mut Engine<SlowStore>, sent: &mut Vec<u8>| loop {
        match e.poll_output(Time::ZERO) {
            Output::Send { data, .. } => sent.extend_from_slice(&data),
            Output::Timeout(_) => break,
            _ => {}
        }
    };
    drain(e, &mut sent);
    assert_eq!(e.store().pending, 1);
    let before = sent.len();
    e.store_mut().ready = true;
    e.handle_input(Time::ZERO, Input::StoreReady);
    drain(e, &mut sent);
    assert_eq!(sent.len() - before, 13 + 16_384);
    assert_eq!(&sent[sent.len() - 16_384..], &data[2 * 16_384..3 * 16_384]);
}

#[test]
fn stalled_requests_move_to_another_peer() {
    let (m, data) = make_torrent(16 * 16_384, 16_384, 14);
    let mut slow = config(0);
    slow.upload_limit = Some(20_000);
    let slow = Engine::new(
        slow,
        Torrent::Seed(m.clone()),
        MemoryStore::with_content(data.clone()),
    )
    .unwrap();
    let mut net = Net::new(vec![slow, mem_leech(&m, 1), mem_seed(&m, &data, 2)]);
    net.connect(0, 1);
    net.run(Time::from_millis(1_000), |_| false);
    let out = |n: &Net<MemoryStore>| n.nodes[1].engine.peer_stats()[0].requests_out;
    assert!(out(&net) > 1);
    // Node 0 goes silent (its link to 1 drops everything): after 30 s the requests are
    // withdrawn and only one at a time is tried there.
    net.links.insert((0, 1), false);
    net.run(Time::from_millis(29_000), |_| false);
    assert!(out(&net) > 1);
    net.run(Time::from_millis(33_000), |_| false);
    assert_eq!(out(&net), 1);
    net.connect(1, 2);
    net.run(Time::from_millis(120_000), |n| {
        n.nodes[1].engine.is_complete()
    });
    assert!(net.nodes[1].engine.is_complete());
    assert_eq!(net.nodes[1].engine.store().content().unwrap(), &data[..]);
}

#[test]
fn requests_taken_over_by_an_idle_peer_get_a_fresh_timeout() {
    // A slow seed (node 0) holds the leecher's (node 1) requests; B (node 2) has no regular
    // slots and advertises `reqq` 4, so it keeps the leecher choked.
    let (m, data) = make_torrent(30 * 16_384, 16_384, 21);
    let slow = Config {
        upload_limit: Some(2_048),
        ..config(0)
    };
    let store = MemoryStore::with_content(data.clone());
    let a = Engine::new(slow, Torrent::Seed(m.clone()), store).unwrap();
    let no_slots = Config {
        unchoke_slots: 0,
        pipeline_depth: 4,
        ..config(2)
    };
    let store = MemoryStore::with_content(data.clone());
    let b = Engine::new(no_slots, Torrent::Seed(m.clone()), store).unwrap();
    let mut net = Net::new(vec![a, mem_leech(&m, 1), b]);
    net.connect(1, 0);
    net.connect(1, 2);
    net.run(Time::from_millis(500), |_| false);
    // 31 s after connecting, B unchokes the leecher, whose pipeline there is idle, and the
    // leecher takes over as many requests as B accepts from the slow seed.
    let leech = &mut net.nodes[1].engine;
    assert!(leech.peers[&key(0)].download.outstanding() >= 8);
    let now = Time::from_millis(31_000);
    leech.core.now = now;
    leech.peers.get_mut(&key(2)).unwrap().peer_choking = false;
    leech.steal(key(2));
    let b = &leech.peers[&key(2)];
    assert_eq!(b.download.outstanding(), 4);
    // Their timeout runs from now, not from the connection: the next tick must not find B
    // stalled after 30 s without a block.
    assert_eq!(b.download.progress_at(), now);
}

// ---- resume (Torrent::Partial) and file selection ----

/// A multi-file torrent of files with these lengths (zero allowed), and its content.
fn make_multi(files: &[usize], piece_len: u32, seed: u64) -> (Metainfo, Vec<u8>) {
    let len: usize = files.iter().sum();
    let mut data = vec![0u8; len];
    Rng::new(seed).fill(&mut data);
    let pieces: Vec<u8> = data
        .chunks(piece_len as usize)
        .flat_map(crate::sha1)
        .collect();
    let list = files
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            Value::dict([
                ("length", Value::Int(i64::try_from(l).unwrap())),
                ("path", Value::List(vec![Value::str(&format!("f{i}.bin"))])),
            ])
        })
        .collect();
    let info = Value::dict([
        ("name", Value::str("multi")),
        ("piece length", Value::Int(i64::from(piece_len))),
        ("pieces", Value::Bytes(pieces)),
        ("files", Value::List(list)),
    ]);
    let m = Metainfo::from_info_bytes(bencode::encode(&info)).unwrap();
    (m, data)
}

/// Pieces node `i` requested (from its trace, which is taken).
fn requested_pieces(net: &mut Net<MemoryStore>, i: usize) -> std::collections::BTreeSet<u32> {
    net.nodes[i]
        .engine
        .take_trace()
        .into_iter()
        .filter_map(|t| match t {
            TraceEvent::Request { piece, .. } => Some(piece),
            _ => None,
        })
        .collect()
}

fn dones(node: &Node<MemoryStore>) -> usize {
    node.events.iter().filter(|e| **e == Event::Done).count()
}

/// A store holding `pieces` of `data`, and their bitfield.
fn partial_store(m: &Metainfo, data: &[u8], pieces: &[u32]) -> (MemoryStore, Bitfield) {
    let lengths = m.info.lengths();
    let mut store = MemoryStore::new();
    store.set_lengths(lengths).unwrap();
    let mut have = Bitfield::new(lengths.num_pieces());
    for &i in pieces {
        let p = lengths.validate_piece(i).unwrap();
        let start = usize::try_from(lengths.piece_offset(p)).unwrap();
        let end = start + lengths.piece_len(p) as usize;
        store.write_piece(p, data[start..end].to_vec()).unwrap();
        have.set(i);
    }
    (store, have)
}

#[test]
fn partial_download_fetches_only_the_missing_half() {
    let (m, data) = make_torrent(8 * 32_768, 32_768, 21);
    let even = [0, 2, 4, 6];
    let (store, have) = partial_store(&m, &data, &even);
    let leech = Engine::new(config(1), Torrent::Partial(m.clone(), have), store).unwrap();
    let s = leech.stats();
    assert_eq!((s.have, s.pieces_have, s.done), (4 * 32_768, 4, false));
    assert_eq!(leech.bytes_left(), Some(4 * 32_768));
    assert_eq!(leech.file_progress(), [4 * 32_768]);
    let mut net = Net::new(vec![mem_seed(&m, &data, 0), leech]);
    net.connect(0, 1);
    // Handshakes and bitfields are through, no block yet: the seed sees our 4 pieces.
    net.run(Time::from_millis(50), |_| false);
    assert_eq!(net.nodes[0].engine.peer_stats()[0].pieces, 4);
    net.run(Time::from_millis(60_000), all_done);
    let requested = requested_pieces(&mut net, 1);
    assert_eq!(requested, [1, 3, 5, 7].into());
    let leech = &net.nodes[1];
    assert_eq!(leech.engine.store().content().unwrap(), &data[..]);
    assert_eq!(leech.engine.stats().downloaded, 4 * 32_768);
    assert_eq!(dones(leech), 1);
    assert_eq!(net.nodes[0].engine.stats().uploaded, 4 * 32_768);
}

#[test]
fn partial_with_every_piece_is_complete_and_serves() {
    let (m, data) = make_torrent(5 * 32_768 + 100, 32_768, 22);
    let (store, have) = partial_store(&m, &data, &[0, 1, 2, 3, 4, 5]);
    let full = Engine::new(config(0), Torrent::Partial(m.clone(), have), store).unwrap();
    assert!(full.is_complete());
    assert_eq!(full.bytes_left(), Some(0));
    let s = full.stats();
    assert!(s.done);
    assert_eq!(s.have, data.len() as u64);
    let mut net = Net::new(vec![full, mem_leech(&m, 1)]);
    net.connect(0, 1);
    net.run(Time::from_millis(60_000), all_done);
    assert_eq!(net.nodes[1].engine.store().content().unwrap(), &data[..]);
    assert_eq!(net.nodes[0].engine.stats().uploaded, data.len() as u64);
    assert_eq!(dones(&net.nodes[0]), 0, "no Done at start, as for a seed");
    assert_eq!(dones(&net.nodes[1]), 1);
    // A bitfield of the wrong length is an error, not a panic.
    let err = Engine::new(
        config(2),
        Torrent::Partial(m.clone(), Bitfield::new(5)),
        MemoryStore::new(),
    );
    assert!(matches!(
        err.err(),
        Some(EngineError::HaveLength {
            expected: 6,
            got: 5
        })
    ));
}

/// Files of 90 000, 130 000 and 60 000 bytes (and an empty one at the end) in pieces of
/// 32 KiB: file 0 is in pieces 0-2, file 1 in 2-6, file 2 in 6-8.
const FILES: [usize; 4] = [90_000, 130_000, 60_000, 0];

#[test]
fn selected_files_download_alone_then_more_are_added() {
    let (m, data) = make_multi(&FILES, 32_768, 23);
    let mut leech = mem_leech(&m, 1);
    // File 1 and the empty file 3 (which overlaps nothing, though it sits in piece 8).
    leech.select(Selection::Files(crate::selection::FileSet::from_indices([
        1, 3,
    ])));
    assert_eq!(leech.files_wanted(), [false, true, false, true]);
    let piece_bytes = |n: u64| n * 32_768;
    assert_eq!(leech.bytes_left(), Some(piece_bytes(5)));
    assert_eq!(leech.stats().wanted, piece_bytes(5));
    let mut net = Net::new(vec![mem_seed(&m, &data, 0), leech]);
    net.connect(0, 1);
    net.run(Time::from_millis(60_000), |n| {
        n.nodes[1].engine.is_complete()
    });
    let leech = &net.nodes[1];
    assert!(leech.engine.is_complete());
    assert_eq!(dones(leech), 1);
    assert_eq!(requested_pieces(&mut net, 1), (2..=6).collect());
    let leech = &net.nodes[1];
    let s = leech.engine.stats();
    assert_eq!(s.downloaded, piece_bytes(5));
    assert!(s.downloaded <= 130_000 + piece_bytes(2));
    assert_eq!((s.wanted, s.wanted_have), (piece_bytes(5), piece_bytes(5)));
    assert_eq!(s.wanted_progress(), 1.0);
    assert!(s.progress() < 1.0, "progress is over the whole torrent");
    assert_eq!(leech.engine.bytes_left(), Some(0));
    assert_eq!(
        leech.engine.file_progress(),
        [
            90_000 - piece_bytes(2),
            130_000,
            piece_bytes(7) - 220_000,
            0
        ]
    );
    // Done with the selection: not interested in the seed any more.
    assert!(!leech.engine.peer_stats()[0].am_interested);
    // File 2 too: pieces 7 and 8 (piece 6 is held), Done again.
    net.nodes[1].engine.set_file_wanted(2, true).unwrap();
    net.drain(1);
    assert!(!net.nodes[1].engine.is_complete());
    assert!(net.nodes[1].engine.peer_stats()[0].am_interested);
    net.run(Time::from_millis(120_000), |n| {
        n.nodes[1].engine.is_complete()
    });
    assert_eq!(requested_pieces(&mut net, 1), [7, 8].into());
    let leech = &net.nodes[1];
    assert_eq!(dones(leech), 2);
    assert_eq!(leech.engine.file_progress()[1..], [130_000, 60_000, 0]);
    assert_eq!(
        leech.engine.selection(),
        Selection::Files(crate::selection::FileSet::from_indices(1..=3))
    );
    assert_eq!(leech.engine.stats().downloaded, 280_000 - piece_bytes(2));
    assert_eq!(
        net.nodes[1].engine.set_file_wanted(4, true),
        Err(EngineError::NoSuchFile(4))
    );
}

#[test]
fn a_selection_before_the_metadata_is_applied_before_any_request() {
    let (m, data) = make_multi(&FILES, 32_768, 24);
    let mut magnet =
        Engine::new(config(1), Torrent::Magnet(m.info_hash), MemoryStore::new()).unwrap();
    let only_2 = Selection::Files(crate::selection::FileSet::from_indices([2, 9]));
    magnet.select(only_2.clone());
    assert_eq!(magnet.selection(), only_2);
    assert_eq!(
        magnet.set_file_wanted(0, true),
        Err(EngineError::NoMetadata)
    );
    assert_eq!(magnet.bytes_left(), None);
    let mut net = Net::new(vec![mem_seed(&m, &data, 0), magnet]);
    net.connect(0, 1);
    net.run(Time::from_millis(60_000), all_done);
    let requested = requested_pieces(&mut net, 1);
    assert_eq!(requested, [6, 7, 8].into());
    let leech = &net.nodes[1];
    assert!(leech.events.contains(&Event::Metadata));
    assert_eq!(dones(leech), 1);
    // The index past the last file is dropped once the file count is known.
    assert_eq!(
        leech.engine.selection(),
        Selection::Files(crate::selection::FileSet::from_indices([2]))
    );
    assert_eq!(leech.engine.files_wanted(), [false, false, true, false]);
    assert!(leech.engine.check_invariants().is_ok());
}

#[test]
fn deselecting_everything_left_completes_and_reselecting_resumes() {
    let (m, data) = make_multi(&FILES, 32_768, 25);
    let mut leech = mem_leech(&m, 1);
    // Before the first input: counts as the start, so no Done for an empty selection.
    leech.select(Selection::Files(crate::selection::FileSet::new()));
    assert!(leech.is_complete());
    assert_eq!(leech.bytes_left(), Some(0));
    let mut net = Net::new(vec![mem_seed(&m, &data, 0), leech]);
    net.connect(0, 1);
    net.run(Time::from_millis(2_000), |_| false);
    assert!(requested_pieces(&mut net, 1).is_empty());
    assert_eq!(dones(&net.nodes[1]), 0);
    assert!(!net.nodes[1].engine.peer_stats()[0].am_interested);
    net.nodes[1].engine.select(Selection::All);
    net.drain(1);
    net.run(Time::from_millis(60_000), all_done);
    assert_eq!(requested_pieces(&mut net, 1), (0..9).collect());
    assert_eq!(dones(&net.nodes[1]), 1);
    assert_eq!(net.nodes[1].engine.store().content().unwrap(), &data[..]);
}

#[test]
fn a_file_deselected_mid_download_is_not_fetched_further() {
    // File 2 is in pieces 13-25; piece 13 is shared with file 1.
    let (m, data) = make_multi(&[300_000, 130_000, 400_000], 32_768, 26);
    let mut seed = mem_seed(&m, &data, 0);
    // 64 KiB/s: two pieces a second, so the change lands mid-download.
    seed.set_limits(Some(65_536), None);
    let mut net = Net::new(vec![seed, mem_leech(&m, 1)]);
    net.connect(0, 1);
    net.run(Time::from_millis(60_000), |n| {
        n.nodes[1].engine.have().count_ones() >= 2
    });
    assert!(!net.nodes[1].engine.is_complete());
    requested_pieces(&mut net, 1);
    // Deselect file 2: pieces 14-25 are no longer wanted.
    net.nodes[1].engine.set_file_wanted(2, false).unwrap();
    net.drain(1);
    let map = net.nodes[1].engine.piece_map();
    let in_flight: std::collections::BTreeSet<u32> = (0u32..)
        .zip(&map)
        .filter(|(_, (st, _))| *st == PieceState::InFlight)
        .map(|(i, _)| i)
        .collect();
    for (i, &(st, _)) in map.iter().enumerate().skip(14) {
        assert!(
            matches!(
                st,
                PieceState::Skipped | PieceState::InFlight | PieceState::Have
            ),
            "piece {i}: {st:?}"
        );
    }
    assert!(
        (14..26).any(|i| map[i].0 == PieceState::Skipped),
        "the scenario deselects a piece not yet started: {map:?}"
    );
    net.run(Time::from_millis(120_000), |n| {
        n.nodes[1].engine.is_complete()
    });
    let leech = &net.nodes[1];
    assert!(leech.engine.is_complete());
    assert_eq!(dones(leech), 1);
    assert!(leech.engine.piece_map()[14..]
        .iter()
        .any(|(st, _)| *st == PieceState::Skipped));
    for piece in requested_pieces(&mut net, 1) {
        assert!(
            piece <= 13 || in_flight.contains(&piece),
            "piece {piece} requested"
        );
    }
    let e = &net.nodes[1].engine;
    assert!((0..=13).all(|i| e.have().get(i)));
    assert_eq!(e.file_progress()[..2], [300_000, 130_000]);
    assert!(e.check_invariants().is_ok());
    assert_eq!(e.bytes_left(), Some(0));
}

/// Everything the engine hands the driver until it waits: the bytes sent, and a disconnect.
fn drain_sent(e: &mut Engine<MemoryStore>) -> (Vec<u8>, Option<DisconnectReason>) {
    let mut sent = Vec::new();
    let mut gone = None;
    loop {
        match e.poll_output(Time::ZERO) {
            Output::Send { data, .. } => sent.extend_from_slice(&data),
            Output::Disconnect { reason, .. } => gone = Some(reason),
            Output::Event(_) => {}
            Output::Timeout(_) => return (sent, gone),
        }
    }
}

/// A seed of a 4-piece torrent with peer `key(1)` on a connection it accepted (it answered the
/// offer).
fn accepted_seed(data_seed: u64) -> (Metainfo, Engine<MemoryStore>) {
    let (m, data) = make_torrent(4 * 16_384, 16_384, data_seed);
    let mut seed = Engine::new(
        config(0),
        Torrent::Seed(m.clone()),
        MemoryStore::with_content(data),
    )
    .unwrap();
    seed.handle_input(Time::ZERO, Input::Accepted { peer: key(1) });
    (m, seed)
}

/// Bytes from peer `key(1)`.
fn from_peer_1(e: &mut Engine<MemoryStore>, data: &[u8]) {
    e.handle_input(Time::ZERO, Input::Data { peer: key(1), data });
}

#[test]
fn an_accepted_connection_answers_the_peers_handshake_and_never_speaks_first() {
    let (m, mut seed) = accepted_seed(21);
    let (sent, gone) = drain_sent(&mut seed);
    assert!(
        sent.is_empty(),
        "sent {} bytes before the peer spoke",
        sent.len()
    );
    assert_eq!(gone, None);
    // The peer's handshake arrives: ours goes out first, then the extended one and the bitfield.
    from_peer_1(
        &mut seed,
        &Handshake::new(m.info_hash, PeerId([5; 20])).encode(),
    );
    let (sent, gone) = drain_sent(&mut seed);
    assert_eq!(gone, None);
    let mut d = Decoder::new(WireLimits::default());
    d.push(&sent);
    match d.next() {
        Ok(Some(Frame::Handshake(h))) => {
            assert_eq!(h.info_hash, m.info_hash);
            assert_eq!(h.peer_id, peer_id(0));
        }
        other => panic!("expected our handshake first, got {other:?}"),
    }
    assert!(matches!(
        d.next(),
        Ok(Some(Frame::Message(Message::Extended { id: 0, .. })))
    ));
    assert!(matches!(
        d.next(),
        Ok(Some(Frame::Message(Message::Bitfield(_))))
    ));
    // Exactly one handshake from us.
    assert!(!sent[68..]
        .windows(20)
        .any(|w| w == b"\x13BitTorrent protocol"));
}

#[test]
fn an_accepted_connection_with_a_wrong_info_hash_hears_nothing_from_us() {
    let (_, mut seed) = accepted_seed(22);
    from_peer_1(
        &mut seed,
        &Handshake::new(InfoHash([9; 20]), PeerId([5; 20])).encode(),
    );
    let (sent, gone) = drain_sent(&mut seed);
    assert!(
        sent.is_empty(),
        "told a peer of another torrent {} bytes",
        sent.len()
    );
    assert_eq!(gone, Some(DisconnectReason::InfoHashMismatch));
}
