//! The `orrery check` command, end to end: verdicts as exit codes, human and
//! JSON output, and errors that name the file and line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn orrery(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orrery")).args(args).output().expect("orrery runs")
}

fn conformance(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance").join(path).display().to_string()
}

/// Writes `text` to a fresh file named after the test.
fn file(name: &str, text: &str) -> String {
    let path: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("check_cli_{name}"));
    std::fs::write(&path, text).expect("temp file writable");
    path.display().to_string()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn verdicts_are_exit_codes() {
    let ok = orrery(&["check", &conformance("porcupine/jepsen/etcd_002.log"), "--model", "cas-register"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("linearizable: every part"), "{}", stdout(&ok));
    let bad = orrery(&["check", &conformance("porcupine/jepsen/etcd_000.log"), "-m", "cas-register"]);
    assert_eq!(bad.status.code(), Some(1));
    let text = stdout(&bad);
    assert!(
        text.contains("not linearizable") && text.contains("line 85: process 11 read nil -> ok 2"),
        "{text}"
    );
    let unknown = orrery(&[
        "check",
        &conformance("porcupine/jepsen/etcd_002.log"),
        "-m",
        "cas-register",
        "--states-max",
        "50",
    ]);
    assert_eq!(unknown.status.code(), Some(3));
}

#[test]
fn json_report_for_tools() {
    let path = conformance("porcupine/kv/c10-bad.txt");
    let out = orrery(&["check", &path, "--model", "kv", "--format", "edn", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON output");
    assert_eq!(json["report"]["verdict"], "not-linearizable");
    assert_eq!(json["format"], "edn");
    let failed = json["report"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["verdict"] == "not-linearizable")
        .unwrap();
    assert!(failed["violation"]["blocked"]["line"].as_u64().is_some());
}

#[test]
fn jsonl_with_init_and_info() {
    let history = r#"{"process":0,"type":"invoke","f":"write","value":5}
{"process":0,"type":"info","f":"write","error":"timeout"}
{"process":1,"type":"invoke","f":"read"}
{"process":1,"type":"ok","f":"read","value":0}
{"process":1,"type":"invoke","f":"read"}
{"process":1,"type":"ok","f":"read","value":5}
"#;
    let path = file("info.jsonl", history);
    assert_eq!(orrery(&["check", &path, "-m", "register", "--init", "0"]).status.code(), Some(0));
    assert_eq!(
        orrery(&["check", &path, "-m", "register"]).status.code(),
        Some(1),
        "initially nil, a read of 0 is impossible"
    );
}

#[test]
fn knossos_edn_multi_register_and_mutex() {
    let txns = "[{:process 0 :type :invoke :f :txn :value [[:write :x 1] [:read :y nil]]}\n\
                {:process 0 :type :ok :f :txn :value [[:write :x 1] [:read :y 0]]}\n\
                {:process 1 :type :invoke :f :txn :value [[:read :x nil]]}\n\
                {:process 1 :type :ok :f :txn :value [[:read :x 1]]}]";
    let path = file("txn.edn", txns);
    let out = orrery(&["check", &path, "-m", "multi-register", "--init", "{:x 0 :y 0}"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let mutex = "({:process 0 :type :invoke :f :acquire} {:process 0 :type :ok :f :acquire}\n\
                 {:process 1 :type :invoke :f :acquire} {:process 1 :type :fail :f :acquire :error :already-held}\n\
                 {:process 1 :type :invoke :f :acquire} {:process 1 :type :ok :f :acquire})";
    let path = file("mutex.edn", mutex);
    assert_eq!(orrery(&["check", &path, "-m", "mutex"]).status.code(), Some(1), "two holders at once");
}

#[test]
fn errors_name_file_and_line() {
    let path =
        file("malformed.edn", "[{:process 0 :type :invoke :f :read}\n {:process 0 :type :okay :f :read}]");
    let out = orrery(&["check", &path, "-m", "register"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("malformed.edn") && err.contains("line 2, column 2") && err.contains(":type"),
        "{err}"
    );

    let path = file(
        "rules.jsonl",
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n\n{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n",
    );
    let err = stderr(&orrery(&["check", &path, "-m", "register"]));
    assert!(err.contains("history rule broken") && err.contains("line 3"), "{err}");

    let path = file("model.jsonl", "{\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[1,2]}\n");
    let out = orrery(&["check", &path, "-m", "register"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 1: register model cannot check \"cas\""), "{}", stderr(&out));

    let out = orrery(&["check", "/nonexistent/history", "-m", "register"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(orrery(&["check", &path, "-m", "nonsense"]).status.code(), Some(2));
}
