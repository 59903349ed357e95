//! Email bodies shown in a preview: each rendered HTML part is kept here a short while under
//! an unguessable id and served at `/ui/frames/<id>` into a sandboxed `<iframe>`, with a
//! policy of its own that lets the email's inline styles work (as in a mail client) and
//! nothing else: no script, no remote image, no form, an opaque origin.
//!
//! A frame rather than `srcdoc`: a `srcdoc` document inherits the page's policy, which forbids
//! inline styles, so the email would not look as it will.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::html;

/// How long a rendered email stays viewable.
const KEEP: Duration = Duration::from_secs(15 * 60);
/// The most emails kept at once (the oldest go first).
const MAX_FRAMES: usize = 256;

/// The email's own policy: inline styles and `data:` images only, and a sandbox even if the
/// frame is opened on its own.
const FRAME_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     sandbox; frame-ancestors 'self'";

struct Frame {
    id: String,
    html: String,
    made: Instant,
}

#[derive(Default)]
pub(super) struct Frames {
    kept: Mutex<VecDeque<Frame>>,
}

impl Frames {
    /// Keeps `html`; returns the id to serve it under.
    pub fn keep(&self, html: String) -> String {
        let id = super::session::random_hex();
        let mut kept = self.lock();
        let now = Instant::now();
        kept.retain(|f| now.duration_since(f.made) < KEEP);
        while kept.len() >= MAX_FRAMES {
            kept.pop_front();
        }
        kept.push_back(Frame {
            id: id.clone(),
            html,
            made: now,
        });
        id
    }

    /// The frame `id` as an answer, or 404 when it is unknown or too old.
    pub fn serve(&self, id: &str) -> Response {
        let found = self
            .lock()
            .iter()
            .find(|f| f.id == id && f.made.elapsed() < KEEP)
            .map(|f| f.html.clone());
        let Some(body) = found else {
            return html::html_response(
                StatusCode::NOT_FOUND,
                "<!doctype html><title>Gone</title><p>This preview has expired: preview again."
                    .into(),
            );
        };
        let mut response = Response::new(body.into());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        html::secure(headers, FRAME_CSP);
        // Framed by the page itself, which X-Frame-Options DENY would forbid.
        headers.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        );
        response
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Frame>> {
        // A panic while holding the lock leaves a queue that is still consistent.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Images in an email body that load from elsewhere (blocked in the preview), counted so the
/// page can say so.
pub(super) fn remote_images(html: &str) -> usize {
    let lower = html.to_ascii_lowercase();
    lower.matches("<img").count().min(
        lower.matches("src=\"http").count()
            + lower.matches("src='http").count()
            + lower.matches("src=http").count(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_frame_is_served_under_its_id_only() {
        let frames = Frames::default();
        let id = frames.keep("<p style=\"color:red\">hi</p>".into());
        let found = frames.serve(&id);
        assert_eq!(found.status(), StatusCode::OK);
        let csp = found.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("sandbox") && !csp.contains("script-src"),
            "{csp}"
        );
        assert_eq!(frames.serve("00").status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn remote_images_are_counted() {
        assert_eq!(
            remote_images("<img src=\"https://x/y.png\"><img src=\"data:x\">"),
            1
        );
        assert_eq!(remote_images("<p>no images</p>"), 0);
    }
}
