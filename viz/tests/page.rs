//! The page and the SVG without a browser: what they hold, what they must not.

mod support;

use orrery_viz::{Role, Run, html, svg};
use sim_core::RunEnd;
use support::{count_events, every_fault, injection_trace, relay_run, stale_read_run};

fn relay(seed: u64) -> (Run, String) {
    let report = relay_run(seed, 3, 60, every_fault());
    assert_eq!(report.end, RunEnd::Finished);
    let trace = String::from_utf8(report.trace.clone().unwrap()).unwrap();
    (Run::from_report(&report, "relay").unwrap(), trace)
}

#[test]
fn from_report_holds_every_message_operation_and_fault() {
    let (run, trace) = relay(3);
    assert_eq!(run.messages.len(), count_events(&trace, "send"));
    assert_eq!(run.operations.len(), count_events(&trace, "invoke"));
    assert_eq!(run.faults.len(), count_events(&trace, "fault") + count_events(&trace, "storage-loss"));
    let dropped = run.messages.iter().flat_map(|m| &m.arrivals).filter(|a| a.dropped.is_some()).count();
    assert_eq!(dropped, count_events(&trace, "drop"));
    assert_eq!(run.messages.iter().filter(|m| m.duplicated).count(), count_events(&trace, "duplicate"));
    assert_eq!(run.nodes.iter().filter(|l| l.role == Role::Server).count(), 3);
    assert_eq!(run.nodes.iter().filter(|l| l.role == Role::Client).count(), 3);
    let mut states: Vec<&str> = run.bands.iter().map(|b| b.state.as_str()).collect();
    states.sort();
    assert_eq!(states, ["clock", "crashed", "paused", "slow"]);
    assert_eq!(run.partitions.len(), 1);
    assert_eq!((run.partitions[0].from, run.partitions[0].to), (40_000_000, 90_000_000));
    assert_eq!(run.partitions[0].text, "n0 | n1 n2");
    assert!(run.failures.is_empty(), "a finished run marks no failure");
    assert_eq!(run.seed, Some(3));
}

#[test]
fn from_jsonl_reads_what_from_report_reads() {
    let report = relay_run(4, 2, 30, every_fault());
    let trace = String::from_utf8(report.trace.clone().unwrap()).unwrap();
    let mut history = Vec::new();
    report.history.write_jsonl(&mut history).unwrap();
    let from_text = Run::from_jsonl(&trace, Some(std::str::from_utf8(&history).unwrap())).unwrap();
    let from_trace_only = Run::from_jsonl(&trace, None).unwrap();
    let from_report = Run::from_report(&report, "").unwrap();
    assert_eq!(from_text.operations, from_report.operations);
    assert_eq!(from_trace_only.operations, from_report.operations);
    assert_eq!(from_text.messages, from_report.messages);
}

#[test]
fn the_page_names_no_external_url() {
    let (run, _) = relay(5);
    let page = html(&run);
    // The SVG namespace is a name, never fetched; nothing else may look like a URL.
    let rest = page.replace("http://www.w3.org/2000/svg", "");
    for needle in ["http:", "https:", "//cdn", " src=", "@import", "<link", "<iframe"] {
        assert!(!rest.contains(needle), "the page contains {needle:?}");
    }
    assert!(!rest.replace("url(#", "").contains("url("), "the page references a url()");
    assert!(page.contains("default-src 'none'"), "the page forbids network loads");
}

#[test]
fn bodies_cannot_close_the_script_element() {
    let evil = r#"</script><img src=x onerror="document.body.setAttribute('data-pwned','1')"><!--"#;
    let trace = injection_trace(evil);
    let mut run = Run::from_jsonl(&trace, None).unwrap();
    run.title = evil.to_string();
    let page = html(&run);
    assert_eq!(page.matches("<script").count(), 3, "error hook, data, page script");
    assert_eq!(page.matches("</script>").count(), 3);
    assert!(!page.contains("<img"), "the body became markup");
    assert!(page.contains("\\u003c/script\\u003e\\u003cimg src=x"), "the body is in the data, escaped");
}

#[test]
fn svg_is_deterministic() {
    let (a, _) = relay(6);
    let (b, _) = relay(6);
    let (c, _) = relay(7);
    assert_eq!(svg(&a), svg(&b), "same run, same bytes");
    assert_ne!(svg(&a), svg(&c), "a different seed draws a different picture");
    let picture = svg(&a);
    assert!(picture.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(picture.matches("class=\"op ").count(), a.operations.len());
    assert!(!picture.contains("<script"));
}

#[test]
fn linearizability_marks_blocked_op_and_prefix() {
    let run = stale_read_run();
    let f = &run.failures[0];
    assert_eq!(f.check, "linearizability");
    assert_eq!(f.blocked, Some(2), "the stale read cannot be ordered");
    assert_eq!(f.prefix, [0, 1], "write 1 then write 2 linearize");
    assert_eq!(f.at, Some(run.operations[2].completed.unwrap()), "marked when the blocked read completes");
    assert_eq!(f.node, Some(run.operations[2].node));
}

#[test]
fn svg_of_a_long_run_draws_a_window_around_the_failure() {
    let report = relay_run(12, 6, 1_200, every_fault());
    let mut run = Run::from_report(&report, "long relay").unwrap();
    assert!(run.messages.len() > orrery_viz::SVG_MESSAGES_MAX * 2, "{} messages", run.messages.len());
    let at = run.end / 2;
    run.mark_failure(orrery_viz::Failure { check: "canary".into(), at: Some(at), ..Default::default() });
    let picture = svg(&run);
    assert!(picture.contains("of a run too long to draw whole"), "the picture says it is a window");
    let lines = picture.matches("<line class=\"msg").count();
    let copies_max = orrery_viz::SVG_MESSAGES_MAX * 3;
    assert!(lines > 1000 && lines <= copies_max, "{lines} message lines");
    assert!(picture.contains("class=\"failure\""), "the failure is in the window");
}
