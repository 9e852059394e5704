//! Honest outcomes: a run cut short by a limit or a panic is not the
//! expected violation, and `unknown` is not a pass. The protocol here is
//! defined in this file and registered exactly as a user's crate would.

use std::path::Path;

use orrery::{Catalogued, Conclusion, Judgement, NoBugs, Registry, Status};
use serde::{Deserialize, Serialize};
use sim_core::{
    Client, Cluster, Context, Node, NodeId, Op, OpId, Outcome, Protocol, RegisterWorkload, Value,
};

/// An echo server that can be told to panic, and to be judged undecidable.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Echo {
    panic: bool,
    undecided: bool,
}

struct Server {
    panic: bool,
}

impl Node<Echo> for Server {
    fn on_message(&mut self, ctx: &mut Context<'_, Echo>, from: NodeId, msg: u64) {
        assert!(!self.panic, "asked to panic");
        ctx.send(from, msg);
    }
}

#[derive(Default)]
struct EchoClient {
    pending: Option<OpId>,
}

impl Client<Echo> for EchoClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, Echo>, id: OpId, _op: Op) {
        self.pending = Some(id);
        ctx.send(NodeId(0), id.0);
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Echo>, _: NodeId, msg: u64) {
        if self.pending.is_some_and(|id| id.0 == msg) {
            ctx.complete(self.pending.take().expect("pending"), Outcome::Ok(Value::Nil));
        }
    }
}

impl Protocol for Echo {
    type Msg = u64;
    type Timer = ();
    type Server = Server;
    type Client = EchoClient;
    fn server(&self, _: NodeId, _: &Cluster) -> Server {
        Server { panic: self.panic }
    }
    fn client(&self, _: NodeId, _: &Cluster) -> EchoClient {
        EchoClient::default()
    }
}

impl Catalogued for Echo {
    const NAME: &'static str = "echo";
    const SUMMARY: &'static str = "echoes every request";
    type Bug = NoBugs;
    type Workload = RegisterWorkload;
    const MODEL: Option<sim_core::ModelKind> = None;

    fn judge(&self, _: &sim_core::RunReport, _: &sim_core::ClusterView<'_, Self>) -> Vec<Judgement> {
        vec![if self.undecided {
            Judgement::unknown("echo-check", "cannot tell")
        } else {
            Judgement::fail("echo-check", "always fails when asked", None)
        }]
    }
}

fn conclusion(text: &str) -> Conclusion {
    let registry = Registry::new().with::<Echo>();
    let (scenario, runner) = registry.parse(text, Path::new("echo.toml")).unwrap_or_else(|e| panic!("{e}"));
    let sweep = orrery::sweep::run(runner.as_ref(), orrery::sweep::Seeds::range(0..4), &Default::default());
    assert_eq!(sweep.header.expect, scenario.expect);
    sweep.conclusion()
}

const HEAD: &str = "name = \"echo\"\nexpect = { violation = \"echo-check\" }\n[cluster]\nservers = 1\n[workload]\nduration = \"1s\"\n";

#[test]
fn the_named_check_firing_is_as_expected() {
    let c = conclusion(&format!("{HEAD}[protocol]\nname = \"echo\"\n"));
    assert!(c.is_expected(), "{c:?}");
}

#[test]
fn a_panic_is_not_the_expected_violation() {
    let c = conclusion(&format!("{HEAD}[protocol]\nname = \"echo\"\npanic = true\n"));
    assert!(matches!(c, Conclusion::NotAsExpected(_)), "{c:?}");
    assert!(c.reason().contains("panic"), "{c:?}");
}

#[test]
fn a_run_limit_is_not_the_expected_violation() {
    let c = conclusion(&format!("{HEAD}[protocol]\nname = \"echo\"\n[limits]\nevents = 50\n"));
    assert!(matches!(c, Conclusion::NotAsExpected(_)), "{c:?}");
}

#[test]
fn another_check_failing_is_not_the_expected_violation() {
    let text =
        format!("{HEAD}[protocol]\nname = \"echo\"\n").replace("echo-check\" }", "linearizability\" }");
    let c = conclusion(&text);
    assert!(matches!(c, Conclusion::NotAsExpected(_)), "{c:?}");
    assert!(c.reason().contains("none by linearizability"), "{c:?}");
}

#[test]
fn unknown_is_not_a_pass() {
    let text = "name = \"echo\"\nexpect = \"pass\"\n[cluster]\nservers = 1\n[workload]\nduration = \"1s\"\n[protocol]\nname = \"echo\"\nundecided = true\n";
    let c = conclusion(text);
    assert!(matches!(c, Conclusion::Undecided(_)), "{c:?}");
    assert_eq!(c.exit_code(), std::process::ExitCode::from(3));
}

#[test]
fn a_bare_violation_must_name_its_check() {
    let text = "name = \"x\"\nexpect = \"violation\"\n[protocol]\nname = \"echo\"\n";
    let e = Registry::new().with::<Echo>().parse(text, Path::new("x.toml")).err().expect("an error");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.contains("name the check"), "{e}");
    let text = "name = \"x\"\nexpect = { violation = \"panic\" }\n[protocol]\nname = \"echo\"\n";
    assert!(Registry::new().with::<Echo>().parse(text, Path::new("x.toml")).is_err());
}

#[test]
fn a_cut_short_pass_sweep_is_undecided() {
    let registry = Registry::builtin();
    let (_, runner) = registry.load(crate::root().join("scenarios/register-basic.toml")).unwrap();
    let options =
        orrery::sweep::Options { time_budget: Some(std::time::Duration::ZERO), ..Default::default() };
    let sweep = orrery::sweep::run(runner.as_ref(), orrery::sweep::Seeds::range(0..1000), &options);
    assert!(sweep.outcomes.len() < 1000);
    assert!(matches!(sweep.conclusion(), Conclusion::Undecided(_)), "{:?}", sweep.conclusion());
    let table = orrery::sweep::table(&sweep);
    assert!(table.contains(&format!("{} of 1000 run", sweep.outcomes.len())), "{table}");
    assert!(!table.contains("every seed passed"), "{table}");
    assert!(sweep.outcomes.iter().all(|o| o.status == Status::Pass));
}
