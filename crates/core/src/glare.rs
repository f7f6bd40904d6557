//! Glare: two peers offer to each other at once, and both offers are answered, so there are two
//! connections between them, which each side sees complete in its own order. Both sides must
//! keep the same one: "keep the first" let each keep a different one, and close the other's,
//! which lost both.

use crate::ids::PeerId;

/// A second connection to `remote` finished signalling while one exists: true to keep the new
/// one (and close the old), false to close the new one. The connection kept is the one whose
/// offerer has the smaller peer id, which both sides compute alike, with one exception: an old
/// connection that is `old_established` (its BitTorrent handshake is done) to a peer of
/// another client is kept. That is not a glare but a new offer to a peer we already swarm with,
/// and a client that dedups by its own rule (libtorrent 2.1, whose handshake peer id is not the
/// one it announces, offers again on every announce) keeps the established one too; dropping it
/// lost the transfer. Between two tabswarm peers the exception is not taken: a tabswarm peer
/// answers no offer from a peer it is connected to, so a second connection between two of them
/// is always a glare, and "established" is each side's own view, which differs for as long as a
/// handshake takes to cross: one side kept the old one, the other the new one, and both were
/// lost. `*_we_offered` says whether we made that connection's offer.
pub fn keep_new(
    me: &PeerId,
    remote: &PeerId,
    new_we_offered: bool,
    old_we_offered: bool,
    old_established: bool,
) -> bool {
    let offerer = |we: bool| if we { me } else { remote };
    let keep_established = old_established && !remote.is_tabswarm();
    !keep_established && offerer(new_we_offered) < offerer(old_we_offered)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    /// Two connections both still signalling (neither established): the glare proper.
    fn signalling(me: &PeerId, remote: &PeerId, new_we: bool, old_we: bool) -> bool {
        keep_new(me, remote, new_we, old_we, false)
    }

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
                    let at_a = kept(a, b, a_order, signalling);
                    let at_b = kept(b, a, b_order, signalling);
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
        assert_eq!(
            kept(a, b, [a, b], signalling),
            kept(b, a, [b, a], signalling)
        );
    }

    #[test]
    fn two_connections_with_the_same_offerer_keep_the_old_one() {
        let (me, them) = (PeerId([1; 20]), PeerId([2; 20]));
        assert!(!keep_new(&me, &them, true, true, false));
        assert!(!keep_new(&me, &them, false, false, false));
        assert!(keep_new(&me, &them, true, false, false));
        assert!(!keep_new(&me, &them, false, true, false));
    }

    #[test]
    fn an_established_connection_is_kept_whoever_offered_the_new_one() {
        let (me, them) = (PeerId([1; 20]), PeerId([2; 20]));
        for (new_we, old_we) in [(true, true), (true, false), (false, true), (false, false)] {
            assert!(
                !keep_new(&me, &them, new_we, old_we, true),
                "{new_we} {old_we}"
            );
            assert!(
                !keep_new(&them, &me, new_we, old_we, true),
                "{new_we} {old_we}"
            );
        }
    }

    #[test]
    fn two_tabswarm_peers_agree_whichever_side_sees_the_old_one_established() {
        let (a, b) = (
            PeerId(*b"-TS0100-aaaaaaaaaaaa"),
            PeerId(*b"-TS0100-bbbbbbbbbbbb"),
        );
        for a_order in [[a, b], [b, a]] {
            for b_order in [[a, b], [b, a]] {
                for (a_est, b_est) in [(false, false), (true, false), (false, true), (true, true)] {
                    let at_a = kept(a, b, a_order, |m, r, n, o| keep_new(m, r, n, o, a_est));
                    let at_b = kept(b, a, b_order, |m, r, n, o| keep_new(m, r, n, o, b_est));
                    assert_eq!(
                        at_a, at_b,
                        "a sees {a_order:?} ({a_est}), b {b_order:?} ({b_est})"
                    );
                    assert_eq!(at_a, a, "the smaller id's offer");
                }
            }
        }
        // Another client's established connection is still kept, as the rule above says.
        let lt = PeerId(*b"-LT2110-aaaaaaaaaaaa");
        assert!(!keep_new(&a, &lt, false, true, true));
        assert!(keep_new(&a, &lt, false, true, false));
    }
}
