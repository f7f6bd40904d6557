//! The piece picker: which block to request next from a given peer.
//!
//! # Piece states (invariants)
//! Every piece is in exactly one [`PieceState`]:
//! - `Have`: verified and stored. Terminal.
//! - `InFlight`: some of its blocks are requested or received; it owns a block table and sits
//!   in the *partial* list while some block is neither requested nor received.
//! - `Missing`: wanted, nothing requested; it sits in the availability-ordered list.
//! - `Skipped`: not held and not wanted (e.g. every file it overlaps is deselected): not in the
//!   list, never picked, and not counted by [`Picker::is_complete`] or
//!   [`Picker::count_wanted`].
//!
//! A missing piece becomes in flight when its first block is picked; it returns to missing when
//! its last outstanding request is withdrawn with nothing received, or when it fails its hash
//! check; it becomes `Have` when the engine reports it verified.
//!
//! Wanting is a flag beside the state ([`Picker::set_wanted`]): a missing piece that is no
//! longer wanted is skipped and a wanted skipped piece is missing again. An in-flight piece
//! keeps its flight either way and finishes normally (blocks already received are not thrown
//! away), but only counts as wanted while its flag is set; if it leaves flight without being
//! verified it becomes skipped instead of missing. A piece we have stays `Have`.
//!
//! # Policy
//! 1. Blocks of a partly requested piece first: the piece this peer worked on last (the
//!    caller's hint), then any partial piece the peer has, so pieces complete (and can be
//!    shared) soon and few pieces are open at once.
//! 2. A new piece, rarest first: the lowest availability (number of connected peers that have
//!    it) among the pieces this peer has, ties broken at random. While we hold fewer than
//!    [`RANDOM_FIRST_PIECES`] pieces the piece is random instead (fast start: a common piece
//!    arrives sooner and gives us something to trade).
//! 3. Endgame, once every missing block is requested (all missing pieces are in flight with
//!    every block requested, or have no source) and at most [`ENDGAME_BLOCKS`] blocks are left
//!    to arrive: a block already requested from someone else, at most [`ENDGAME_MAX_REQUESTS`]
//!    times; the engine cancels the copies when one arrives.
//!
//! [`PickMode::Random`] replaces rule 2 by a uniform choice; it exists to measure what
//! rarest-first gains in the simulator.
//!
//! # Cost
//! No operation scans all pieces per block requested. Missing pieces live in one array,
//! `order`, grouped by availability (bucket `a` is `order[start[a]..start[a + 1]]`) with each
//! piece's position in `pos`, as in libtorrent's picker: an availability change swaps the piece
//! with the edge of its bucket and moves the boundary, O(1); leaving or re-entering the list
//! walks the piece across the buckets above it, O(number of peers). Picking for a peer scans
//! the buckets from the rarest, starting each at a random offset (the tie-break), and stops at
//! the first piece the peer has; a peer that has a fraction f of the missing pieces is expected
//! to succeed after about 1/f probes. After [`SCAN_BUDGET`] fruitless probes (a peer with few
//! of the pieces we need) it switches to one pass over the AND of the peer's bitfield with our
//! missing mask, 64 pieces per step. A new piece is picked once per piece, not per block; its
//! remaining blocks come from rule 1 in O(1) via the hint. [`Picker::work`] counts probes and
//! mask words so tests can assert a bound on work rather than on wall time. Changing whether a
//! piece is wanted leaves or re-enters the list, O(number of peers); skipped pieces cost
//! nothing per pick.

use crate::bitfield::Bitfield;
use crate::lengths::{BlockInfo, Lengths, PieceIndex};
use crate::rng::Rng;

