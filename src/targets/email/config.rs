//! An email target's keys in `rules.yaml`: the provider, its API key, sender and recipients;
//! Mailgun's domain and region.

use super::{Email, EmailProvider, MailgunRegion};
use crate::yaml::fields::{Fields, http_url};
use crate::yaml::report::{Report, did_you_mean};

const PROVIDERS: &[&str] = &["sendgrid", "mailgun", "postmark", "resend"];

/// An email target's own keys.
pub(crate) fn parse(f: &Fields, report: &mut Report) -> Option<Email> {
    let provider = provider(f, report);
    let api_key = f.secret("api_key", true, report);
    let from = f.required_text("from", report).map(|(from, _)| from);
    let to = recipients(f, report);
    let base_url = http_url(f, "base_url", report);
    let domain = f.text("domain", report).map(|(domain, _)| domain);
    let region = region(f, report);
    let is_mailgun = provider == Some(EmailProvider::Mailgun);
    if is_mailgun && domain.is_none() && !f.has("domain") {
        f.missing("domain", " (the Mailgun sending domain)", report);
    }
    if provider.is_some() && !is_mailgun {
        for key in ["domain", "region"].into_iter().filter(|k| f.has(k)) {
            let message = format!("`{key}` only applies to provider mailgun");
            report.error(f.key_pos(key), f.context(), message);
        }
    }
    Some(Email {
        provider: provider?,
        api_key: api_key?,
        from: from?,
        to: to?,
        base_url,
        domain,
        region: region.unwrap_or(MailgunRegion::Us),
    })
}

fn provider(f: &Fields, report: &mut Report) -> Option<EmailProvider> {
    let one_of = format!(" (one of: {})", PROVIDERS.join(", "));
    if !f.has("provider") {
        f.missing("provider", &one_of, report);
        return None;
    }
    let (word, pos) = f.text("provider", report)?;
    let provider = match word.as_str() {
        "sendgrid" => EmailProvider::Sendgrid,
        "mailgun" => EmailProvider::Mailgun,
        "postmark" => EmailProvider::Postmark,
        "resend" => EmailProvider::Resend,
        _ => {
            let hint = did_you_mean(&word, PROVIDERS.iter().copied());
            let message = format!("unknown email provider `{word}`{hint}{one_of}");
            report.error(pos, f.context(), message);
            return None;
        }
    };
    Some(provider)
}

fn region(f: &Fields, report: &mut Report) -> Option<MailgunRegion> {
    let (word, pos) = f.text("region", report)?;
    match word.as_str() {
        "us" => Some(MailgunRegion::Us),
        "eu" => Some(MailgunRegion::Eu),
        _ => {
            report.error(
                pos,
                f.context(),
                format!("unknown region `{word}` (one of: us, eu)"),
            );
            None
        }
    }
}

fn recipients(f: &Fields, report: &mut Report) -> Option<Vec<String>> {
    if !f.has("to") {
        f.missing("to", " (one address or a list)", report);
        return None;
    }
    let to = f.text_list("to", report)?;
    if to.is_empty() {
        f.problem(
            f.get("to")?,
            "`to` is empty: give at least one address",
            report,
        );
        return None;
    }
    for (address, pos) in &to {
        if !address.contains('@') {
            report.error(
                *pos,
                f.context(),
                format!("`to`: `{address}` is not an email address"),
            );
        }
    }
    Some(to.into_iter().map(|(address, _)| address).collect())
}
