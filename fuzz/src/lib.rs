//! What the fuzz targets share: the models' source of choices (`tests/support/rng.rs`),
//! fed from the fuzzer's bytes.

// `Rng::next` is the tests' name; public here, clippy would have it be `Iterator::next`.
#[allow(clippy::should_implement_trait)]
#[path = "../../tests/support/rng.rs"]
pub mod rng;

/// The fuzzer's bytes as [`rng::Choices`]: each choice takes as few bytes as its range
/// needs (so that a mutated byte changes one choice), and zeros once the bytes run out.
pub struct FuzzChoices<'a> {
    bytes: &'a [u8],
}

impl<'a> FuzzChoices<'a> {
    pub fn new(bytes: &'a [u8]) -> FuzzChoices<'a> {
        FuzzChoices { bytes }
    }

    /// Whether every byte has been used.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, count: usize) -> u64 {
        let count = count.min(self.bytes.len());
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        taken.iter().rev().fold(0, |value, &byte| value << 8 | u64::from(byte))
    }
}

impl rng::Choices for FuzzChoices<'_> {
    fn next(&mut self) -> u64 {
        self.take(8)
    }

    fn below_u64(&mut self, n: u64) -> u64 {
        // Enough bytes to cover 0..n.
        let bytes = (64 - (n - 1).leading_zeros()).div_ceil(8) as usize;
        self.take(bytes) % n
    }
}
