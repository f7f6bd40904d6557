//! A set of pieces, stored in BEP 3 wire order.
//!
//! Bit `i` is bit `7 - i % 8` of byte `i / 8`: the high bit of byte 0 is piece 0. The bytes are
//! kept exactly as a `bitfield` message carries them, so [`Bitfield::as_wire`] costs nothing,
//! and the spare bits after the last piece are always zero (a peer that sets them is rejected
//! by [`Bitfield::from_wire`]). The number of set bits is kept incrementally, so
//! [`Bitfield::count_ones`] and [`Bitfield::is_full`] are O(1).
//!
//! Out-of-range indices never panic: [`get`](Bitfield::get) returns `false`, and
//! [`set`](Bitfield::set) / [`clear`](Bitfield::clear) do nothing and return `false`.

use std::fmt;

/// Why a peer's `bitfield` message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitfieldError {
    /// BEP 3: the payload is exactly `ceil(num_pieces / 8)` bytes.
    WrongLength { expected: u32, got: u64 },
    /// BEP 3: spare bits at the end must be zero ("clients should drop the connection").
    SpareBitsSet,
}

impl fmt::Display for BitfieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BitfieldError::WrongLength { expected, got } => {
                write!(f, "bitfield of {got} bytes, expected {expected}")
            }
            BitfieldError::SpareBitsSet => f.write_str("bitfield has spare bits set"),
        }
    }
}

impl std::error::Error for BitfieldError {}

/// A fixed-length set of piece indices `0..len`.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

impl Bitfield {
    /// All clear.
    pub fn new(len: u32) -> Bitfield {
        Bitfield {
            bytes: vec![0; Self::byte_len(len)],
            len,
            ones: 0,
        }
    }

    /// All set.
    pub fn full(len: u32) -> Bitfield {
        let mut bytes = vec![0xff; Self::byte_len(len)];
        if let Some(last) = bytes.last_mut() {
            *last &= Self::last_byte_mask(len);
        }
        Bitfield {
            bytes,
            len,
            ones: len,
        }
    }

    /// Parses the payload of a `bitfield` message for a torrent of `len` pieces.
    pub fn from_wire(bytes: &[u8], len: u32) -> Result<Bitfield, BitfieldError> {
        let expected = Self::byte_len(len);
        if bytes.len() != expected {
            return Err(BitfieldError::WrongLength {
                expected: u32::try_from(expected).unwrap_or(u32::MAX),
                got: bytes.len() as u64,
            });
        }
        if let Some(&last) = bytes.last() {
            if last & !Self::last_byte_mask(len) != 0 {
                return Err(BitfieldError::SpareBitsSet);
            }
        }
        // At most len bits are set, so the sum fits in u32.
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len,
            ones,
        })
    }

    /// The payload of a `bitfield` message: `ceil(len / 8)` bytes, spare bits zero.
    pub fn as_wire(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of pieces (bits), not the number set.
    pub const fn len(&self) -> u32 {
        self.len
    }

    /// True for a zero-length bitfield (a torrent without pieces; never a real one).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether piece `index` is set; `false` when out of range.
    pub fn get(&self, index: u32) -> bool {
        index < self.len && self.bytes[Self::byte_of(index)] & Self::mask(index) != 0
    }

    /// Sets piece `index`. Returns `true` if the bit changed (was clear and in range).
    pub fn set(&mut self, index: u32) -> bool {
        if index >= self.len {
            return false;
        }
        let byte = &mut self.bytes[Self::byte_of(index)];
        let m = Self::mask(index);
        if *byte & m != 0 {
            return false;
        }
        *byte |= m;
        self.ones += 1;
        true
    }

    /// Clears piece `index`. Returns `true` if the bit changed (was set and in range).
    pub fn clear(&mut self, index: u32) -> bool {
        if index >= self.len {
            return false;
        }
        let byte = &mut self.bytes[Self::byte_of(index)];
        let m = Self::mask(index);
        if *byte & m == 0 {
            return false;
        }
        *byte &= !m;
        self.ones -= 1;
        true
    }

    /// Number of set bits, O(1).
    pub const fn count_ones(&self) -> u32 {
        self.ones
    }

    /// Every bit set (a seeder's bitfield), O(1). A zero-length bitfield is full.
    pub const fn is_full(&self) -> bool {
        self.ones == self.len
    }

    /// No bit set, O(1).
    pub const fn has_none(&self) -> bool {
        self.ones == 0
    }

    /// Indices of set bits, ascending; skips zero bytes eight bits at a time.
    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter_matching(0x00)
    }

    /// Indices of clear bits, ascending; skips full bytes eight bits at a time.
    pub fn iter_zeros(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter_matching(0xff)
    }

    /// Bytes a bitfield of `len` bits occupies on the wire.
    pub const fn wire_len(len: u32) -> u32 {
        len.div_ceil(8)
    }

    fn byte_len(len: u32) -> usize {
        Self::wire_len(len) as usize
    }

    fn byte_of(index: u32) -> usize {
        (index / 8) as usize
    }

    const fn mask(index: u32) -> u8 {
        0x80 >> (index % 8)
    }

    /// The bits of the last byte that belong to pieces.
    const fn last_byte_mask(len: u32) -> u8 {
        match len % 8 {
            0 => 0xff,
            r => 0xffu8 << (8 - r),
        }
    }

    /// Iterates over indices whose bit differs from `skip`'s bits (`0x00`: ones, `0xff`: zeros).
    fn iter_matching(&self, skip: u8) -> impl Iterator<Item = u32> + '_ {
        let len = self.len;
        (0u32..)
            .zip(self.bytes.iter())
            .filter(move |(_, &b)| b != skip)
            .flat_map(move |(i, &b)| {
                let bits = b ^ skip;
                (0..8u32)
                    .filter(move |bit| bits & (0x80 >> bit) != 0)
                    .map(move |bit| i * 8 + bit)
            })
            .take_while(move |&idx| idx < len)
    }
}