/// Pieces picked at random before switching to rarest-first.
pub const RANDOM_FIRST_PIECES: u32 = 4;
/// Bucket probes before falling back to a pass over the peer's bitfield.
pub const SCAN_BUDGET: u64 = 64;
/// In endgame, a block is requested from at most this many peers at once.
pub const ENDGAME_MAX_REQUESTS: u8 = 2;
/// Endgame copies are requested only once at most this many blocks are left to arrive (one
/// 256 KiB piece's worth). With every missing block requested across a few deep pipelines,
/// copying them all would fill the downlink that the last blocks need with bytes that arrive
/// twice; before this point a peer that runs dry takes over queued requests instead (the
/// engine's steal), which moves a request rather than copying it.
pub const ENDGAME_BLOCKS: u32 = 16;

/// Exactly one per piece; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PieceState {
    Have,
    InFlight,
    Missing,
    /// Not held and not wanted.
    Skipped,
}

/// How rule 2 (a new piece) chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PickMode {
    #[default]
    RarestFirst,
    /// Uniform among the pieces the peer has (the comparison baseline).
    Random,
}

/// A block to request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub block: BlockInfo,
    /// An endgame duplicate: someone else was asked for this block too.
    pub duplicate: bool,
}

/// What a received block meant to the picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// New data for an in-flight piece; `complete` when it was the piece's last block (the
    /// engine now verifies the piece and reports [`Picker::verified`] or [`Picker::failed`]).
    New { complete: bool },
    /// We already had this block (an endgame copy that lost the race).
    Duplicate,
    /// The piece is not in flight (never asked for, already have it, or not an aligned block).
    NotInFlight,
}

/// Per-torrent picker state; see the module docs.
#[derive(Debug, Clone)]
pub struct Picker {
    lengths: Lengths,
    mode: PickMode,
    state: Vec<PieceState>,
    avail: Vec<u32>,
    /// Missing pieces grouped by availability, ascending.
    order: Vec<u32>,
    /// Position in `order` of a missing piece; `NONE` otherwise.
    pos: Vec<u32>,
    /// `start[a]`: first index in `order` of availability `a`; the last entry is `order.len()`.
    start: Vec<u32>,
    /// Wire-order bit masks: pieces in state `Missing`, and pieces we want (`Missing`, or
    /// `InFlight` with the wanted flag; see [`Picker::set_wanted`]). Same layout as
    /// [`Bitfield::as_wire`].
    missing_mask: Vec<u8>,
    want_mask: Vec<u8>,
    /// Index into `flights` of an in-flight piece; `NONE` otherwise.
    flight_of: Vec<u32>,
    flights: Vec<Flight>,
    free_flights: Vec<u32>,
    /// Pieces in flight that still have an unrequested block.
    partial: Vec<u32>,
    have: u32,
    /// Pieces in `want_mask`.
    wanted_left: u32,
    endgame_cursor: usize,
    work: u64,
}

const NONE: u32 = u32::MAX;
/// A block's request count in `Flight::blocks`; `RECEIVED` marks a block we hold.
const RECEIVED: u8 = u8::MAX;

#[derive(Debug, Clone)]
struct Flight {
    piece: u32,
    /// Per block: number of outstanding requests, or `RECEIVED`.
    blocks: Vec<u8>,
    /// Blocks with no request that are not received.
    unrequested: u32,
    received: u32,
    /// Position in `partial`, or `NONE`.
    partial_pos: u32,
    /// Requested by one peer on parole alone ([`Picker::pick_exclusive`]): others do not
    /// pick its blocks until one of its requests is withdrawn.
    exclusive: bool,
}

