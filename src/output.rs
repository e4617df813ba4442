//! Writing generated files: atomic replacement, hand-edit detection, diffs.
