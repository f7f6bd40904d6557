//! File selection: which files the user wants, and the pieces that follows.
//!
//! A piece is wanted iff it overlaps the byte range of a selected file (a zero-length file
//! overlaps nothing), so a piece shared by a selected and a deselected file is fetched. A
//! [`Selection`] given before the metadata is kept and applied when the metadata is
//! installed, before any block is requested; afterwards files are selected one at a time or
//! all at once. The owner here keeps the per-file flags, the selected pieces and their bytes;
//! the engine carries a change out (the picker's `set_wanted`, each peer's interest, `Done`).
//!
//! A piece deselected while in flight is finished by the peers we still download from (its
//! requests are not cancelled); if none of them has it, it stays in flight with its buffer
//! until it is selected again or its requests are withdrawn (then it is skipped).

use super::{Engine, Event, Output};
use crate::bitfield::Bitfield;
use crate::lengths::Lengths;
use crate::metainfo::Info;
use crate::selection::{FileSet, Selection};
use crate::store::PieceStore;

/// The selection of one torrent. Only this module reads or changes it.
#[derive(Debug)]
pub(super) struct Wanted {
    /// Before the metadata: what to apply when it arrives.
    pending: Selection,
    /// One flag per file, once the metadata is known (empty before).
    files: Vec<bool>,
    /// Pieces that overlap a selected file.
    pieces: Bitfield,
    /// Bytes of `pieces`, and of those of them we have.
    bytes: u64,
    have_bytes: u64,
}

impl Wanted {
    /// Every file, before the metadata.
    pub(super) fn new() -> Wanted {
        Wanted {
            pending: Selection::All,
            files: Vec::new(),
            pieces: Bitfield::new(0),
            bytes: 0,
            have_bytes: 0,
        }
    }

    /// The metadata is known: the pending selection becomes per-file flags, and the selected
    /// pieces follow (the engine then applies them to the picker).
    pub(super) fn install(&mut self, info: &Info, have: &Bitfield) {
        let n = info.files().len();
        self.files = match &self.pending {
            Selection::All => vec![true; n],
            Selection::Files(set) => set.to_flags(n),
        };
        self.recompute(info, have);
    }

    /// Whether the metadata is installed.
    pub(super) fn is_installed(&self) -> bool {
        !self.pieces.is_empty()
    }

    /// Before the metadata: remember `selection`. After: the files it names become the
    /// selected ones. The caller recomputes with [`Wanted::recompute`] after the latter.
    pub(super) fn set(&mut self, selection: Selection) {
        if self.is_installed() {
            let n = self.files.len();
            self.files = match &selection {
                Selection::All => vec![true; n],
                Selection::Files(set) => set.to_flags(n),
            };
        }
        self.pending = selection;
    }

    /// Sets one file's flag; false if there is no such file (or no metadata yet).
    pub(super) fn set_file(&mut self, file: u32, wanted: bool) -> bool {
        let Some(flag) = usize::try_from(file)
            .ok()
            .and_then(|i| self.files.get_mut(i))
        else {
            return false;
        };
        *flag = wanted;
        true
    }

    /// Recomputes the selected pieces and their bytes from the file flags. O(files + pieces).
    pub(super) fn recompute(&mut self, info: &Info, have: &Bitfield) {
        let lengths = info.lengths();
        let n = lengths.num_pieces();
        self.pieces = if self.files.iter().all(|&f| f) {
            Bitfield::full(n)
        } else {
            let mut pieces = Bitfield::new(n);
            let pl = u64::from(lengths.piece_length());
            for ((_, range), _) in info.file_ranges().zip(&self.files).filter(|(_, &f)| f) {
                if range.is_empty() {
                    continue;
                }
                let first = range.start / pl;
                let last = (range.end - 1) / pl;
                for i in first..=last {
                    pieces.set(u32::try_from(i).unwrap_or(u32::MAX));
                }
            }
            pieces
        };
        self.bytes = bytes_of(lengths, self.pieces.iter_ones());
        self.have_bytes = bytes_of(lengths, self.pieces.iter_ones().filter(|&i| have.get(i)));
    }

    /// Piece `piece` of `len` bytes was verified.
    pub(super) fn verified(&mut self, piece: u32, len: u64) {
        if self.pieces.get(piece) {
            self.have_bytes = self.have_bytes.saturating_add(len);
        }
    }

    /// Pieces that overlap a selected file (empty before the metadata).
    pub(super) fn pieces(&self) -> &Bitfield {
        &self.pieces
    }

    /// Per file, whether it is selected (empty before the metadata).
    pub(super) fn files(&self) -> &[bool] {
        &self.files
    }

    /// What is selected: the pending selection before the metadata, the files after.
    pub(super) fn selection(&self) -> Selection {
        if !self.is_installed() {
            return self.pending.clone();
        }
        if self.files.iter().all(|&f| f) {
            Selection::All
        } else {
            Selection::Files(FileSet::from_flags(&self.files))
        }
    }

    /// Bytes of the selected pieces, and of those we have.
    pub(super) fn bytes(&self) -> (u64, u64) {
        (self.bytes, self.have_bytes)
    }
}

impl<S: PieceStore> Engine<S> {
    /// Carries the selection over to the picker (once the metadata is known): every piece
    /// whose want changed is set, each peer's count of wanted pieces is recounted and its
    /// interest updated, `done` follows completion (with [`Event::Done`] when a change after
    /// the start completes the download), and pipelines are topped up.
    pub(super) fn apply_wanted(&mut self) {
        let c = &mut self.core;
        let (Some(meta), Some(picker)) = (&c.meta, &mut c.picker) else {
            return;
        };
        c.wanted.recompute(&meta.info, &c.have);
        let mut changed = false;
        for piece in picker.lengths().iter_pieces() {
            let want = c.wanted.pieces().get(piece.get());
            changed |= picker.set_wanted(piece, want);
        }
        let complete = picker.is_complete();
        if !changed {
            return;
        }
        for p in self.peers.values_mut() {
            let c = &mut self.core;
            let Some(picker) = &mut c.picker else {
                return;
            };
            if p.peer_id.is_some() {
                p.wanted_pieces = picker.count_wanted(&p.has);
                c.update_interest(p);
            }
        }
        let c = &mut self.core;
        if !complete {
            c.done = false;
        } else if !c.done {
            c.done = true;
            if c.started {
                c.out.push_back(Output::Event(Event::Done));
            }
        }
        self.refill_all();
    }
}

/// Total length of `pieces`.
pub(super) fn bytes_of(lengths: Lengths, pieces: impl Iterator<Item = u32>) -> u64 {
    pieces
        .filter_map(|i| lengths.validate_piece(i))
        .map(|p| u64::from(lengths.piece_len(p)))
        .sum()
}

/// Verified bytes per file: the overlap of each file's range with the pieces in `have`.
/// O(files + pieces).
pub(super) fn file_progress(info: &Info, have: &Bitfield) -> Vec<u64> {
    let lengths = info.lengths();
    let pl = u64::from(lengths.piece_length());
    info.file_ranges()
        .map(|(_, range)| {
            if range.is_empty() {
                return 0;
            }
            let (first, last) = (range.start / pl, (range.end - 1) / pl);
            (first..=last)
                .filter(|&i| u32::try_from(i).is_ok_and(|i| have.get(i)))
                .map(|i| {
                    let start = (i * pl).max(range.start);
                    let end = (i * pl).saturating_add(pl).min(range.end);
                    end.saturating_sub(start)
                })
                .sum()
        })
        .collect()
}
