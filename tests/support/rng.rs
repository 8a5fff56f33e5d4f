//! A small seeded generator for the model tests: every case has a seed, a failing case prints
//! it, and `READYIO_MODEL_SEED=<seed>` reruns just that case.
//!
//! xorshift64*: not for cryptography, only for spreading test inputs (and free of the
//! dependencies a property-testing crate would add to every build of the examples).
//!
//! [`Choices`] is what the models shared with `fuzz/` (`ring_model.rs`, `timer_model.rs`)
//! draw their steps from: this generator in the tests, the fuzzer's input there.

#![allow(dead_code)]

/// Where a model case's choices come from.
pub trait Choices {
    /// Any `u64`.
    fn next(&mut self) -> u64;

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        self.below_u64(n as u64) as usize
    }

    /// A number in `0..n` (n > 0).
    fn below_u64(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Up to `max_len - 1` bytes.
    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A xorshift64* generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // A zero state would stay zero.
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` (n > 0) for test inputs.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Up to `max_len - 1` random bytes.
    pub fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

impl Choices for Rng {
    fn next(&mut self) -> u64 {
        Rng::next(self)
    }
}

/// Runs `case` once per seed: `READYIO_MODEL_SEED` alone if set, else seeds 1..=cases
/// (`READYIO_MODEL_CASES` overrides `cases`). A panicking case reports its seed.
pub fn for_each_case(cases: u64, mut case: impl FnMut(&mut Rng)) {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let seeds = match env("READYIO_MODEL_SEED") {
        Some(seed) => seed..=seed,
        None => 1..=env("READYIO_MODEL_CASES").unwrap_or(cases),
    };
    for seed in seeds {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&mut Rng::new(seed))));
        if let Err(panic) = result {
            eprintln!("model case failed; rerun it alone with READYIO_MODEL_SEED={seed}");
            std::panic::resume_unwind(panic);
        }
    }
}
