//! The download side of a connection: sizing the request pipeline, picking blocks, receiving
//! them, and withdrawing or cancelling requests.
//!
//! # Pipeline
//! See [`Download::target_depth`]: about twice the bandwidth-delay product, measured per peer.
//!
//! # Taking over requests
//! The picker never requests a block twice outside endgame, so a peer whose pieces we want can
//! still go unused: everything it has that we lack may already be requested from others. Left
//! alone its upload capacity idles while our requests wait in another peer's queue. When a
//! peer's pipeline runs dry like this, it takes over requests from the peer with the longest
//! pipeline, newest first (those are the furthest from being served): a `cancel` goes to the
//! old peer and a `request` to the new one. If the old peer had already sent the block, it
//! arrives twice and the second copy is counted as wasted.
//!
//! # Only answers to our requests
//! A `piece` is kept only if it answers a request outstanding at that peer, or one we withdrew
//! from it (cancel, choke, timeout, take-over) less than [`LATE_WINDOW`] ago: such a block
//! was on its way and is late, not hostile. Anything else is dropped without allocating and
//! counted; a peer that sends more than [`MAX_UNREQUESTED`] of them is disconnected with
//! [`DisconnectReason::UnrequestedBlock`]. A piece's buffer is allocated at its first
//! request (or again for a late block of a piece that went back to missing) and freed when
//! the piece leaves flight, so piece memory is bounded by the requests we sent, never by
//! incoming data alone.
//!
//! # Peers on parole
//! A peer that sent blocks of a piece that failed its hash check is on parole (see `swarm`):
//! it is asked for blocks of one piece at a time that nobody else is asked for, so the
//! piece's hash proves or clears it alone, and it takes no part in take-overs.

use std::collections::VecDeque;
use std::time::Duration;

use super::peer::Peer;
use super::{Core, Deferred, DisconnectReason, Engine, PeerKey, PieceBuf, TraceEvent};
use crate::lengths::{BlockInfo, PieceIndex, BLOCK_LEN};
use crate::picker::PieceState;
use crate::picker::Received;
use crate::rate::RateEstimator;
use crate::store::PieceStore;
use crate::time::Time;
use crate::wire::Message;

/// Fewest requests kept at a peer (also the start, before its rate is known).
const MIN_PIPELINE: u32 = 8;
/// Requests on top of the rate-based window.
const PIPELINE_MARGIN: u32 = 4;
/// Time added to twice the round trip in the pipeline window.
const PIPELINE_SLACK: Duration = Duration::from_millis(100);
/// Largest pipeline window.
const PIPELINE_MAX_WINDOW: Duration = Duration::from_secs(1);
/// Window of the short-term rate that sizes the pipeline.
pub(super) const RECENT_WINDOW: Duration = Duration::from_secs(2);
/// Period over which the smallest round trip is taken.
const RTT_WINDOW: Duration = Duration::from_secs(10);

/// A peer whose pipeline holds fewer requests than this may take over requests.
pub(super) const STEAL_BELOW: usize = 2;
/// A donor keeps at least this many requests.
const DONOR_KEEPS: usize = 4;
/// A block answering a request we withdrew this long ago or less is late, not unrequested.
pub(super) const LATE_WINDOW: Duration = Duration::from_secs(10);
/// Withdrawn requests remembered per peer (more than a full pipeline).
pub(super) const MAX_CANCELLED: usize = 512;
/// Unrequested blocks a peer may send before it is disconnected.
pub(super) const MAX_UNREQUESTED: u32 = 8;

/// The download side of one connection: our requests at the peer and what sizes them. Only
/// this module reads or changes it; the rest of the engine asks through the methods below.
pub(super) struct Download {
    /// Our outstanding requests and when we sent them, oldest first.
    requests: VecDeque<(BlockInfo, Time)>,
    /// Requests we withdrew (cancel, choke, timeout, taken over) and when, oldest first: a
    /// block answering one of these within [`LATE_WINDOW`] is late, not unrequested. At most
    /// [`MAX_CANCELLED`].
    cancelled: VecDeque<(BlockInfo, Time)>,
    /// Blocks it sent that answered no request of ours.
    unrequested: u32,
    /// Smallest recent request-to-block delay (see `sample_rtt`).
    min_rtt: Option<Duration>,
    window_min_rtt: Option<Duration>,
    rtt_window_start: Time,
    /// The piece of our last request to it: the picker continues that piece first.
    last_picked: Option<PieceIndex>,
    /// Its requests timed out: one request at a time until a block arrives.
    stalled: bool,
    /// A `Deferred::Steal` for it is queued.
    steal_queued: bool,
    /// Last block from it, or when the pipeline went from empty to busy.
    progress_at: Time,
    /// Its block rate over [`RECENT_WINDOW`], which sizes the pipeline; restarted when it
    /// unchokes us.
    pipeline_rate: RateEstimator,
    /// How many of our requests it queues (its `reqq`).
    reqq: u32,
}