impl Picker {
    /// A picker for a torrent of which we hold `have`. The initial order of equally available
    /// pieces is shuffled with `rng`.
    pub fn new(lengths: Lengths, have: &Bitfield, mode: PickMode, rng: &mut Rng) -> Picker {
        let n = lengths.num_pieces();
        let bytes = Bitfield::wire_len(n) as usize;
        let mut p = Picker {
            lengths,
            mode,
            state: vec![PieceState::Missing; n as usize],
            avail: vec![0; n as usize],
            order: Vec::with_capacity(n as usize),
            pos: vec![NONE; n as usize],
            start: vec![0, 0],
            missing_mask: vec![0; bytes],
            want_mask: vec![0; bytes],
            flight_of: vec![NONE; n as usize],
            flights: Vec::new(),
            free_flights: Vec::new(),
            partial: Vec::new(),
            have: 0,
            wanted_left: 0,
            endgame_cursor: 0,
            work: 0,
        };
        let mut missing: Vec<u32> = (0..n).filter(|&i| !have.get(i)).collect();
        rng.shuffle(&mut missing);
        for i in 0..n {
            if have.get(i) {
                p.state[i as usize] = PieceState::Have;
                p.have += 1;
            } else {
                set_bit(&mut p.missing_mask, i, true);
                set_bit(&mut p.want_mask, i, true);
                p.wanted_left += 1;
            }
        }
        for (at, &piece) in missing.iter().enumerate() {
            p.pos[piece as usize] = u32::try_from(at).unwrap_or(NONE);
        }
        p.order = missing;
        p.start[1] = len_u32(&p.order);
        p
    }

    pub fn lengths(&self) -> Lengths {
        self.lengths
    }

    pub fn state(&self, piece: PieceIndex) -> PieceState {
        self.state[piece.get() as usize]
    }

    /// Connected peers that have `piece`.
    pub fn availability(&self, piece: PieceIndex) -> u32 {
        self.avail[piece.get() as usize]
    }

    /// Every wanted piece is verified.
    pub fn is_complete(&self) -> bool {
        self.wanted_left == 0
    }

    /// Probes and mask words examined so far (see "Cost" in the module docs).
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Whether we want `piece`: missing, or in flight and not deselected since.
    pub fn wants(&self, piece: u32) -> bool {
        get_bit(&self.want_mask, piece)
    }

    /// Wanted pieces not yet verified.
    pub fn wanted_left(&self) -> u32 {
        self.wanted_left
    }

    /// Sets whether we want `piece` (see the module docs for each state). A missing piece that is
    /// unwanted becomes `Skipped` and leaves the availability list; a skipped piece that is
    /// wanted becomes `Missing`; an in-flight piece only changes its flag (it finishes, or
    /// becomes skipped if it returns unverified); a piece we have is unchanged. Returns
    /// whether the flag changed (the caller then recounts peers' wanted pieces). O(peers).
    pub fn set_wanted(&mut self, piece: PieceIndex, wanted: bool) -> bool {
        let i = piece.get();
        let Some(&state) = self.state.get(i as usize) else {
            return false;
        };
        if state == PieceState::Have || self.wants(i) == wanted {
            return false;
        }
        match state {
            PieceState::Missing => {
                self.remove_from_order(i);
                set_bit(&mut self.missing_mask, i, false);
                self.state[i as usize] = PieceState::Skipped;
            }
            PieceState::Skipped => {
                self.state[i as usize] = PieceState::Missing;
                set_bit(&mut self.missing_mask, i, true);
                self.insert_into_order(i);
            }
            PieceState::InFlight | PieceState::Have => {}
        }
        set_bit(&mut self.want_mask, i, wanted);
        if wanted {
            self.wanted_left += 1;
        } else {
            self.wanted_left -= 1;
        }
        true
    }

    /// How many pieces of `has` we want: the peer is interesting iff this is non-zero.
    /// One pass over the masks (pieces / 64 steps); use it on a `bitfield`, then keep the
    /// count up to date incrementally.
    pub fn count_wanted(&mut self, has: &Bitfield) -> u32 {
        let (ones, words) = and_count(has.as_wire(), &self.want_mask);
        self.work += words;
        ones
    }

    /// A peer's pieces join the availability counts (on its `bitfield`, or when it connects
    /// with one).
    pub fn add_peer(&mut self, has: &Bitfield) {
        for i in has.iter_ones() {
            self.inc(i);
        }
    }

