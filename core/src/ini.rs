//! INI parser (filled in by the config work).
