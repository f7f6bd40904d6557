//! The peer wire decoder: any byte stream, in any slicing, decodes without panicking, never
//! yields a message over its limits, and yields the same frames however it is sliced.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tabswarm_core::wire::{Decoder, Frame, Message, WireLimits};

fn run(data: &[u8], chunk: usize, limits: WireLimits) -> (Vec<Frame>, bool) {
    let mut d = Decoder::new(limits);
    let mut frames = Vec::new();
    for part in data.chunks(chunk.max(1)) {
        d.push(part);
        loop {
            match d.next() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
    }
    (frames, false)
}

fuzz_target!(|input: &[u8]| {
    let Some((&knobs, data)) = input.split_first() else {
        return;
    };
    let limits = WireLimits::for_pieces(u32::from(knobs & 0x3f) * 97 + 1);
    let (whole, failed) = run(data, data.len(), limits);
    let (sliced, failed_sliced) = run(data, usize::from(knobs >> 6) * 7 + 1, limits);
    assert_eq!(failed, failed_sliced);
    assert_eq!(whole, sliced);
    for f in &whole {
        match f {
            Frame::Message(Message::Bitfield(b)) => {
                assert!(b.len() <= limits.max_bitfield_len as usize)
            }
            Frame::Message(Message::Piece { data, .. }) => {
                assert!(data.len() <= limits.max_block_len as usize)
            }
            Frame::Message(m @ Message::Extended { payload, .. }) => {
                assert!(
                    payload.len() <= tabswarm_core::wire::MAX_EXTENDED_LEN as usize,
                    "{m:?}"
                )
            }
            _ => {}
        }
    }
});
