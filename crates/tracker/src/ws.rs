//! The WebSocket (RFC 6455) server side, as small as a tracker needs: the upgrade handshake's
//! accept key, a frame reader for client frames and a writer that frames server messages.
//!
//! Why not a general WebSocket library: the tracker's cost is dominated by per-message work,
//! and owning the socket lets any connection task frame a message straight into the target
//! connection's buffer (no channel, no per-message allocation), lets the target's task write
//! everything queued in one syscall, keeps idle connections at a few hundred bytes, and reads
//! several frames per syscall. Only what WebTorrent clients use is implemented: no extensions
//! (the handshake does not accept `permessage-deflate`), no subprotocols.
//!
//! [`Reader`] is pure (bytes in, events out) and tested with fragmented input; [`Writer`]
//! queues frames and writes them to the socket.

use std::fmt;
use std::sync::{Arc, Mutex};

use tokio::net::TcpStream;
use tokio::sync::Notify;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
pub fn accept_key(client_key: &[u8]) -> String {
    tokio_tungstenite::tungstenite::handshake::derive_accept_key(client_key)
}

/// A protocol violation by the client; the connection is closed with the given code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsError {
    /// A frame breaks RFC 6455: reserved bits set (no extension was negotiated), unknown
    /// opcode, unmasked client frame, fragmented or over-long control frame, continuation
    /// without a started message, a new message inside a fragmented one, or a 64-bit length
    /// with the top bit set.
    Protocol(&'static str),
    /// A message (all its fragments together) is larger than the limit.
    TooLarge { limit: usize },
}

impl WsError {
    /// The close code to send (1002 protocol error, 1009 message too big).
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::Protocol(_) => 1002,
            WsError::TooLarge { .. } => 1009,
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Protocol(why) => write!(f, "WebSocket protocol error: {why}"),
            WsError::TooLarge { limit } => write!(f, "message too large (max {limit} bytes)"),
        }
    }
}

impl std::error::Error for WsError {}

/// One thing the client sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A complete text or binary message (payload unmasked).
    Message { text: bool, payload: &'a [u8] },
    /// A ping: answer with a pong carrying the payload.
    Ping(&'a [u8]),
    /// A pong (ignored apart from counting as activity).
    Pong,
    /// A close frame with its status code (1005 when absent).
    Close(u16),
}

/// Reassembles client messages from bytes as they arrive.
///
/// Feed bytes with [`Reader::buffer`] (append to it), then call [`Reader::next_event`] until it
/// returns `Ok(None)`, then [`Reader::compact`]. Payloads are unmasked in place, so a
/// single-frame message is returned without copying.
#[derive(Debug)]
pub struct Reader {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    start: usize,
    /// A fragmented message being collected: its opcode and payload so far.
    partial: Option<(u8, Vec<u8>)>,
    limit: usize,
}

impl Reader {
    /// A reader accepting messages of at most `limit` bytes.
    pub fn new(limit: usize) -> Reader {
        Reader {
            buf: Vec::new(),
            start: 0,
            partial: None,
            limit,
        }
    }

    /// The buffer to append newly read bytes to.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Received bytes not yet returned as events.
    pub fn unread(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete event, `Ok(None)` when more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<Incoming<'_>>, WsError> {
        loop {
            let avail = &self.buf[self.start..];
            let Some(h) = Header::parse(avail)? else {
                return Ok(None);
            };
            let total = h.header_len as u64 + h.len;
            let collected = self.partial.as_ref().map_or(0, |(_, p)| p.len() as u64);
            if h.len + collected > self.limit as u64 {
                return Err(WsError::TooLarge { limit: self.limit });
            }
            // Below the limit, so it fits in usize.
            let total =
                usize::try_from(total).map_err(|_| WsError::TooLarge { limit: self.limit })?;
            if avail.len() < total {
                return Ok(None);
            }
            let from = self.start + h.header_len;
            let to = self.start + total;
            self.start = to;
            unmask(&mut self.buf[from..to], h.mask);
            match h.opcode {
                OP_PING => return Ok(Some(Incoming::Ping(&self.buf[from..to]))),
                OP_PONG => return Ok(Some(Incoming::Pong)),
                OP_CLOSE => {
                    let p = &self.buf[from..to];
                    let code = match p {
                        [a, b, ..] => u16::from_be_bytes([*a, *b]),
                        _ => 1005,
                    };
                    return Ok(Some(Incoming::Close(code)));
                }
                OP_TEXT | OP_BINARY => {
                    if self.partial.is_some() {
                        return Err(WsError::Protocol("new message inside a fragmented one"));
                    }
                    if h.fin {
                        return Ok(Some(Incoming::Message {
                            text: h.opcode == OP_TEXT,
                            payload: &self.buf[from..to],
                        }));
                    }
                    self.partial = Some((h.opcode, self.buf[from..to].to_vec()));
                }
                OP_CONTINUATION => {
                    let Some((_, p)) = self.partial.as_mut() else {
                        return Err(WsError::Protocol("continuation without a message"));
                    };
                    p.extend_from_slice(&self.buf[from..to]);
                    if h.fin {
                        let (op, payload) = self.partial.take().unwrap_or_default();
                        // Park the assembled message in the consumed part of the buffer so
                        // it can be returned by reference like a single frame.
                        self.buf
                            .splice(self.start..self.start, payload.iter().copied());
                        let (a, b) = (self.start, self.start + payload.len());
                        self.start = b;
                        return Ok(Some(Incoming::Message {
                            text: op == OP_TEXT,
                            payload: &self.buf[a..b],
                        }));
                    }
                }
                _ => return Err(WsError::Protocol("unknown opcode")),
            }
        }
    }

    /// Drops consumed bytes; gives the memory back when nothing is pending (idle connections
    /// then hold no read buffer; one allocation per read is cheap next to the syscall).
    pub fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf = Vec::new();
        } else if self.start > 0 {
            self.buf.drain(..self.start);
        }
        self.start = 0;
    }
}

