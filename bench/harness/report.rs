//! The Markdown report: the machine, one table of every scenario, the physical floors, the
//! sustained run's memory, the reloads, and each target with its measured ratio and whether it
//! was met.

use std::fmt::Write;

use crate::floor::{self, Floor};
use crate::measure::{Accounting, Delivery, Figures, Unarrived};
use crate::scenarios::RelayOutcome;

/// Everything one run of the suite measured.
#[derive(Default)]
pub struct Results {
    pub null: Option<Figures>,
    pub durable: Option<Figures>,
    pub floor: Option<Floor>,
    pub max: Option<RelayOutcome>,
    pub fixed: Vec<RelayOutcome>,
    pub sustained: Option<RelayOutcome>,
    pub reload: Vec<RelayOutcome>,
    /// One rule to ten webhook targets, at the maximum rate.
    pub fanout: Option<RelayOutcome>,
    pub alertmanager: Vec<Figures>,
    /// Alertmanager routing each alert to ten receivers (`continue: true` routes).
    pub alertmanager_fanout: Option<Figures>,
}

pub fn machine(profile: &str) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim())
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    format!(
        "- machine: {cores} cores, {model}\n- date: {}\n- profile: {profile}\n",
        date.trim()
    )
}

pub fn render(results: &Results) -> String {
    let mut out = String::new();
    out.push_str(&scenario_table(results));
    if let Some(floor) = &results.floor {
        out.push_str(&floor::section(floor, alertmanager_max_delivered(results)));
    }
    out.push_str(&sustained_section(results));
    out.push_str(&reload_section(results));
    out.push_str(&targets_section(results));
    out
}

fn all_figures(results: &Results) -> Vec<&Figures> {
    let relay = results
        .max
        .iter()
        .chain(&results.fixed)
        .chain(&results.sustained)
        .chain(&results.reload)
        .chain(&results.fanout)
        .map(|o| &o.figures);
    results
        .null
        .iter()
        .chain(&results.durable)
        .chain(relay)
        .chain(&results.alertmanager)
        .chain(&results.alertmanager_fanout)
        .collect()
}

fn scenario_table(results: &Results) -> String {
    let null_rate = results.null.as_ref().map(|f| f.ack_rate);
    let mut out = String::from(
        "\n### Throughput, latency, cost\n\n\
         | scenario | server | offered | s | acked/s | vs 202 | delivered/s | ack p50 ms | ack p99 ms | e2e p50 ms | e2e p99 ms | CPU ms/event | peak RSS MiB | final RSS MiB | acked | failed | exactly once |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for f in all_figures(results) {
        let ratio = null_rate.map_or("".into(), |n| format!("{:.0} %", 100.0 * f.ack_rate / n));
        let (delivered, e2e50, e2e99, once) = match &f.delivery {
            Some(d) => (
                format!("{:.0}", d.delivered_rate),
                format!("{:.2}", d.e2e_p50_ms),
                format!("{:.2}", d.e2e_p99_ms),
                once_text(d),
            ),
            None => ("".into(), "".into(), "".into(), "".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.0} | {ratio} | {delivered} | {:.2} | {:.2} | {e2e50} | {e2e99} | {:.3} | {:.1} | {:.1} | {} | {} of {} | {once} |",
            f.scenario,
            f.server,
            f.offered,
            f.seconds,
            f.ack_rate,
            f.ack_p50_ms,
            f.ack_p99_ms,
            f.cpu_ms_per_event,
            f.peak_rss_mib,
            f.final_rss_mib,
            f.acked,
            f.errors,
            f.sent,
        );
    }
    let errors: Vec<_> = all_figures(results)
        .into_iter()
        .filter_map(|f| {
            Some(format!(
                "- {} / {}: {}",
                f.scenario,
                f.server,
                f.first_error.as_ref()?
            ))
        })
        .collect();
    if !errors.is_empty() {
        let _ = write!(
            out,
            "\nFirst failure per scenario:\n{}\n",
            errors.join("\n")
        );
    }
    out
}

