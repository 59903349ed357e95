//! A rules file: any text gives a configuration or located errors, never a panic or a hang
//! (libFuzzer's `-timeout` catches a hang). `${VAR}` finds every variable set.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let env = |name: &str| Some(format!("value-of-{name}"));
    if let Err(errors) = mqa_relay::config::parse(text, Path::new("rules.yaml"), &env) {
        assert!(!errors.errors.is_empty(), "a refusal has an error");
        for e in &errors.errors {
            assert!(!e.message.is_empty(), "every error has words");
        }
    }
});
