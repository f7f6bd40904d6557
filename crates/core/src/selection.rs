//! Which files of a torrent to download: sets of file indices (BEP 53's `so=`).
//!
//! A [`FileSet`] is a sorted list of disjoint, non-adjacent inclusive ranges, so its memory
//! grows with the number of ranges, never with the indices they cover (`0-4000000000` is one
//! entry). Text from outside (a magnet's `so=`) goes through [`FileSet::parse`]: at most
//! [`MAX_FILE_SET_ENTRIES`] comma-separated entries, each a decimal index or an inclusive
//! range `a-b` with `a <= b`, every index a `u32`; anything else is a [`FileSetError`], never
//! a panic. Parsing sorts and merges, so `4-6,0,1` reads as `0-1,4-6` and writes back so.
//!
//! Indices past a torrent's last file are allowed in a set and ignored when it is applied
//! (the engine's `select`), so a set can be given before the metadata says how many files
//! there are.

use std::fmt;

/// Most comma-separated entries [`FileSet::parse`] accepts.
pub const MAX_FILE_SET_ENTRIES: usize = 1000;
/// Characters of a bad entry kept in a [`FileSetError`].
const MAX_ERROR_TEXT: usize = 32;

/// A set of file indices; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileSet {
    /// Sorted, disjoint, non-adjacent inclusive ranges.
    ranges: Vec<(u32, u32)>,
}

/// Why a `so=`-style list is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSetError {
    /// An empty entry (`1,,2`, a trailing comma, or an empty list).
    EmptyEntry,
    /// An entry that is not a decimal `u32` or a range of two (cut to 32 characters).
    BadEntry(String),
    /// A range `a-b` with `a > b`.
    Reversed { start: u32, end: u32 },
    /// More than [`MAX_FILE_SET_ENTRIES`] entries.
    TooManyEntries,
}

impl fmt::Display for FileSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileSetError::EmptyEntry => f.write_str("empty file index entry"),
            FileSetError::BadEntry(e) => write!(f, "bad file index entry {e:?}"),
            FileSetError::Reversed { start, end } => {
                write!(f, "file index range {start}-{end} runs backwards")
            }
            FileSetError::TooManyEntries => {
                write!(f, "more than {MAX_FILE_SET_ENTRIES} file index entries")
            }
        }
    }
}

impl std::error::Error for FileSetError {}

impl FileSet {
    /// The empty set.
    pub fn new() -> FileSet {
        FileSet::default()
    }

    /// The set of these indices.
    pub fn from_indices(indices: impl IntoIterator<Item = u32>) -> FileSet {
        FileSet::from_ranges(indices.into_iter().map(|i| (i, i)))
    }

    /// The union of inclusive ranges; a range with `start > end` is empty.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u32, u32)>) -> FileSet {
        let mut v: Vec<(u32, u32)> = ranges.into_iter().filter(|(a, b)| a <= b).collect();
        v.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match merged.last_mut() {
                // Overlapping or adjacent: extend (a <= last.1 + 1 without overflow).
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        FileSet { ranges: merged }
    }

    /// The indices whose flag is set (the inverse of [`FileSet::to_flags`]).
    pub fn from_flags(flags: &[bool]) -> FileSet {
        let indices = (0u32..).zip(flags).filter(|(_, &f)| f).map(|(i, _)| i);
        FileSet::from_indices(indices)
    }

    /// Parses BEP 53's list, e.g. `0,2,4-6`; see the module docs for the bounds.
    pub fn parse(text: &str) -> Result<FileSet, FileSetError> {
        let mut ranges = Vec::new();
        for entry in text.split(',') {
            if ranges.len() >= MAX_FILE_SET_ENTRIES {
                return Err(FileSetError::TooManyEntries);
            }
            if entry.is_empty() {
                return Err(FileSetError::EmptyEntry);
            }
            let bad = || FileSetError::BadEntry(entry.chars().take(MAX_ERROR_TEXT).collect());
            let index = |s: &str| {
                // `u32::from_str` takes a leading `+`; BEP 53 has digits only.
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                s.parse::<u32>().map_err(|_| bad())
            };
            let (start, end) = match entry.split_once('-') {
                Some((a, b)) => (index(a)?, index(b)?),
                None => {
                    let i = index(entry)?;
                    (i, i)
                }
            };
            if start > end {
                return Err(FileSetError::Reversed { start, end });
            }
            ranges.push((start, end));
        }
        Ok(FileSet::from_ranges(ranges))
    }