impl fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bitfield({}/{} ", self.ones, self.len)?;
        if self.len <= 64 {
            for i in 0..self.len {
                f.write_str(if self.get(i) { "1" } else { "0" })?;
            }
        } else {
            f.write_str("...")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn wire_order_is_high_bit_first() {
        let mut b = Bitfield::new(10);
        assert!(b.set(0));
        assert!(b.set(9));
        assert_eq!(b.as_wire(), &[0b1000_0000, 0b0100_0000]);
        assert!(b.get(0) && b.get(9) && !b.get(1) && !b.get(8));
        assert_eq!(b.count_ones(), 2);
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![0, 9]);
        assert_eq!(
            b.iter_zeros().collect::<Vec<_>>(),
            (1..9).collect::<Vec<_>>()
        );
    }

    #[test]
    fn full_leaves_spare_bits_clear() {
        let b = Bitfield::full(10);
        assert_eq!(b.as_wire(), &[0xff, 0b1100_0000]);
        assert!(b.is_full());
        assert_eq!(b.count_ones(), 10);
        assert_eq!(b.iter_zeros().count(), 0);
        assert_eq!(Bitfield::full(16).as_wire(), &[0xff, 0xff]);
        assert_eq!(Bitfield::full(0).as_wire(), &[] as &[u8]);
        assert!(Bitfield::full(0).is_full() && Bitfield::new(0).is_empty());
    }

    #[test]
    fn from_wire_checks_length_and_spare_bits() {
        assert_eq!(
            Bitfield::from_wire(&[0xff], 10),
            Err(BitfieldError::WrongLength {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            Bitfield::from_wire(&[0, 0, 0], 10),
            Err(BitfieldError::WrongLength {
                expected: 2,
                got: 3
            })
        );
        assert_eq!(
            Bitfield::from_wire(&[0xff, 0b1110_0000], 10),
            Err(BitfieldError::SpareBitsSet)
        );
        assert_eq!(
            Bitfield::from_wire(&[0x00, 0b0000_0001], 10),
            Err(BitfieldError::SpareBitsSet)
        );
        let b = Bitfield::from_wire(&[0xa0, 0b1100_0000], 10).unwrap();
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![0, 2, 8, 9]);
        assert_eq!(b.count_ones(), 4);
        assert!(Bitfield::from_wire(&[0xff], 8).unwrap().is_full());
    }

    #[test]
    fn set_clear_and_out_of_range() {
        let mut b = Bitfield::new(9);
        assert!(!b.get(9) && !b.get(u32::MAX));
        assert!(!b.set(9));
        assert!(!b.clear(100));
        assert!(b.set(8));
        assert!(!b.set(8), "second set changes nothing");
        assert_eq!(b.count_ones(), 1);
        assert!(b.clear(8));
        assert!(!b.clear(8));
        assert!(b.has_none());
        assert_eq!(b.as_wire(), &[0, 0]);
    }

    #[test]
    fn random_operations_match_a_bool_model() {
        let mut rng = Rng::new(0xb17f);
        for len in [1u32, 7, 8, 9, 63, 64, 65, 1000] {
            let mut b = Bitfield::new(len);
            let mut model = vec![false; len as usize];
            for _ in 0..4 * len {
                let i = u32::try_from(rng.below(u64::from(len) + 2)).unwrap();
                let in_range = i < len;
                if rng.below(2) == 0 {
                    let changed = b.set(i);
                    assert_eq!(changed, in_range && !model[i as usize]);
                    if in_range {
                        model[i as usize] = true;
                    }
                } else {
                    let changed = b.clear(i);
                    assert_eq!(changed, in_range && model[i as usize]);
                    if in_range {
                        model[i as usize] = false;
                    }
                }
            }
            let ones: Vec<u32> = (0..len).filter(|&i| model[i as usize]).collect();
            let zeros: Vec<u32> = (0..len).filter(|&i| !model[i as usize]).collect();
            assert_eq!(b.iter_ones().collect::<Vec<_>>(), ones);
            assert_eq!(b.iter_zeros().collect::<Vec<_>>(), zeros);
            assert_eq!(b.count_ones() as usize, ones.len());
            assert_eq!(b.is_full(), zeros.is_empty());
            let back = Bitfield::from_wire(b.as_wire(), len).unwrap();
            assert_eq!(back, b);
        }
    }
}
