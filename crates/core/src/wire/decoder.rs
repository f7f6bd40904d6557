//! The incremental [`Decoder`] of one peer's byte stream; see [`crate::wire`] for the rules.

#![warn(clippy::arithmetic_side_effects)]

use std::collections::VecDeque;

use super::{
    check_handshake_prefix, id, wire_len, Handshake, Message, WireError, WireLimits, HANDSHAKE_LEN,
    MAX_IGNORED_LEN,
};

/// What the [`Decoder`] yields: the handshake first, then messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Handshake(Handshake),
    Message(Message),
}

/// Incremental decoder of one peer's byte stream. See the module docs for the limits.
#[derive(Debug)]
pub struct Decoder {
    limits: WireLimits,
    state: State,
    /// Handshake bytes, or a message's length prefix, id and fixed fields (at most 17).
    head: [u8; HANDSHAKE_LEN],
    head_len: usize,
    ready: VecDeque<Frame>,
    error: Option<WireError>,
}

impl Decoder {
    /// A decoder that expects the peer's handshake first.
    pub fn new(limits: WireLimits) -> Decoder {
        Decoder {
            limits,
            state: State::Handshake,
            head: [0; HANDSHAKE_LEN],
            head_len: 0,
            ready: VecDeque::new(),
            error: None,
        }
    }

    /// Narrows (or widens) the `bitfield` limit, e.g. to `ceil(num_pieces / 8)` once the
    /// metadata is known. Applies to messages whose id has not arrived yet.
    pub fn set_max_bitfield_len(&mut self, len: u32) {
        self.limits.max_bitfield_len = len;
    }

    pub fn limits(&self) -> WireLimits {
        self.limits
    }