    /// A disconnecting peer's pieces leave the availability counts.
    pub fn remove_peer(&mut self, has: &Bitfield) {
        for i in has.iter_ones() {
            self.dec(i);
        }
    }

    /// A peer announced `have` for `piece`.
    pub fn peer_has(&mut self, piece: PieceIndex) {
        self.inc(piece.get());
    }

    /// Whether every missing block is requested (see rule 3).
    pub fn in_endgame(&self) -> bool {
        self.partial.is_empty() && self.start.get(1).copied() == Some(len_u32(&self.order))
    }

    /// The next block to request from a peer that has `has`. `hint` is the piece this peer
    /// last got a block assignment in; `asked` tells whether this peer already has an
    /// outstanding request for a block (consulted only in endgame).
    pub fn pick(
        &mut self,
        has: &Bitfield,
        hint: Option<PieceIndex>,
        asked: impl Fn(BlockInfo) -> bool,
        rng: &mut Rng,
    ) -> Option<Pick> {
        // Rule 1: partial pieces, this peer's own first.
        if let Some(h) = hint.filter(|h| !self.is_exclusive(h.get())) {
            if let Some(block) = self.request_unrequested(h.get()) {
                return Some(Pick {
                    block,
                    duplicate: false,
                });
            }
        }
        let found = self
            .partial
            .iter()
            .copied()
            .find(|&p| has.get(p) && !self.is_exclusive(p));
        self.work += self.partial.len() as u64;
        if let Some(piece) = found {
            if let Some(block) = self.request_unrequested(piece) {
                return Some(Pick {
                    block,
                    duplicate: false,
                });
            }
        }
        // Rule 2: a new piece.
        if let Some(piece) = self.pick_new(has, rng) {
            self.start_flight(piece);
            if let Some(block) = self.request_unrequested(piece) {
                return Some(Pick {
                    block,
                    duplicate: false,
                });
            }
        }
        // Rule 3: endgame duplicates.
        if self.in_endgame() {
            return self.pick_duplicate(has, asked);
        }
        None
    }

    /// The next block for a peer on parole (it sent blocks of a piece that failed its hash
    /// check): blocks of one piece that nobody else is asked for, so that whether this peer
    /// sends good data is proven by that piece alone. `busy` says whether the peer has
    /// requests outstanding: it then only continues its own exclusive piece (`hint`), so it
    /// holds at most one piece in flight. When no piece is left to start it takes over a
    /// partial piece that nobody is working on, so peers on parole cannot strand one. Never
    /// an endgame copy.
    pub fn pick_exclusive(
        &mut self,
        has: &Bitfield,
        hint: Option<PieceIndex>,
        busy: bool,
        rng: &mut Rng,
    ) -> Option<Pick> {
        if let Some(h) = hint.filter(|h| self.is_exclusive(h.get())) {
            if let Some(block) = self.request_unrequested(h.get()) {
                return Some(Pick {
                    block,
                    duplicate: false,
                });
            }
        }
        if busy {
            return None;
        }
        let piece = match self.pick_new(has, rng) {
            Some(piece) => {
                self.start_flight(piece);
                piece
            }
            None => {
                // No piece left to start: take over a partial piece nobody is working on
                // rather than idle (blocks others sent earlier are blamed one by one if it
                // fails).
                self.work += self.partial.len() as u64;
                self.partial
                    .iter()
                    .copied()
                    .find(|&p| has.get(p) && self.outstanding(p) == 0)?
            }
        };
        let f = self.flight_of[piece as usize] as usize;
        self.flights[f].exclusive = true;
        let block = self.request_unrequested(piece)?;
        Some(Pick {
            block,
            duplicate: false,
        })
    }

    /// Whether in-flight `piece` is reserved for a peer on parole: it was started by one,
    /// and some of its blocks are still requested (so a parole peer that left, or was
    /// banned between two requests, strands nothing).
    pub fn is_exclusive(&self, piece: u32) -> bool {
        match self.flight_of.get(piece as usize) {
            Some(&f) if f != NONE => {
                self.flights[f as usize].exclusive && self.outstanding(piece) > 0
            }
            _ => false,
        }
    }

