//! TODO: filled in by the core issue.
