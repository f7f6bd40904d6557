//! Piece storage behind a small trait: [`PieceStore`], and [`MemoryStore`] that keeps
//! everything in one `Vec<u8>`.
//!
//! The engine owns its store (`Engine<S: PieceStore>`) and talks to it synchronously, but a
//! store may be asynchronous underneath (OPFS in the main thread, `File.slice().arrayBuffer()`
//! for seeding a user's file):
//!
//! - **Reads may complete later.** [`PieceStore::read_block`] either appends the block to the
//!   caller's buffer now ([`ReadStatus::Ready`]) or answers [`ReadStatus::Pending`] and starts
//!   fetching it. The engine then parks that upload; once the store has the data (typically in a
//!   small cache), the driver feeds `Input::StoreReady` and the engine asks again, getting
//!   `Ready` this time. A store must not append anything when it answers `Pending`.
//! - **Writes are fire-and-forget.** [`PieceStore::write_piece`] receives a whole piece that
//!   already passed its SHA-1 check and takes ownership of the buffer; an asynchronous store
//!   keeps it until its write lands and must still be able to serve reads of it meanwhile
//!   (answering `Pending` is fine).
//! - **Geometry can arrive late.** For a magnet link the size is unknown until the metadata is
//!   verified; the engine calls [`PieceStore::set_lengths`] once, before the first read or
//!   write (in `Engine::new` for a full torrent, on metadata for a magnet).
//!
//! Block ranges handed to a store are always validated by the engine against the torrent's
//! [`Lengths`] first, so a store only sees in-range requests; it still reports
//! [`StoreError::OutOfRange`] rather than panicking if one slips through.

use std::fmt;

use crate::lengths::{BlockInfo, Lengths, PieceIndex};

/// Where verified pieces live and where uploads are read from.
pub trait PieceStore {
    /// The torrent's geometry. Called once, before any read or write. A store that already
    /// holds content (seeding) checks that the geometry matches it.
    fn set_lengths(&mut self, lengths: Lengths) -> Result<(), StoreError>;

    /// Appends the bytes of `block` to `out` and answers [`ReadStatus::Ready`], or leaves `out`
    /// untouched and answers [`ReadStatus::Pending`] if the data is not at hand yet (the driver
    /// then sends `Input::StoreReady` when a retry can succeed).
    fn read_block(&mut self, block: BlockInfo, out: &mut Vec<u8>)
        -> Result<ReadStatus, StoreError>;

    /// Stores a whole verified piece (`data.len()` equals the piece's length).
    fn write_piece(&mut self, piece: PieceIndex, data: Vec<u8>) -> Result<(), StoreError>;
}

/// The outcome of [`PieceStore::read_block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadStatus {
    /// The block was appended to the buffer.
    Ready,
    /// Nothing was appended; ask again after the next `Input::StoreReady`.
    Pending,
}

/// Why a store refused an operation. These are local failures, never a peer's fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Every operation needs the geometry from [`PieceStore::set_lengths`] first.
    NoLengths,
    /// [`PieceStore::set_lengths`] was given a geometry that differs from the one the store
    /// already has (its content, or an earlier call).
    LengthsMismatch { have: u64, got: u64 },
    /// A block or piece outside the torrent, or a piece buffer of the wrong length.
    OutOfRange { piece: u32, begin: u32, len: u32 },
    /// A read of a piece that was never written.
    Missing { piece: u32 },
    /// The backend failed (an OPFS write, a `File` read); the message is for humans.
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NoLengths => f.write_str("store used before its size was known"),
            StoreError::LengthsMismatch { have, got } => {
                write!(f, "store holds {have} bytes but the torrent has {got}")
            }
            StoreError::OutOfRange { piece, begin, len } => {
                write!(
                    f,
                    "range {begin}+{len} of piece {piece} is outside the torrent"
                )
            }
            StoreError::Missing { piece } => write!(f, "piece {piece} is not stored"),
            StoreError::Backend(msg) => write!(f, "storage failed: {msg}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// All content in one contiguous buffer; reads are always [`ReadStatus::Ready`].
///
/// A download allocates the whole torrent when its size becomes known; a seed wraps bytes it
/// already holds with [`MemoryStore::with_content`]. [`MemoryStore::content`] hands the bytes
/// back once every piece is in.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Vec<u8>,
    lengths: Option<Lengths>,
    /// `stored[i]`: piece `i` was written (or came with the content).
    stored: Vec<bool>,
    /// Whether the buffer was given complete at construction.
    preloaded: bool,
}

