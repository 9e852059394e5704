//! Coverage probes end to end: a probe reached shows in the sweep with the
//! seeds that reached it, declared probes no seed reached are listed, shard
//! files merge to the unsharded counts, an undeclared probe fails the
//! scenario tests, and the built-in protocols' probes are declared and reached.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use orrery::coverage::Coverage;
use orrery::sweep::{self, Seeds, Sweep};
use orrery::{Catalogued, NoBugs, Registry, testing};
use serde::{Deserialize, Serialize};
use sim_core::{
    Client, Cluster, Context, Node, NodeId, Op, OpId, Outcome, Protocol, RegisterWorkload, Seed, SimRng,
    Stream, Value,
};

/// A server that is "lucky" on one seed in four (its first draw), and
/// probes as the test asks; its client probes every reply.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Lucky {
    /// Also reach a probe that is not declared.
    typo: bool,
}

/// Whether seed `seed` is lucky, computed apart from the simulation: the
/// first draw of server n0's stream.
fn is_lucky(seed: u64) -> bool {
    SimRng::new(Seed(seed), Stream::Node(0)).below(4) == 0
}

struct Server {
    typo: bool,
}

impl Node<Lucky> for Server {
    fn on_start(&mut self, ctx: &mut Context<'_, Lucky>) {
        if ctx.rng().below(4) == 0 {
            ctx.probe("lucky-start");
        }
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Lucky>, from: NodeId, msg: u64) {
        if self.typo {
            ctx.probe("lucky-strat");
        }
        ctx.send(from, msg);
    }
}

#[derive(Default)]
struct LuckyClient {
    pending: Option<OpId>,
}

impl Client<Lucky> for LuckyClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, Lucky>, id: OpId, _op: Op) {
        self.pending = Some(id);
        ctx.send(NodeId(0), id.0);
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Lucky>, _: NodeId, msg: u64) {
        if self.pending.is_some_and(|id| id.0 == msg) {
            ctx.probe("reply-seen");
            ctx.complete(self.pending.take().expect("pending"), Outcome::Ok(Value::Nil));
        }
    }
}

impl Protocol for Lucky {
    type Msg = u64;
    type Timer = ();
    type Server = Server;
    type Client = LuckyClient;
    fn server(&self, _: NodeId, _: &Cluster) -> Server {
        Server { typo: self.typo }
    }
    fn client(&self, _: NodeId, _: &Cluster) -> LuckyClient {
        LuckyClient::default()
    }
}

impl Catalogued for Lucky {
    const NAME: &'static str = "lucky";
    const SUMMARY: &'static str = "echoes, and is lucky on one seed in four";
    type Bug = NoBugs;
    type Workload = RegisterWorkload;
    const MODEL: Option<sim_core::ModelKind> = None;
    const PROBES: &'static [(&'static str, &'static str)] = &[
        ("lucky-start", "the server's first draw was a quarter"),
        ("reply-seen", "a client got its echo"),
        ("never", "nothing reaches this"),
    ];
}

const SCENARIO: &str = "name = \"lucky\"\nexpect = \"pass\"\nseeds = \"0..40\"\n[protocol]\nname = \"lucky\"\n[cluster]\nservers = 1\n[workload]\nclients = 2\nduration = \"200ms\"\n";

fn bind(text: &str) -> Box<dyn orrery::Runner> {
    let registry = Registry::new().with::<Lucky>();
    registry.parse(text, Path::new("lucky.toml")).unwrap_or_else(|e| panic!("{e}")).1
}

fn swept(seeds: Seeds) -> Sweep {
    let options = sweep::Options { jobs: 2, ..Default::default() };
    sweep::run(bind(SCENARIO).as_ref(), seeds, &options)
}

#[test]
fn a_probe_reached_counts_the_seeds_that_reached_it() {
    let sweep = swept(Seeds::range(0..40));
    let coverage = Coverage::of(&sweep.header.probes, &sweep.outcomes);
    let lucky: Vec<u64> = (0..40).filter(|&s| is_lucky(s)).collect();
    assert!(!lucky.is_empty() && lucky.len() < 40, "lucky seeds {lucky:?}: the test needs both kinds");
    let reach = |name| coverage.reached.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("{name}"));
    let start = reach("lucky-start");
    assert_eq!((start.seeds, start.times, start.first_seed), (lucky.len(), lucky.len() as u64, lucky[0]));
    let replies: u64 = sweep.outcomes.iter().map(|o| o.ops[0] as u64).sum();
    assert_eq!((reach("reply-seen").seeds, reach("reply-seen").times), (40, replies));
    for outcome in &sweep.outcomes {
        assert_eq!(
            outcome.probes.contains_key("lucky-start"),
            is_lucky(outcome.seed),
            "seed {}",
            outcome.seed
        );
    }
    let table = sweep::table(&sweep);
    let line = table.lines().find(|l| l.contains("lucky-start")).expect("a line for the probe");
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        columns,
        ["lucky-start", &lucky.len().to_string(), &lucky.len().to_string(), &lucky[0].to_string()]
    );
}

