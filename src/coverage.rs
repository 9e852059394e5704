//! Probe coverage across seeds: which rare paths a sweep reached, how often,
//! and which declared paths no seed reached.
//!
//! A protocol declares its probes in [`Catalogued::PROBES`](crate::Catalogued::PROBES)
//! and marks them with `ctx.probe(name)`; each [`SeedOutcome`] carries the
//! probes its run reached. A sweep's header carries the declared list, so a
//! merge of shard files can name the unreached probes without the protocol.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::SeedOutcome;

/// A probe a protocol declares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    /// The name its code passes to `ctx.probe`.
    pub name: String,
    /// What reaching it means, for people.
    pub meaning: String,
}

/// The declared list as a sweep header keeps it, in declaration order.
pub fn declared(probes: &[(&str, &str)]) -> Vec<Declared> {
    probes.iter().map(|&(name, meaning)| Declared { name: name.into(), meaning: meaning.into() }).collect()
}

/// One probe's line in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach<'a> {
    /// The probe.
    pub name: &'a str,
    /// Hits over all seeds.
    pub times: u64,
    /// Seeds that reached it at least once.
    pub seeds: usize,
    /// The lowest seed that reached it: the one to replay.
    pub first_seed: u64,
    /// Whether the protocol declares it.
    pub declared: bool,
}

/// What a set of seeds reached: declared probes first, in declaration
/// order, then any undeclared ones by name; and the declared probes no seed reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coverage<'a> {
    /// Every probe some seed reached.
    pub reached: Vec<Reach<'a>>,
    /// Declared probes no seed reached.
    pub unreached: Vec<&'a Declared>,
}

impl<'a> Coverage<'a> {
    /// Tallies `outcomes` against the `declared` probes.
    pub fn of(declared: &'a [Declared], outcomes: &'a [SeedOutcome]) -> Coverage<'a> {
        let mut tally: BTreeMap<&str, (u64, usize, u64)> = BTreeMap::new();
        for outcome in outcomes {
            for (name, &times) in &outcome.probes {
                let entry = tally.entry(name).or_insert((0, 0, outcome.seed));
                entry.0 += times;
                entry.1 += 1;
                entry.2 = entry.2.min(outcome.seed);
            }
        }
        let reach = |name: &'a str, declared: bool| {
            tally.get(name).map(|&(times, seeds, first_seed)| Reach {
                name,
                times,
                seeds,
                first_seed,
                declared,
            })
        };
        let mut reached: Vec<Reach<'a>> = declared.iter().filter_map(|d| reach(&d.name, true)).collect();
        let undeclared = tally.keys().filter(|name| !declared.iter().any(|d| d.name == **name));
        reached.extend(undeclared.filter_map(|name| reach(name, false)));
        let unreached = declared.iter().filter(|d| !tally.contains_key(d.name.as_str())).collect();
        Coverage { reached, unreached }
    }

    /// The probes reached that the protocol does not declare: a probe
    /// misspelt in the code, or one left out of `PROBES`.
    pub fn undeclared(&self) -> Vec<&'a str> {
        self.reached.iter().filter(|r| !r.declared).map(|r| r.name).collect()
    }

    /// The table's probe lines, in the fault table's style.
    pub fn write(&self, out: &mut String) {
        let width =
            self.reached.iter().map(|r| r.name.len()).chain(self.unreached.iter().map(|d| d.name.len()));
        let width = width.max().unwrap_or(0).max(22);
        if self.reached.is_empty() && self.unreached.is_empty() {
            let _ = writeln!(out, "probes     none declared");
            return;
        }
        if self.reached.is_empty() {
            let _ = writeln!(out, "probes     none reached");
        } else {
            let _ = writeln!(out, "probes     {:<width$} {:>8} {:>8}  first seed", "name", "times", "seeds");
        }
        for r in &self.reached {
            let mark = if r.declared { "" } else { "  UNDECLARED" };
            let _ = writeln!(
                out,
                "           {:<width$} {:>8} {:>8}  {}{mark}",
                r.name, r.times, r.seeds, r.first_seed
            );
        }
        for (i, d) in self.unreached.iter().enumerate() {
            let label = if i == 0 { "unreached" } else { "" };
            let _ = writeln!(out, "{label:<10} {:<width$} {}", d.name, d.meaning);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;
    use sim_core::Time;

    fn outcome(seed: u64, probes: &[(&str, u64)]) -> SeedOutcome {
        let mut o = SeedOutcome::errored(seed, &std::fmt::Error);
        o.status = Status::Pass;
        o.probes = probes.iter().map(|&(n, c)| (n.to_string(), c)).collect();
        o.time = Time::ZERO;
        o
    }

    #[test]
    fn counts_seeds_lists_unreached_and_flags_undeclared() {
        let declared =
            declared(&[("steps-down", "a leader stepped down"), ("restart-vote", "voted after a restart")]);
        let outcomes = [
            outcome(4, &[("steps-down", 3)]),
            outcome(2, &[("steps-down", 1), ("typo", 1)]),
            outcome(9, &[]),
        ];
        let coverage = Coverage::of(&declared, &outcomes);
        assert_eq!(
            coverage.reached,
            [
                Reach { name: "steps-down", times: 4, seeds: 2, first_seed: 2, declared: true },
                Reach { name: "typo", times: 1, seeds: 1, first_seed: 2, declared: false },
            ]
        );
        assert_eq!(coverage.unreached, [&declared[1]]);
        assert_eq!(coverage.undeclared(), ["typo"]);
        let mut out = String::new();
        coverage.write(&mut out);
        let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
        assert_eq!(
            lines,
            [
                "probes     name                      times    seeds  first seed",
                "           steps-down                    4        2  2",
                "           typo                          1        1  2  UNDECLARED",
                "unreached  restart-vote           voted after a restart",
            ]
        );
    }

    #[test]
    fn says_when_nothing_is_declared_or_reached() {
        let mut out = String::new();
        Coverage::of(&[], &[outcome(0, &[])]).write(&mut out);
        assert_eq!(out, "probes     none declared\n");
        let declared = declared(&[("p", "a rare path")]);
        let mut out = String::new();
        Coverage::of(&declared, &[outcome(0, &[])]).write(&mut out);
        assert_eq!(out.lines().next(), Some("probes     none reached"));
        assert!(out.contains("unreached  p"));
    }
}
