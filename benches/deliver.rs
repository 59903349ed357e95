//! Micro-benchmarks of the sender's pure work per delivery: rendering the default template of
//! each sample event for each target kind (every markup the kind needs), and building the
//! kind's HTTP request from the rendering. Each iteration covers all 15 sample events, so
//! criterion's throughput line reads as deliveries per second.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mqa_relay::compose::{self, DeliveryInfo};
use mqa_relay::targets::{ConfiguredTarget, Content};
use mqa_relay::template::{Templates, sample_events};
use serde_json::Value;

/// One target of each kind, as `rules.yaml` describes them, pointing at invented loopback
/// addresses (nothing is sent).
const TARGETS: &str = r#"
targets:
  slack: { kind: slack, url: "http://127.0.0.1:9/services/T000/B000/XXXX" }
  teams: { kind: teams, url: "http://127.0.0.1:9/workflows/1" }
  email:
    kind: email
    provider: postmark
    api_key: postmark-server-token
    from: "MonitorQA alerts <alerts@northwind.example>"
    to: qa-managers@northwind.example
    base_url: "http://127.0.0.1:9"
  webhook: { kind: webhook, url: "http://127.0.0.1:9/hooks/monitorqa" }
"#;

fn targets() -> Vec<ConfiguredTarget> {
    let config = mqa_relay::config::parse(TARGETS, Path::new("bench.yaml"), &|_| None)
        .unwrap_or_else(|e| panic!("the bench targets load: {e}"));
    config.targets.into_values().collect()
}

/// The template context of every sample event, as the sender builds it.
fn contexts() -> Vec<Value> {
    sample_events()
        .iter()
        .enumerate()
        .map(|(i, (_, event))| {
            let info = DeliveryInfo {
                event_id: "0190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
                received_at: 1_795_000_000 + i as i64,
                delivery_id: i as i64,
                rule: "bench rule",
                target: "bench target",
            };
            compose::context(event, &info)
        })
        .collect()
}

fn render(c: &mut Criterion) {
    let templates = Templates::builtin();
    let contexts = contexts();
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(contexts.len() as u64));
    for target in targets() {
        group.bench_function(target.target.kind_name(), |b| {
            b.iter(|| {
                for ctx in &contexts {
                    let content = compose::content_for(&templates, &target, None, ctx);
                    black_box(content.expect("the default templates render every sample"));
                }
            })
        });
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    let templates = Templates::builtin();
    let contexts = contexts();
    let mut group = c.benchmark_group("build");
    group.throughput(Throughput::Elements(contexts.len() as u64));
    for target in targets() {
        let contents: Vec<Content> = contexts
            .iter()
            .map(|ctx| {
                compose::content_for(&templates, &target, None, ctx)
                    .expect("the default templates render every sample")
            })
            .collect();
        group.bench_function(target.target.kind_name(), |b| {
            b.iter(|| {
                for (i, content) in contents.iter().enumerate() {
                    let key =
                        compose::delivery_key("0193b0c0-0000-7000-8000-000000000000", i as i64);
                    black_box(
                        target
                            .target
                            .build(content, &key)
                            .expect("every sample builds"),
                    );
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, render, build);
criterion_main!(benches);
