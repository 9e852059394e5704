//! A static SVG of the run, for the book: the same lanes, messages,
//! operations, faults and verdict as the page, with no script. The output
//! depends only on the run, so the same run gives the same bytes.

use std::fmt::Write;

use sim_core::RecordType;

use crate::html::escape_text;
use crate::run::{Role, Run};

const WIDTH: f64 = 1400.0;
const LABEL_W: f64 = 64.0;
const RIGHT_PAD: f64 = 14.0;
const AXIS_H: f64 = 40.0;
const SERVER_H: f64 = 46.0;
const CLIENT_H: f64 = 40.0;
/// Beyond this many messages the picture shows a window around the failure.
pub const SVG_MESSAGES_MAX: usize = 4000;

const STYLE: &str = "text{font:11px sans-serif}.lane{stroke:#cfd8dc}.tick{stroke:#eceff1}\
.msg{stroke:#546e7a;stroke-width:1;opacity:.75}.drop{stroke:#d32f2f;stroke-dasharray:4 2}\
.dup{stroke:#6a1b9a;stroke-dasharray:2 2}.cut{fill:rgba(229,57,53,.09)}.cutl{fill:#b71c1c;font-weight:600}\
.crashed{fill:#37474f;opacity:.55}.paused{fill:#ffb300;opacity:.35}.slow{fill:#8e24aa;opacity:.18}\
.clock{fill:#00838f;opacity:.16}.ok{fill:#a5d6a7}.fail{fill:#ef9a9a}.info{fill:#ffe0b2}\
.op{stroke:rgba(0,0,0,.25)}.blocked{stroke:#c62828;stroke-width:3}.pending{stroke:#c62828;stroke-width:2;stroke-dasharray:4 2}\
.prefix{stroke:#1565c0;stroke-width:1.5}.fault{stroke:#37474f;stroke-width:2}.failure{stroke:#c62828;stroke-width:2.5}\
.ftext{fill:#c62828;font-weight:700}";

/// The run as a standalone SVG document.
pub fn svg(run: &Run) -> String {
    let lanes = Lanes::of(run);
    let (t0, t1) = window(run);
    let scale = Scale { t0, t1 };
    let mut out = String::new();
    let height = lanes.bottom + 22.0;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\">\
         <style>{STYLE}</style><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
    );
    axis(&mut out, &scale, &lanes);
    for p in run.partitions.iter().filter(|p| p.to >= t0 && p.from <= t1) {
        let (x0, x1) = (scale.x(p.from), scale.x(p.to));
        let _ = write!(
            out,
            "<rect class=\"cut\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/><text class=\"cutl\" x=\"{:.1}\" y=\"{:.1}\">cut {}</text>",
            lanes.servers_top,
            (x1 - x0).max(1.0),
            lanes.servers_bottom - lanes.servers_top,
            x0 + 3.0,
            lanes.servers_top + 11.0,
            escape_text(&p.text)
        );
    }
    for b in run.bands.iter().filter(|b| b.to >= t0 && b.from <= t1) {
        let Some((top, h)) = lanes.row(b.node) else { continue };
        let (x0, x1) = (scale.x(b.from), scale.x(b.to));
        let _ = write!(
            out,
            "<rect class=\"{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
            b.state,
            top + 3.0,
            (x1 - x0).max(1.0),
            h - 6.0,
            escape_text(&b.label)
        );
    }
    operations(&mut out, run, &scale, &lanes);
    messages(&mut out, run, &scale, &lanes);
    faults(&mut out, run, &scale, &lanes);
    if (t0, t1) != (0, run.end.max(1)) {
        let _ = write!(
            out,
            "<text x=\"{LABEL_W}\" y=\"{:.1}\">window {}..{} ns of a run too long to draw whole ({} messages)</text>",
            lanes.bottom + 16.0,
            t0,
            t1,
            run.messages.len()
        );
    }
    out.push_str("</svg>\n");
    out
}

/// The time range drawn: the whole run, or the `SVG_MESSAGES_MAX` messages
/// around the first failure.
fn window(run: &Run) -> (u64, u64) {
    let end = run.end.max(1);
    if run.messages.len() <= SVG_MESSAGES_MAX {
        return (0, end);
    }
    let at = run.failures.iter().find_map(|f| f.at).unwrap_or(end / 2);
    let centre = run.messages.partition_point(|m| m.sent < at);
    let first = centre.saturating_sub(SVG_MESSAGES_MAX / 2).min(run.messages.len() - SVG_MESSAGES_MAX);
    let last = first + SVG_MESSAGES_MAX - 1;
    (run.messages[first].sent.min(at), run.messages[last].sent.max(at).max(run.messages[first].sent + 1))
}

struct Scale {
    t0: u64,
    t1: u64,
}

impl Scale {
    fn x(&self, t: u64) -> f64 {
        let t = t.clamp(self.t0, self.t1);
        LABEL_W + (t - self.t0) as f64 / (self.t1 - self.t0) as f64 * (WIDTH - LABEL_W - RIGHT_PAD)
    }

