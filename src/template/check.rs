//! The strict check behind `mqa-relay check`: render templates against sample events in every
//! markup and report each failure with the template's file and line.

use serde_json::Value;

use super::defaults::UNKNOWN_EVENT;
use super::error::TemplateError;
use super::render::Mode;
use super::samples::sample_events;
use super::{Markup, Templates};

impl Templates {
    /// Renders template `name` (the message template, and any raw payload templates of that
    /// name) in every markup against each of `samples`; the caller passes the events the
    /// template can receive (e.g. those of its rule's event types). Each distinct problem is
    /// reported once, with the template's file and line.
    pub fn check_against_samples(&self, name: &str, samples: &[Value]) -> Vec<TemplateError> {
        let payload_kinds: Vec<&str> = self
            .payload_names()
            .filter(|(n, _)| *n == name)
            .map(|(_, k)| k)
            .collect();
        if !self.contains(name) && payload_kinds.is_empty() {
            return vec![TemplateError::new(
                name,
                format!("no template named `{name}`"),
            )];
        }
        let mut errors: Vec<TemplateError> = Vec::new();
        for (i, sample) in samples.iter().enumerate() {
            let context = format!("with sample {}", sample_label(sample, i));
            let mut found = Vec::new();
            if self.contains(name) {
                for markup in Markup::ALL {
                    found.extend(self.render_in(Mode::Strict, name, markup, sample).err());
                }
            }
            for kind in &payload_kinds {
                found.extend(
                    self.render_payload_in(Mode::Strict, name, kind, sample)
                        .err(),
                );
            }
            for e in found {
                let e = e.to_template_error(&context);
                if !errors.contains(&e) {
                    errors.push(e);
                }
            }
        }
        errors
    }

    /// Checks every default-named template (built in, or a file overriding one) against the
    /// embedded sample of its event type; `unknown_event` against all of them.
    pub fn check_default_templates(&self) -> Vec<TemplateError> {
        let samples = sample_events();
        let mut errors = Vec::new();
        for name in self.names() {
            let matching: Vec<Value> = samples
                .iter()
                .filter(|(stem, _)| stem == name || name == UNKNOWN_EVENT)
                .map(|(_, v)| v.clone())
                .collect();
            if !matching.is_empty() {
                errors.extend(self.check_against_samples(name, &matching));
            }
        }
        errors
    }
}

fn sample_label(sample: &Value, index: usize) -> String {
    match sample.get("event").and_then(Value::as_str) {
        Some(kind) => kind.to_owned(),
        None => format!("#{}", index + 1),
    }
}
