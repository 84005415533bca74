//! Value converters (filled in by the config work).