    /// Feeds bytes from the transport, in any slicing. After an error, further bytes are
    /// dropped and [`next`](Self::next) keeps returning the error.
    pub fn push(&mut self, mut input: &[u8]) {
        while !input.is_empty() && self.error.is_none() {
            match self.step(input) {
                Ok(used) => input = &input[used..],
                Err(e) => {
                    self.error = Some(e);
                    self.state = State::Failed;
                }
            }
        }
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed, or the error that
    /// ended the stream (after every frame that preceded it).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Frame>, WireError> {
        if let Some(frame) = self.ready.pop_front() {
            return Ok(Some(frame));
        }
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(None),
        }
    }

    /// Consumes a prefix of `input` (at least one byte) and advances the state machine.
    fn step(&mut self, input: &[u8]) -> Result<usize, WireError> {
        match &mut self.state {
            State::Handshake => {
                let used = self.fill_head(input, HANDSHAKE_LEN);
                check_handshake_prefix(&self.head[..self.head_len])?;
                if self.head_len == HANDSHAKE_LEN {
                    let h = Handshake::decode(&self.head)?;
                    self.ready.push_back(Frame::Handshake(h));
                    self.state = State::Head;
                    self.head_len = 0;
                }
                Ok(used)
            }
            State::Head => {
                let need = self.head_need()?;
                let used = self.fill_head(input, need);
                if self.head_len == need {
                    self.head_complete()?;
                }
                Ok(used)
            }
            State::Body {
                data,
                remaining,
                kind,
            } => {
                let take = input.len().min(*remaining as usize);
                data.extend_from_slice(&input[..take]);
                // take <= remaining, so this is exact.
                *remaining = remaining.saturating_sub(wire_len(take));
                if *remaining == 0 {
                    let data = std::mem::take(data);
                    let msg = match *kind {
                        BodyKind::Bitfield => Message::Bitfield(data),
                        BodyKind::Piece { index, begin } => Message::Piece { index, begin, data },
                        BodyKind::Extended { id } => Message::Extended { id, payload: data },
                    };
                    self.emit(msg);
                }
                Ok(take)
            }
            State::Skip { remaining } => {
                let take = input.len().min(*remaining as usize);
                // take <= remaining, so this is exact.
                *remaining = remaining.saturating_sub(wire_len(take));
                if *remaining == 0 {
                    self.state = State::Head;
                    self.head_len = 0;
                }
                Ok(take)
            }
            // Unreachable: push stops at the first error.
            State::Failed => Ok(input.len()),
        }
    }

    fn fill_head(&mut self, input: &[u8], need: usize) -> usize {
        // head_len <= need and head_len + take <= need <= head.len(): both are exact.
        let take = input.len().min(need.saturating_sub(self.head_len));
        let end = self.head_len.saturating_add(take);
        self.head[self.head_len..end].copy_from_slice(&input[..take]);
        self.head_len = end;
        take
    }

    fn len_prefix(&self) -> u32 {
        u32::from_be_bytes([self.head[0], self.head[1], self.head[2], self.head[3]])
    }

    /// How many head bytes the current message needs, checking limits as soon as the length
    /// prefix (4 bytes) and the id (5 bytes) are known.
    fn head_need(&self) -> Result<usize, WireError> {
        if self.head_len < 4 {
            return Ok(4);
        }
        let len = self.len_prefix();
        if self.head_len < 5 {
            return Ok(5);
        }
        Ok(self.classify(self.head[4], len)?.0)
    }

    /// Head size (prefix included) and how the rest is handled, for message `id` of `len`.
    fn classify(&self, msg_id: u8, len: u32) -> Result<(usize, Rest), WireError> {
        let exact = |want: u32, head: usize| {
            if len == want {
                Ok((head, Rest::None))
            } else {
                Err(WireError::BadMessageLength { id: msg_id, len })
            }
        };
        let too_long = |max: u32| WireError::MessageTooLong {
            id: Some(msg_id),
            len,
            max,
        };
        match msg_id {
            id::CHOKE..=id::NOT_INTERESTED => exact(1, 5),
            id::HAVE => exact(5, 9),
            id::REQUEST | id::CANCEL => exact(13, 17),
            id::BITFIELD => {
                let max = self.limits.max_bitfield_len.saturating_add(1);
                if len > max {
                    return Err(too_long(max));
                }
                Ok((5, Rest::Body(BodyKind::Bitfield)))
            }
            id::PIECE => {
                let max = self.limits.max_block_len.saturating_add(9);
                if len > max {
                    return Err(too_long(max));
                }
                if len < 9 {
                    return Err(WireError::BadMessageLength { id: msg_id, len });
                }
                Ok((13, Rest::Body(BodyKind::Piece { index: 0, begin: 0 })))
            }
            id::EXTENDED => {
                let max = self.limits.max_extended_len;
                if len > max {
                    return Err(too_long(max));
                }
                if len < 2 {
                    return Err(WireError::BadMessageLength { id: msg_id, len });
                }
                Ok((6, Rest::Body(BodyKind::Extended { id: 0 })))
            }
            id::FAST_FIRST..=id::FAST_LAST => Err(WireError::FastNotNegotiated { id: msg_id }),
            _ => {
                if len > MAX_IGNORED_LEN {
                    return Err(too_long(MAX_IGNORED_LEN));
                }
                Ok((5, Rest::Skip))
            }
        }
    }

    /// The head is complete: emit a fixed-size message or start reading the payload.
    fn head_complete(&mut self) -> Result<(), WireError> {
        let len = self.len_prefix();
        if self.head_len == 4 {
            if len == 0 {
                self.emit(Message::KeepAlive);
            } else if len > self.limits.max_message_len() {
                return Err(WireError::MessageTooLong {
                    id: None,
                    len,
                    max: self.limits.max_message_len(),
                });
            }
            return Ok(());
        }
        let msg_id = self.head[4];
        let (head, rest) = self.classify(msg_id, len)?;
        if self.head_len < head {
            return Ok(());
        }
        let h = &self.head;
        let word = |at: usize| {
            let mut b = [0; 4];
            if let Some(w) = h.get(at..at.saturating_add(4)) {
                b.copy_from_slice(w);
            }
            u32::from_be_bytes(b)
        };
        // Bytes of the message after the head: the length prefix counts everything but itself.
        // `classify` only returns a head (>= 4) that the length covers, so nothing saturates.
        let remaining = len.saturating_sub(wire_len(head.saturating_sub(4)));
        match rest {
            Rest::None => {
                let msg = match msg_id {
                    id::CHOKE => Message::Choke,
                    id::UNCHOKE => Message::Unchoke,
                    id::INTERESTED => Message::Interested,
                    id::NOT_INTERESTED => Message::NotInterested,
                    id::HAVE => Message::Have { index: word(5) },
                    id::REQUEST => Message::Request {
                        index: word(5),
                        begin: word(9),
                        length: word(13),
                    },
                    _ => Message::Cancel {
                        index: word(5),
                        begin: word(9),
                        length: word(13),
                    },
                };
                self.emit(msg);
            }
            Rest::Skip => {
                if remaining == 0 {
                    self.head_len = 0;
                } else {
                    self.state = State::Skip { remaining };
                }
            }
            Rest::Body(kind) => {
                let kind = match kind {
                    BodyKind::Piece { .. } => BodyKind::Piece {
                        index: word(5),
                        begin: word(9),
                    },
                    BodyKind::Extended { .. } => BodyKind::Extended { id: h[5] },
                    BodyKind::Bitfield => BodyKind::Bitfield,
                };
                // Reserve at most 64 KiB up front; longer payloads grow as bytes arrive.
                let data = Vec::with_capacity(remaining.min(INITIAL_BODY_CAPACITY) as usize);
                self.state = State::Body {
                    data,
                    remaining,
                    kind,
                };
                if remaining == 0 {
                    // An empty payload completes right away.
                    self.step(&[])?;
                }
            }
        }
        Ok(())
    }

    fn emit(&mut self, msg: Message) {
        self.ready.push_back(Frame::Message(msg));
        self.state = State::Head;
        self.head_len = 0;
    }
}

