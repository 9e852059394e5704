//! The book's scenarios: each reaches the verdict it declares, and the pages
//! name only scenarios that exist.

use std::collections::BTreeSet;

use orrery::{Expect, Registry, testing};
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use sim_core::TraceSink;

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

#[test]
fn every_toml_excerpt_is_quoted_from_a_scenario_file() {
    let mut lines = BTreeSet::new();
    let mut scenarios = testing::scenario_files(root().join("book").join("scenarios"));
    scenarios.extend(testing::scenario_files(root().join("scenarios")));
    for file in scenarios {
        let text = std::fs::read_to_string(&file).expect("a readable scenario");
        lines.extend(text.lines().map(str::to_string));
    }
    let mut invented = Vec::new();
    for page in files(&src(), "md") {
        let text = std::fs::read_to_string(&page).expect("a readable page");
        for line in toml_excerpts(&text).lines() {
            if !line.trim().is_empty() && !line.contains("...") && !lines.contains(line) {
                invented.push(format!("{}: {line}", page.display()));
            }
        }
    }
    assert!(
        invented.is_empty(),
        "toml lines no scenario file has (a line with `...` marks an elision):\n{}",
        invented.join("\n")
    );
}

/// The text of a page's `toml` code blocks.
fn toml_excerpts(markdown: &str) -> String {
    let mut excerpts = String::new();
    let mut in_toml = false;
    for event in Parser::new_ext(markdown, Options::all()) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => in_toml = lang.starts_with("toml"),
            Event::End(TagEnd::CodeBlock) => in_toml = false,
            Event::Text(text) if in_toml => excerpts.push_str(&text),
            _ => {}
        }
    }
    excerpts
}

/// A chapter runs `orrery run FILE` without `--seed`: the scenario's own
/// seed must show what the chapter claims, and the same run again.
#[test]
fn every_book_scenario_shows_its_verdict_on_its_own_seed_every_time() {
    let registry = Registry::builtin();
    for file in testing::scenario_files(root().join("book").join("scenarios")) {
        let (scenario, runner) = registry.load(&file).unwrap_or_else(|e| panic!("{e}"));
        let (outcome, _) = runner.run(scenario.seed, TraceSink::Hash).unwrap_or_else(|e| panic!("{e}"));
        let (again, _) = runner.run(scenario.seed, TraceSink::Hash).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            outcome.trace_hash,
            again.trace_hash,
            "{} seed {} is not deterministic",
            file.display(),
            scenario.seed
        );
        let conclusion = scenario.expect.judge_seed(&outcome);
        assert!(
            conclusion.is_expected(),
            "{} seed {}: {conclusion:?}\n(replay: orrery run {} --seed {})",
            file.display(),
            scenario.seed,
            file.display(),
            scenario.seed
        );
    }
}
