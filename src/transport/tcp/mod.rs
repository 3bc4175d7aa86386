//! TCP: placeholder module root.
pub mod congestion;
