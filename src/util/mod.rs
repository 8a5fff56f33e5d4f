//! Utilities for building servers on readyio: a slab that hands out `Token`s.
//!
//! Nothing here does IO; it sits beside `buf` above the readiness core.

mod slab;

pub use self::slab::{Iter, IterMut, Slab};