#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    len: u64,
    header_len: usize,
}

impl Header {
    fn parse(b: &[u8]) -> Result<Option<Header>, WsError> {
        let (Some(&b0), Some(&b1)) = (b.first(), b.get(1)) else {
            return Ok(None);
        };
        if b0 & 0x70 != 0 {
            return Err(WsError::Protocol("reserved bits set"));
        }
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0F;
        if b1 & 0x80 == 0 {
            return Err(WsError::Protocol("unmasked client frame"));
        }
        let (len, at) = match b1 & 0x7F {
            126 => match b.get(2..4) {
                Some(x) => (u64::from(u16::from_be_bytes([x[0], x[1]])), 4),
                None => return Ok(None),
            },
            127 => match b.get(2..10) {
                Some(x) => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(x);
                    let n = u64::from_be_bytes(a);
                    if n >> 63 != 0 {
                        return Err(WsError::Protocol("64-bit length with the top bit set"));
                    }
                    (n, 10)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        if opcode >= 0x8 && (!fin || len > 125) {
            return Err(WsError::Protocol("fragmented or long control frame"));
        }
        let Some(m) = b.get(at..at + 4) else {
            return Ok(None);
        };
        Ok(Some(Header {
            fin,
            opcode,
            mask: [m[0], m[1], m[2], m[3]],
            len,
            header_len: at + 4,
        }))
    }
}

/// XORs `data` with the 4-byte masking key, 8 bytes at a time.
fn unmask(data: &mut [u8], key: [u8; 4]) {
    let k8 = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ k8).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Bytes to leave free at the start of a buffer passed to [`Writer::send_text_framed`].
pub const HEADROOM: usize = 10;

/// The header of an unmasked server frame (FIN set) for a payload of `len` bytes.
pub fn frame_header(opcode: u8, len: usize, out: &mut [u8; 10]) -> usize {
    out[0] = 0x80 | opcode;
    if len < 126 {
        // Checked: fits in 7 bits.
        out[1] = u8::try_from(len).unwrap_or(125);
        2
    } else if let Ok(n) = u16::try_from(len) {
        out[1] = 126;
        out[2..4].copy_from_slice(&n.to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    }
}

/// What became of a message handed to [`Writer::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Queued for the connection's task to write.
    Ok,
    /// Dropped: the connection's backlog is over its limit (a client that does not read).
    Dropped,
    /// The connection is closing.
    Closed,
}

/// The sending side of one connection, shared by every task that sends to it.
///
/// A send only appends the frame to the connection's buffer and wakes the connection's own
/// task, which writes the whole buffer in one syscall when it next runs ([`Writer::flush`]).
/// On a loaded tracker several messages for one socket (say the answers of the peers an
/// announce offered to, which arrive together) are thus sent in one write; the kernel's cost
/// per write, not per byte, dominates the tracker's CPU time.
#[derive(Debug)]
pub struct Writer {
    stream: Arc<TcpStream>,
    out: Mutex<Backlog>,
    /// Signalled when `out` becomes non-empty.
    pub pending: Notify,
    limit: usize,
}

#[derive(Debug, Default)]
struct Backlog {
    buf: Vec<u8>,
    closed: bool,
}

impl Writer {
    /// A writer for `stream` that queues at most `limit` unsent bytes.
    pub fn new(stream: Arc<TcpStream>, limit: usize) -> Writer {
        Writer {
            stream,
            out: Mutex::new(Backlog::default()),
            pending: Notify::new(),
            limit,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backlog> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one text message whose payload is `frame[HEADROOM..]`; the header is written
    /// into the headroom so the frame goes out in one contiguous write.
    pub fn send_text_framed(&self, frame: &mut [u8]) -> Sent {
        let Some(payload_len) = frame.len().checked_sub(HEADROOM) else {
            return Sent::Closed;
        };
        let mut hdr = [0u8; 10];
        let n = frame_header(OP_TEXT, payload_len, &mut hdr);
        frame[HEADROOM - n..HEADROOM].copy_from_slice(&hdr[..n]);
        self.send_bytes(&frame[HEADROOM - n..])
    }

    /// Sends one text message.
    pub fn send_text(&self, payload: &[u8]) -> Sent {
        self.send(OP_TEXT, payload)
    }

    /// Sends a pong with `payload`.
    pub fn send_pong(&self, payload: &[u8]) -> Sent {
        self.send(OP_PONG, payload)
    }

    /// Sends a close frame; later sends are refused.
    pub fn send_close(&self, code: u16, reason: &str) -> Sent {
        let mut p = Vec::with_capacity(2 + reason.len());
        p.extend_from_slice(&code.to_be_bytes());
        p.extend_from_slice(&reason.as_bytes()[..reason.len().min(123)]);
        let r = self.send(OP_CLOSE, &p);
        self.lock().closed = true;
        r
    }

    fn send(&self, opcode: u8, payload: &[u8]) -> Sent {
        let mut hdr = [0u8; 10];
        let n = frame_header(opcode, payload.len(), &mut hdr);
        let mut frame = Vec::with_capacity(n + payload.len());
        frame.extend_from_slice(&hdr[..n]);
        frame.extend_from_slice(payload);
        self.send_bytes(&frame)
    }

    /// Queues a whole frame for the connection's own task, which writes everything queued
    /// in one syscall ([`Writer::flush`]).
    fn send_bytes(&self, frame: &[u8]) -> Sent {
        let mut out = self.lock();
        if out.closed {
            return Sent::Closed;
        }
        let was_empty = out.buf.is_empty();
        if !was_empty && out.buf.len() + frame.len() > self.limit {
            return Sent::Dropped;
        }
        out.buf.extend_from_slice(frame);
        drop(out);
        if was_empty {
            self.pending.notify_one();
        }
        Sent::Ok
    }

    /// True while bytes are queued.
    pub fn has_backlog(&self) -> bool {
        !self.lock().buf.is_empty()
    }

    /// Writes queued bytes until the socket would block; `Err` when the socket failed.
    pub fn flush(&self) -> std::io::Result<()> {
        let mut out = self.lock();
        while !out.buf.is_empty() {
            match self.stream.try_write(&out.buf) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    out.buf.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => {
                    out.closed = true;
                    return Err(e);
                }
            }
        }
        // Idle connections hold no buffer; one allocation per write is cheap next to the
        // write syscall.
        out.buf = Vec::new();
        Ok(())
    }

    /// Refuses further sends.
    pub fn close(&self) {
        self.lock().closed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame.
    fn client_frame(fin: bool, opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut hdr = [0u8; 10];
        let n = frame_header(opcode, payload.len(), &mut hdr);
        let mut f = hdr[..n].to_vec();
        if !fin {
            f[0] &= 0x7F;
        }
        f[1] |= 0x80;
        f.extend_from_slice(&key);
        let mut p = payload.to_vec();
        unmask(&mut p, key);
        f.extend_from_slice(&p);
        f
    }

    fn collect(r: &mut Reader) -> Result<Vec<String>, WsError> {
        let mut out = Vec::new();
        while let Some(ev) = r.next_event()? {
            out.push(match ev {
                Incoming::Message { text, payload } => {
                    format!(
                        "{}:{}",
                        if text { "T" } else { "B" },
                        String::from_utf8_lossy(payload)
                    )
                }
                Incoming::Ping(p) => format!("ping:{}", String::from_utf8_lossy(p)),
                Incoming::Pong => "pong".into(),
                Incoming::Close(c) => format!("close:{c}"),
            });
        }
        r.compact();
        Ok(out)
    }

    #[test]
    fn frames_split_at_every_byte_boundary_reassemble() {
        let long = "x".repeat(70_000);
        let mid = "m".repeat(300);
        let mut stream = client_frame(true, OP_TEXT, b"{\"a\":1}", [1, 2, 3, 4]);
        stream.extend(client_frame(true, OP_PING, b"hi", [9, 9, 9, 9]));
        stream.extend(client_frame(false, OP_TEXT, b"frag", [5, 6, 7, 8]));
        stream.extend(client_frame(true, OP_PONG, b"", [1, 1, 1, 1]));
        stream.extend(client_frame(false, OP_CONTINUATION, b"men", [0, 0, 0, 1]));
        stream.extend(client_frame(true, OP_CONTINUATION, b"ted", [7, 7, 7, 7]));
        stream.extend(client_frame(true, OP_BINARY, mid.as_bytes(), [3, 1, 4, 1]));
        stream.extend(client_frame(true, OP_TEXT, long.as_bytes(), [2, 7, 1, 8]));
        stream.extend(client_frame(
            true,
            OP_CLOSE,
            &1000u16.to_be_bytes(),
            [4, 4, 4, 4],
        ));
        let want = vec![
            "T:{\"a\":1}".to_owned(),
            "ping:hi".into(),
            "pong".into(),
            "T:fragmented".into(),
            format!("B:{mid}"),
            format!("T:{long}"),
            "close:1000".into(),
        ];
        for step in [1usize, 2, 3, 7, 64, 1000, stream.len()] {
            let mut r = Reader::new(100_000);
            let mut got = Vec::new();
            for chunk in stream.chunks(step) {
                r.buffer().extend_from_slice(chunk);
                got.extend(collect(&mut r).unwrap());
            }
            assert_eq!(got, want, "chunk size {step}");
            assert_eq!(r.unread(), 0);
        }
    }

    #[test]
    fn protocol_violations_and_size_limit() {
        let bad = |bytes: Vec<u8>| {
            let mut r = Reader::new(1000);
            r.buffer().extend(bytes);
            collect(&mut r).unwrap_err()
        };
        let mut unmasked = client_frame(true, OP_TEXT, b"x", [0; 4]);
        unmasked[1] &= 0x7F;
        assert_eq!(bad(unmasked), WsError::Protocol("unmasked client frame"));
        let mut rsv = client_frame(true, OP_TEXT, b"x", [0; 4]);
        rsv[0] |= 0x40;
        assert_eq!(bad(rsv), WsError::Protocol("reserved bits set"));
        assert_eq!(
            bad(client_frame(false, OP_PING, b"x", [0; 4])),
            WsError::Protocol("fragmented or long control frame")
        );
        assert_eq!(
            bad(client_frame(true, OP_CONTINUATION, b"x", [0; 4])),
            WsError::Protocol("continuation without a message")
        );
        assert_eq!(
            bad(client_frame(true, 0x3, b"x", [0; 4])),
            WsError::Protocol("unknown opcode")
        );
        let mut two = client_frame(false, OP_TEXT, b"a", [0; 4]);
        two.extend(client_frame(true, OP_TEXT, b"b", [0; 4]));
        assert_eq!(
            bad(two),
            WsError::Protocol("new message inside a fragmented one")
        );
        // Too large is known from the header alone, before the payload arrives.
        let big = client_frame(true, OP_TEXT, &[b'x'; 1001], [0; 4]);
        assert_eq!(bad(big[..14].to_vec()), WsError::TooLarge { limit: 1000 });
        // ... and across fragments.
        let mut frags = client_frame(false, OP_TEXT, &[b'x'; 600], [0; 4]);
        frags.extend(client_frame(true, OP_CONTINUATION, &[b'x'; 600], [0; 4]));
        assert_eq!(bad(frags), WsError::TooLarge { limit: 1000 });
        assert_eq!(WsError::TooLarge { limit: 1 }.close_code(), 1009);
    }

    #[test]
    fn server_frame_headers_use_the_shortest_length_form() {
        let mut h = [0u8; 10];
        assert_eq!(frame_header(OP_TEXT, 125, &mut h), 2);
        assert_eq!(h[..2], [0x81, 125]);
        assert_eq!(frame_header(OP_TEXT, 126, &mut h), 4);
        assert_eq!(h[..4], [0x81, 126, 0, 126]);
        assert_eq!(frame_header(OP_CLOSE, 70_000, &mut h), 10);
        assert_eq!(h[..10], [0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
