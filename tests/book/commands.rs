//! Every `console` block in the book is run and must print what the page
//! shows: `$ orrery …` lines are commands, the lines after them their output
//! (standard output and error together), `...` skips lines and `[..]` part of
//! a line, `? 1` an exit code other than success.
//!
//! The commands run where a reader runs them, from a directory holding the
//! repository's `book/` and `scenarios/`, but not the repository itself: the
//! pictures and files a page tells the reader to write land there, not in
//! the working tree.

use std::path::PathBuf;
use std::time::Duration;

use crate::{root, src};

#[test]
fn every_console_block_prints_what_the_page_shows() {
    let reader = reader_directory();
    // This binary's other tests use absolute paths; trycmd runs each command
    // in the process's working directory.
    std::env::set_current_dir(&reader).expect("enter the reader's directory");
    trycmd::TestCases::new()
        .register_bin("orrery", PathBuf::from(env!("CARGO_BIN_EXE_orrery")))
        .timeout(Duration::from_secs(120))
        .env("ORRERY_LOG", "off")
        .case(src().join("*.md"));
}

/// A fresh `target/book-reader/`, holding links to `book/` and `scenarios/`
/// and nothing a previous run wrote, so a page cannot lean on a file only an
/// earlier run made.
fn reader_directory() -> PathBuf {
    let dir = root().join("target").join("book-reader");
    // `remove_dir_all` removes the links, never what they point at.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("empty target/book-reader");
    }
    std::fs::create_dir_all(&dir).expect("create target/book-reader");
    for name in ["book", "scenarios"] {
        std::os::unix::fs::symlink(root().join(name), dir.join(name)).expect("link the repository's files");
    }
    dir
}
