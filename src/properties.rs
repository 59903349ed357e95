//! What the property tests share (tests only): their configuration. A fixed seed, so that
//! `cargo test` runs the same cases on every machine and a failure is reproduced by running
//! it again; a few hundred cases per property, a few seconds in all. A failing case, shrunk,
//! is kept in `proptest-regressions/` beside the source and run first from then on (commit
//! it). For a longer hunt by hand: `PROPTEST_CASES=100000 PROPTEST_RNG_SEED=<any number>
//! cargo test --lib properties`.

use proptest::test_runner::{Config, RngSeed};

/// The seed `cargo test` uses unless `PROPTEST_RNG_SEED` names another.
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