    /// Whether `index` is in the set (binary search over the ranges).
    pub fn contains(&self, index: u32) -> bool {
        let at = self.ranges.partition_point(|&(_, end)| end < index);
        self.ranges
            .get(at)
            .is_some_and(|&(start, _)| start <= index)
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The sorted, disjoint, non-adjacent inclusive ranges.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// One flag per file of a torrent of `files` files (indices past it are ignored).
    pub fn to_flags(&self, files: usize) -> Vec<bool> {
        let mut flags = vec![false; files];
        for &(a, b) in &self.ranges {
            let start = usize::try_from(a).unwrap_or(usize::MAX).min(files);
            let end = usize::try_from(b)
                .unwrap_or(usize::MAX)
                .saturating_add(1)
                .min(files);
            if let Some(slice) = flags.get_mut(start..end) {
                slice.fill(true);
            }
        }
        flags
    }
}

/// `0,2,4-6`: the form [`FileSet::parse`] reads (empty for the empty set).
impl fmt::Display for FileSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, &(a, b)) in self.ranges.iter().enumerate() {
            if k > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

/// Which files to download.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    /// Every file (the default).
    #[default]
    All,
    /// Only these files; every other one is deselected.
    Files(FileSet),
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn parses_indices_and_ranges_and_writes_them_back() {
        let s = FileSet::parse("0,2,4-6").unwrap();
        assert_eq!(s.ranges(), [(0, 0), (2, 2), (4, 6)]);
        assert_eq!(s.to_string(), "0,2,4-6");
        for i in [0, 2, 4, 5, 6] {
            assert!(s.contains(i), "{i}");
        }
        for i in [1, 3, 7, u32::MAX] {
            assert!(!s.contains(i), "{i}");
        }
        // Sorted and merged: overlapping and adjacent entries become one range.
        let s = FileSet::parse("7,4-6,0,1,5-5").unwrap();
        assert_eq!(s.to_string(), "0-1,4-7");
        assert_eq!(FileSet::parse(&s.to_string()), Ok(s));
        assert_eq!(s_flags("1,3-4", 4), [false, true, false, true]);
    }

    fn s_flags(text: &str, n: usize) -> Vec<bool> {
        FileSet::parse(text).unwrap().to_flags(n)
    }

    #[test]
    fn a_huge_range_is_one_entry() {
        let s = FileSet::parse("0-4000000000,4294967295").unwrap();
        assert_eq!(s.ranges(), [(0, 4_000_000_000), (u32::MAX, u32::MAX)]);
        assert!(s.contains(3_999_999_999));
        assert!(!s.contains(4_000_000_001));
        assert_eq!(s.to_flags(3), [true, true, true]);
        let all = FileSet::parse("0-4294967295,5").unwrap();
        assert_eq!(all.ranges(), [(0, u32::MAX)]);
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert_eq!(FileSet::parse(""), Err(FileSetError::EmptyEntry));
        assert_eq!(FileSet::parse("1,,2"), Err(FileSetError::EmptyEntry));
        assert_eq!(FileSet::parse("1,"), Err(FileSetError::EmptyEntry));
        assert_eq!(
            FileSet::parse("6-4"),
            Err(FileSetError::Reversed { start: 6, end: 4 })
        );
        for bad in [
            "x",
            "-1",
            "1-",
            "-",
            "1-2-3",
            "+1",
            " 1",
            "4294967296",
            "1.5",
        ] {
            assert!(
                matches!(FileSet::parse(bad), Err(FileSetError::BadEntry(_))),
                "{bad}"
            );
        }
        let long = "9".repeat(100_000);
        match FileSet::parse(&long) {
            Err(FileSetError::BadEntry(e)) => assert_eq!(e.len(), 32),
            other => panic!("{other:?}"),
        }
        let ok: Vec<String> = (0..MAX_FILE_SET_ENTRIES)
            .map(|i| (2 * i).to_string())
            .collect();
        assert_eq!(
            FileSet::parse(&ok.join(",")).unwrap().ranges().len(),
            MAX_FILE_SET_ENTRIES
        );
        let too_many = format!("{},0", ok.join(","));
        assert_eq!(FileSet::parse(&too_many), Err(FileSetError::TooManyEntries));
    }

    #[test]
    fn flags_round_trip() {
        let flags = [true, false, true, true, false];
        let s = FileSet::from_flags(&flags);
        assert_eq!(s.to_string(), "0,2-3");
        assert_eq!(s.to_flags(5), flags);
        assert!(FileSet::from_flags(&[false, false]).is_empty());
        assert_eq!(FileSet::from_ranges([(3, 1)]), FileSet::new());
    }
}
