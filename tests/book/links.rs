//! Every relative link, anchor and image in the book resolves inside
//! `book/src` (mdBook builds only what is there, and its HTML output checks
//! no links). External links are left to the reader's browser.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::{files, src};

#[test]
fn every_relative_link_anchor_and_image_resolves() {
    let mut broken = Vec::new();
    for page in files(&src(), "md") {
        let text = std::fs::read_to_string(&page).expect("a readable page");
        for target in targets(&text) {
            if let Err(why) = resolve(&page, &target) {
                broken.push(format!("{}: {target}: {why}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links in the book:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_catches_a_missing_page_a_missing_anchor_and_a_missing_image() {
    let page = src().join("SUMMARY.md");
    let text = "[gone](no-such-page.md) [anchor](SUMMARY.md#no-such-heading) ![](pictures/none.svg) <img src=\"x.svg\">";
    let failures = targets(text).iter().filter(|t| resolve(&page, t).is_err()).count();
    assert_eq!(failures, 4);
    assert!(resolve(&page, "#summary").is_ok(), "a heading of the page itself");
}

/// The link and image targets of a page: markdown links and images, and the
/// `src`/`href` of inline HTML. Code is not parsed for links.
fn targets(markdown: &str) -> Vec<String> {
    let mut found = Vec::new();
    for event in Parser::new_ext(markdown, Options::all()) {
        match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                found.push(dest_url.to_string())
            }
            Event::Html(html) | Event::InlineHtml(html) => found.extend(html_targets(&html)),
            _ => {}
        }
    }
    found.retain(|t| !t.contains("://") && !t.starts_with("mailto:"));
    found
}

fn html_targets(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let end = rest.find('"').unwrap_or(rest.len());
            found.push(rest[..end].to_string());
        }
    }
    found
}

/// Resolves one target of `page`: the file must exist under `book/src`, and
/// an anchor must be a heading of the page it points at.
fn resolve(page: &Path, target: &str) -> Result<(), String> {
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let file: PathBuf =
        if path.is_empty() { page.to_path_buf() } else { page.parent().expect("a directory").join(path) };
    let normal = normalise(&file);
    if !normal.starts_with(normalise(&src())) {
        return Err("points outside book/src, which mdBook does not copy".into());
    }
    if !normal.is_file() {
        return Err("no such file".into());
    }
    if anchor.is_empty() {
        return Ok(());
    }
    if normal.extension().is_none_or(|e| e != "md") {
        return Err("an anchor into a file that is not a page".into());
    }
    let text = std::fs::read_to_string(&normal).map_err(|e| e.to_string())?;
    if anchors(&text).contains(anchor) { Ok(()) } else { Err(format!("no heading with id `{anchor}`")) }
}

/// `..` and `.` removed without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The ids mdBook gives a page's headings: an explicit `{#id}`, else the
/// heading's text lowercased, spaces to hyphens, punctuation dropped; a
/// repeated id gets `-1`, `-2`, …
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut heading: Option<(Option<String>, String)> = None;
    for event in Parser::new_ext(markdown, Options::all()) {
        match event {
            Event::Start(Tag::Heading { id, .. }) => {
                heading = Some((id.map(|i| i.to_string()), String::new()))
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, text)) = heading.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let (explicit, text) = heading.take().expect("a heading was open");
                let id = explicit.unwrap_or_else(|| id_from(&text));
                let unique = (0..).map(|n| if n == 0 { id.clone() } else { format!("{id}-{n}") });
                let free = unique.into_iter().find(|c| !ids.contains(c)).expect("an unused id");
                ids.insert(free);
            }
            _ => {}
        }
    }
    ids
}

fn id_from(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c),
            c if c.is_whitespace() => Some('-'),
            _ => None,
        })
        .collect()
}
