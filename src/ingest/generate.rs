//! Synthetic organization generator (placeholder until written).
