//! The simulated network: real [`Engine`]s over modelled links, in virtual time.
//!
//! # Link model
//! Every peer has an upload capacity `up` and a download capacity `down` (bytes/s); every
//! pair of peers a one-way latency. A connection has a send queue (the transport's buffer;
//! its size is reported to the engine as `Input::SendBuffer`). A peer's **uplink** serves the
//! connections with queued bytes round-robin, one segment (at most [`SEGMENT`] bytes) at a
//! time, each taking `len / up`; a connection whose next send is small (at most
//! [`SMALL_SEND`] bytes: requests, haves, choke messages) goes first, as a sparse flow does
//! under fq_codel. A segment then travels for the pair's latency and joins the
//! receiver's **downlink**, a FIFO taking `len / down` per segment, after which its bytes are
//! handed to the receiving engine. So a peer never sends faster than `up` nor receives faster
//! than `down`, concurrent flows share capacity, and control messages queue behind data as
//! they would in a real transport.
//!
//! # Time and determinism
//! Events (uplink done, arrival at the downlink, delivery, engine timer, departure) sit in a
//! heap ordered by (time, sequence number); nothing depends on wall time or hash-map order, so
//! a run is a pure function of its parameters and seed. Payloads are moved, never copied,
//! except when a send larger than two segments is cut into segments.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tabswarm_core::engine::{Engine, Event, Input, Output, PeerKey, TraceEvent};
use tabswarm_core::lengths::{BlockInfo, Lengths, PieceIndex};
use tabswarm_core::store::{PieceStore, ReadStatus, StoreError};
use tabswarm_core::time::Time;

/// Largest unit the uplink sends at once.
pub const SEGMENT: usize = 16 * 1024 + 64;
/// Sends up to this size count as control traffic that the uplink serves first.
pub const SMALL_SEND: usize = 1024;

/// A store that serves reads from one shared copy of the content and keeps only a "have" flag
/// per piece (a thousand peers do not each hold 64 MiB). Verified pieces are dropped on write:
/// the engine already checked their SHA-1.
pub struct SimStore {
    content: Arc<Vec<u8>>,
    lengths: Option<Lengths>,
    have: Vec<bool>,
    seed: bool,
}

impl SimStore {
    pub fn new(content: Arc<Vec<u8>>, seed: bool) -> SimStore {
        SimStore {
            content,
            lengths: None,
            have: Vec::new(),
            seed,
        }
    }
}

impl PieceStore for SimStore {
    fn set_lengths(&mut self, lengths: Lengths) -> Result<(), StoreError> {
        if lengths.total_length() != self.content.len() as u64 {
            return Err(StoreError::LengthsMismatch {
                have: self.content.len() as u64,
                got: lengths.total_length(),
            });
        }
        self.have = vec![self.seed; lengths.num_pieces() as usize];
        self.lengths = Some(lengths);
        Ok(())
    }

    fn read_block(
        &mut self,
        block: BlockInfo,
        out: &mut Vec<u8>,
    ) -> Result<ReadStatus, StoreError> {
        let lengths = self.lengths.ok_or(StoreError::NoLengths)?;
        let piece = block.piece.get();
        if !self.have.get(piece as usize).copied().unwrap_or(false) {
            return Err(StoreError::Missing { piece });
        }
        let start = usize::try_from(lengths.piece_offset(block.piece) + u64::from(block.begin))
            .map_err(|_| StoreError::Missing { piece })?;
        let end = start + block.len as usize;
        let bytes = self
            .content
            .get(start..end)
            .ok_or(StoreError::Missing { piece })?;
        out.extend_from_slice(bytes);
        Ok(ReadStatus::Ready)
    }

    fn write_piece(&mut self, piece: PieceIndex, _data: Vec<u8>) -> Result<(), StoreError> {
        if let Some(h) = self.have.get_mut(piece.get() as usize) {
            *h = true;
        }
        Ok(())
    }
}

