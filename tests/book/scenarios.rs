//! The book's scenarios: each reaches the verdict it declares, and the pages
//! name only scenarios that exist.

use std::collections::BTreeSet;

use orrery::{Expect, Registry, testing};
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use crate::{files, root, src};

#[test]
fn every_book_scenario_reaches_its_declared_verdict() {
    let registry = Registry::builtin();
    let scenarios = testing::scenario_files(root().join("book").join("scenarios"));
    assert!(!scenarios.is_empty(), "book/scenarios holds the chapters' scenario files");
    let wrong: Vec<String> = scenarios
        .iter()
        .filter_map(|file| {
            let (scenario, _) = match registry.load(file) {
                Ok(loaded) => loaded,
                Err(e) => return Some(e.to_string()),
            };
            let seeds = testing::test_seeds(&scenario);
            if scenario.expect == Expect::Pass && seeds.end - seeds.start < testing::PASS_SEEDS {
                return Some(format!(
                    "{}: a passing scenario needs {} seeds, has {seeds:?}",
                    file.display(),
                    testing::PASS_SEEDS
                ));
            }
            testing::check_scenario(&registry, file)
                .err()
                .map(|table| format!("{}:\n{table}", file.display()))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "book scenarios that did not reach their declared verdict:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_scenario_a_page_names_exists_and_every_scenario_is_named() {
    let mut named = BTreeSet::new();
    for page in files(&src(), "md") {
        let text = std::fs::read_to_string(&page).expect("a readable page");
        for word in named_scenarios(&text) {
            assert!(root().join(&word).is_file(), "{} names {word}, which does not exist", page.display());
            named.insert(word);
        }
    }
    for file in testing::scenario_files(root().join("book").join("scenarios")) {
        let relative =
            file.strip_prefix(root()).expect("under the root").to_string_lossy().replace('\\', "/");
        assert!(named.contains(&relative), "{relative} is in book/scenarios but no page names it");
    }
}

/// The scenario files (`scenarios/….toml`, `book/scenarios/….toml`) a page
/// names in its prose, inline code and command blocks. Rust code blocks are
/// left out: they show a user's own crate, whose files are not in this one.
fn named_scenarios(markdown: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_rust = false;
    for event in Parser::new_ext(markdown, Options::all()) {
        let text = match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                in_rust = lang.starts_with("rust");
                continue;
            }
            Event::End(TagEnd::CodeBlock) => {
                in_rust = false;
                continue;
            }
            Event::Text(text) | Event::Code(text) if !in_rust => text,
            _ => continue,
        };
        for word in text.split(|c: char| c.is_whitespace() || "`()[]<>\"',;".contains(c)) {
            let word = word.trim_end_matches(['.', ':']);
            let path = word.starts_with("book/scenarios/") || word.starts_with("scenarios/");
            if path && word.ends_with(".toml") && !word.contains('*') {
                names.push(word.to_string());
            }
        }
    }
    names
}

#[test]
fn names_in_rust_blocks_are_a_users_and_names_elsewhere_are_ours() {
    let page = "Run `book/scenarios/a.toml`.\n\n```rust\nrun(\"scenarios/mine.toml\");\n```\n\n```console\n$ orrery run scenarios/b.toml\n```\n";
    assert_eq!(named_scenarios(page), ["book/scenarios/a.toml", "scenarios/b.toml"]);
}