impl MemoryStore {
    /// An empty store for a download; it allocates on [`PieceStore::set_lengths`].
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A store that already holds the whole torrent (seeding from memory).
    pub fn with_content(data: Vec<u8>) -> MemoryStore {
        MemoryStore {
            data,
            lengths: None,
            stored: Vec::new(),
            preloaded: true,
        }
    }

    /// Whether piece `piece` is stored.
    pub fn has_piece(&self, piece: u32) -> bool {
        usize::try_from(piece)
            .ok()
            .and_then(|i| self.stored.get(i))
            .copied()
            .unwrap_or(false)
    }

    /// The whole content, once every piece is stored.
    pub fn content(&self) -> Option<&[u8]> {
        (self.lengths.is_some() && self.stored.iter().all(|&s| s)).then_some(&self.data[..])
    }

    /// The bytes `range` of the content, once every piece they span is stored
    /// ([`StoreError::Missing`] names the first that is not).
    pub fn range_bytes(&self, range: std::ops::Range<u64>) -> Result<&[u8], StoreError> {
        let lengths = self.lengths.ok_or(StoreError::NoLengths)?;
        let out_of_range = StoreError::OutOfRange {
            piece: 0,
            begin: 0,
            len: 0,
        };
        if range.start > range.end || range.end > lengths.total_length() {
            return Err(out_of_range);
        }
        if range.start < range.end {
            let pl = u64::from(lengths.piece_length());
            let first = u32::try_from(range.start / pl).map_err(|_| out_of_range.clone())?;
            let last = u32::try_from((range.end - 1) / pl).map_err(|_| out_of_range.clone())?;
            if let Some(piece) = (first..=last).find(|&p| !self.has_piece(p)) {
                return Err(StoreError::Missing { piece });
            }
        }
        let start = usize::try_from(range.start).map_err(|_| out_of_range.clone())?;
        let end = usize::try_from(range.end).map_err(|_| out_of_range)?;
        Ok(&self.data[start..end])
    }

    fn range(&self, block: BlockInfo) -> Result<std::ops::Range<usize>, StoreError> {
        let lengths = self.lengths.ok_or(StoreError::NoLengths)?;
        let out_of_range = StoreError::OutOfRange {
            piece: block.piece.get(),
            begin: block.begin,
            len: block.len,
        };
        let end = block.begin.checked_add(block.len);
        if end.is_none_or(|e| e > lengths.piece_len(block.piece)) {
            return Err(out_of_range);
        }
        let start = lengths.piece_offset(block.piece) + u64::from(block.begin);
        let start = usize::try_from(start).map_err(|_| out_of_range.clone())?;
        let len = usize::try_from(block.len).map_err(|_| out_of_range.clone())?;
        match start.checked_add(len) {
            Some(end) if end <= self.data.len() => Ok(start..end),
            _ => Err(out_of_range),
        }
    }
}

impl PieceStore for MemoryStore {
    fn set_lengths(&mut self, lengths: Lengths) -> Result<(), StoreError> {
        let total = lengths.total_length();
        if let Some(old) = self.lengths {
            if old != lengths {
                return Err(StoreError::LengthsMismatch {
                    have: old.total_length(),
                    got: total,
                });
            }
            return Ok(());
        }
        let len = usize::try_from(total).map_err(|_| {
            StoreError::Backend(format!("{total} bytes do not fit in this address space"))
        })?;
        let pieces = lengths.num_pieces() as usize;
        if self.preloaded {
            if self.data.len() != len {
                return Err(StoreError::LengthsMismatch {
                    have: self.data.len() as u64,
                    got: total,
                });
            }
            self.stored = vec![true; pieces];
        } else {
            self.data = vec![0; len];
            self.stored = vec![false; pieces];
        }
        self.lengths = Some(lengths);
        Ok(())
    }

    fn read_block(
        &mut self,
        block: BlockInfo,
        out: &mut Vec<u8>,
    ) -> Result<ReadStatus, StoreError> {
        let range = self.range(block)?;
        if !self.has_piece(block.piece.get()) {
            return Err(StoreError::Missing {
                piece: block.piece.get(),
            });
        }
        out.extend_from_slice(&self.data[range]);
        Ok(ReadStatus::Ready)
    }

