//! The scenario-file reference: every table and key, its type, default and
//! meaning, every fault action and every `[nemesis]` field.
//!
//! `orrery reference` prints it as Markdown. It cannot drift from the code:
//! a test checks that every field the parser accepts is listed here, that
//! every listed key is accepted, and that every listed default is the one
//! the parser applies (a file stating the default reads exactly like a file
//! that leaves it out).

use std::fmt::Write as _;

/// One key of a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// The table it sits in ("" for the top level), e.g. "network".
    pub table: &'static str,
    /// The key.
    pub key: &'static str,
    /// Its type and range, for people.
    pub kind: &'static str,
    /// Its default as TOML text, if it has one the test can state; `None`
    /// for required keys and for defaults that depend on other keys.
    pub default: Option<&'static str>,
    /// The default in words when it is not a plain value ("" otherwise).
    pub default_note: &'static str,
    /// What it does.
    pub doc: &'static str,
}

const fn key(
    table: &'static str,
    key: &'static str,
    kind: &'static str,
    default: Option<&'static str>,
    default_note: &'static str,
    doc: &'static str,
) -> Key {
    Key { table, key, kind, default, default_note, doc }
}

/// Every key of a scenario file, table by table.
pub const KEYS: &[Key] = &[
    key("", "name", "string", None, "required", "Short name, used in reports."),
    key("", "description", "string", Some("\"\""), "", "One line saying what the scenario shows."),
    key(
        "",
        "expect",
        "\"pass\" or { violation = \"<check>\" }",
        None,
        "required",
        "What the checks must conclude: every seed passes, or some seed fails the named check (a check's name such as \"linearizability\", \"atomicity\", \"invariant election-safety\", or a failure signature). A panic or a run limit is never the expected violation.",
    ),
    key("", "seed", "integer, 0..2^63", Some("0"), "", "The seed `orrery run` uses when none is given."),
    key(
        "",
        "seeds",
        "string \"A..B\", A < B",
        None,
        "0..100 for `orrery sweep`",
        "The seeds `orrery sweep` and scenario tests run by default.",
    ),
    key("protocol", "name", "string", None, "required", "The protocol, as `orrery list` names it."),
    key(
        "protocol",
        "bugs",
        "array of bug names",
        None,
        "none",
        "Planted bugs to switch on (`orrery list` shows each protocol's). Other keys of `[protocol]` are the protocol's own parameters, listed with their defaults by `orrery list`.",
    ),
    key(
        "cluster",
        "servers",
        "integer, 1..",
        Some("3"),
        "",
        "Number of servers, named n0, n1, …; clients follow them.",
    ),
    key(
        "cluster",
        "rack_latency",
        "latency",
        Some("\"200us\""),
        "",
        "Latency between nodes in the same rack, when zones are given.",
    ),
    key(
        "cluster",
        "zones",
        "array of { name, latency, racks = 1 }",
        Some("[]"),
        "",
        "Zones; servers are placed round-robin over them and over their racks, clients in the first zone.",
    ),
    key(
        "cluster",
        "links",
        "array of { between = [zone, zone], latency }",
        Some("[]"),
        "",
        "Latency between two zones; routes take the cheapest path.",
    ),
    key(
        "network",
        "latency",
        "latency",
        Some("{ distribution = \"uniform\", min = \"500us\", max = \"2ms\" }"),
        "",
        "One-way delay between nodes (without zones). A duration for a constant, or a table: constant { delay }, uniform { min, max }, normal { mean, stddev }, exponential { mean, min }, log-normal { median, sigma }, pareto { scale, shape }.",
    ),
    key("network", "loss", "probability: 0.01 or \"1%\"", Some("0.0"), "", "Chance a message is lost."),
    key("network", "duplicate", "probability", Some("0.0"), "", "Chance a message is delivered twice."),
    key("network", "fifo", "boolean", Some("false"), "", "Keep each link in order, like TCP."),
    key(
        "workload",
        "clients",
        "integer, 0..",
        Some("3"),
        "",
        "Number of clients, each with one operation outstanding.",
    ),
    key(
        "workload",
        "think",
        "latency",
        None,
        "uniform 5ms..20ms unless `rate` is given",
        "Pause between one operation's end and the next one's start.",
    ),
    key(
        "workload",
        "rate",
        "string \"N/unit\", e.g. \"50/s\"",
        None,
        "none",
        "Each client's mean operation rate (exponential think time); not with `think`.",
    ),
    key("workload", "duration", "duration", Some("\"5s\""), "", "No operation starts after this."),
    key(
        "workload",
        "timeout",
        "duration",
        Some("\"1s\""),
        "",
        "An operation unanswered this long is recorded as `info`: it may or may not have happened. Other keys of `[workload]` belong to the protocol's workload (`orrery list` shows them as workload.*).",
    ),
    key("faults", "at", "duration", None, "required", "When the fault happens, from the start of the run."),
    key(
        "nemesis",
        "kinds",
        "array of kinds",
        None,
        "required, except in swarm mode (every kind the protocol allows)",
        "Kinds of trouble to draw from: crash, pause, isolate, split, bridge, one-way, slow, clock-jump, and for a protocol with a leader leader-crash, leader-split (the leader cut off from the other servers) and leader-pause, aimed at whichever server leads when the episode starts. In swarm mode, the kinds each seed draws a non-empty subset of.",
    ),
    key(
        "nemesis",
        "weights",
        "array of integers, 1.., one per kind",
        Some("[]"),
        "",
        "Relative weight of each of `kinds`, in the same order; empty means equal.",
    ),
    key(
        "nemesis",
        "interval",
        "duration",
        Some("\"1s\""),
        "",
        "Mean quiet time between episodes (exponential).",
    ),
    key(
        "nemesis",
        "duration",
        "duration",
        Some("\"800ms\""),
        "",
        "Mean length of an episode (uniform from half to one and a half times it); everything it broke is repaired at its end.",
    ),
    key("nemesis", "start", "duration", Some("\"0s\""), "", "No episode starts before this."),
    key(
        "nemesis",
        "stop",
        "duration",
        None,
        "one second before the workload ends (at least half of it)",
        "Everything is repaired by this instant, leaving time to recover.",
    ),
    key(
        "nemesis",
        "crash_max",
        "integer",
        Some("0"),
        "",
        "Most servers one crash episode takes down; 0 means a minority.",
    ),
    key(
        "nemesis",
        "slow_factor",
        "integer, 2..",
        Some("10"),
        "",
        "How many times slower a slow episode makes a node's links.",
    ),
    key(
        "nemesis",
        "clock_jump_max",
        "duration",
        Some("\"1s\""),
        "",
        "Largest clock jump of a clock-jump episode, either way.",
    ),
    key(
        "nemesis",
        "split_groups_max",
        "integer, 1..",
        Some("2"),
        "",
        "Most groups a split episode cuts the servers into: 2 is always a majority and a minority; more draws 2 up to this many groups per episode (as many as servers: nobody has a quorum).",
    ),
    key(
        "nemesis",
        "lanes",
        "integer, 1..16",
        Some("1"),
        "",
        "Independent sequences of episodes run at once, so episodes of different lanes overlap (a server down while others crash and restart); 1 means episodes never overlap.",
    ),
    key(
        "nemesis",
        "on_election",
        "table",
        None,
        "off",
        "Episodes started by elections rather than the clock, for a protocol with a leader: when a server first leads in an epoch nobody led before, an episode aimed at it starts shortly after (the keys below). Bugs that live in the milliseconds after an election (a leader with nothing of its term replicated yet, votes just cast) are found there, not by luck. In swarm mode a trigger the file gives is kept rather than drawn.",
    ),
    key(
        "nemesis.on_election",
        "kinds",
        "list of split, crash, crash-majority",
        None,
        "all three",
        "What happens to the new leader, one drawn per election: `split` cuts it off from the other servers (clients still reach it), `crash` crashes it, `crash-majority` crashes it and enough other servers for a majority.",
    ),
    key(
        "nemesis.on_election",
        "chance",
        "probability",
        Some("1"),
        "",
        "The chance an election starts an episode.",
    ),
    key(
        "nemesis.on_election",
        "delay_max",
        "duration",
        Some("\"10ms\""),
        "",
        "Longest wait from the win to the episode (drawn uniformly, at least a nanosecond).",
    ),
    key(
        "nemesis.on_election",
        "duration",
        "duration",
        Some("\"300ms\""),
        "",
        "Mean length of an episode (drawn from half to one and a half times it); only episodes that end before `stop` happen.",
    ),
    key(
        "nemesis.on_election",
        "until_successor",
        "duration",
        None,
        "off",
        "End an episode this long after another server wins an election, if that comes before its `duration` is up: a leader cut off stays away just until the cluster has failed over, then returns to meet its successor's entries (the successor's own episode may cut it off in turn).",
    ),
    key(
        "nemesis",
        "swarm",
        "boolean or table",
        Some("false"),
        "",
        "Swarm mode (also `--swarm` on run, sweep, replay and shrink): each seed draws from its own stream which of `kinds` are on, their weights, `interval`, `duration`, `crash_max`, `split_groups_max`, `slow_factor`, `clock_jump_max`, `lanes`, `on_election`, and the network's latency, loss and duplication and the storage's torn writes, replacing those settings; `start` and `stop` stay. A `[nemesis.swarm]` table of bounds turns it on and narrows the draws. `orrery run --print-faults` prints what a seed drew as plain settings.",
    ),
    key(
        "nemesis.swarm",
        "interval_min",
        "duration",
        Some("\"10ms\""),
        "",
        "Shortest mean quiet time between episodes (drawn log-uniformly up to `interval_max`).",
    ),
    key(
        "nemesis.swarm",
        "interval_max",
        "duration",
        Some("\"2s\""),
        "",
        "Longest mean quiet time between episodes.",
    ),
    key(
        "nemesis.swarm",
        "duration_min",
        "duration, 1ms..",
        Some("\"5ms\""),
        "",
        "Shortest mean episode length, a flicker (drawn log-uniformly up to `duration_max`).",
    ),
    key(
        "nemesis.swarm",
        "duration_max",
        "duration",
        Some("\"2s\""),
        "",
        "Longest mean episode length, an outage.",
    ),
    key(
        "nemesis.swarm",
        "crash_max",
        "integer",
        Some("0"),
        "",
        "Most servers a seed lets one crash episode take down (drawn from 1); 0 means all of them.",
    ),
    key(
        "nemesis.swarm",
        "split_groups_max",
        "integer",
        Some("0"),
        "",
        "Most groups a seed lets a split make (drawn from 2); 0 means one per server.",
    ),
    key(
        "nemesis.swarm",
        "slow_factor_max",
        "integer, 2..",
        Some("100"),
        "",
        "Largest slowdown a seed draws (log-uniformly from 2).",
    ),
    key(
        "nemesis.swarm",
        "clock_jump_max",
        "duration, 1ms..",
        Some("\"2s\""),
        "",
        "Largest clock jump a seed draws (log-uniformly from 1ms).",
    ),
    key(
        "nemesis.swarm",
        "loss_max",
        "probability",
        Some("0.05"),
        "",
        "Highest message loss: off on half the seeds, else log-uniform from 0.01% up to this.",
    ),
    key(
        "nemesis.swarm",
        "duplicate_max",
        "probability",
        Some("0.05"),
        "",
        "Highest message duplication, drawn like loss.",
    ),
    key(
        "nemesis.swarm",
        "latency_min",
        "duration",
        Some("\"100us\""),
        "",
        "Lowest one-way latency: a seed's latency is uniform between two log-uniform draws from these bounds.",
    ),
    key("nemesis.swarm", "latency_max", "duration", Some("\"20ms\""), "", "Highest one-way latency."),
    key(
        "nemesis.swarm",
        "lanes_max",
        "integer, 1..16",
        Some("3"),
        "",
        "Most lanes of overlapping episodes a seed draws (uniformly from 1).",
    ),
    key(
        "nemesis.swarm",
        "on_election",
        "boolean",
        Some("true"),
        "",
        "Whether seeds may draw an `on_election` trigger (for a protocol with a leader): three in four do, each with one kind of its own, a chance (every election, or half), a delay of up to 5ms..50ms, episodes of 200ms..1s, and an `until_successor` of 1ms..100ms.",
    ),
    key(
        "nemesis.swarm",
        "torn_writes_max",
        "probability",
        Some("0.5"),
        "",
        "Highest chance a crash tears the last unsynced write, drawn like loss.",
    ),
    key(
        "storage",
        "torn_writes",
        "probability",
        Some("0.0"),
        "",
        "Chance a crash tears the last unsynced write instead of dropping it whole.",
    ),
    key(
        "limits",
        "events",
        "integer",
        Some("50000000"),
        "",
        "Most events one run may process; more ends it with a limit (never the expected violation).",
    ),
    key(
        "limits",
        "time",
        "duration",
        None,
        "workload duration + 2 × timeout + 5s",
        "Latest virtual time a run may reach.",
    ),
    key(
        "limits",
        "memory",
        "size: \"512MiB\", \"2GiB\"",
        Some("\"2GiB\""),
        "",
        "Most memory a run may need; a larger one is refused before it allocates, saying what to lower.",
    ),
    key("checks", "linearizable", "boolean", Some("true"), "", "Check the history for linearizability."),
    key(
        "checks",
        "model",
        "model name or \"none\"",
        None,
        "the protocol's own",
        "The model histories are checked against: register, cas-register, or none.",
    ),
    key(
        "checks",
        "availability",
        "{ success_min, p99_max, unavailable_max, recovery_max }",
        None,
        "not checked",
        "Availability thresholds: lowest fraction of operations that succeed, highest p99 latency of successes, longest window without a success, longest time from the last repair to the first success.",
    ),
];

