//! Piece and block arithmetic for one torrent.
//!
//! A *piece* is the hashed unit of a torrent (`piece length` bytes, the last one shorter); a
//! *block* is the [`BLOCK_LEN`] (16 KiB) unit of a `request` (the last block of a piece
//! shorter). [`Lengths`] owns every computation on those numbers, and a [`PieceIndex`] can only
//! be made through it, so holding a `PieceIndex` proves the index is inside the torrent.
//!
//! Rule for blocks that arrive from the network ([`Lengths::validate_block`]): a block is valid
//! when `0 < len <= BLOCK_LEN` and `begin + len <= piece_len(piece)`. `begin` need not be a
//! multiple of `BLOCK_LEN`: BEP 3 does not require alignment and serving an unaligned range is
//! as cheap as an aligned one. WebTorrent accepts requests of up to 128 KiB; we never send more
//! than 16 KiB and treat larger requests as a protocol violation (WebTorrent never sends them).

use std::fmt;

/// The request unit: 16 KiB, the size every client uses (BEP 3 clients drop larger requests).
pub const BLOCK_LEN: u32 = 16384;

/// A piece index proven to be inside a torrent; made by [`Lengths`] only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PieceIndex(u32);

impl PieceIndex {
    /// The raw index, as sent on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for PieceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A byte range inside one piece: what `request`, `piece` and `cancel` messages name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockInfo {
    pub piece: PieceIndex,
    /// Offset of the first byte inside the piece.
    pub begin: u32,
    /// Number of bytes; `0 < len <= BLOCK_LEN` for every block made or validated by [`Lengths`].
    pub len: u32,
}

/// Why [`Lengths::new`] refused a torrent's geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthsError {
    /// `piece length` must be at least one byte.
    ZeroPieceLength,
    /// A torrent must hold at least one byte (BEP 3 has no empty torrents, and neither does
    /// WebTorrent).
    ZeroTotalLength,
    /// Piece indices are `u32` on the wire, so a torrent has at most `u32::MAX` pieces.
    TooManyPieces,
}

impl fmt::Display for LengthsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LengthsError::ZeroPieceLength => f.write_str("piece length is zero"),
            LengthsError::ZeroTotalLength => f.write_str("total length is zero"),
            LengthsError::TooManyPieces => f.write_str("more than u32::MAX pieces"),
        }
    }
}

impl std::error::Error for LengthsError {}

/// The geometry of a torrent: total length, nominal piece length, and everything derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lengths {
    total_length: u64,
    piece_length: u32,
    num_pieces: u32,
    /// Length of the last piece, `1..=piece_length`.
    last_piece_len: u32,
}

impl Lengths {
    pub fn new(total_length: u64, piece_length: u32) -> Result<Lengths, LengthsError> {
        if piece_length == 0 {
            return Err(LengthsError::ZeroPieceLength);
        }
        if total_length == 0 {
            return Err(LengthsError::ZeroTotalLength);
        }
        let pl = u64::from(piece_length);
        let pieces = total_length / pl + u64::from(total_length % pl != 0);
        let num_pieces = u32::try_from(pieces).map_err(|_| LengthsError::TooManyPieces)?;
        let rem = total_length % pl;
        // rem < piece_length, so it fits in u32.
        let last_piece_len = if rem == 0 {
            piece_length
        } else {
            u32::try_from(rem).unwrap_or(piece_length)
        };
        Ok(Lengths {
            total_length,
            piece_length,
            num_pieces,
            last_piece_len,
        })
    }

    /// Sum of all file lengths, in bytes.
    pub const fn total_length(&self) -> u64 {
        self.total_length
    }

    /// The nominal piece length (every piece but possibly the last).
    pub const fn piece_length(&self) -> u32 {
        self.piece_length
    }

    pub const fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// The last piece of the torrent.
    pub const fn last_piece(&self) -> PieceIndex {
        PieceIndex(self.num_pieces - 1)
    }

    /// Length of `piece` in bytes: `piece_length`, or less for the last piece.
    pub const fn piece_len(&self, piece: PieceIndex) -> u32 {
        if piece.0 == self.num_pieces - 1 {
            self.last_piece_len
        } else {
            self.piece_length
        }
    }

    /// Offset of the first byte of `piece` in the torrent's byte stream.
    pub const fn piece_offset(&self, piece: PieceIndex) -> u64 {
        piece.0 as u64 * self.piece_length as u64
    }

    /// Number of blocks in `piece` (the last one possibly shorter than [`BLOCK_LEN`]).
    pub const fn blocks_in_piece(&self, piece: PieceIndex) -> u32 {
        self.piece_len(piece).div_ceil(BLOCK_LEN)
    }