/// One simulated peer.
pub struct SimPeer {
    pub engine: Engine<SimStore>,
    pub up: u64,
    pub down: u64,
    pub alive: bool,
    pub done_at: Option<Time>,
    conns: Vec<Conn>,
    conn_of: HashMap<usize, usize>,
    rr: VecDeque<usize>,
    up_busy: bool,
    down_free: Time,
    timer_at: Time,
}

struct Conn {
    remote: usize,
    latency: Duration,
    queue: VecDeque<Vec<u8>>,
    queued: u64,
    open: bool,
    in_rr: bool,
}

enum Ev {
    UplinkDone {
        peer: usize,
        conn: usize,
        data: Vec<u8>,
    },
    Arrive {
        to: usize,
        from: usize,
        data: Vec<u8>,
    },
    Deliver {
        to: usize,
        from: usize,
        data: Vec<u8>,
    },
    Timer {
        peer: usize,
        at: Time,
    },
}

struct Entry {
    at: Time,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Entry) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Entry) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Entry) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Something a scenario may react to.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Verified { peer: usize, piece: u32 },
    Done { peer: usize },
}

/// The network and its peers.
pub struct Sim {
    pub peers: Vec<SimPeer>,
    pub now: Time,
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    /// Report the send queue to the engine when it falls to this many bytes.
    low_water: u64,
    pub events_processed: u64,
    pub notices: Vec<Notice>,
    /// FNV-1a over every engine's decision trace, folded in as it is produced.
    pub trace_hash: u64,
    pub trace_len: u64,
}

impl Sim {
    /// `low_water`: the send-queue level at which the engine hears about drained buffers.
    pub fn new(low_water: u64) -> Sim {
        Sim {
            peers: Vec::new(),
            now: Time::ZERO,
            heap: BinaryHeap::new(),
            seq: 0,
            low_water,
            events_processed: 0,
            notices: Vec::new(),
            trace_hash: 0xcbf2_9ce4_8422_2325,
            trace_len: 0,
        }
    }

    pub fn add_peer(&mut self, engine: Engine<SimStore>, up: u64, down: u64) -> usize {
        self.peers.push(SimPeer {
            engine,
            up,
            down,
            alive: true,
            done_at: None,
            conns: Vec::new(),
            conn_of: HashMap::new(),
            rr: VecDeque::new(),
            up_busy: false,
            down_free: Time::ZERO,
            timer_at: Time::NEVER,
        });
        self.peers.len() - 1
    }

    /// Whether the peer's uplink is sending.
    pub fn uplink_busy(&self, p: &SimPeer) -> bool {
        p.up_busy
    }

    pub fn is_connected(&self, a: usize, b: usize) -> bool {
        self.peers[a].conn_of.contains_key(&b)
    }

    /// Peers `a` has an open connection to.
    pub fn neighbors(&self, a: usize) -> Vec<usize> {
        self.peers[a]
            .conns
            .iter()
            .filter(|c| c.open)
            .map(|c| c.remote)
            .collect()
    }

    pub fn degree(&self, a: usize) -> usize {
        self.peers[a].conns.iter().filter(|c| c.open).count()
    }

    /// Opens a connection between `a` and `b` now (`a` gets `Connected`, `b` `Accepted`).
    pub fn connect(&mut self, a: usize, b: usize, latency: Duration) {
        if a == b || self.is_connected(a, b) || !self.peers[a].alive || !self.peers[b].alive {
            return;
        }
        for (x, y) in [(a, b), (b, a)] {
            let p = &mut self.peers[x];
            p.conn_of.insert(y, p.conns.len());
            p.conns.push(Conn {
                remote: y,
                latency,
                queue: VecDeque::new(),
                queued: 0,
                open: true,
                in_rr: false,
            });
        }
        // `a` made the offer, `b` answered it: `b` sends its handshake once `a`'s arrives.
        self.input(a, Input::Connected { peer: key(b) });
        self.input(b, Input::Accepted { peer: key(a) });
    }