/// One `[[faults]]` action: the key that names it and an example entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    /// The key, e.g. "crash".
    pub key: &'static str,
    /// A complete example entry's lines after `at`.
    pub example: &'static str,
    /// What it does.
    pub doc: &'static str,
}

/// Every fault a `[[faults]]` entry can name (exactly one per entry).
pub const ACTIONS: &[Action] = &[
    Action {
        key: "crash",
        example: "crash = \"n0\"",
        doc: "The server stops; its volatile state, timers and unsynced writes are lost.",
    },
    Action {
        key: "restart",
        example: "restart = \"n0\"",
        doc: "A crashed server starts again from its durable storage alone.",
    },
    Action {
        key: "pause",
        example: "pause = \"n1\"",
        doc: "The node freezes: messages and timers wait until it resumes.",
    },
    Action {
        key: "resume",
        example: "resume = \"n1\"",
        doc: "A paused node runs again, handling everything that waited.",
    },
    Action { key: "isolate", example: "isolate = \"n2\"", doc: "Cut the node off from everyone, both ways." },
    Action {
        key: "split",
        example: "split = [[\"n0\"], [\"n1\", \"n2\"]]",
        doc: "Nodes in different groups cannot talk; unlisted nodes talk to everyone.",
    },
    Action {
        key: "bridge",
        example: "bridge = { left = [\"n0\"], bridge = \"n1\", right = [\"n2\"] }",
        doc: "Jepsen's bridge: two sides that cannot talk, and one node that talks to both.",
    },
    Action {
        key: "one-way",
        example: "one-way = { from = [\"n0\"], to = [\"n1\", \"n2\"] }",
        doc: "Messages from `from` to `to` are lost; the other direction works.",
    },
    Action { key: "heal", example: "heal = true", doc: "Remove every cut and every slow link." },
    Action {
        key: "mend",
        example: "mend = { split = [[\"n0\"], [\"n1\", \"n2\"]] }",
        doc: "Undo one earlier partition, written as it was (`isolate`, `split`, `bridge` or `one-way`); links another partition still cuts stay cut. The nemesis ends each of its partitions this way, so overlapping episodes each end only themselves.",
    },
    Action {
        key: "slow",
        example: "slow = \"n1\"\nfactor = 10",
        doc: "Every link to and from the node becomes `factor` times slower (default 10): a gray failure.",
    },
    Action {
        key: "factor",
        example: "slow = \"n1\"\nfactor = 4",
        doc: "With `slow`: the slowdown; 1 gives the node its normal speed back (the nemesis ends a slow episode so).",
    },
    Action {
        key: "clock-jump",
        example: "clock-jump = \"n2\"\noffset = \"+2s\"",
        doc: "The node's clock jumps to `offset` from true time (\"-500ms\" is behind; \"0s\" puts it right).",
    },
    Action {
        key: "offset",
        example: "clock-jump = \"n2\"\noffset = \"-500ms\"",
        doc: "With `clock-jump`: the new offset.",
    },
];