    /// Blocks of in-flight `piece` that are requested and not received.
    fn outstanding(&self, piece: u32) -> u32 {
        match self.flight_of.get(piece as usize) {
            Some(&f) if f != NONE => {
                let fl = &self.flights[f as usize];
                len_u32(&fl.blocks) - fl.unrequested - fl.received
            }
            _ => 0,
        }
    }

    /// A request for `block` was withdrawn (cancelled, rejected, lost to a choke or a
    /// disconnect, timed out). A piece left with no request and nothing received goes back to
    /// the missing list.
    pub fn unrequest(&mut self, block: BlockInfo) {
        let Some((f, b)) = self.locate(block) else {
            return;
        };
        let flight = &mut self.flights[f];
        // The parole peer let go of it: anyone may finish the piece.
        flight.exclusive = false;
        let count = flight.blocks[b];
        if count == RECEIVED || count == 0 {
            return;
        }
        flight.blocks[b] = count - 1;
        if count == 1 {
            flight.unrequested += 1;
            let piece = flight.piece;
            if flight.received == 0 && flight.blocks.iter().all(|&c| c == 0) {
                self.end_flight(piece);
                self.leave_flight_unverified(piece);
            } else {
                self.add_partial(f);
            }
        }
    }

    /// A block arrived. Requests for it are settled: the engine cancels endgame copies itself.
    /// Only blocks of in-flight pieces count: incoming data never starts a flight (the engine
    /// accepts only blocks it asked for, whose piece is in flight since the request).
    pub fn received(&mut self, block: BlockInfo) -> Received {
        let Some((f, b)) = self.locate(block) else {
            return Received::NotInFlight;
        };
        let flight = &mut self.flights[f];
        match flight.blocks[b] {
            RECEIVED => Received::Duplicate,
            count => {
                if count == 0 {
                    flight.unrequested -= 1;
                }
                flight.blocks[b] = RECEIVED;
                flight.received += 1;
                let complete = flight.received == len_u32(&flight.blocks);
                if flight.unrequested == 0 {
                    self.remove_partial(f);
                }
                Received::New { complete }
            }
        }
    }

    /// A late answer to a request we withdrew arrived for a piece that went back to missing
    /// meanwhile: the piece is in flight again, so the block is not thrown away. Returns
    /// whether it now is in flight.
    pub fn resume(&mut self, block: BlockInfo) -> bool {
        let piece = block.piece.get();
        if self.state.get(piece as usize) == Some(&PieceState::Missing)
            && self.lengths.block_index(block).is_some()
        {
            self.start_flight(piece);
        }
        self.state.get(piece as usize) == Some(&PieceState::InFlight)
    }

    /// The engine verified `piece`: it becomes `Have`.
    pub fn verified(&mut self, piece: PieceIndex) {
        let i = piece.get();
        if self.state[i as usize] == PieceState::Have {
            return;
        }
        match self.state[i as usize] {
            PieceState::InFlight => self.end_flight(i),
            PieceState::Missing => {
                self.remove_from_order(i);
                set_bit(&mut self.missing_mask, i, false);
            }
            PieceState::Have | PieceState::Skipped => {}
        }
        if self.wants(i) {
            self.wanted_left -= 1;
        }
        self.state[i as usize] = PieceState::Have;
        set_bit(&mut self.want_mask, i, false);
        self.have += 1;
    }

    /// `piece` failed its hash check: its blocks are forgotten and it is missing again (or
    /// skipped, if it is no longer wanted).
    pub fn failed(&mut self, piece: PieceIndex) {
        let i = piece.get();
        if self.state[i as usize] != PieceState::InFlight {
            return;
        }
        self.end_flight(i);
        self.leave_flight_unverified(i);
    }