    /// Processes events until `stop` holds, the heap empties, or `until` passes.
    pub fn run(&mut self, until: Time, mut stop: impl FnMut(&mut Sim) -> bool) {
        while let Some(Reverse(e)) = self.heap.pop() {
            if e.at > until {
                self.heap.push(Reverse(e));
                self.now = until;
                return;
            }
            self.now = self.now.max(e.at);
            self.events_processed += 1;
            self.handle(e.ev);
            if !self.notices.is_empty() && stop(self) {
                return;
            }
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::UplinkDone { peer, conn, data } => {
                let p = &mut self.peers[peer];
                p.up_busy = false;
                let c = &mut p.conns[conn];
                c.queued = c.queued.saturating_sub(data.len() as u64);
                let (remote, latency, open, queued) = (c.remote, c.latency, c.open, c.queued);
                if open {
                    let at = self.now + latency;
                    self.push(
                        at,
                        Ev::Arrive {
                            to: remote,
                            from: peer,
                            data,
                        },
                    );
                    if queued <= self.low_water {
                        self.input(
                            peer,
                            Input::SendBuffer {
                                peer: key(remote),
                                buffered: queued,
                            },
                        );
                    }
                }
                self.start_uplink(peer);
            }
            Ev::Arrive { to, from, data } => {
                let p = &mut self.peers[to];
                if !p.alive || !p.conn_of.get(&from).is_some_and(|&c| p.conns[c].open) {
                    return;
                }
                let start = p.down_free.max(self.now);
                let at = start + transfer_time(data.len(), p.down);
                p.down_free = at;
                self.push(at, Ev::Deliver { to, from, data });
            }
            Ev::Deliver { to, from, data } => {
                let p = &self.peers[to];
                if !p.alive || !p.conn_of.get(&from).is_some_and(|&c| p.conns[c].open) {
                    return;
                }
                self.input(
                    to,
                    Input::Data {
                        peer: key(from),
                        data: &data,
                    },
                );
            }
            Ev::Timer { peer, at } => {
                if self.peers[peer].alive && self.peers[peer].timer_at == at {
                    self.peers[peer].timer_at = Time::NEVER;
                    self.input(peer, Input::Timeout);
                }
            }
        }
    }

    /// `peer` leaves: every connection closes.
    pub fn leave(&mut self, peer: usize) {
        if !self.peers[peer].alive {
            return;
        }
        self.peers[peer].alive = false;
        let remotes: Vec<usize> = self.peers[peer]
            .conns
            .iter()
            .filter(|c| c.open)
            .map(|c| c.remote)
            .collect();
        for r in remotes {
            self.close(peer, r);
            self.close(r, peer);
            self.input(r, Input::Disconnected { peer: key(peer) });
        }
    }

    fn close(&mut self, a: usize, b: usize) {
        let p = &mut self.peers[a];
        if let Some(&c) = p.conn_of.get(&b) {
            let conn = &mut p.conns[c];
            conn.open = false;
            conn.queue.clear();
            conn.queued = 0;
        }
    }

    fn input(&mut self, i: usize, input: Input<'_>) {
        if !self.peers[i].alive {
            return;
        }
        self.peers[i].engine.handle_input(self.now, input);
        self.drain(i);
    }

    fn drain(&mut self, i: usize) {
        loop {
            let out = self.peers[i].engine.poll_output(self.now);
            match out {
                Output::Send { peer, data } => self.enqueue(i, peer, data),
                Output::Disconnect { peer, .. } => {
                    let r = remote(peer);
                    self.close(i, r);
                    self.close(r, i);
                    self.input(r, Input::Disconnected { peer: key(i) });
                }
                Output::Event(Event::Done) => {
                    self.peers[i].done_at = Some(self.now);
                    self.notices.push(Notice::Done { peer: i });
                }
                Output::Event(Event::PieceVerified { piece }) => {
                    self.notices.push(Notice::Verified { peer: i, piece });
                }
                Output::Event(_) => {}
                Output::Timeout(at) => {
                    let p = &mut self.peers[i];
                    if at != p.timer_at {
                        p.timer_at = at;
                        self.push(at, Ev::Timer { peer: i, at });
                    }
                    self.fold_trace(i);
                    return;
                }
            }
        }
    }