fn once_text(d: &Delivery) -> String {
    if d.exactly_once() && d.targets > 1 {
        return format!("yes ({} messages, {} per event)", d.delivered, d.targets);
    }
    if d.exactly_once() {
        return format!("yes ({} events)", d.delivered);
    }
    match &d.accounting {
        Accounting::Counted(_) if d.nothing_lost() && d.duplicates + d.unknown == 0 => format!(
            "no loss: {} arrived once, {} durably queued at the deadline, 0 lost, 0 duplicates",
            d.delivered,
            d.queued()
        ),
        Accounting::Counted(u) => losses_text(d, u),
        Accounting::Unreadable(why) => format!(
            "unproven: {} not arrived by the deadline, store not read ({}); {} duplicates, {} unknown",
            d.undelivered,
            cell(why),
            d.duplicates,
            d.unknown
        ),
        Accounting::NoStore => format!(
            "NO: {} not arrived by the deadline, {} duplicates, {} unknown",
            d.undelivered, d.duplicates, d.unknown
        ),
    }
}

/// Lost, dead and duplicated always; the rarer counts only when there are some.
fn losses_text(d: &Delivery, u: &Unarrived) -> String {
    let mut text = format!(
        "NO: {} lost, {} dead, {} duplicates",
        u.lost, u.dead, d.duplicates
    );
    let extra = [
        (u.marked_delivered, "marked delivered, not arrived"),
        (d.unknown, "unknown"),
        (u.queued, "durably queued"),
    ];
    for (count, what) in extra.into_iter().filter(|(count, _)| *count > 0) {
        let _ = write!(text, ", {count} {what}");
    }
    text
}

/// `text` fit for one table cell: no pipes, no line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "/").replace('\n', " ")
}

/// RSS growth over the second half of the sustained run, in percent.
fn rss_growth(rss: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let half = rss.len() / 2;
    let middle = rss.get(half)?.1;
    let last = rss.last()?.1;
    Some((middle, last, 100.0 * (last - middle) / middle))
}

fn sustained_section(results: &Results) -> String {
    let Some(run) = &results.sustained else {
        return String::new();
    };
    let mut out =
        String::from("\n### Sustained run: RSS over time\n\n| t (s) | RSS MiB |\n|---|---|\n");
    let step = (run.rss.len() / 12).max(1);
    for (t, rss) in run.rss.iter().step_by(step).chain(run.rss.last()) {
        let _ = writeln!(out, "| {t:.0} | {rss:.1} |");
    }
    if let Some((middle, last, growth)) = rss_growth(&run.rss) {
        let _ = writeln!(
            out,
            "\nRSS at mid-run {middle:.1} MiB, at the end {last:.1} MiB: {growth:+.1} % over the second half."
        );
    }
    out
}

fn reload_section(results: &Results) -> String {
    if results.reload.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n### Reload under load (10 000 rules, SIGHUP every second)\n\n\
         | offered | SIGHUPs | reload log lines seen | reload p50 ms | reload max ms | failed requests | exactly once |\n|---|---|---|---|---|---|---|\n",
    );
    for run in &results.reload {
        let mut ms = run.reload_ms.clone();
        ms.sort_by(f64::total_cmp);
        let p50 = ms
            .get(ms.len() / 2)
            .map_or("n/a".into(), |v| format!("{v:.0}"));
        let max = ms.last().map_or("n/a".into(), |v| format!("{v:.0}"));
        let once = run
            .figures
            .delivery
            .as_ref()
            .map_or(String::new(), once_text);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {p50} | {max} | {} | {once} |",
            run.figures.offered,
            run.reloads_sent,
            run.reload_ms.len(),
            run.figures.errors
        );
    }
    for line in results.reload.iter().flat_map(|r| &r.error_lines).take(5) {
        let _ = writeln!(out, "\n    {line}");
    }
    out
}