impl Download {
    pub(super) fn new(now: Time, reqq: u32) -> Download {
        Download {
            requests: VecDeque::new(),
            cancelled: VecDeque::new(),
            unrequested: 0,
            min_rtt: None,
            window_min_rtt: None,
            rtt_window_start: now,
            last_picked: None,
            stalled: false,
            steal_queued: false,
            progress_at: now,
            pipeline_rate: RateEstimator::new(RECENT_WINDOW, now),
            reqq,
        }
    }

    /// Our outstanding requests, oldest first.
    pub(super) fn requests(&self) -> impl Iterator<Item = &BlockInfo> {
        self.requests.iter().map(|(b, _)| b)
    }

    pub(super) fn outstanding(&self) -> usize {
        self.requests.len()
    }

    /// Requests are outstanding and nothing arrived for `timeout`.
    pub(super) fn timed_out(&self, now: Time, timeout: Duration) -> bool {
        !self.requests.is_empty() && now.saturating_since(self.progress_at) >= timeout
    }

    /// It unchoked us: measure the rate from the moment data can flow.
    pub(super) fn restart_rate(&mut self, now: Time) {
        self.pipeline_rate = RateEstimator::new(RECENT_WINDOW, now);
    }

    /// Its extended handshake's `reqq`, already clamped.
    pub(super) fn set_reqq(&mut self, reqq: u32) {
        self.reqq = reqq;
    }

    #[cfg(test)]
    pub(super) fn progress_at(&self) -> Time {
        self.progress_at
    }

    /// Requests to keep outstanding: the data its recent rate moves in twice the smallest
    /// recent round trip plus [`PIPELINE_SLACK`], plus [`PIPELINE_MARGIN`] blocks. So the rate
    /// can grow by about half each round trip while the requests waiting at the peer stay near
    /// one round trip of data: more would hold blocks that an idle peer could send. The window
    /// never exceeds [`PIPELINE_MAX_WINDOW`] (WebTorrent keeps at most a second at the current
    /// speed), and before the first round trip is measured it is the slack alone.
    pub(super) fn target_depth(&self, now: Time, max: u32) -> u32 {
        if self.stalled {
            return 1;
        }
        let rate = u128::from(self.pipeline_rate.rate(now));
        let window = self
            .min_rtt
            .map_or(PIPELINE_SLACK, |rtt| 2 * rtt + PIPELINE_SLACK)
            .min(PIPELINE_MAX_WINDOW);
        let bytes = rate * window.as_micros() / 1_000_000;
        let blocks = u32::try_from(bytes / u128::from(BLOCK_LEN)).unwrap_or(u32::MAX);
        blocks
            .saturating_add(PIPELINE_MARGIN)
            .max(MIN_PIPELINE)
            .min(max)
            .min(self.reqq)
            .max(1)
    }

    /// Whether we have an outstanding request for `block` at this peer.
    pub(super) fn has_request(&self, block: &BlockInfo) -> bool {
        self.requests.iter().any(|(b, _)| b == block)
    }

    /// Removes our request for `block`, returning when it was sent.
    pub(super) fn take_request(&mut self, block: &BlockInfo) -> Option<Time> {
        let at = self.requests.iter().position(|(b, _)| b == block)?;
        self.requests.remove(at).map(|(_, t)| t)
    }

    /// Remembers that our request for `block` was withdrawn at `now` (see [`LATE_WINDOW`]).
    pub(super) fn note_withdrawn(&mut self, block: BlockInfo, now: Time) {
        if self.cancelled.len() >= MAX_CANCELLED {
            self.cancelled.pop_front();
        }
        self.cancelled.push_back((block, now));
    }

    /// Whether `block` answers a request withdrawn within [`LATE_WINDOW`]; forgets it if so.
    fn take_withdrawn(&mut self, block: &BlockInfo, now: Time) -> bool {
        while self
            .cancelled
            .front()
            .is_some_and(|(_, t)| now.saturating_since(*t) > LATE_WINDOW)
        {
            self.cancelled.pop_front();
        }
        let Some(at) = self.cancelled.iter().position(|(b, _)| b == block) else {
            return false;
        };
        self.cancelled.remove(at);
        true
    }

