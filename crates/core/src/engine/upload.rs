//! The upload side of a connection: its requests queued at us, and serving them.
//!
//! Requests from a peer we unchoked are queued (up to the `reqq` we advertise, our
//! `pipeline_depth`) and served in order while its transport holds less than
//! `max_send_buffer` and the upload limiter allows. Requests while it is choked are ignored
//! (BEP 3 without the fast extension), and a choke drops the queue.

use std::collections::VecDeque;
use std::time::Duration;

use super::peer::Peer;
use super::{Core, DisconnectReason, Event, Output};
use crate::lengths::BlockInfo;
use crate::rate::RateEstimator;
use crate::store::{PieceStore, ReadStatus};
use crate::time::Time;
use crate::wire::Message;

/// The upload side of one connection. Only this module reads or changes it.
pub(super) struct Upload {
    /// Its requests, to serve in order.
    queue: VecDeque<BlockInfo>,
    /// A read answered `Pending`; serve again on `StoreReady`.
    parked: bool,
    /// Block bytes we sent it (the choker ranks seeds' peers by it).
    rate: RateEstimator,
}

impl Upload {
    pub(super) fn new(window: Duration, now: Time) -> Upload {
        Upload {
            queue: VecDeque::new(),
            parked: false,
            rate: RateEstimator::new(window, now),
        }
    }

    /// Its requests waiting at us.
    pub(super) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Block bytes/s we sent it over the rate window.
    pub(super) fn rate(&self, now: Time) -> u64 {
        self.rate.rate(now)
    }

    /// It cancelled a request.
    pub(super) fn cancel(&mut self, block: BlockInfo) {
        if let Some(at) = self.queue.iter().position(|b| *b == block) {
            self.queue.remove(at);
        }
    }

    /// We choked it: its requests are dropped (BEP 3).
    pub(super) fn choked(&mut self) {
        self.queue.clear();
    }

    /// The store can serve again: true if this peer was waiting for it.
    pub(super) fn unpark(&mut self) -> bool {
        std::mem::take(&mut self.parked)
    }
}

impl<S: PieceStore> Core<S> {
    pub(super) fn on_request(
        &mut self,
        p: &mut Peer,
        index: u32,
        begin: u32,
        len: u32,
    ) -> Result<(), DisconnectReason> {
        let block = self.validate(index, begin, len)?;
        // While choked, requests are ignored (BEP 3 without the fast extension); so are
        // requests for pieces we lack and requests beyond the `reqq` we advertised.
        if p.am_choking
            || !self.have.get(index)
            || p.upload.queue.len() >= self.config.pipeline_depth as usize
        {
            return Ok(());
        }
        p.upload.queue.push_back(block);
        self.serve(p);
        Ok(())
    }

    /// Serves queued requests while the peer is unchoked, its transport has room and the
    /// upload limiter allows.
    pub(super) fn serve(&mut self, p: &mut Peer) {
        self.serve_metadata(p);
        while !p.am_choking
            && !p.upload.parked
            && p.buffered < self.config.max_send_buffer
            && !self.uploads_disabled()
        {
            let Some(&block) = p.upload.queue.front() else {
                return;
            };
            let now = self.now;
            if let Some(bucket) = &mut self.up_bucket {
                let at = bucket.available_at(now, u64::from(block.len));
                if at > now {
                    self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
                    return;
                }
            }
            // Each `piece` message is its own send, allocated at its exact size: no copy on
            // growth, and the messages queued before it are handed out first to keep order.
            let mut msg = Vec::with_capacity(13 + block.len as usize);
            Message::encode_piece_header(block.piece.get(), block.begin, block.len, &mut msg);
            match self.store.read_block(block, &mut msg) {
                Ok(ReadStatus::Ready) => {
                    p.upload.queue.pop_front();
                    let len = u64::from(block.len);
                    self.bytes.uploaded += len;
                    self.up_rate.record(now, len);
                    p.upload.rate.record(now, len);
                    if let Some(bucket) = &mut self.up_bucket {
                        bucket.take(now, len);
                    }
                    self.flush(p);
                    p.buffered += msg.len() as u64;
                    p.last_sent = now;
                    self.out.push_back(Output::Send {
                        peer: p.key,
                        data: msg,
                    });
                }
                Ok(ReadStatus::Pending) => p.upload.parked = true,
                Err(error) => {
                    p.upload.queue.pop_front();
                    self.out
                        .push_back(Output::Event(Event::StoreFailed { error }));
                }
            }
        }
    }
}