/// How a fault names the leader instead of a server, after the actions table.
const LEADER_AIM: &str = "\nFor a protocol with a leader (its servers report `Node::leadership`; raft and \
primary-backup do), a fault may name `\"leader\"` instead of a server: `crash`, `pause`, `isolate`, `slow` \
and `clock-jump` hit the live server claiming the highest epoch when the fault applies (with none, the fault \
does nothing), and `restart`, `resume` and a zero `clock-jump` undo the earliest leader-aimed crash, pause \
or jump not yet undone. `split = [[\"leader\"]]` cuts the leader off from the other servers while clients \
still reach it. A run reports, and `--print-faults` prints, each such fault as the server it hit.\n";

/// The reference as Markdown.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Scenario file reference\n\n\
         A scenario is one TOML file. Unknown keys are errors (with a suggestion), and every error names \
         the file, line, column and field. Durations are written \"250ms\", \"1.5s\", \"2m\"; a latency is a \
         duration or a distribution table.\n\n\
         Generated by `orrery reference`; a test keeps it equal to what the parser accepts.\n",
    );
    let mut table = None;
    for k in KEYS {
        if table != Some(k.table) {
            table = Some(k.table);
            let title = match k.table {
                "" => "Top level".to_string(),
                "faults" => "`[[faults]]`".to_string(),
                t => format!("`[{t}]`"),
            };
            let _ = write!(out, "\n## {title}\n\n| key | type | default | meaning |\n|---|---|---|---|\n");
        }
        let default = k.default.map_or_else(|| k.default_note.to_string(), |d| format!("`{d}`"));
        let _ = writeln!(out, "| `{}` | {} | {default} | {} |", k.key, k.kind.replace('|', "\\|"), k.doc);
        if k.table == "faults" && k.key == "at" {
            let _ =
                writeln!(out, "\nThen exactly one action:\n\n| action | example | meaning |\n|---|---|---|");
            for a in ACTIONS {
                let _ = writeln!(out, "| `{}` | `{}` | {} |", a.key, a.example.replace('\n', "` `"), a.doc);
            }
            out.push_str(LEADER_AIM);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use serde::Deserialize;
    use serde::de::{self, Deserializer, Visitor};

    use super::*;
    use crate::scenario::*;

    /// The field names a derived `Deserialize` accepts, read by asking it to
    /// deserialize from a deserializer that only records them.
    fn fields<'de, T: Deserialize<'de>>() -> Vec<&'static str> {
        struct Recorder<'a>(&'a Cell<&'static [&'static str]>);
        #[derive(Debug)]
        struct Stop;
        impl std::fmt::Display for Stop {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("stop")
            }
        }
        impl std::error::Error for Stop {}
        impl de::Error for Stop {
            fn custom<M: std::fmt::Display>(_: M) -> Stop {
                Stop
            }
        }
        impl<'de> Deserializer<'de> for Recorder<'_> {
            type Error = Stop;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
                Err(Stop)
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Stop> {
                self.0.set(fields);
                Err(Stop)
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
                bytes byte_buf option unit unit_struct newtype_struct seq tuple
                tuple_struct map enum identifier ignored_any
            }
        }
        let cell = Cell::new(&[][..]);
        let _ = T::deserialize(Recorder(&cell));
        cell.get().to_vec()
    }

    fn documented(table: &str) -> Vec<&'static str> {
        KEYS.iter().filter(|k| k.table == table).map(|k| k.key).collect()
    }

    #[test]
    fn every_field_the_parser_accepts_is_documented() {
        let tables: [(&str, Vec<&str>); 9] = [
            ("", fields::<Scenario>()),
            ("cluster", fields::<ClusterSpec>()),
            ("network", fields::<NetworkSpec>()),
            ("nemesis", fields::<NemesisSpec>()),
            ("nemesis.swarm", fields::<sim_core::SwarmBounds>()),
            ("storage", fields::<StorageSpec>()),
            ("limits", fields::<LimitsSpec>()),
            ("checks", fields::<ChecksSpec>()),
            ("faults", vec!["at"]),
        ];
        let sections = [
            "protocol", "cluster", "network", "workload", "faults", "nemesis", "storage", "limits", "checks",
        ];
        for (table, accepted) in tables {
            assert!(!accepted.is_empty(), "table={table:?}: no fields read");
            for field in accepted {
                if table.is_empty() && sections.contains(&field) {
                    continue;
                }
                assert!(
                    documented(table).contains(&field),
                    "table={table:?} field={field} is not in the reference"
                );
            }
        }
        let actions: Vec<&str> = fields::<FaultSpec>().into_iter().filter(|f| *f != "at").collect();
        let listed: Vec<&str> = ACTIONS.iter().map(|a| a.key).collect();
        assert_eq!(listed, actions, "fault actions and FaultSpec fields differ");
    }

    const MINIMAL: &str = "name = \"x\"\nexpect = \"pass\"\n[protocol]\nname = \"register\"\n";

    fn parse(text: &str) -> Scenario {
        Scenario::parse(text, Path::new("ref.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn every_stated_default_is_the_parsers_default() {
        for k in KEYS {
            let Some(default) = k.default else { continue };
            let (base, with) = match k.table {
                "" => (MINIMAL.to_string(), format!("{} = {default}\n{MINIMAL}", k.key)),
                "nemesis" => {
                    let base = format!("{MINIMAL}[nemesis]\nkinds = [\"crash\"]\n");
                    (base.clone(), format!("{base}{} = {default}\n", k.key))
                }
                "nemesis.swarm" => {
                    let base = format!("{MINIMAL}[nemesis.swarm]\n");
                    (base.clone(), format!("{base}{} = {default}\n", k.key))
                }
                "nemesis.on_election" => {
                    let base = format!("{MINIMAL}[nemesis]\nkinds = [\"crash\"]\n[nemesis.on_election]\n");
                    (base.clone(), format!("{base}{} = {default}\n", k.key))
                }
                table => (MINIMAL.to_string(), format!("{MINIMAL}[{table}]\n{} = {default}\n", k.key)),
            };
            assert_eq!(
                format!("{:?}", parse(&base)),
                format!("{:?}", parse(&with)),
                "key={}.{} default={default} is not the parser's default",
                k.table,
                k.key
            );
        }
    }

    #[test]
    fn every_action_example_parses_to_one_fault() {
        for a in ACTIONS {
            let text = format!("{MINIMAL}[[faults]]\nat = \"1s\"\n{}\n", a.example);
            assert_eq!(parse(&text).schedule().len(), 1, "action={}", a.key);
        }
    }

    #[test]
    fn the_markdown_lists_every_key() {
        let text = markdown();
        for k in KEYS {
            assert!(text.contains(&format!("`{}`", k.key)), "key={}", k.key);
        }
    }
}
