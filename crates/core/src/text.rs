//! Text from peers and trackers, cut to a length before it is stored or shown.
#![warn(clippy::arithmetic_side_effects)]

/// `s` cut to at most `max` bytes, back to a char boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default()
}

/// `s` cut to at most `max` bytes in place (no copy when it is short enough).
pub fn truncate_owned(mut s: String, max: usize) -> String {
    let end = truncate(&s, max).len();
    s.truncate(end);
    s
}

/// Raw bytes as text (invalid UTF-8 replaced by U+FFFD) of at most `max` bytes. Only the
/// first `max + 3` bytes are converted: a char cut by the limit starts at byte `max` or
/// later, and replacement never moves text to an earlier offset, so whatever lies beyond
/// falls in the part cut off anyway.
pub fn lossy_prefix(raw: &[u8], max: usize) -> String {
    let head = raw.get(..max.saturating_add(3)).unwrap_or(raw);
    truncate_owned(String::from_utf8_lossy(head).into_owned(), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_char_boundaries() {
        assert_eq!(truncate("hello", 10), "hello");
        assert_eq!(truncate("hello", 3), "hel");
        assert_eq!(truncate("", 3), "");
        // 'é' is 2 bytes: a cut in its middle backs off before it.
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("aé", 3), "aé");
        assert_eq!(truncate_owned("€€€".into(), 7), "€€");
        assert_eq!(truncate_owned("x".repeat(1000), 200).len(), 200);
    }

    #[test]
    fn lossy_prefixes_replace_invalid_bytes_within_the_limit() {
        assert_eq!(lossy_prefix(b"abc", 64), "abc");
        assert_eq!(lossy_prefix(&[b'a'; 100], 64), "a".repeat(64));
        // Each invalid byte becomes 3 bytes: 21 of them fit in 64.
        assert_eq!(lossy_prefix(&[0xff; 1000], 64), "\u{fffd}".repeat(21));
    }
}