    /// A piece whose flight ended without it being verified: missing again if wanted, else
    /// skipped.
    fn leave_flight_unverified(&mut self, piece: u32) {
        if self.wants(piece) {
            self.state[piece as usize] = PieceState::Missing;
            set_bit(&mut self.missing_mask, piece, true);
            self.insert_into_order(piece);
        } else {
            self.state[piece as usize] = PieceState::Skipped;
        }
    }

    // ---- rule 2 ----

    fn pick_new(&mut self, has: &Bitfield, rng: &mut Rng) -> Option<u32> {
        if self.order.is_empty() {
            return None;
        }
        if self.mode == PickMode::Random || self.have < RANDOM_FIRST_PIECES {
            // A few uniform probes, then an exact uniform choice over the mask.
            for _ in 0..8 {
                self.work += 1;
                let piece = self.order[rng.index(self.order.len())];
                if has.get(piece) {
                    return Some(piece);
                }
            }
            return self.scan_mask(has, rng, false);
        }
        let mut probes = 0u64;
        for a in 1..self.start.len() - 1 {
            let (lo, hi) = (self.start[a] as usize, self.start[a + 1] as usize);
            let len = hi - lo;
            if len == 0 {
                continue;
            }
            let offset = rng.index(len);
            for k in 0..len {
                let piece = self.order[lo + (offset + k) % len];
                probes += 1;
                if has.get(piece) {
                    self.work += probes;
                    return Some(piece);
                }
                if probes >= SCAN_BUDGET {
                    self.work += probes;
                    return self.scan_mask(has, rng, true);
                }
            }
        }
        self.work += probes;
        None
    }

    /// One pass over `has AND missing`: the rarest (or a uniform) candidate, ties at random.
    fn scan_mask(&mut self, has: &Bitfield, rng: &mut Rng, rarest: bool) -> Option<u32> {
        let mut best: Option<u32> = None;
        let mut best_avail = u32::MAX;
        let mut ties = 0u64;
        let bytes = has.as_wire();
        self.work += (bytes.len() as u64).div_ceil(8);
        for (i, (&a, &m)) in bytes.iter().zip(self.missing_mask.iter()).enumerate() {
            let mut bits = a & m;
            while bits != 0 {
                let bit = bits.leading_zeros();
                bits &= !(0x80 >> bit);
                let piece = u32::try_from(i).unwrap_or(NONE).saturating_mul(8) + bit;
                let av = if rarest {
                    self.avail[piece as usize]
                } else {
                    0
                };
                if av < best_avail {
                    best = Some(piece);
                    best_avail = av;
                    ties = 1;
                } else if av == best_avail {
                    ties += 1;
                    if rng.below(ties) == 0 {
                        best = Some(piece);
                    }
                }
            }
        }
        best
    }

    // ---- rule 3 ----

    fn pick_duplicate(
        &mut self,
        has: &Bitfield,
        asked: impl Fn(BlockInfo) -> bool,
    ) -> Option<Pick> {
        let n = self.flights.len();
        let left: u32 = self
            .flights
            .iter()
            .filter(|f| f.piece != NONE)
            .map(|f| len_u32(&f.blocks) - f.received)
            .sum();
        self.work += n as u64;
        if left > ENDGAME_BLOCKS {
            return None;
        }
        let mut best: Option<(u8, BlockInfo)> = None;
        let mut work = 0u64;
        for k in 0..n {
            let f = (self.endgame_cursor + k) % n;
            let flight = &self.flights[f];
            if flight.piece == NONE || flight.exclusive || !has.get(flight.piece) {
                continue;
            }
            let Some(piece) = self.lengths.validate_piece(flight.piece) else {
                continue;
            };
            for (b, &count) in (0u32..).zip(flight.blocks.iter()) {
                work += 1;
                if count == RECEIVED || count >= ENDGAME_MAX_REQUESTS {
                    continue;
                }
                if best.is_some_and(|(c, _)| c <= count) {
                    continue;
                }
                let block = self.lengths.block(piece, b);
                if !asked(block) {
                    best = Some((count, block));
                }
            }
            if best.is_some_and(|(c, _)| c <= 1) {
                self.endgame_cursor = f + 1;
                break;
            }
        }
        self.work += work;
        let (_, block) = best?;
        let (f, b) = self.locate(block)?;
        self.flights[f].blocks[b] += 1;
        Some(Pick {
            block,
            duplicate: true,
        })
    }

