//! The HTML page: one file, everything inline, data through a serializer.

use serde::Serialize;

use crate::metrics::{Metrics, metrics};
use crate::run::Run;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");
/// Runs first, so even a failure of the main script is recorded in the page.
const ERROR_HOOK: &str = include_str!("errors.js");

/// What the page's script reads from the JSON block.
#[derive(Serialize)]
struct Payload<'a> {
    run: &'a Run,
    metrics: Metrics,
}

/// The page for `run`: a self-contained HTML document that works from
/// `file://` with no network.
pub fn html(run: &Run) -> String {
    let data = json_for_script(&Payload { run, metrics: metrics(run) });
    let title = escape_text(&run.title);
    let mut page = String::with_capacity(data.len() + STYLE.len() + SCRIPT.len() + 4096);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; ");
    page.push_str("script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:\">\n");
    page.push_str(&format!("<title>{title} - Orrery</title>\n<style>\n{STYLE}</style>\n"));
    page.push_str(&format!("<script>\n{ERROR_HOOK}</script>\n</head>\n<body>\n"));
    page.push_str(BODY);
    page.push_str("<script type=\"application/json\" id=\"orrery-data\">");
    page.push_str(&data);
    page.push_str("</script>\n<script>\n");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

/// The page's static skeleton; the script fills it in.
const BODY: &str = r#"<header id="top">
<div id="heading"><h1 id="title"></h1><span id="meta"></span></div>
<div id="verdict"></div>
<div id="controls">
<button id="zoom-in" title="Zoom in (+)">+</button><button id="zoom-out" title="Zoom out (-)">&minus;</button>
<button id="fit" title="Show the whole run (0)">whole run</button>
<button id="jump" title="Jump to the failure (f)">jump to failure</button>
<label>node <select id="node-filter"><option value="">all</option></select></label>
<label>key <select id="key-filter"><option value="">all</option></select></label>
<button id="export" title="Download what is drawn as SVG">save SVG</button>
<span id="range"></span>
</div>
<div id="notice" hidden></div>
<ul id="errors" hidden></ul>
</header>
<main>
<div id="diagram-box"><svg id="diagram" xmlns="http://www.w3.org/2000/svg"></svg><div id="tip" hidden></div></div>
<section id="legend"></section>
<section id="panels">
<div id="metrics-box"><h2>Metrics <small id="window-size"></small></h2><svg id="metrics" xmlns="http://www.w3.org/2000/svg"></svg></div>
<div id="load-box"><h2>Messages per node <small>whole run</small></h2><svg id="load" xmlns="http://www.w3.org/2000/svg"></svg></div>
<div id="detail-box"><h2>Details <small>click a message, operation or fault</small></h2><div id="failure-detail"></div><pre id="detail"></pre></div>
</section>
</main>
<div id="status" data-messages="0" data-operations="0" data-faults="0" data-errors="0" data-render-ms=""></div>
"#;

/// JSON that can sit inside a `<script>` element: `<`, `>` and `&` become
/// `\u003c`, `\u003e`, `\u0026`, so no body can close the element or open a
/// comment. `JSON.parse` reads the escapes back as the same characters.
fn json_for_script<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_string(value).expect("the run serializes: plain data with string keys");
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Text safe inside an HTML element.
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_has_no_angle_brackets_and_round_trips() {
        let body = serde_json::json!({ "x": "</script><img src=x onerror=alert(1)><!-- & \u{2028}" });
        let text = json_for_script(&body);
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), body);
    }

    #[test]
    fn title_is_escaped() {
        let run = Run { title: "</title><script>x()</script>".into(), ..Run::default() };
        let page = html(&run);
        assert!(page.contains("<title>&lt;/title&gt;&lt;script&gt;x()&lt;/script&gt; - Orrery</title>"));
    }
}