    fn contains(&self, from: u64, to: u64) -> bool {
        to >= self.t0 && from <= self.t1
    }
}

/// Lane geometry: each node's top and height, in lane order.
struct Lanes {
    rows: Vec<(u32, f64, f64, Role)>,
    servers_top: f64,
    servers_bottom: f64,
    bottom: f64,
}

impl Lanes {
    fn of(run: &Run) -> Lanes {
        let mut y = AXIS_H;
        let mut rows = Vec::new();
        for lane in &run.nodes {
            let h = if lane.role == Role::Server { SERVER_H } else { CLIENT_H };
            rows.push((lane.id, y, h, lane.role));
            y += h;
        }
        let servers: Vec<_> = rows.iter().filter(|r| r.3 == Role::Server).collect();
        let servers_top = servers.first().map_or(AXIS_H, |r| r.1);
        let servers_bottom = servers.last().map_or(AXIS_H, |r| r.1 + r.2);
        Lanes { rows, servers_top, servers_bottom, bottom: y }
    }

    fn row(&self, node: u32) -> Option<(f64, f64)> {
        self.rows.iter().find(|r| r.0 == node).map(|r| (r.1, r.2))
    }

    /// Where messages attach: a server's middle, a client's top.
    fn msg_y(&self, node: u32) -> Option<f64> {
        let r = self.rows.iter().find(|r| r.0 == node)?;
        Some(if r.3 == Role::Server { r.1 + r.2 / 2.0 } else { r.1 + 11.0 })
    }
}

fn axis(out: &mut String, scale: &Scale, lanes: &Lanes) {
    let span = scale.t1 - scale.t0;
    let step = nice_step(span / 10);
    let mut t = scale.t0.div_ceil(step) * step;
    while t <= scale.t1 {
        let x = scale.x(t);
        let _ = write!(
            out,
            "<line class=\"tick\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            AXIS_H - 6.0,
            lanes.bottom,
            x + 2.0,
            AXIS_H - 8.0,
            time_text(t)
        );
        t += step;
    }
    for &(id, top, h, role) in &lanes.rows {
        let y = lanes.msg_y(id).unwrap_or(top);
        let suffix = if role == Role::Client { " (c)" } else { "" };
        let _ = write!(
            out,
            "<line class=\"lane\" x1=\"{LABEL_W}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"6\" y=\"{:.1}\" font-weight=\"600\">n{id}{suffix}</text>",
            WIDTH - RIGHT_PAD,
            top + h / 2.0 + 4.0
        );
    }
}

fn operations(out: &mut String, run: &Run, scale: &Scale, lanes: &Lanes) {
    let role = |i: usize| {
        let f = run.failures.iter();
        let mut r = "";
        for failure in f {
            if failure.blocked == Some(i) {
                return " blocked";
            }
            if failure.pending.contains(&i) {
                r = " pending";
            } else if r.is_empty() && failure.prefix.contains(&i) {
                r = " prefix";
            }
        }
        r
    };
    for op in &run.operations {
        let end = op.completed.unwrap_or(run.end);
        let Some((top, _)) = lanes.row(op.node) else { continue };
        if !scale.contains(op.invoked, end) {
            continue;
        }
        let kind = match op.kind {
            RecordType::Ok => "ok",
            RecordType::Fail => "fail",
            _ => "info",
        };
        let (x0, x1) = (scale.x(op.invoked), scale.x(end));
        let label = op_label(op);
        let width = (x1 - x0).max(2.0);
        let _ = write!(
            out,
            "<rect class=\"op {kind}{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"18\" rx=\"2\"><title>p{} {}</title></rect>",
            role(op.index),
            top + 18.0,
            op.process,
            escape_text(&label)
        );
        let chars = ((width - 4.0) / 6.2) as usize;
        if chars >= 4 {
            let shown: String = if label.chars().count() > chars {
                label.chars().take(chars - 1).chain(std::iter::once('…')).collect()
            } else {
                label
            };
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x0 + 3.0,
                top + 31.0,
                escape_text(&shown)
            );
        }
    }
}

/// Up to this many messages in the picture are labelled with their kind.
const LABELS_MAX: usize = 60;

/// `write 3 ✓`, `read → 3`, `cas [1 2] ✗ fail`, `read ? timeout`, as the page writes them.
fn op_label(op: &crate::run::Operation) -> String {
    let mut s = op.f.clone();
    if !op.argument.is_nil() {
        s.push_str(&format!(" {}", op.argument));
    }
    match op.kind {
        RecordType::Ok if op.f == "read" || (!op.result.is_nil() && op.f != "write") => {
            s.push_str(&format!(" → {}", op.result))
        }
        RecordType::Ok => s.push_str(" ✓"),
        RecordType::Fail => s.push_str(" ✗ fail"),
        _ if op.completed.is_none() => s.push_str(" ? pending"),
        _ => s.push_str(" ? timeout"),
    }
    s
}

