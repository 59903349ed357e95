//! The generated-case tests' configuration, as the library's own properties have it
//! (`src/properties.rs`, which the integration tests cannot reach: it is compiled for the
//! library's tests only): a fixed seed, so every machine runs the same cases and a failure
//! repeats; `PROPTEST_CASES` and `PROPTEST_RNG_SEED` choose others for a longer hunt.

use proptest::test_runner::{Config, RngSeed};

/// The seed of the library's properties too.
const SEED: u64 = 0x6d71_615f_7265_6c61;

/// `cases` cases from [`SEED`], unless `PROPTEST_CASES` / `PROPTEST_RNG_SEED` say otherwise.
pub fn config(cases: u32) -> Config {
    let base = Config::default();
    Config {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            base.cases
        } else {
            cases
        },
        rng_seed: if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
            base.rng_seed
        } else {
            RngSeed::Fixed(SEED)
        },
        ..base
    }
}