#[test]
fn declared_probes_no_seed_reached_are_listed_with_their_meaning() {
    let table = sweep::table(&swept(Seeds::range(0..40)));
    let unreached: Vec<&str> = table.lines().filter(|l| l.contains("nothing reaches this")).collect();
    assert_eq!(unreached.len(), 1, "{table}");
    assert!(unreached[0].starts_with("unreached  never "), "{table}");
    assert!(!table.contains("UNDECLARED"), "{table}");
}

#[test]
fn merged_shards_count_the_probes_as_one_sweep() {
    let whole = swept(Seeds::range(0..40));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("probe-shards");
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<PathBuf> = (0..3)
        .map(|i| {
            let shard = swept(Seeds::range(0..40).shard(i, 3));
            let path = dir.join(format!("shard-{i}.jsonl"));
            let mut out = std::fs::File::create(&path).unwrap();
            sweep::write_jsonl(&mut out, &shard).unwrap();
            path
        })
        .collect();
    let merged = sweep::merge(&files).unwrap();
    assert_eq!(merged.header.probes, whole.header.probes);
    assert_eq!(
        Coverage::of(&merged.header.probes, &merged.outcomes),
        Coverage::of(&whole.header.probes, &whole.outcomes)
    );
    assert_eq!(sweep::table(&merged), sweep::table(&whole));
}

#[test]
fn an_undeclared_probe_fails_the_scenario_test() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("probe-typo");
    std::fs::create_dir_all(&dir).unwrap();
    let registry = Registry::new().with::<Lucky>();
    let good = dir.join("good.toml");
    std::fs::write(&good, SCENARIO).unwrap();
    assert_eq!(testing::check_scenario(&registry, &good), Ok(()));
    let typo = dir.join("typo.toml");
    std::fs::write(
        &typo,
        SCENARIO.replace("name = \"lucky\"\n[cluster]", "name = \"lucky\"\ntypo = true\n[cluster]"),
    )
    .unwrap();
    let error = testing::check_scenario(&registry, &typo).expect_err("an undeclared probe fails");
    assert!(
        error.starts_with("probes reached but not declared in Catalogued::PROBES: lucky-strat\n"),
        "{error}"
    );
    assert!(error.lines().any(|l| l.contains("lucky-strat") && l.ends_with("UNDECLARED")), "{error}");
}

#[test]
fn built_in_probes_have_unique_names_and_meanings() {
    for entry in Registry::builtin().entries() {
        assert!(!entry.probes.is_empty(), "protocol={} declares no probes", entry.name);
        let names: BTreeSet<&str> = entry.probes.iter().map(|p| p.0).collect();
        assert_eq!(names.len(), entry.probes.len(), "protocol={} declares a probe twice", entry.name);
        for (name, meaning) in entry.probes {
            let kebab = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            assert!(kebab && !name.is_empty(), "protocol={} probe={name:?} is not kebab-case", entry.name);
            assert!(!meaning.is_empty(), "protocol={} probe={name} says nothing", entry.name);
        }
    }
}

/// The rare paths the planted bugs hide behind are reached by the
/// scenarios that find those bugs (each over its own test seeds).
#[test]
fn bug_scenarios_reach_the_probes_their_bugs_hide_behind() {
    let registry = Registry::builtin();
    let cases = [
        ("raft-figure-8.toml", "entry-from-earlier-term-committed"),
        ("raft-vote-without-persist.toml", "vote-granted-after-restart"),
        ("raft-nemesis.toml", "leader-steps-down"),
        ("primary-backup-fenced.toml", "stale-primary-fenced"),
        ("primary-backup-fenced.toml", "failover"),
        ("abd-nemesis.toml", "read-repair-writes-back"),
        ("lb-crash-detection.toml", "balancer-ejects-backend"),
        ("lb-crash-detection.toml", "backend-readmitted"),
        ("saga-nemesis.toml", "compensation-starts"),
        ("log-nemesis.toml", "partition-failover"),
        ("2pc-nemesis.toml", "presumed-abort"),
    ];
    let mut missing = Vec::new();
    for (file, probe) in cases {
        let (scenario, runner) = registry.load(crate::root().join("scenarios").join(file)).unwrap();
        let seeds = testing::test_seeds(&scenario);
        let seeds = seeds.start..seeds.end.min(seeds.start + 50);
        let sweep = sweep::run(runner.as_ref(), Seeds::range(seeds), &Default::default());
        if !sweep.outcomes.iter().any(|o| o.probes.contains_key(probe)) {
            missing.push(format!("{file}: {probe}\n{}", sweep::table(&sweep)));
        }
    }
    assert!(missing.is_empty(), "probes not reached:\n{}", missing.join("\n"));
}
