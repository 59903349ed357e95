//! The render budget: whatever a template does with whatever an event holds, one render of one
//! delivery writes at most [`LIMITS`]`.output_bytes`, runs at most [`LIMITS`]`.iterations`
//! `{{#each}}` iterations (summed over every loop, nested ones included) and takes at most
//! [`LIMITS`]`.time`. A breach stops the render with a [`Breach`]; nothing partial is sent.
//!
//! The meter lives in a thread-local for the length of one render (see [`metered`]): Handlebars
//! renders synchronously on one thread, and its extension points (the output, helpers) have no
//! other way to reach per-render state. Three places charge it: the output writer
//! ([`MeteredOutput`]), the `each` helper ([`MeteredEach`], which charges a loop's length before
//! it runs, so nested loops over event data are stopped before they start, not after hours),
//! and every value helper (time only).
//!
//! Output and iterations are properties of the template and the event: the same render breaches
//! the same way every time, so a delivery that breaches them is dead. Time also depends on the
//! machine (a stalled host can make any render slow), so a time breach is worth another attempt;
//! a template that is slow by itself reaches `max_attempts` and ends dead too.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use handlebars::{
    BlockContext, BlockParams, Context, Handlebars, Helper, HelperDef, HelperResult, Output,
    PathAndJson, RenderContext, RenderError, RenderErrorReason, Renderable, to_json,
};
use serde_json::Value;

/// How much one render may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes written, over every part and markup of the delivery's message.
    pub output_bytes: usize,
    /// `{{#each}}` iterations, over every loop of the render.
    pub iterations: u64,
    /// Wall-clock time of the render.
    pub time: Duration,
}

/// The budget of every render: far above what a real message needs (a message is at most a
/// few hundred KiB once a target has laid it out, and the largest sample loops a few dozen
/// times), far below what would hurt the relay.
pub const LIMITS: Limits = Limits {
    output_bytes: 32 * 1024 * 1024,
    iterations: 200_000,
    time: Duration::from_secs(2),
};

/// Which limit a render passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breach {
    Output,
    Iterations,
    Time,
}

impl Breach {
    /// Whether the same render can succeed later: only a time breach may be the machine's
    /// fault rather than the template's.
    pub fn is_transient(self) -> bool {
        matches!(self, Breach::Time)
    }
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::Output => write!(
                f,
                "the rendered message passed the render budget of {} MiB (does the template \
                 repeat event data inside a loop?)",
                LIMITS.output_bytes / (1024 * 1024)
            ),
            Breach::Iterations => write!(
                f,
                "the template's loops passed the render budget of {} iterations (a loop inside \
                 a loop over the event's lists?)",
                LIMITS.iterations
            ),
            Breach::Time => write!(
                f,
                "rendering took longer than the render budget of {} s",
                LIMITS.time.as_secs()
            ),
        }
    }
}

struct Meter {
    limits: Limits,
    output_bytes: usize,
    iterations: u64,
    deadline: Instant,
    breach: Option<Breach>,
}

thread_local! {
    static METER: RefCell<Option<Meter>> = const { RefCell::new(None) };
}

/// Runs `f` (one render) under `limits`, and says which limit it passed, if any. A render
/// inside another one (a message's parts, a target's markups) shares the outer meter: the
/// budget is per delivery, not per part.
pub fn metered<T>(limits: Limits, f: impl FnOnce() -> T) -> (T, Option<Breach>) {
    let outer = METER.with(|m| m.borrow().is_some());
    if outer {
        let out = f();
        return (out, breach());
    }
    METER.with(|m| {
        *m.borrow_mut() = Some(Meter {
            limits,
            output_bytes: 0,
            iterations: 0,
            deadline: Instant::now() + limits.time,
            breach: None,
        })
    });
    let out = f();
    let breach = METER.with(|m| m.borrow_mut().take().and_then(|m| m.breach));
    (out, breach)
}

/// The limit the current render passed, if any.
pub fn breach() -> Option<Breach> {
    METER.with(|m| m.borrow().as_ref().and_then(|m| m.breach))
}

/// Charges `bytes` of output and `iterations`, and checks the clock. Outside a metered render
/// nothing is counted.
fn charge(bytes: usize, iterations: u64) -> Result<(), Breach> {
    METER.with(|m| {
        let mut m = m.borrow_mut();
        let Some(meter) = m.as_mut() else {
            return Ok(());
        };
        if let Some(breach) = meter.breach {
            return Err(breach);
        }
        meter.output_bytes = meter.output_bytes.saturating_add(bytes);
        meter.iterations = meter.iterations.saturating_add(iterations);
        let breach = if meter.output_bytes > meter.limits.output_bytes {
            Some(Breach::Output)
        } else if meter.iterations > meter.limits.iterations {
            Some(Breach::Iterations)
        } else if Instant::now() > meter.deadline {
            Some(Breach::Time)
        } else {
            None
        };
        meter.breach = breach;
        breach.map_or(Ok(()), Err)
    })
}