    // ---- flights ----

    fn start_flight(&mut self, piece: u32) {
        self.remove_from_order(piece);
        self.state[piece as usize] = PieceState::InFlight;
        set_bit(&mut self.missing_mask, piece, false);
        let blocks = self
            .lengths
            .validate_piece(piece)
            .map_or(0, |p| self.lengths.blocks_in_piece(p));
        let flight = Flight {
            piece,
            blocks: vec![0; blocks as usize],
            unrequested: blocks,
            received: 0,
            partial_pos: NONE,
            exclusive: false,
        };
        let f = match self.free_flights.pop() {
            Some(f) => {
                self.flights[f as usize] = flight;
                f
            }
            None => {
                self.flights.push(flight);
                len_u32(&self.flights) - 1
            }
        };
        self.flight_of[piece as usize] = f;
        self.add_partial(f as usize);
    }

    fn end_flight(&mut self, piece: u32) {
        let f = self.flight_of[piece as usize];
        if f == NONE {
            return;
        }
        self.remove_partial(f as usize);
        self.flight_of[piece as usize] = NONE;
        let flight = &mut self.flights[f as usize];
        flight.piece = NONE;
        flight.blocks = Vec::new();
        self.free_flights.push(f);
    }

    /// Requests the first unrequested block of in-flight `piece`, if any.
    fn request_unrequested(&mut self, piece: u32) -> Option<BlockInfo> {
        let f = *self.flight_of.get(piece as usize)?;
        if f == NONE {
            return None;
        }
        let flight = &mut self.flights[f as usize];
        if flight.unrequested == 0 {
            return None;
        }
        let b = flight.blocks.iter().position(|&c| c == 0)?;
        flight.blocks[b] = 1;
        flight.unrequested -= 1;
        if flight.unrequested == 0 {
            self.remove_partial(f as usize);
        }
        let p = self.lengths.validate_piece(piece)?;
        Some(self.lengths.block(p, u32::try_from(b).ok()?))
    }

    fn locate(&self, block: BlockInfo) -> Option<(usize, usize)> {
        let f = *self.flight_of.get(block.piece.get() as usize)?;
        if f == NONE {
            return None;
        }
        let b = self.lengths.block_index(block)?;
        Some((f as usize, b as usize))
    }

    fn add_partial(&mut self, f: usize) {
        if self.flights[f].partial_pos == NONE {
            self.flights[f].partial_pos = len_u32(&self.partial);
            self.partial.push(self.flights[f].piece);
        }
    }

    fn remove_partial(&mut self, f: usize) {
        let at = self.flights[f].partial_pos;
        if at == NONE {
            return;
        }
        self.flights[f].partial_pos = NONE;
        self.partial.swap_remove(at as usize);
        if let Some(&moved) = self.partial.get(at as usize) {
            let mf = self.flight_of[moved as usize] as usize;
            self.flights[mf].partial_pos = at;
        }
    }

    // ---- the availability-ordered list ----

    fn inc(&mut self, piece: u32) {
        let Some(a) = self.avail.get(piece as usize).copied() else {
            return;
        };
        self.avail[piece as usize] = a + 1;
        let at = self.pos[piece as usize];
        if at == NONE {
            return;
        }
        // A listed piece's bucket a exists (start has index a + 1); bucket a + 1 may not yet.
        let a = a as usize;
        if self.start.len() < a + 3 {
            self.start.push(len_u32(&self.order));
        }
        // Swap to the last slot of bucket a, then move the boundary down over it.
        let last = self.start[a + 1] - 1;
        self.swap(at, last);
        self.start[a + 1] -= 1;
    }

