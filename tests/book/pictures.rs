//! The book's pictures are drawn by Orrery, not by hand: `book/pictures.toml`
//! says which scenario and seed drew each file in `book/src/pictures/`, and
//! this test draws each again and compares byte for byte.

use std::path::{Path, PathBuf};

use orrery::{Registry, picture};

use crate::{files, overwrite, root, src};

/// One line of `book/pictures.toml`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Picture {
    /// The file under `book/src/pictures/`.
    file: String,
    /// The scenario file, from the repository root.
    scenario: PathBuf,
    /// The seed drawn: the one a reader's `orrery run --html` draws.
    seed: u64,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    picture: Vec<Picture>,
}

fn table() -> Vec<Picture> {
    let path = root().join("book").join("pictures.toml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    toml::from_str::<Table>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())).picture
}

#[test]
fn every_picture_is_listed_once_and_every_listed_picture_exists() {
    let table = table();
    let listed: Vec<&str> = table.iter().map(|p| p.file.as_str()).collect();
    for file in files(&src().join("pictures"), "svg") {
        let name = file.file_name().expect("a file name").to_string_lossy().into_owned();
        let count = listed.iter().filter(|l| **l == name).count();
        assert_eq!(count, 1, "pictures/{name} must have exactly one line in book/pictures.toml, has {count}");
    }
    for p in &table {
        assert!(
            src().join("pictures").join(&p.file).is_file(),
            "book/pictures.toml lists {}, which is missing",
            p.file
        );
    }
}

#[test]
fn every_picture_is_what_its_scenario_and_seed_draw() {
    let registry = Registry::builtin();
    let mut stale = Vec::new();
    for p in table() {
        let path = src().join("pictures").join(&p.file);
        let drawn = draw(&registry, &root().join(&p.scenario), p.seed, &path);
        if overwrite() {
            std::fs::write(&path, &drawn).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(drawn.as_str()) {
            stale.push(format!(
                "pictures/{} differs from `orrery run {} --seed {} --html book/src/pictures/{}`",
                p.file,
                p.scenario.display(),
                p.seed,
                p.file
            ));
        }
    }
    assert!(stale.is_empty(), "{}\n(TRYCMD=overwrite cargo test --test book redraws them)", stale.join("\n"));
}

/// The page `orrery run SCENARIO --seed SEED --html PATH` writes.
fn draw(registry: &Registry, scenario: &Path, seed: u64, path: &Path) -> String {
    let (_, runner) = registry.load(scenario).unwrap_or_else(|e| panic!("{e}"));
    let (run, _) =
        picture::draw(runner.as_ref(), seed).unwrap_or_else(|e| panic!("{}: {e}", scenario.display()));
    picture::render(&run, path)
}
