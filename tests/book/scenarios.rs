//! The book's scenarios: each reaches the verdict it declares, and the pages
//! name only scenarios that exist.

use std::collections::BTreeSet;

use orrery::{Expect, Registry, testing};

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
        for word in text.split(|c: char| c.is_whitespace() || "`()[]<>\"',;".contains(c)) {
            let word = word.trim_end_matches(['.', ':']);
            let path = word.starts_with("book/scenarios/") || word.starts_with("scenarios/");
            if path && word.ends_with(".toml") && !word.contains('*') {
                assert!(root().join(word).is_file(), "{} names {word}, which does not exist", page.display());
                named.insert(word.to_string());
            }
        }
    }
    for file in testing::scenario_files(root().join("book").join("scenarios")) {
        let relative =
            file.strip_prefix(root()).expect("under the root").to_string_lossy().replace('\\', "/");
        assert!(named.contains(&relative), "{relative} is in book/scenarios but no page names it");
    }
}