    /// A requested block arrived `rtt` after its request. The smallest round trip is kept
    /// per [`RTT_WINDOW`]: a smaller sample lowers the estimate at once, and at the end of a
    /// window the estimate becomes that window's smallest sample (so it can also rise).
    fn sample_rtt(&mut self, now: Time, rtt: Duration) {
        if self.min_rtt.is_none_or(|m| rtt < m) {
            self.min_rtt = Some(rtt);
        }
        self.window_min_rtt = Some(self.window_min_rtt.map_or(rtt, |m| m.min(rtt)));
        if now.saturating_since(self.rtt_window_start) >= RTT_WINDOW {
            self.min_rtt = self.window_min_rtt.take();
            self.rtt_window_start = now;
        }
    }
}

impl<S: PieceStore> Core<S> {
    pub(super) fn on_piece(
        &mut self,
        p: &mut Peer,
        index: u32,
        begin: u32,
        data: &[u8],
    ) -> Result<(), DisconnectReason> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let block = self.validate(index, begin, len)?;
        let now = self.now;
        let credited = match p.download.take_request(&block) {
            Some(sent) => {
                p.download.sample_rtt(now, now.saturating_since(sent));
                true
            }
            None => false,
        };
        if !credited && !p.download.take_withdrawn(&block, now) {
            // Never asked for: dropped without allocating.
            self.bytes.wasted += u64::from(len);
            p.download.unrequested += 1;
            if p.download.unrequested > MAX_UNREQUESTED {
                return Err(DisconnectReason::UnrequestedBlock);
            }
            return Ok(());
        }
        if credited {
            let n = u64::from(len);
            p.down_rate.record(now, n);
            p.download.pipeline_rate.record(now, n);
            self.down_rate.record(now, n);
            p.last_block_at = Some(now);
            p.download.progress_at = now;
            p.download.stalled = false;
        }
        // A late block of a piece that went back to missing since its request was withdrawn
        // puts it in flight again: the buffer is for a request we sent.
        if let (false, Some(picker)) = (credited, &mut self.picker) {
            if !self.buffers.contains_key(&index) && picker.resume(block) {
                let lengths = picker.lengths();
                self.buffers
                    .insert(index, PieceBuf::new(lengths, block.piece));
            }
        }
        let (Some(picker), Some(buf), Some(id)) =
            (&mut self.picker, self.buffers.get_mut(&index), p.peer_id)
        else {
            // A late block of a piece that left flight since.
            self.bytes.wasted += u64::from(len);
            self.fill_requests(p);
            return Ok(());
        };
        match picker.received(block) {
            Received::New { complete } => {
                let start = begin as usize;
                buf.data[start..start + data.len()].copy_from_slice(data);
                if let Some(from) = picker
                    .lengths()
                    .block_index(block)
                    .and_then(|b| buf.from.get_mut(b as usize))
                {
                    *from = Some((p.key, id));
                }
                if complete {
                    self.pending.push_back(Deferred::Complete(block.piece));
                }
                // Other peers may hold a request for it: endgame copies, or a request it was
                // taken over by (this copy was already on its way).
                if !credited || picker.in_endgame() {
                    self.pending.push_back(Deferred::CancelOthers(block, p.key));
                }
            }
            Received::Duplicate | Received::NotInFlight => self.bytes.wasted += u64::from(len),
        }
        self.fill_requests(p);
        Ok(())
    }

    /// Tops up the peer's pipeline from the picker.
    pub(super) fn fill_requests(&mut self, p: &mut Peer) {
        if p.peer_choking || !p.am_interested {
            return;
        }
        let now = self.now;
        let target = p.download.target_depth(now, self.config.pipeline_depth) as usize;
        let was_idle = p.download.requests.is_empty();
        while p.download.requests.len() < target {
            if let Some(bucket) = &mut self.down_bucket {
                let at = bucket.available_at(now, u64::from(BLOCK_LEN));
                if at > now {
                    self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
                    break;
                }
            }
            let Some(picker) = &mut self.picker else {
                break;
            };
            let requests = &p.download.requests;
            let asked = |b: BlockInfo| requests.iter().any(|(r, _)| *r == b);
            let pick = if p.parole {
                let busy = !p.download.requests.is_empty();
                picker.pick_exclusive(&p.has, p.download.last_picked, busy, &mut self.rng)
            } else {
                picker.pick(&p.has, p.download.last_picked, asked, &mut self.rng)
            };
            let Some(pick) = pick else {
                // Nothing left to pick here: maybe take over blocks queued at a busier peer.
                if p.download.requests.len() < STEAL_BELOW && !p.download.steal_queued && !p.parole
                {
                    p.download.steal_queued = true;
                    self.pending.push_back(Deferred::Steal(p.key));
                }
                break;
            };
            let b = pick.block;
            if let Some(bucket) = &mut self.down_bucket {
                bucket.take(now, u64::from(b.len));
            }
            p.download.last_picked = Some(b.piece);
            if self.config.trace {
                self.trace.push(TraceEvent::Request {
                    peer: p.key,
                    piece: b.piece.get(),
                    begin: b.begin,
                    duplicate: pick.duplicate,
                });
            }
            self.add_request(p, b);
        }
        if was_idle && !p.download.requests.is_empty() {
            p.download.progress_at = now;
        }
    }

    /// Sends a request for `b` and records it. A piece's buffer is allocated at its first
    /// request.
    fn add_request(&mut self, p: &mut Peer, b: BlockInfo) {
        if let Some(picker) = &self.picker {
            let lengths = picker.lengths();
            self.buffers
                .entry(b.piece.get())
                .or_insert_with(|| PieceBuf::new(lengths, b.piece));
        }
        p.download.requests.push_back((b, self.now));
        self.emit_request(p, b);
    }

    /// Our request for `b` at `p` is gone unanswered: it is remembered (a late block is still
    /// welcome), goes back to the picker, and the piece's buffer is freed if the piece left
    /// flight.
    fn drop_request(&mut self, p: &mut Peer, b: BlockInfo) {
        p.download.note_withdrawn(b, self.now);
        if let Some(picker) = &mut self.picker {
            picker.unrequest(b);
            if picker.state(b.piece) != PieceState::InFlight {
                self.buffers.remove(&b.piece.get());
            }
        }
    }

    /// Our requests at `p` are gone (choke, disconnect): back to the picker, no `cancel`.
    pub(super) fn withdraw_requests(&mut self, p: &mut Peer) {
        for (b, _) in std::mem::take(&mut p.download.requests) {
            self.drop_request(p, b);
        }
    }

    /// Withdraws every request at `p` and tells it with `cancel` (it stalled).
    pub(super) fn cancel_all_requests(&mut self, p: &mut Peer) {
        p.download.stalled = true;
        for (b, _) in std::mem::take(&mut p.download.requests) {
            self.drop_request(p, b);
            self.emit_cancel(p, b);
        }
    }

    /// Cancels one endgame copy at `p`, if it has it outstanding.
    pub(super) fn cancel_request(&mut self, p: &mut Peer, block: BlockInfo) {
        if p.download.take_request(&block).is_some() {
            self.drop_request(p, block);
            self.emit_cancel(p, block);
            self.fill_requests(p);
        }
    }

    pub(super) fn emit_request(&mut self, p: &mut Peer, b: BlockInfo) {
        let msg = Message::Request {
            index: b.piece.get(),
            begin: b.begin,
            length: b.len,
        };
        self.emit(p, &msg);
    }

    pub(super) fn emit_cancel(&mut self, p: &mut Peer, b: BlockInfo) {
        let msg = Message::Cancel {
            index: b.piece.get(),
            begin: b.begin,
            length: b.len,
        };
        self.emit(p, &msg);
    }
}

