//! Glare: two peers offer to each other at once, and both offers are answered, so there are two
//! connections between them, which each side sees complete in its own order. Both sides must
//! keep the same one: "keep the first" let each keep a different one, and close the other's,
//! which lost both.

use crate::ids::PeerId;

/// A second connection to `remote` finished signalling while one exists: true to keep the new
/// one (and close the old), false to close the new one. The connection kept is the one whose
/// offerer has the smaller peer id, which both sides compute alike. `*_we_offered` says
/// whether we made that connection's offer.
pub fn keep_new(me: &PeerId, remote: &PeerId, new_we_offered: bool, old_we_offered: bool) -> bool {
    let offerer = |we: bool| if we { me } else { remote };
    offerer(new_we_offered) < offerer(old_we_offered)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    /// One side's view: two connections, each named by its offerer, complete in `order`;
    /// returns the offerer of the connection it keeps.
    fn kept(
        me: PeerId,
        remote: PeerId,
        order: [PeerId; 2],
        rule: impl Fn(&PeerId, &PeerId, bool, bool) -> bool,
    ) -> PeerId {
        let [old, new] = order;
        if rule(&me, &remote, new == me, old == me) {
            new
        } else {
            old
        }
    }

    #[test]
    fn both_sides_keep_the_same_one_of_two_simultaneous_connections() {
        let pairs = [
            (PeerId([1; 20]), PeerId([2; 20])),
            (PeerId([0xff; 20]), PeerId([0; 20])),
            (
                PeerId(*b"-WW0300-aaaaaaaaaaab"),
                PeerId(*b"-WW0300-aaaaaaaaaaaa"),
            ),
        ];
        for (a, b) in pairs {
            let smaller = a.min(b);
            for a_order in [[a, b], [b, a]] {
                for b_order in [[a, b], [b, a]] {
                    let at_a = kept(a, b, a_order, keep_new);
                    let at_b = kept(b, a, b_order, keep_new);
                    // The same connection on both sides, so exactly one survives: the smaller
                    // peer id's offer.
                    assert_eq!(at_a, at_b, "{a:?} sees {a_order:?}, {b:?} sees {b_order:?}");
                    assert_eq!(at_a, smaller);
                }
            }
        }
    }

    #[test]
    fn keeping_the_first_loses_both_when_the_orders_differ() {
        // The predecessor rule, for contrast: each side keeps the one it saw first.
        let first = |_: &PeerId, _: &PeerId, _: bool, _: bool| false;
        let (a, b) = (PeerId([1; 20]), PeerId([2; 20]));
        let at_a = kept(a, b, [a, b], first);
        let at_b = kept(b, a, [b, a], first);
        assert_ne!(
            at_a, at_b,
            "each side closes the connection the other keeps"
        );
        assert_eq!(kept(a, b, [a, b], keep_new), kept(b, a, [b, a], keep_new));
    }

    #[test]
    fn two_connections_with_the_same_offerer_keep_the_old_one() {
        let (me, them) = (PeerId([1; 20]), PeerId([2; 20]));
        assert!(!keep_new(&me, &them, true, true));
        assert!(!keep_new(&me, &them, false, false));
        assert!(keep_new(&me, &them, true, false));
        assert!(!keep_new(&me, &them, false, true));
    }
}
