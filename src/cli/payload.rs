//! The parts of an email the docs pictures need, whichever provider's shape its body has.

use serde_json::Value;

/// `(subject, html)` of an email body, whichever provider's shape it has.
pub fn email_parts(body: &Value) -> Option<(String, String)> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let subject = text(body.get("subject")).or_else(|| text(body.get("Subject")))?;
    let html = text(body.get("html"))
        .or_else(|| text(body.get("HtmlBody")))
        .or_else(|| {
            let content = body.get("content")?.as_array()?;
            let part = content.iter().find(|c| c["type"] == "text/html")?;
            text(part.get("value"))
        })?;
    Some((subject, html))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn email_parts_are_found_in_every_provider_shape() {
        let sendgrid = json!({"subject": "S", "content": [
            {"type": "text/plain", "value": "p"}, {"type": "text/html", "value": "<p>h</p>"}]});
        let postmark = json!({"Subject": "S", "HtmlBody": "<p>h</p>"});
        let resend = json!({"subject": "S", "html": "<p>h</p>"});
        for body in [sendgrid, postmark, resend] {
            assert_eq!(email_parts(&body), Some(("S".into(), "<p>h</p>".into())));
        }
        assert_eq!(email_parts(&json!({"text": "x"})), None);
    }
}
