//! The book checks itself. Every `console` block in `book/src` prints what
//! the page shows ([`trycmd`]), every scenario in `book/scenarios` reaches the
//! verdict it declares, every picture is what its scenario and seed draw
//! today, and every relative link, anchor and image resolves.
//!
//! When the tool's output changes on purpose, `TRYCMD=overwrite cargo test
//! --test book` rewrites the console blocks and the pictures; read the diff.

mod commands;
mod links;
mod pictures;
mod scenarios;

use std::path::{Path, PathBuf};

/// The repository root: the directory a reader runs the book's commands from.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The book's sources: chapters, `SUMMARY.md` and `pictures/`.
pub fn src() -> PathBuf {
    root().join("book").join("src")
}

/// Every file directly in `dir` whose name ends in `.{ext}`, sorted.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .collect();
    found.sort();
    found
}

/// Asks for the expected output to be rewritten instead of compared, as
/// trycmd does.
pub fn overwrite() -> bool {
    std::env::var_os("TRYCMD").is_some_and(|v| v == "overwrite")
}