const INITIAL_BODY_CAPACITY: u32 = 1 << 16;

#[derive(Debug)]
enum State {
    Handshake,
    Head,
    Body {
        data: Vec<u8>,
        remaining: u32,
        kind: BodyKind,
    },
    Skip {
        remaining: u32,
    },
    Failed,
}

#[derive(Debug, Clone, Copy)]
enum BodyKind {
    Bitfield,
    Piece { index: u32, begin: u32 },
    Extended { id: u8 },
}

#[derive(Debug, Clone, Copy)]
enum Rest {
    None,
    Skip,
    Body(BodyKind),
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // Test code: overflow would fail the test.
mod tests {
    use super::*;
    use crate::bitfield::Bitfield;
    use crate::ids::{InfoHash, PeerId};
    use crate::rng::Rng;
    use crate::wire::{ExtendedHandshake, MAX_EXTENDED_LEN};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const INFO_HASH: InfoHash = InfoHash([0xab; 20]);
    const PEER_ID: PeerId = PeerId(*b"-TS0001-abcdefghijkl");

    fn handshake_bytes() -> Vec<u8> {
        Handshake::new(INFO_HASH, PEER_ID).encode().to_vec()
    }

    fn encode_all(msgs: &[Message]) -> Vec<u8> {
        let mut out = handshake_bytes();
        for m in msgs {
            let before = out.len();
            m.encode(&mut out);
            assert_eq!(out.len().saturating_sub(before), m.encoded_len(), "{m:?}");
        }
        out
    }

    fn drain(d: &mut Decoder, frames: &mut Vec<Frame>) -> Result<(), WireError> {
        while let Some(f) = d.next()? {
            frames.push(f);
        }
        Ok(())
    }

