//! Sliding windows over event time. (Being written.)
