//! Showing what would be sent: a built request's body as JSON (never its URL or headers,
//! which carry secrets), and the parts of an email the docs pictures need.

use serde_json::{Map, Value};

use crate::targets::{HttpRequest, RequestBody};

/// The request body as JSON: a JSON body as is; a multipart form (Mailgun) as an object of
/// fields, a repeated field becoming a list.
pub fn body_json(request: &HttpRequest) -> Value {
    match &request.body {
        RequestBody::Json(v) => v.clone(),
        RequestBody::Multipart(fields) => {
            let mut map = Map::new();
            for (k, v) in fields {
                let v = Value::String(v.clone());
                match map.get_mut(k) {
                    Some(Value::Array(list)) => list.push(v),
                    Some(first) => *first = Value::Array(vec![first.take(), v]),
                    None => {
                        map.insert(k.clone(), v);
                    }
                }
            }
            Value::Object(map)
        }
    }
}

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
    use crate::secret::Secret;
    use serde_json::json;

    #[test]
    fn a_multipart_body_becomes_an_object_with_lists_for_repeated_fields() {
        let req = HttpRequest {
            url: Secret::new("https://api.mailgun.net/v3/x/messages"),
            headers: vec![],
            body: RequestBody::Multipart(vec![
                ("to".into(), "a@x.example".into()),
                ("to".into(), "b@x.example".into()),
                ("subject".into(), "Hi".into()),
            ]),
        };
        assert_eq!(
            body_json(&req),
            json!({"to": ["a@x.example", "b@x.example"], "subject": "Hi"})
        );
    }

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
