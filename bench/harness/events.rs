//! The event stream: the 15 sample MonitorQA events in turn, each body carrying a unique
//! `data.benchSeq` so the sink can tell which event arrived (and whether twice). Bodies are
//! split once around the marker, so building one costs a few copies.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

const PLACEHOLDER: &str = "__BENCH_SEQ__";

/// Pre-split bodies: `prefix + seq + suffix` is a valid event with `data.benchSeq = seq`.
pub struct EventStream {
    parts: Vec<(Vec<u8>, Vec<u8>)>,
}

impl EventStream {
    /// Reads every `*.json` file in `dir` (sorted by name).
    pub fn load(dir: &Path) -> Result<EventStream> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let mut parts = Vec::with_capacity(files.len());
        for file in files {
            let text = std::fs::read_to_string(&file)?;
            parts.push(split(&text).with_context(|| format!("in {}", file.display()))?);
        }
        if parts.is_empty() {
            bail!("no sample events in {}", dir.display());
        }
        Ok(EventStream { parts })
    }

    /// The body of event number `seq`.
    pub fn body(&self, seq: u64) -> Vec<u8> {
        let (prefix, suffix) = &self.parts[(seq % self.parts.len() as u64) as usize];
        let mut body = Vec::with_capacity(prefix.len() + suffix.len() + 20);
        body.extend_from_slice(prefix);
        body.extend_from_slice(seq.to_string().as_bytes());
        body.extend_from_slice(suffix);
        body
    }

    /// The same samples as Alertmanager alerts (`POST /api/v2/alerts`): one alert per event,
    /// its type and company as labels and `benchSeq` as the label that makes it unique.
    pub fn load_as_alerts(dir: &Path) -> Result<EventStream> {
        let events = EventStream::load(dir)?;
        let mut parts = Vec::with_capacity(events.parts.len());
        for (prefix, suffix) in &events.parts {
            let mut body = prefix.clone();
            body.extend_from_slice(b"0");
            body.extend_from_slice(suffix);
            let value: Value = serde_json::from_slice(&body)?;
            let kind = value["event"].as_str().unwrap_or("UNKNOWN");
            let company = value["company"]["name"].as_str().unwrap_or("unknown");
            let labels =
                serde_json::json!({"alertname": "MonitorQA", "event": kind, "company": company});
            let labels = serde_json::to_string(&labels)?;
            let open = labels.trim_end_matches('}');
            parts.push((
                format!(r#"[{{"labels":{open},"benchSeq":""#).into_bytes(),
                format!(r#""}},"annotations":{{"summary":"{kind}"}}}}]"#).into_bytes(),
            ));
        }
        Ok(EventStream { parts })
    }
}

fn split(text: &str) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut value: Value = serde_json::from_str(text)?;
    let Some(data) = value.get_mut("data").and_then(Value::as_object_mut) else {
        bail!("the event has no data object");
    };
    data.insert("benchSeq".into(), Value::String(PLACEHOLDER.into()));
    let json = serde_json::to_string(&value)?;
    let quoted = format!("\"{PLACEHOLDER}\"");
    let Some(at) = json.find(&quoted) else {
        bail!("marker not found after serialising");
    };
    let suffix = json.as_bytes()[at + quoted.len()..].to_vec();
    Ok((json.as_bytes()[..at].to_vec(), suffix))
}

/// Finds the `benchSeq` number in any JSON body (raw, or escaped inside a string: `\"benchSeq\":12`).
pub fn find_seq(body: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"benchSeq";
    let at = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = &body[at..];
    let start = rest.iter().take(8).position(u8::is_ascii_digit)?;
    let digits = rest[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&rest[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_carries_its_sequence_number_where_the_sink_finds_it() {
        let (prefix, suffix) = split(r#"{"event":"X","data":{"a":1}}"#).unwrap();
        let stream = EventStream {
            parts: vec![(prefix, suffix)],
        };
        let body = stream.body(4711);
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["data"]["benchSeq"], 4711);
        assert_eq!(find_seq(&body), Some(4711));
        assert_eq!(find_seq(br#"{"text":"{\"benchSeq\":42}"}"#), Some(42));
    }
}