    /// Blocks in a full-length piece.
    pub const fn blocks_per_piece(&self) -> u32 {
        self.piece_length.div_ceil(BLOCK_LEN)
    }

    /// Total number of blocks in the torrent.
    pub fn total_blocks(&self) -> u64 {
        u64::from(self.num_pieces - 1) * u64::from(self.blocks_per_piece())
            + u64::from(self.blocks_in_piece(self.last_piece()))
    }

    /// Block number `block_index` of `piece`. `block_index` must be below
    /// [`blocks_in_piece`](Self::blocks_in_piece); past it (a caller bug, never network input)
    /// this debug-asserts and returns an empty block at the piece's end.
    pub fn block(&self, piece: PieceIndex, block_index: u32) -> BlockInfo {
        debug_assert!(block_index < self.blocks_in_piece(piece));
        let piece_len = self.piece_len(piece);
        let begin = block_index.saturating_mul(BLOCK_LEN).min(piece_len);
        BlockInfo {
            piece,
            begin,
            len: (piece_len - begin).min(BLOCK_LEN),
        }
    }

    /// All blocks of `piece` in order.
    pub fn blocks(&self, piece: PieceIndex) -> impl Iterator<Item = BlockInfo> + '_ {
        (0..self.blocks_in_piece(piece)).map(move |i| self.block(piece, i))
    }

    /// `Some` if `index` names a piece of this torrent.
    pub const fn validate_piece(&self, index: u32) -> Option<PieceIndex> {
        if index < self.num_pieces {
            Some(PieceIndex(index))
        } else {
            None
        }
    }

    /// Checks a block named by a peer (`request`, `piece`, `cancel`): the piece exists,
    /// `0 < len <= BLOCK_LEN`, and the range ends inside the piece. Alignment is not required.
    pub fn validate_block(&self, index: u32, begin: u32, len: u32) -> Option<BlockInfo> {
        let piece = self.validate_piece(index)?;
        if len == 0 || len > BLOCK_LEN {
            return None;
        }
        let end = begin.checked_add(len)?;
        if end > self.piece_len(piece) {
            return None;
        }
        Some(BlockInfo { piece, begin, len })
    }

    /// The block number of `block` if it is exactly one of the blocks [`block`](Self::block)
    /// makes (aligned, full length); `None` for any other range.
    pub fn block_index(&self, block: BlockInfo) -> Option<u32> {
        if block.begin % BLOCK_LEN != 0 {
            return None;
        }
        let i = block.begin / BLOCK_LEN;
        if i < self.blocks_in_piece(block.piece) && self.block(block.piece, i) == block {
            Some(i)
        } else {
            None
        }
    }

    /// Every piece index, in order.
    pub fn iter_pieces(&self) -> impl Iterator<Item = PieceIndex> {
        (0..self.num_pieces).map(PieceIndex)
    }

    /// Absolute byte range `[start, end)` of `piece` in the torrent's byte stream.
    pub const fn piece_range(&self, piece: PieceIndex) -> std::ops::Range<u64> {
        let start = self.piece_offset(piece);
        start..start + self.piece_len(piece) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn all_blocks_cover(l: &Lengths) {
        let mut expected_offset = 0u64;
        let mut blocks = 0u64;
        for p in l.iter_pieces() {
            assert_eq!(l.piece_offset(p), expected_offset);
            let mut in_piece = 0u32;
            for (i, b) in l.blocks(p).enumerate() {
                assert_eq!(b.begin, in_piece);
                assert!(b.len > 0 && b.len <= BLOCK_LEN);
                assert_eq!(l.block_index(b), Some(u32::try_from(i).unwrap()));
                assert_eq!(l.validate_block(p.get(), b.begin, b.len), Some(b));
                in_piece += b.len;
                blocks += 1;
            }
            assert_eq!(in_piece, l.piece_len(p));
            expected_offset += u64::from(in_piece);
        }
        assert_eq!(expected_offset, l.total_length());
        assert_eq!(blocks, l.total_blocks());
    }

    #[test]
    fn last_piece_and_last_block_are_shorter() {
        // 3 full pieces of 40 000 bytes and one of 1 000.
        let l = Lengths::new(121_000, 40_000).unwrap();
        assert_eq!(l.num_pieces(), 4);
        let last = l.last_piece();
        assert_eq!(last.get(), 3);
        assert_eq!(l.piece_len(last), 1_000);
        assert_eq!(l.piece_len(l.validate_piece(0).unwrap()), 40_000);
        let first = l.validate_piece(0).unwrap();
        assert_eq!(l.blocks_in_piece(first), 3);
        assert_eq!(
            l.block(first, 2),
            BlockInfo {
                piece: first,
                begin: 32_768,
                len: 40_000 - 32_768
            }
        );
        assert_eq!(l.blocks_in_piece(last), 1);
        assert_eq!(l.block(last, 0).len, 1_000);
        assert_eq!(l.piece_range(last), 120_000..121_000);
        all_blocks_cover(&l);
    }

    #[test]
    fn exact_multiple_of_piece_length_has_full_last_piece() {
        let l = Lengths::new(4 * 262_144, 262_144).unwrap();
        assert_eq!(l.num_pieces(), 4);
        assert_eq!(l.piece_len(l.last_piece()), 262_144);
        assert_eq!(l.blocks_in_piece(l.last_piece()), 16);
        assert_eq!(l.total_blocks(), 64);
        all_blocks_cover(&l);
    }

    #[test]
    fn one_byte_torrent() {
        let l = Lengths::new(1, 16_384).unwrap();
        assert_eq!(l.num_pieces(), 1);
        let p = l.last_piece();
        assert_eq!(l.piece_len(p), 1);
        assert_eq!(l.blocks_in_piece(p), 1);
        assert_eq!(
            l.block(p, 0),
            BlockInfo {
                piece: p,
                begin: 0,
                len: 1
            }
        );
        assert_eq!(l.validate_block(0, 0, 2), None);
        assert_eq!(l.validate_block(0, 1, 1), None);
        all_blocks_cover(&l);
    }

    #[test]
    fn more_than_4_gib_uses_u64_offsets() {
        let total = 5 * (1u64 << 30) + 12_345;
        let l = Lengths::new(total, 1 << 20).unwrap();
        assert_eq!(l.num_pieces(), 5 * 1024 + 1);
        let last = l.last_piece();
        assert_eq!(l.piece_offset(last), 5 * (1u64 << 30));
        assert_eq!(l.piece_len(last), 12_345);
        assert_eq!(l.blocks_in_piece(last), 1);
        assert_eq!(l.total_blocks(), 5 * 1024 * 64 + 1);
        assert_eq!(l.piece_range(last).end, total);
    }

    #[test]
    fn piece_count_limits() {
        assert_eq!(Lengths::new(10, 0), Err(LengthsError::ZeroPieceLength));
        assert_eq!(Lengths::new(0, 16_384), Err(LengthsError::ZeroTotalLength));
        let max = Lengths::new(u64::from(u32::MAX), 1).unwrap();
        assert_eq!(max.num_pieces(), u32::MAX);
        assert_eq!(
            Lengths::new(u64::from(u32::MAX) + 1, 1),
            Err(LengthsError::TooManyPieces)
        );
        // The largest geometry: u32::MAX pieces of u32::MAX bytes, all full.
        let huge = Lengths::new(u64::from(u32::MAX) * u64::from(u32::MAX), u32::MAX).unwrap();
        assert_eq!(huge.num_pieces(), u32::MAX);
        assert_eq!(huge.piece_len(huge.last_piece()), u32::MAX);
        assert_eq!(huge.piece_range(huge.last_piece()).end, huge.total_length());
        assert_eq!(
            Lengths::new(u64::MAX, u32::MAX),
            Err(LengthsError::TooManyPieces)
        );
    }

    #[test]
    fn validate_rejects_out_of_range() {
        let l = Lengths::new(100_000, 32_768).unwrap();
        assert_eq!(l.num_pieces(), 4);
        assert!(l.validate_piece(3).is_some());
        assert!(l.validate_piece(4).is_none());
        assert!(l.validate_piece(u32::MAX).is_none());
        // Zero length, too long, past the piece end, overflow of begin + len.
        assert!(l.validate_block(0, 0, 0).is_none());
        assert!(l.validate_block(0, 0, BLOCK_LEN + 1).is_none());
        assert!(l.validate_block(0, 32_768 - 100, 101).is_none());
        assert!(l.validate_block(0, u32::MAX, 1).is_none());
        assert!(l.validate_block(4, 0, 1).is_none());
        // Unaligned but inside the piece is accepted, and has no block number.
        let b = l.validate_block(0, 100, 16_000).unwrap();
        assert_eq!(l.block_index(b), None);
        // The last piece is 100 000 - 3 * 32 768 = 1 696 bytes.
        assert!(l.validate_block(3, 0, 1_696).is_some());
        assert!(l.validate_block(3, 0, 1_697).is_none());
        // A full-length block where the canonical one is shorter has no block number.
        let short = BlockInfo {
            piece: l.last_piece(),
            begin: 0,
            len: 1_000,
        };
        assert_eq!(l.block_index(short), None);
    }
}