    fn write_piece(&mut self, piece: PieceIndex, data: Vec<u8>) -> Result<(), StoreError> {
        let lengths = self.lengths.ok_or(StoreError::NoLengths)?;
        let piece_len = lengths.piece_len(piece);
        let wrong = StoreError::OutOfRange {
            piece: piece.get(),
            begin: 0,
            len: u32::try_from(data.len()).unwrap_or(u32::MAX),
        };
        if data.len() != piece_len as usize || piece.get() >= lengths.num_pieces() {
            return Err(wrong);
        }
        let range = self.range(BlockInfo {
            piece,
            begin: 0,
            len: piece_len,
        })?;
        self.data[range].copy_from_slice(&data);
        self.stored[piece.get() as usize] = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn piece(l: &Lengths, i: u32) -> PieceIndex {
        l.validate_piece(i).unwrap()
    }

    #[test]
    fn write_then_read_blocks_and_content() {
        let l = Lengths::new(40_000, 16_384).unwrap();
        let mut s = MemoryStore::new();
        assert_eq!(
            s.read_block(l.block(piece(&l, 0), 0), &mut Vec::new()),
            Err(StoreError::NoLengths)
        );
        s.set_lengths(l).unwrap();
        let p2 = piece(&l, 2);
        assert_eq!(
            s.read_block(l.block(p2, 0), &mut Vec::new()),
            Err(StoreError::Missing { piece: 2 })
        );
        assert_eq!(s.range_bytes(0..10), Err(StoreError::Missing { piece: 0 }));
        for i in 0..3 {
            let p = piece(&l, i);
            let data: Vec<u8> = (0..l.piece_len(p))
                .map(|b| (b % 256) ^ i)
                .map(|b| u8::try_from(b).unwrap())
                .collect();
            assert!(s.content().is_none());
            s.write_piece(p, data).unwrap();
        }
        let mut out = b"hdr".to_vec();
        let b = l.validate_block(2, 100, 50).unwrap();
        assert_eq!(s.read_block(b, &mut out), Ok(ReadStatus::Ready));
        assert_eq!(out.len(), 53);
        assert_eq!(&out[..3], b"hdr");
        assert_eq!(out[3], 100u8 ^ 2);
        assert_eq!(s.range_bytes(16_380..16_390).unwrap().len(), 10);
        assert_eq!(s.range_bytes(5..5).unwrap(), &[] as &[u8]);
        assert!(s.range_bytes(39_000..40_001).is_err());
        let all = s.content().unwrap();
        assert_eq!(all.len(), 40_000);
        assert_eq!(all[16_384 + 5], 5 ^ 1);
    }

    #[test]
    fn rejects_wrong_sizes_and_ranges() {
        let l = Lengths::new(40_000, 16_384).unwrap();
        let mut s = MemoryStore::with_content(vec![7; 40_000]);
        s.set_lengths(l).unwrap();
        assert!(s.has_piece(2) && !s.has_piece(3));
        let other = Lengths::new(40_001, 16_384).unwrap();
        assert!(matches!(
            s.set_lengths(other),
            Err(StoreError::LengthsMismatch { .. })
        ));
        let mut short = MemoryStore::with_content(vec![0; 10]);
        assert!(short.set_lengths(l).is_err());
        // A piece buffer of the wrong length is refused.
        assert!(matches!(
            s.write_piece(piece(&l, 0), vec![1; 10]),
            Err(StoreError::OutOfRange { .. })
        ));
        // A hand-made block past the end of the (short) last piece is refused, not a panic.
        let bad = BlockInfo {
            piece: piece(&l, 2),
            begin: 7_000,
            len: 1_000,
        };
        let mut out = Vec::new();
        assert!(matches!(
            s.read_block(bad, &mut out),
            Err(StoreError::OutOfRange { .. })
        ));
        assert!(out.is_empty());
        let ok = l.validate_block(2, 0, 7_232).unwrap();
        assert_eq!(s.read_block(ok, &mut out), Ok(ReadStatus::Ready));
        assert!(out.iter().all(|&b| b == 7) && out.len() == 7_232);
    }
}