fn render_error(breach: Breach) -> RenderError {
    RenderErrorReason::Other(breach.to_string()).into()
}

/// Checks the clock (value helpers call this: a helper over a large value costs time, not
/// output).
pub fn check_time() -> Result<(), RenderError> {
    charge(0, 0).map_err(render_error)
}

/// The bytes of one render, counted against the budget as they are written.
#[derive(Default)]
pub struct MeteredOutput(Vec<u8>);

impl MeteredOutput {
    /// The rendered text. Handlebars writes only `&str` segments, so the bytes are UTF-8.
    pub fn into_string(self) -> Result<String, std::string::FromUtf8Error> {
        String::from_utf8(self.0)
    }
}

impl io::Write for MeteredOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        charge(buf.len(), 0).map_err(|breach| io::Error::other(breach.to_string()))?;
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `{{#each list}}…{{else}}…{{/each}}` as Handlebars has it (`@index`, `@key`, `@first`,
/// `@last`, `as |item i|`, `this`, `../`), with each loop's length charged to the budget
/// before its first iteration.
pub struct MeteredEach;

impl HelperDef for MeteredEach {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let param = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("each", 0))?;
        let Some(body) = h.template() else {
            return Ok(());
        };
        let items: Vec<(Value, &Value)> = match param.value() {
            Value::Array(list) if !list.is_empty() || h.inverse().is_none() => list
                .iter()
                .enumerate()
                .map(|(i, v)| (to_json(i), v))
                .collect(),
            Value::Object(map) if !map.is_empty() || h.inverse().is_none() => {
                map.iter().map(|(k, v)| (to_json(k), v)).collect()
            }
            _ => return otherwise(h, r, ctx, rc, out, param),
        };
        charge(0, items.len() as u64).map_err(render_error)?;
        rc.push_block(block_for(param));
        let last = items.len().saturating_sub(1);
        for (i, (key, value)) in items.iter().enumerate() {
            charge(0, 0).map_err(render_error)?;
            if let Some(block) = rc.block_mut() {
                step(block, h, param, i, i == last, key, value)?;
            }
            body.render(r, ctx, rc, out)?;
        }
        rc.pop_block();
        Ok(())
    }
}

/// Not a list or object (or an empty one with an `{{else}}`): the `else` part, if any. Strict
/// mode makes a missing list an error, as Handlebars' own `each` does.
fn otherwise<'reg: 'rc, 'rc>(
    h: &Helper<'rc>,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
    param: &PathAndJson<'rc>,
) -> HelperResult {
    match h.inverse() {
        Some(inverse) => inverse.render(r, ctx, rc, out),
        None if r.strict_mode() => Err(RenderError::strict_error(param.relative_path())),
        None => Ok(()),
    }
}

/// The loop's block: its items are read through the list's path when it has one (so `../`
/// works), else from a copy of the value.
fn block_for<'rc>(param: &PathAndJson<'rc>) -> BlockContext<'rc> {
    let mut block = BlockContext::new();
    match param.context_path() {
        Some(path) => *block.base_path_mut() = path.clone(),
        None => block.set_base_value(param.value().clone()),
    }
    block
}