    /// Feeds `bytes` in the given chunk sizes (cycled) and returns the frames.
    fn decode_in_chunks(bytes: &[u8], chunks: &mut dyn FnMut() -> usize) -> Vec<Frame> {
        let mut d = Decoder::new(WireLimits::default());
        let mut frames = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = chunks().clamp(1, rest.len());
            d.push(&rest[..n]);
            rest = &rest[n..];
            drain(&mut d, &mut frames).unwrap();
        }
        frames
    }

    fn block(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| i.to_le_bytes()[0].wrapping_mul(31) ^ seed)
            .collect()
    }

    fn sample_messages() -> Vec<Message> {
        vec![
            Message::KeepAlive,
            Message::Choke,
            Message::Unchoke,
            Message::Interested,
            Message::NotInterested,
            Message::Have { index: 0xdead_beef },
            Message::Bitfield(vec![0xff, 0x0f, 0x80]),
            Message::Request {
                index: 1,
                begin: 16384,
                length: 16384,
            },
            Message::Piece {
                index: 7,
                begin: 32768,
                data: block(16384, 1),
            },
            Message::Piece {
                index: 8,
                begin: 0,
                data: block(1000, 2),
            },
            Message::Cancel {
                index: 1,
                begin: 16384,
                length: 16384,
            },
            Message::Extended {
                id: 0,
                payload: ExtendedHandshake::default().encode(),
            },
            Message::Extended {
                id: 3,
                payload: vec![],
            },
        ]
    }

    fn expected_frames(msgs: &[Message]) -> Vec<Frame> {
        std::iter::once(Frame::Handshake(Handshake::new(INFO_HASH, PEER_ID)))
            .chain(msgs.iter().cloned().map(Frame::Message))
            .collect()
    }

    #[test]
    fn bad_handshakes_fail_early() {
        let mut d = Decoder::new(WireLimits::default());
        d.push(&[18]);
        assert_eq!(d.next(), Err(WireError::BadProtocolLength { got: 18 }));
        let mut d = Decoder::new(WireLimits::default());
        d.push(b"\x13BitTorrent protocoX");
        assert_eq!(d.next(), Err(WireError::BadProtocolString));
        // The string is checked byte by byte as it arrives.
        let mut d = Decoder::new(WireLimits::default());
        d.push(b"\x13Bit");
        assert_eq!(d.next(), Ok(None));
        d.push(b"t");
        assert_eq!(d.next(), Err(WireError::BadProtocolString));
        // Sticky: later bytes change nothing.
        d.push(&handshake_bytes());
        assert_eq!(d.next(), Err(WireError::BadProtocolString));
        assert_eq!(
            Handshake::decode(&handshake_bytes()[..67]),
            Err(WireError::BadHandshakeLength { got: 67 })
        );
    }

    #[test]
    fn every_message_round_trips() {
        let msgs = sample_messages();
        let bytes = encode_all(&msgs);
        let frames = decode_in_chunks(&bytes, &mut || usize::MAX);
        assert_eq!(frames, expected_frames(&msgs));
        // Known encodings from BEP 3.
        let mut out = Vec::new();
        Message::Have { index: 5 }.encode(&mut out);
        assert_eq!(out, [0, 0, 0, 5, 4, 0, 0, 0, 5]);
        out.clear();
        Message::Interested.encode(&mut out);
        assert_eq!(out, [0, 0, 0, 1, 2]);
    }

    #[test]
    fn long_mixed_stream_byte_by_byte_and_randomly_sliced() {
        let mut rng = Rng::new(0x5eed);
        let pool = sample_messages();
        let msgs: Vec<Message> = (0..300)
            .map(|_| pool[rng.index(pool.len())].clone())
            .collect();
        let bytes = encode_all(&msgs);
        let expected = expected_frames(&msgs);
        assert_eq!(decode_in_chunks(&bytes, &mut || 1), expected);
        let mut sizes = Rng::new(7);
        assert_eq!(
            decode_in_chunks(&bytes, &mut || 1 + sizes.index(40_000)),
            expected
        );
        assert_eq!(decode_in_chunks(&bytes, &mut || 13), expected);
    }

    #[test]
    fn webtorrent_two_send_piece_copies_once_into_exact_buffer() {
        let mut d = Decoder::new(WireLimits::default());
        d.push(&handshake_bytes());
        assert!(matches!(d.next(), Ok(Some(Frame::Handshake(_)))));
        let data = block(16384, 9);
        let mut header = Vec::new();
        Message::encode_piece_header(3, 16384, 16384, &mut header);
        assert_eq!(header.len(), 13);
        d.push(&header);
        assert_eq!(d.next(), Ok(None));
        match &d.state {
            State::Body {
                data, remaining, ..
            } => {
                assert_eq!(*remaining, 16384);
                assert_eq!(data.capacity(), 16384);
            }
            other => panic!("expected a body, got {other:?}"),
        }
        d.push(&data);
        match d.next() {
            Ok(Some(Frame::Message(Message::Piece {
                index: 3,
                begin: 16384,
                data: got,
            }))) => {
                assert_eq!(got, data);
                assert_eq!(got.capacity(), 16384, "no regrowth, no second buffer");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.next(), Ok(None));
    }

    fn after_handshake(limits: WireLimits) -> Decoder {
        let mut d = Decoder::new(limits);
        d.push(&handshake_bytes());
        assert!(matches!(d.next(), Ok(Some(Frame::Handshake(_)))));
        d
    }

    fn assert_nothing_buffered(d: &Decoder) {
        assert!(matches!(d.state, State::Failed), "{:?}", d.state);
    }

    #[test]
    fn oversize_messages_fail_on_their_prefix_without_allocating() {
        // A piece one byte over 16 KiB + 13 (prefix value 16 384 + 9 + 1).
        let mut d = after_handshake(WireLimits::default());
        d.push(&(16384u32 + 10).to_be_bytes());
        assert_eq!(
            d.next(),
            Ok(None),
            "the prefix alone is under the absolute limit"
        );
        d.push(&[id::PIECE]);
        assert_eq!(
            d.next(),
            Err(WireError::MessageTooLong {
                id: Some(id::PIECE),
                len: 16394,
                max: 16393
            })
        );
        assert_nothing_buffered(&d);

        // A bitfield longer than the torrent's, once the piece count is known.
        let mut d = after_handshake(WireLimits::default());
        d.set_max_bitfield_len(Bitfield::wire_len(10));
        let mut out = Vec::new();
        Message::Bitfield(vec![0; 3]).encode(&mut out);
        d.push(&out);
        assert!(matches!(
            d.next(),
            Err(WireError::MessageTooLong {
                id: Some(id::BITFIELD),
                len: 4,
                max: 3
            })
        ));
        assert_nothing_buffered(&d);
        // Exactly the torrent's length passes.
        let mut d = after_handshake(WireLimits::for_pieces(10));
        out.clear();
        Message::Bitfield(vec![0xff, 0xc0]).encode(&mut out);
        d.push(&out);
        assert_eq!(
            d.next(),
            Ok(Some(Frame::Message(Message::Bitfield(vec![0xff, 0xc0]))))
        );

        // An extended message over 1 MiB.
        let mut d = after_handshake(WireLimits::default());
        d.push(&(MAX_EXTENDED_LEN + 1).to_be_bytes());
        // 1 MiB is also the largest message of any kind, so the prefix alone is refused.
        assert_eq!(
            d.next(),
            Err(WireError::MessageTooLong {
                id: None,
                len: MAX_EXTENDED_LEN + 1,
                max: MAX_EXTENDED_LEN
            })
        );
        assert_nothing_buffered(&d);

        // A prefix above every limit fails after four bytes.
        let mut d = after_handshake(WireLimits::default());
        d.push(&u32::MAX.to_be_bytes());
        assert!(matches!(
            d.next(),
            Err(WireError::MessageTooLong { id: None, .. })
        ));
        assert_nothing_buffered(&d);
    }

    #[test]
    fn legal_large_claims_reserve_at_most_64_kib() {
        let mut d = after_handshake(WireLimits::default());
        d.push(&MAX_EXTENDED_LEN.to_be_bytes());
        d.push(&[id::EXTENDED, 1, b'x']);
        match &d.state {
            State::Body {
                data, remaining, ..
            } => {
                assert_eq!(*remaining, MAX_EXTENDED_LEN - 3);
                assert!(data.capacity() <= 1 << 16);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fixed_sizes_fast_ids_and_skipped_ids() {
        let mut d = after_handshake(WireLimits::default());
        d.push(&[0, 0, 0, 2, id::CHOKE, 0]);
        assert_eq!(
            d.next(),
            Err(WireError::BadMessageLength {
                id: id::CHOKE,
                len: 2
            })
        );
        let mut d = after_handshake(WireLimits::default());
        d.push(&[0, 0, 0, 12, id::REQUEST]);
        assert!(matches!(d.next(), Err(WireError::BadMessageLength { .. })));
        let mut d = after_handshake(WireLimits::default());
        d.push(&[0, 0, 0, 8, id::PIECE]);
        assert!(matches!(d.next(), Err(WireError::BadMessageLength { .. })));
        // BEP 6 have_all without negotiation.
        let mut d = after_handshake(WireLimits::default());
        d.push(&[0, 0, 0, 1, 0x0e]);
        assert_eq!(d.next(), Err(WireError::FastNotNegotiated { id: 0x0e }));
        // A DHT port message and an unknown id are skipped; what follows still decodes.
        let mut d = after_handshake(WireLimits::default());
        d.push(&[0, 0, 0, 3, id::PORT, 0x1a]);
        d.push(&[0xe1, 0, 0, 0, 4, 99, 1, 2, 3, 0, 0, 0, 1, 99]);
        d.push(&[0, 0, 0, 1, id::UNCHOKE]);
        assert_eq!(d.next(), Ok(Some(Frame::Message(Message::Unchoke))));
        assert_eq!(d.next(), Ok(None));
    }

    /// Prints decoding throughput for WebTorrent's send pattern (13-byte header, then the
    /// 16 KiB block) and for 64 KiB transport chunks. A figure, not an assertion.
    #[test]
    #[ignore = "throughput figure: cargo test --release -p tabswarm-core -- --ignored --nocapture"]
    fn decode_throughput() {
        let blocks = 8192u32; // 128 MiB
        let data = block(16384, 3);
        let mut stream = Vec::new();
        for i in 0..blocks {
            Message::encode_piece(i / 16, (i % 16) * 16384, &data, &mut stream);
        }
        for (label, chunk) in [("13 + 16384 sends", 0usize), ("64 KiB chunks", 65536)] {
            let start = std::time::Instant::now();
            let mut d = after_handshake(WireLimits::default());
            let mut n = 0u32;
            let mut feed = |bytes: &[u8], d: &mut Decoder| {
                d.push(bytes);
                while let Ok(Some(Frame::Message(Message::Piece { data, .. }))) = d.next() {
                    assert_eq!(data.len(), 16384);
                    n += 1;
                }
            };
            if chunk == 0 {
                for msg in stream.chunks(16384 + 13) {
                    feed(&msg[..13], &mut d);
                    feed(&msg[13..], &mut d);
                }
            } else {
                for c in stream.chunks(chunk) {
                    feed(c, &mut d);
                }
            }
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(n, blocks);
            let mb = stream.len() as f64 / 1e6;
            println!("wire decode, {label}: {:.0} MB/s", mb / secs);
        }
    }
}
