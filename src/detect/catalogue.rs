//! The detection catalogue of DESIGN §5. (Being written.)
