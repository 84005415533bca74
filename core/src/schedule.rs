//! Schedule expressions (filled in by the scheduler work).
