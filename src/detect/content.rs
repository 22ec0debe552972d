//! Content scanners. (Being written.)