fn messages(out: &mut String, run: &Run, scale: &Scale, lanes: &Lanes) {
    let end_of = |m: &crate::run::Message| m.arrivals.iter().map(|a| a.t).max().unwrap_or(m.sent);
    let shown: Vec<_> = run.messages.iter().filter(|m| scale.contains(m.sent, end_of(m))).collect();
    let labelled = shown.len() <= LABELS_MAX;
    for m in shown {
        let (Some(ys), Some(yt)) = (lanes.msg_y(m.from), lanes.msg_y(m.to)) else { continue };
        let xs = scale.x(m.sent);
        if m.arrivals.is_empty() {
            let (xe, ye) = (xs + 18.0, ys + (yt - ys) * 0.3);
            let _ = write!(
                out,
                "<line class=\"msg\" stroke-dasharray=\"1 3\" x1=\"{xs:.1}\" y1=\"{ys:.1}\" x2=\"{xe:.1}\" y2=\"{ye:.1}\"/>"
            );
        }
        for (k, a) in m.arrivals.iter().enumerate() {
            let (class, xe, ye) = match (&a.dropped, a.t == m.sent) {
                (Some(_), true) => ("msg drop", xs + 12.0, ys + (yt - ys) * 0.45),
                (Some(_), false) => ("msg drop", scale.x(a.t), yt),
                (None, _) if k > 0 && m.duplicated => ("msg dup", scale.x(a.t), yt),
                (None, _) => ("msg", scale.x(a.t), yt),
            };
            let _ = write!(
                out,
                "<line class=\"{class}\" x1=\"{xs:.1}\" y1=\"{ys:.1}\" x2=\"{xe:.1}\" y2=\"{ye:.1}\"/>"
            );
            if labelled && k == 0 && a.dropped.is_none() && (xe - xs).abs() + (ye - ys).abs() > 60.0 {
                let (lx, ly) = (xs + (xe - xs) * 0.3 + 3.0, ys + (ye - ys) * 0.3);
                let kind = escape_text(&message_kind(&m.body));
                let _ = write!(
                    out,
                    "<text x=\"{lx:.1}\" y=\"{ly:.1}\" font-size=\"10\" fill=\"#37474f\">{kind}</text>"
                );
            }
            if a.dropped.is_some() {
                let _ = write!(
                    out,
                    "<path class=\"msg drop\" d=\"M{:.1},{:.1}l8,8m0,-8l-8,8\"/>",
                    xe - 4.0,
                    ye - 4.0
                );
            }
        }
    }
}

/// A message's kind for its label: the enum variant's name as serde writes it.
fn message_kind(body: &serde_json::Value) -> String {
    match body {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) if map.len() == 1 => map.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

fn faults(out: &mut String, run: &Run, scale: &Scale, lanes: &Lanes) {
    for f in run.faults.iter().filter(|f| scale.contains(f.t, f.t)) {
        let x = scale.x(f.t);
        let (y0, y1) = match f.node.and_then(|n| lanes.row(n)) {
            Some((top, h)) => (top + 2.0, top + h - 2.0),
            None => (lanes.servers_top, lanes.servers_bottom),
        };
        let _ = write!(
            out,
            "<line class=\"fault\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y0:.1}\" y2=\"{y1:.1}\"><title>{}</title></line><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            escape_text(&f.text),
            x + 3.0,
            if f.node.is_some() { y0 + 10.0 } else { y1 - 4.0 },
            escape_text(&f.kind)
        );
    }
    for failure in &run.failures {
        let at = failure.at.or_else(|| {
            failure.blocked.and_then(|i| run.operations.get(i)).map(|o| o.completed.unwrap_or(o.invoked))
        });
        let Some(at) = at.filter(|&t| scale.contains(t, t)) else { continue };
        let x = scale.x(at);
        let (anchor, lx) = if x > WIDTH - 320.0 { ("end", x - 4.0) } else { ("start", x + 4.0) };
        let _ = write!(
            out,
            "<line class=\"failure\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/><text class=\"ftext\" text-anchor=\"{anchor}\" x=\"{lx:.1}\" y=\"{:.1}\">&#x2717; {}</text>",
            4.0,
            lanes.bottom,
            13.0,
            escape_text(&failure.check)
        );
        if let Some(y) = failure.node.and_then(|n| lanes.msg_y(n)) {
            let _ =
                write!(out, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"9\" fill=\"none\" class=\"failure\"/>");
        }
    }
}

fn nice_step(raw: u64) -> u64 {
    let mut p = 1;
    while p * 10 <= raw.max(1) {
        p *= 10;
    }
    [1, 2, 5, 10].into_iter().map(|m| m * p).find(|&s| s >= raw.max(1)).unwrap_or(10 * p)
}

fn time_text(ns: u64) -> String {
    let trimmed = |v: f64| {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    match ns {
        0 => "0".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", trimmed(n as f64 / 1e3)),
        n if n < 1_000_000_000 => format!("{}ms", trimmed(n as f64 / 1e6)),
        n => format!("{}s", trimmed(n as f64 / 1e9)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_text_trims() {
        assert_eq!(time_text(1_500_000), "1.5ms");
        assert_eq!(time_text(2_000_000_000), "2s");
        assert_eq!(time_text(0), "0");
        assert_eq!(nice_step(13_000_000), 20_000_000);
    }
}