impl<S: PieceStore> Engine<S> {
    pub(super) fn steal(&mut self, key: PeerKey) {
        let Some(mut p) = self.peers.remove(&key) else {
            return;
        };
        p.download.steal_queued = false;
        let c = &mut self.core;
        if !p.peer_choking && p.am_interested && !p.parole {
            let target = p.download.target_depth(c.now, c.config.pipeline_depth) as usize;
            let was_idle = p.download.requests.is_empty();
            let mut want = target.saturating_sub(p.download.requests.len());
            while want > 0 {
                // The donor: the longest pipeline, lowest key on ties.
                let donor = self
                    .peers
                    .values_mut()
                    .filter(|d| d.download.requests.len() > DONOR_KEEPS && !d.parole)
                    .max_by_key(|d| (d.download.requests.len(), std::cmp::Reverse(d.key)));
                let Some(d) = donor else {
                    break;
                };
                // Only blocks of pieces still in flight: the donor may hold an endgame copy of
                // a block whose piece was verified since (its cancel is still queued), and
                // taking that one over would give a finished piece a buffer again.
                let picker = c.picker.as_ref();
                let in_flight = |b: &BlockInfo| {
                    picker.is_some_and(|pk| pk.state(b.piece) == PieceState::InFlight)
                };
                let found = d.download.requests.iter().rposition(|(b, _)| {
                    p.has.get(b.piece.get()) && !p.download.has_request(b) && in_flight(b)
                });
                let Some(at) = found else {
                    break;
                };
                let Some((block, _)) = d.download.requests.remove(at) else {
                    break;
                };
                c.emit_cancel(d, block);
                d.download.note_withdrawn(block, c.now);
                c.add_request(&mut p, block);
                want -= 1;
            }
            // As in `fill_requests`: an idle pipeline's request timeout starts now, not at the
            // last block it delivered (or at the connection, if it never delivered one).
            if was_idle && !p.download.requests.is_empty() {
                p.download.progress_at = c.now;
            }
        }
        self.peers.insert(key, p);
    }
}
