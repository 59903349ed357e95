//! The Handlebars registries: one per output format, each with its own escape function and the
//! helpers. Templates are compiled once at load and registered in every registry that can
//! render them; nothing is parsed per render.
//!
//! Two sets exist: a strict one for `check` (a field the sample events lack is an error, so a
//! typo is caught at load) and a lenient one for delivery (a real event that lacks an optional
//! field renders it as nothing: the message says less rather than nothing at all).

use handlebars::Handlebars;
use handlebars::template::Template;

use super::{Markup, budget, escape, helpers};

pub struct Engines {
    plain: Handlebars<'static>,
    slack: Handlebars<'static>,
    teams: Handlebars<'static>,
    html: Handlebars<'static>,
    /// Raw payload templates: values JSON-string escaped.
    json: Handlebars<'static>,
}

fn registry(escape_fn: fn(&str) -> String, strict: bool) -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(strict);
    h.register_escape_fn(escape_fn);
    helpers::register(&mut h);
    // Handlebars' own `each`, with every loop charged to the render budget.
    h.register_helper("each", Box::new(budget::MeteredEach));
    h
}

impl Engines {
    pub fn new(strict: bool) -> Engines {
        let mut json = registry(escape::json_string, strict);
        helpers::register_json(&mut json);
        Engines {
            plain: registry(escape::plain, strict),
            slack: registry(escape::slack, strict),
            teams: registry(escape::teams, strict),
            html: registry(escape::html, strict),
            json,
        }
    }

    pub fn for_markup(&self, markup: Markup) -> &Handlebars<'static> {
        match markup {
            Markup::Plain => &self.plain,
            Markup::Slack => &self.slack,
            Markup::Teams => &self.teams,
            Markup::Html => &self.html,
        }
    }

    pub fn json(&self) -> &Handlebars<'static> {
        &self.json
    }

    /// Registers one part of a message template in the four markup registries.
    pub fn register_message_part(&mut self, key: &str, template: &Template) {
        for registry in [
            &mut self.plain,
            &mut self.slack,
            &mut self.teams,
            &mut self.html,
        ] {
            registry.register_template(key, template.clone());
        }
    }

    pub fn register_payload(&mut self, key: &str, template: Template) {
        self.json.register_template(key, template);
    }
}
