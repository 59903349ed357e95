//! The rules files the relay runs with: one rule routing every event to the sink (or to ten
//! sink targets, for fan-out), optionally followed by background rules (other companies, some `where`, some regexes) that never match
//! the sample events, so a 10 000-rule file still delivers each event exactly once.

use std::fmt::Write;
use std::net::SocketAddr;

pub const TOKEN: &str = "bench-token-6f1d2c9a4b7e";

use mqa_relay::event::EVENT_TYPES as TYPES;

/// How many sends the sink target keeps in flight by default: the relay's pipelined lane, as a
/// user who does not need strict order configures it (`max_in_flight`; the webhook default is
/// 1). `--sink-in-flight 0` leaves the key out, for a relay from before it existed.
pub const SINK_IN_FLIGHT: usize = 16;

/// A rules file with `rules` rules in all; the first sends every event to the sink as a
/// generic webhook (the relay posts the event JSON, marker included): to one target `sink`,
/// or with `targets` > 1 to `sink-0` … `sink-<targets - 1>`, each its own lane and path.
pub fn relay_rules(sink: SocketAddr, rules: usize, targets: usize, in_flight: usize) -> String {
    let names: Vec<String> = match targets {
        1 => vec!["sink".to_owned()],
        n => (0..n).map(|i| format!("sink-{i}")).collect(),
    };
    let mut yaml = format!("server:\n  token: {TOKEN}\ntargets:\n");
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            yaml,
            "  {name}:\n    kind: webhook\n    url: http://{sink}/sink/{i}\n"
        );
        if in_flight > 0 {
            let _ = writeln!(yaml, "    max_in_flight: {in_flight}");
        }
    }
    let _ = write!(
        yaml,
        "rules:\n  - name: every event to the sink\n    events: [\"*\"]\n    notify: [{}]\n",
        names.join(", ")
    );
    for i in 1..rules {
        background_rule(&mut yaml, i);
    }
    yaml
}

fn background_rule(yaml: &mut String, i: usize) {
    let kind = TYPES[i % TYPES.len()];
    // Writing to a String cannot fail.
    let _ = write!(
        yaml,
        "  - name: background {i}\n    events: [{kind}]\n    company: Company {:04}\n",
        i % 997
    );
    if i % 10 == 3 {
        let _ = write!(
            yaml,
            "    where:\n      data.correctiveAction.auditObject.name: {{ regex: \"(?i)store #{}\\\\b\" }}\n",
            i % 50
        );
    } else if i % 4 == 1 {
        yaml.push_str(
            "    where:\n      data.correctiveAction.priority: { gte: 2 }\n      \
             data.correctiveAction.tags[*].name: { any_of: [Cold chain, Hygiene] }\n",
        );
    }
    yaml.push_str("    notify: [sink]\n");
}

/// An Alertmanager configuration: every alert its own group (one notification per event, as
/// the relay sends), sent at once to a Slack receiver pointing at the sink; with `targets` > 1
/// one child route per receiver, each with `continue: true`, so every alert reaches all.
pub fn alertmanager_config(sink: SocketAddr, targets: usize) -> String {
    let mut yaml = String::from(
        "route:\n  receiver: sink-0\n  group_by: [benchSeq]\n  group_wait: 0s\n  group_interval: 1m\n  repeat_interval: 24h\n",
    );
    if targets > 1 {
        yaml.push_str("  routes:\n");
        for i in 0..targets {
            let _ = write!(yaml, "    - receiver: sink-{i}\n      continue: true\n");
        }
    }
    yaml.push_str("receivers:\n");
    for i in 0..targets {
        let _ = write!(
            yaml,
            "  - name: sink-{i}\n    slack_configs:\n      - api_url: http://{sink}/slack/{i}\n        channel: '#bench'\n        send_resolved: false\n        title: 'benchSeq={{{{ .GroupLabels.benchSeq }}}}'\n"
        );
    }
    yaml
}
