//! Micro-benchmarks of the sender's pure work per delivery: rendering the default template of
//! each sample event for each target kind (every markup the kind needs), and building the
//! kind's HTTP request from the rendering. Each iteration covers all 15 sample events, so
//! criterion's throughput line reads as deliveries per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mqa_relay::config::{EmailProvider, MailgunRegion, RetryPolicy, TargetConfig, TargetKind};
use mqa_relay::pipeline::compose::{self, DeliveryInfo};
use mqa_relay::secret::Secret;
use mqa_relay::targets::{Content, Target};
use mqa_relay::template::{Templates, sample_events};
use serde_json::Value;

fn target_config(name: &str, kind: TargetKind) -> TargetConfig {
    TargetConfig {
        name: name.to_owned(),
        kind,
        timeout: Duration::from_secs(10),
        rate_limit: None,
        retry: RetryPolicy::default(),
        payload_template: None,
    }
}

/// One target of each kind, pointing at invented loopback addresses (nothing is sent).
fn targets() -> Vec<(TargetConfig, Target)> {
    let url = |path: &str| Secret::new(format!("http://127.0.0.1:9/{path}"));
    let configs = [
        target_config(
            "slack",
            TargetKind::Slack {
                url: Some(url("services/T000/B000/XXXX")),
                token: None,
                channel: None,
                base_url: None,
            },
        ),
        target_config(
            "teams",
            TargetKind::Teams {
                url: url("workflows/1"),
            },
        ),
        target_config(
            "email",
            TargetKind::Email {
                provider: EmailProvider::Postmark,
                api_key: Secret::new("postmark-server-token"),
                from: "MonitorQA alerts <alerts@northwind.example>".to_owned(),
                to: vec!["qa-managers@northwind.example".to_owned()],
                base_url: Some("http://127.0.0.1:9".to_owned()),
                domain: None,
                region: MailgunRegion::Us,
            },
        ),
        target_config(
            "webhook",
            TargetKind::Webhook {
                url: url("hooks/monitorqa"),
                headers: Vec::new(),
            },
        ),
    ];
    configs
        .into_iter()
        .map(|cfg| {
            let target = Target::from_config(&cfg);
            (cfg, target)
        })
        .collect()
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
    for (cfg, target) in targets() {
        group.bench_function(target.kind_name(), |b| {
            b.iter(|| {
                for ctx in &contexts {
                    let content = compose::content_for(&templates, &target, &cfg, None, ctx);
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
    for (cfg, target) in targets() {
        let contents: Vec<Content> = contexts
            .iter()
            .map(|ctx| {
                compose::content_for(&templates, &target, &cfg, None, ctx)
                    .expect("the default templates render every sample")
            })
            .collect();
        group.bench_function(target.kind_name(), |b| {
            b.iter(|| {
                for (i, content) in contents.iter().enumerate() {
                    let key =
                        compose::delivery_key("0193b0c0-0000-7000-8000-000000000000", i as i64);
                    black_box(target.build(content, &key).expect("every sample builds"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, render, build);
criterion_main!(benches);