    fn dec(&mut self, piece: u32) {
        let Some(a) = self.avail.get(piece as usize).copied() else {
            return;
        };
        if a == 0 {
            return;
        }
        self.avail[piece as usize] = a - 1;
        let at = self.pos[piece as usize];
        if at == NONE {
            return;
        }
        // Swap to the first slot of bucket a, then move the boundary up over it.
        let a = a as usize;
        let first = self.start[a];
        self.swap(at, first);
        self.start[a] += 1;
    }

    fn swap(&mut self, i: u32, j: u32) {
        self.order.swap(i as usize, j as usize);
        self.pos[self.order[i as usize] as usize] = i;
        self.pos[self.order[j as usize] as usize] = j;
    }

    /// Walks `piece` up across every bucket above its own to the end of `order`, then pops it.
    fn remove_from_order(&mut self, piece: u32) {
        let at = self.pos[piece as usize];
        if at == NONE {
            return;
        }
        let a = self.avail[piece as usize] as usize;
        let mut at = at;
        for b in a..self.start.len() - 1 {
            let last = self.start[b + 1] - 1;
            self.swap(at, last);
            at = last;
            self.start[b + 1] -= 1;
        }
        // Now at == order.len() - 1 and every boundary above bucket a moved down by one.
        self.order.pop();
        self.pos[piece as usize] = NONE;
        if let Some(end) = self.start.last_mut() {
            *end = len_u32(&self.order);
        }
        self.fix_end();
    }

    /// Appends `piece` to `order` and walks it down into the bucket of its availability.
    fn insert_into_order(&mut self, piece: u32) {
        let a = self.avail[piece as usize] as usize;
        while a + 2 > self.start.len() {
            self.start.push(len_u32(&self.order));
        }
        self.order.push(piece);
        let mut at = len_u32(&self.order) - 1;
        self.pos[piece as usize] = at;
        let top = self.start.len() - 1;
        self.start[top] = len_u32(&self.order);
        for b in (a + 1..top).rev() {
            // `piece` is just past bucket b - 1's region; make it the first of bucket b, then
            // give that slot to bucket b - 1 by moving the boundary.
            let first = self.start[b];
            self.swap(at, first);
            at = first;
            self.start[b] += 1;
        }
    }

    fn fix_end(&mut self) {
        let n = len_u32(&self.order);
        for s in self.start.iter_mut() {
            if *s > n {
                *s = n;
            }
        }
    }
}

fn get_bit(mask: &[u8], i: u32) -> bool {
    mask.get((i / 8) as usize)
        .is_some_and(|byte| byte & (0x80u8 >> (i % 8)) != 0)
}

fn set_bit(mask: &mut [u8], i: u32, on: bool) {
    if let Some(byte) = mask.get_mut((i / 8) as usize) {
        let m = 0x80u8 >> (i % 8);
        if on {
            *byte |= m;
        } else {
            *byte &= !m;
        }
    }
}

/// Set bits of `a AND b` and the number of 8-byte words examined.
fn and_count(a: &[u8], b: &[u8]) -> (u32, u64) {
    let mut ones = 0u32;
    let mut words = 0u64;
    let mut ca = a.chunks(8);
    let mut cb = b.chunks(8);
    while let (Some(x), Some(y)) = (ca.next(), cb.next()) {
        words += 1;
        let mut wx = [0u8; 8];
        let mut wy = [0u8; 8];
        wx[..x.len()].copy_from_slice(x);
        wy[..y.len()].copy_from_slice(y);
        ones += (u64::from_ne_bytes(wx) & u64::from_ne_bytes(wy)).count_ones();
    }
    (ones, words)
}

fn len_u32<T>(v: &[T]) -> u32 {
    u32::try_from(v.len()).unwrap_or(NONE)
}

#[cfg(test)]
mod tests;
