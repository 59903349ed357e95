//! A webhook body, as MonitorQA (or anyone holding the token) may send it: any bytes give an
//! event or a precise refusal, never a panic; an accepted event's dedup key is the same for
//! its own canonical JSON sent again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqa_relay::event::Event;

fuzz_target!(|body: &[u8]| {
    match Event::parse(body) {
        Ok(event) => {
            let (canonical, key) = event.canonical_json_and_dedup_key();
            let again = Event::parse(canonical.as_bytes()).expect("its canonical JSON parses");
            assert_eq!(again.dedup_key(), key, "the key changes on a round trip");
        }
        Err(e) => assert!(!e.to_string().is_empty(), "a refusal says why"),
    }
});