/// Points the block at item `i` (`key` is its index or map key) and sets the loop variables.
fn step<'rc>(
    block: &mut BlockContext<'rc>,
    h: &Helper<'rc>,
    param: &PathAndJson<'rc>,
    i: usize,
    is_last: bool,
    key: &Value,
    value: &Value,
) -> Result<(), RenderError> {
    block.set_local_var("first", to_json(i == 0));
    block.set_local_var("last", to_json(is_last));
    block.set_local_var("index", to_json(i));
    if key.is_string() {
        block.set_local_var("key", key.clone());
    }
    let path = param.context_path();
    match path {
        Some(base) => {
            let segment = match key {
                Value::String(k) => k.clone(),
                _ => i.to_string(),
            };
            let mut item_path = base.clone();
            item_path.push(segment);
            *block.base_path_mut() = item_path;
        }
        None => block.set_base_value(value.clone()),
    }
    let mut params = BlockParams::new();
    let bind = |params: &mut BlockParams<'rc>, name: &'rc str| match path {
        Some(_) => params.add_path(name, Vec::new()),
        None => params.add_value(name, value.clone()),
    };
    if let Some(item) = h.block_param() {
        bind(&mut params, item)?;
        block.set_block_params(params);
    } else if let Some((item, index)) = h.block_param_pair() {
        bind(&mut params, item)?;
        params.add_value(index, key.clone())?;
        block.set_block_params(params);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registry() -> Handlebars<'static> {
        let mut h = Handlebars::new();
        h.register_helper("each", Box::new(MeteredEach));
        h
    }

    /// Renders under every budget but time (a busy machine would reach that one first; the
    /// time budget has a test of its own).
    fn render(template: &str, data: &Value) -> (Result<String, String>, Option<Breach>) {
        let h = registry();
        let ctx = Context::from(data.clone());
        let limits = Limits {
            time: Duration::from_secs(600),
            ..LIMITS
        };
        metered(limits, || {
            let mut out = MeteredOutput::default();
            h.render_template_with_context_to_write(template, &ctx, &mut out)
                .map_err(|e| e.to_string())?;
            out.into_string().map_err(|e| e.to_string())
        })
    }

    #[test]
    fn each_keeps_handlebars_loop_variables() {
        let data = json!({"list": ["a", "b", "c"], "map": {"x": 1, "y": 2}, "top": "T"});
        let (out, breach) = render(
            "{{#each list}}{{@index}}{{this}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}}{{../top}},{{/each}}\
             {{#each map}}{{@key}}={{this}}/{{@index}};{{/each}}\
             {{#each list as |item i|}}[{{i}}:{{item}}]{{/each}}\
             {{#each map as |v k|}}<{{k}}:{{v}}>{{/each}}\
             {{#each missing}}x{{else}}none{{/each}}",
            &data,
        );
        assert_eq!(breach, None);
        assert_eq!(
            out.unwrap(),
            "0aFT,1bT,2cLT,x=1/0;y=2/1;[0:a][1:b][2:c]<x:1><y:2>none"
        );
    }

    #[test]
    fn each_over_a_value_without_a_path_iterates_a_copy() {
        let data = json!({"o": {"list": [{"n": 1}, {"n": 2}]}});
        let (out, _) = render(
            "{{#with o}}{{#each list}}{{n}}{{/each}}{{/with}}|{{#each (lookup o \"list\") as |x|}}{{x.n}}{{/each}}",
            &data,
        );
        assert_eq!(out.unwrap(), "12|12");
    }

    #[test]
    fn nested_loops_over_event_lists_stop_at_the_iteration_budget_before_running() {
        let list: Vec<u32> = (0..1000).collect();
        let data = json!({ "a": list, "b": list });
        let (out, breach) = render("{{#each a}}{{#each ../b}}{{/each}}{{/each}}", &data);
        assert!(out.is_err());
        assert_eq!(breach, Some(Breach::Iterations));
    }

    #[test]
    fn a_template_that_amplifies_a_large_value_stops_at_the_output_budget() {
        let data = json!({ "arr": vec![0; 1000], "s": "x".repeat(400 * 1024) });
        let (out, breach) = render("{{#each arr}}{{../s}}{{/each}}", &data);
        let err = out.unwrap_err();
        assert_eq!(breach, Some(Breach::Output));
        assert!(err.contains("render budget"), "{err}");
    }

    #[test]
    fn the_time_budget_stops_a_slow_render() {
        let limits = Limits {
            time: Duration::ZERO,
            ..LIMITS
        };
        let h = registry();
        let ctx = Context::from(json!({"a": [1, 2]}));
        let (out, breach) = metered(limits, || {
            h.render_template_with_context("{{#each a}}{{this}}{{/each}}", &ctx)
        });
        assert!(out.is_err());
        assert_eq!(breach, Some(Breach::Time));
        assert!(Breach::Time.is_transient() && !Breach::Output.is_transient());
    }

    #[test]
    fn renders_inside_a_render_share_one_budget() {
        let limits = Limits {
            output_bytes: 10,
            ..LIMITS
        };
        let ((first, second), breach) = metered(limits, || {
            let first = metered(LIMITS, || charge(6, 0)).0;
            let second = metered(LIMITS, || charge(6, 0)).0;
            (first, second)
        });
        assert_eq!(first, Ok(()));
        assert_eq!(second, Err(Breach::Output));
        assert_eq!(breach, Some(Breach::Output));
        assert_eq!(charge(1_000_000, 0), Ok(()), "nothing is metered outside");
    }
}