fn mark(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn targets_section(results: &Results) -> String {
    let mut out = String::from("\n### Targets\n\n| target | measured | result |\n|---|---|---|\n");
    if let (Some(null), Some(durable), Some(max)) = (&results.null, &results.durable, &results.max)
    {
        let ratio = max.figures.ack_rate / durable.ack_rate;
        let _ = writeln!(
            out,
            "| durable acked/s >= 70 % of the durable 202 server | {:.0} / {:.0} = {:.0} %{} | {} |",
            max.figures.ack_rate,
            durable.ack_rate,
            100.0 * ratio,
            durable_context(null, &max.figures, Some(durable)),
            mark(ratio >= 0.7)
        );
    }
    out.push_str(&sustained_targets(results));
    for run in &results.reload {
        let _ = writeln!(out, "{}", reload_target(run));
    }
    out.push_str(&alertmanager_targets(results));
    out
}

/// At 1 000 events/s for the sustained run: the backlog stays flat (every event delivered at
/// the rate offered, end-to-end p99 within 50 ms) and the memory too.
fn sustained_targets(results: &Results) -> String {
    let mut out = String::new();
    let Some(run) = &results.sustained else {
        return out;
    };
    if let Some(d) = &run.figures.delivery {
        let flat = d.e2e_p99_ms <= 50.0 && d.delivered_rate >= 990.0;
        let _ = writeln!(
            out,
            "| sustained 1 000/s: backlog flat, end-to-end p99 <= 50 ms | delivered {:.0}/s, e2e p99 {:.2} ms over {:.0} s | {} |",
            d.delivered_rate,
            d.e2e_p99_ms,
            run.figures.seconds,
            mark(flat)
        );
    }
    if let Some((_, _, growth)) = rss_growth(&run.rss) {
        let _ = writeln!(
            out,
            "| RSS flat in the sustained run (< 10 % growth over its second half) | {growth:+.1} % | {} |",
            mark(growth < 10.0)
        );
    }
    out
}

/// How much of the gap durability alone explains: the durable 202 server against the 202
/// server, and the relay against the durable 202 server.
fn durable_context(null: &Figures, relay: &Figures, durable: Option<&Figures>) -> String {
    let Some(durable) = durable else {
        return String::new();
    };
    format!(
        "; durable 202 server {:.0} / {:.0} = {:.0} % of the 202 server; relay {:.0} / {:.0} = {:.0} % of the durable 202 server",
        durable.ack_rate,
        null.ack_rate,
        100.0 * durable.ack_rate / null.ack_rate,
        relay.ack_rate,
        durable.ack_rate,
        100.0 * relay.ack_rate / durable.ack_rate
    )
}

/// Alertmanager's delivered/s at the maximum rate, when it ran.
fn alertmanager_max_delivered(results: &Results) -> Option<f64> {
    let am = results
        .alertmanager
        .iter()
        .find(|f| f.offered.starts_with("max"))?;
    Some(am.delivery.as_ref().map_or(0.0, |d| d.delivered_rate))
}

/// Failed requests are known at once; lost ones from the relay's store once it has stopped.
fn reload_target(run: &RelayOutcome) -> String {
    let f = &run.figures;
    let Some(d) = &f.delivery else {
        return String::new();
    };
    let extra = d.duplicates + d.unknown;
    let (measured, verdict) = match d.missing() {
        Some(missing) => (
            format!(
                "{} failed, {missing} lost or dead, {extra} duplicated; {} durably queued at the drain deadline",
                f.errors,
                d.queued()
            ),
            mark(f.errors == 0 && missing == 0 && extra == 0),
        ),
        None => (
            format!(
                "{} failed, {extra} duplicated; {} not arrived and the store not read",
                f.errors, d.undelivered
            ),
            "NOT shown",
        ),
    };
    format!(
        "| reload at {}: zero failed or lost requests | {measured} | {verdict} |",
        f.offered
    )
}

fn delivered_rate(f: &Figures) -> f64 {
    f.delivery.as_ref().map_or(0.0, |d| d.delivered_rate)
}

/// The targets measured against Alertmanager in the same run.
fn alertmanager_targets(results: &Results) -> String {
    let mut out = String::new();
    let am_max = results
        .alertmanager
        .iter()
        .find(|f| f.offered.starts_with("max"));
    let am_1000 = results.alertmanager.iter().find(|f| f.offered == "1000/s");
    if let (Some(relay), Some(am)) = (&results.max, am_max) {
        let (relay_rate, am_rate) = (delivered_rate(&relay.figures), delivered_rate(am));
        let ratio = relay_rate / am_rate;
        let _ = writeln!(
            out,
            "| one webhook target: delivered/s >= 3x Alertmanager's | {relay_rate:.0} / {am_rate:.0} = {ratio:.1}x | {} |",
            mark(ratio >= 3.0)
        );
    }
    if let (Some(relay), Some(am)) = (&results.fanout, &results.alertmanager_fanout) {
        let (relay_rate, am_rate) = (delivered_rate(&relay.figures), delivered_rate(am));
        let ratio = relay_rate / am_rate;
        let _ = writeln!(
            out,
            "| fan-out to 10 targets: delivered messages/s >= 3x Alertmanager's | {relay_rate:.0} / {am_rate:.0} = {ratio:.1}x | {} |",
            mark(ratio >= 3.0)
        );
    }
    let relay_1000 = results
        .fixed
        .iter()
        .map(|o| &o.figures)
        .find(|f| f.offered == "1000/s");
    if let (Some(relay), Some(am)) = (relay_1000, am_1000) {
        let cpu = am.cpu_ms_per_event / relay.cpu_ms_per_event;
        let _ = writeln!(
            out,
            "| CPU per delivered event at 1 000/s <= 1/3 of Alertmanager's | {:.3} vs {:.3} ms = 1/{cpu:.1} | {} |",
            relay.cpu_ms_per_event,
            am.cpu_ms_per_event,
            mark(cpu >= 3.0)
        );
        // The acknowledgement is what MonitorQA waits for.
        let _ = writeln!(
            out,
            "| ack p99 at 1 000/s no worse than Alertmanager's | {:.2} vs {:.2} ms | {} |",
            relay.ack_p99_ms,
            am.ack_p99_ms,
            mark(relay.ack_p99_ms <= am.ack_p99_ms)
        );
    }
    if let (Some(run), Some(am)) = (&results.sustained, am_1000) {
        let last = run.rss.last().map_or(0.0, |s| s.1);
        let _ = writeln!(
            out,
            "| RSS after the sustained run <= 1/4 of Alertmanager's (its final RSS at 1 000/s) | {last:.1} vs {:.1} MiB = 1/{:.1} | {} |",
            am.final_rss_mib,
            am.final_rss_mib / last,
            mark(last * 4.0 <= am.final_rss_mib)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(undelivered: u64, accounting: Accounting) -> Delivery {
        Delivery {
            delivered: 10,
            undelivered,
            accounting,
            ..Delivery::default()
        }
    }

    fn counted(queued: u64, lost: u64) -> Accounting {
        Accounting::Counted(Unarrived {
            queued,
            lost,
            ..Unarrived::default()
        })
    }

    #[test]
    fn events_durably_queued_at_the_deadline_read_as_no_loss() {
        let text = once_text(&delivery(5, counted(5, 0)));
        assert_eq!(
            text,
            "no loss: 10 arrived once, 5 durably queued at the deadline, 0 lost, 0 duplicates"
        );
    }

    #[test]
    fn a_lost_event_reads_as_no_with_its_count() {
        let text = once_text(&delivery(5, counted(4, 1)));
        assert_eq!(text, "NO: 1 lost, 0 dead, 0 duplicates, 4 durably queued");
    }

    #[test]
    fn an_unreadable_store_is_said_and_nothing_is_claimed() {
        let why = Accounting::Unreadable("x | y\nz".into());
        let text = once_text(&delivery(5, why));
        assert!(text.starts_with("unproven: 5 not arrived"), "{text}");
        assert!(text.contains("(x / y z)"), "{text}");
    }

    #[test]
    fn the_durable_target_row_says_how_much_of_the_gap_durability_explains() {
        let rate = |ack_rate| Figures {
            ack_rate,
            ..Figures::default()
        };
        let text = durable_context(&rate(10_000.0), &rate(2_000.0), Some(&rate(4_000.0)));
        assert_eq!(
            text,
            "; durable 202 server 4000 / 10000 = 40 % of the 202 server; relay 2000 / 4000 = 50 % of the durable 202 server"
        );
        assert_eq!(durable_context(&rate(1.0), &rate(1.0), None), "");
    }

    #[test]
    fn every_event_arrived_once_reads_as_yes() {
        assert_eq!(once_text(&delivery(0, counted(0, 0))), "yes (10 events)");
    }
}