    fn fold_trace(&mut self, i: usize) {
        let trace = self.peers[i].engine.take_trace();
        for t in trace {
            self.trace_len += 1;
            let (kind, a, b, c) = match t {
                TraceEvent::Request {
                    peer,
                    piece,
                    begin,
                    duplicate,
                } => (
                    1u64 + u64::from(duplicate),
                    peer.0,
                    u64::from(piece),
                    u64::from(begin),
                ),
                TraceEvent::Choke(p) => (3, p.0, 0, 0),
                TraceEvent::Unchoke(p) => (4, p.0, 0, 0),
            };
            for v in [i as u64, self.now.as_micros(), kind, a, b, c] {
                for byte in v.to_le_bytes() {
                    self.trace_hash ^= u64::from(byte);
                    self.trace_hash = self.trace_hash.wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
    }

    fn enqueue(&mut self, i: usize, peer: PeerKey, data: Vec<u8>) {
        let r = remote(peer);
        let p = &mut self.peers[i];
        let Some(&c) = p.conn_of.get(&r) else {
            return;
        };
        let conn = &mut p.conns[c];
        if !conn.open {
            return;
        }
        conn.queued += data.len() as u64;
        if data.len() > 2 * SEGMENT {
            conn.queue.extend(data.chunks(SEGMENT).map(<[u8]>::to_vec));
        } else {
            conn.queue.push_back(data);
        }
        if !conn.in_rr {
            conn.in_rr = true;
            p.rr.push_back(c);
        }
        if !p.up_busy {
            self.start_uplink(i);
        }
    }

    fn start_uplink(&mut self, i: usize) {
        let p = &mut self.peers[i];
        if p.up_busy || !p.alive {
            return;
        }
        // Sparse flows first, as fq_codel (Linux's default queueing discipline) serves them: a
        // connection whose next send is a small control message goes ahead of bulk data.
        let conns = &p.conns;
        let sparse = p.rr.iter().position(|&c| {
            conns[c]
                .queue
                .front()
                .is_some_and(|d| d.len() <= SMALL_SEND)
        });
        if let Some(c) = sparse.and_then(|at| p.rr.remove(at)) {
            p.rr.push_front(c);
        }
        while let Some(c) = p.rr.pop_front() {
            let conn = &mut p.conns[c];
            let Some(data) = conn.queue.pop_front() else {
                conn.in_rr = false;
                continue;
            };
            if conn.queue.is_empty() {
                conn.in_rr = false;
            } else {
                p.rr.push_back(c);
            }
            p.up_busy = true;
            let at = self.now + transfer_time(data.len(), p.up);
            self.push(
                at,
                Ev::UplinkDone {
                    peer: i,
                    conn: c,
                    data,
                },
            );
            return;
        }
    }

    fn push(&mut self, at: Time, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            ev,
        }));
    }
}

pub fn key(i: usize) -> PeerKey {
    PeerKey(i as u64)
}

fn remote(k: PeerKey) -> usize {
    usize::try_from(k.0).unwrap_or(usize::MAX)
}

/// `len` bytes at `rate` bytes/s, rounded up to a microsecond; zero rate means never.
fn transfer_time(len: usize, rate: u64) -> Duration {
    if rate == 0 {
        return Duration::from_secs(1 << 40);
    }
    let us = (len as u128 * 1_000_000).div_ceil(u128::from(rate));
    Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
}
