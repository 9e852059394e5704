//! Faults aimed at the leader: each hits the server that leads when it
//! applies, its undoing fault finds the same server, a run reports the
//! server it hit, and that report replays hash-exact as a plain schedule;
//! the same for episodes an election starts.

use protocols::raft::{Raft, Role};
use sim_core::{
    Cut, Duration, ElectionKind, Fault, FaultSchedule, Nemesis, NemesisKind, NodeId, OnElection, Pacing,
    Probability, RegisterWorkload, RunReport, Seed, Sim, Time,
};

fn ms(n: u64) -> Time {
    Time::from_nanos(n * 1_000_000)
}

fn sim(seed: u64, schedule: FaultSchedule, nemesis: Option<Nemesis>) -> Sim<Raft> {
    let pacing = Pacing { duration: Duration::from_secs(3), ..Pacing::default() };
    let mut builder = Sim::builder(Raft::default(), Seed(seed))
        .servers(3)
        .clients(2, RegisterWorkload::default())
        .pacing(pacing)
        .faults(schedule);
    if let Some(nemesis) = nemesis {
        builder = builder.nemesis(nemesis);
    }
    builder.build().expect("the scenario builds")
}

/// The server that leads at the end of `sim`'s run so far, by Raft's own state.
fn leader_now(sim: &Sim<Raft>) -> Option<NodeId> {
    sim.cluster()
        .servers()
        .iter()
        .copied()
        .filter_map(|n| sim.server(n).filter(|s| s.role() == Role::Leader).map(|s| (s.term(), n)))
        .max_by_key(|&(term, n)| (term, std::cmp::Reverse(n)))
        .map(|(_, n)| n)
}

#[test]
fn a_crash_aimed_at_the_leader_hits_the_leader_and_its_restart_brings_it_back() {
    let leader = NodeId::LEADER;
    let schedule = FaultSchedule::new()
        .at(ms(1000), Fault::Crash { node: leader })
        .at(ms(1500), Fault::Restart { node: leader });
    for seed in 0..20 {
        let mut sim = sim(seed, schedule.clone(), None);
        sim.run_until(Time::from_nanos(999_999_999));
        let expected = leader_now(&sim).expect("someone leads after a quiet second");
        sim.run_until(ms(1000));
        assert!(sim.server(expected).is_none(), "seed={seed}: {expected} is down");
        let report = sim.run();
        let ran: Vec<&Fault> = report.schedule.entries().iter().map(|e| &e.fault).collect();
        assert_eq!(
            ran,
            [&Fault::Crash { node: expected }, &Fault::Restart { node: expected }],
            "seed={seed}: the report names the server hit"
        );
        assert!(report.end.is_normal(), "seed={seed}: {}", report.end);
    }
}

#[test]
fn a_split_of_the_leader_puts_the_other_servers_on_the_far_side() {
    let cut = Cut::Split { groups: vec![vec![NodeId::LEADER]] };
    let schedule = FaultSchedule::new().at(ms(1000), Fault::Partition { cut }).at(ms(1400), Fault::Heal);
    let mut sim = sim(3, schedule, None);
    sim.run_until(ms(999));
    let expected = leader_now(&sim).expect("someone leads");
    let report = sim.run();
    let others: Vec<NodeId> = (0..3).map(NodeId).filter(|&n| n != expected).collect();
    assert_eq!(
        report.schedule.entries()[0].fault,
        Fault::Partition { cut: Cut::Split { groups: vec![vec![expected], others] } }
    );
}

#[test]
fn a_fault_aimed_at_the_leader_when_nobody_leads_does_nothing() {
    let at_start = FaultSchedule::new()
        .at(Time::ZERO, Fault::Crash { node: NodeId::LEADER })
        .at(ms(200), Fault::Restart { node: NodeId::LEADER });
    let aimed = sim(5, at_start.clone(), None).run();
    let plain = sim(5, FaultSchedule::new(), None).run();
    assert_eq!(aimed.schedule, at_start, "still aimed: it hit nobody");
    assert_eq!(aimed.trace_hash, plain.trace_hash, "and changed nothing");
}

fn replay(seed: u64, report: &RunReport) -> RunReport {
    let applied = &report.schedule.entries()[..report.faults_applied];
    let mut schedule = FaultSchedule::new();
    for entry in applied {
        schedule.push(entry.at, entry.fault.clone());
    }
    sim(seed, schedule, None).run()
}

#[test]
fn a_leader_aimed_nemesis_run_replays_exactly_from_the_servers_it_hit() {
    let kinds = vec![NemesisKind::LeaderCrash, NemesisKind::LeaderSplit, NemesisKind::LeaderPause];
    let nemesis = Nemesis::new(kinds, Duration::from_millis(200), Duration::from_millis(300), ms(2500));
    let mut hit = 0;
    for seed in 0..40 {
        let report = sim(seed, FaultSchedule::new(), Some(nemesis.clone())).run();
        let applied = &report.schedule.entries()[..report.faults_applied];
        hit += applied.iter().filter(|e| !e.fault.aims_at_leader()).count();
        let again = replay(seed, &report);
        assert_eq!(again.trace_hash, report.trace_hash, "seed={seed}: the plain schedule is the same run");
        assert_eq!(again.history, report.history, "seed={seed}");
    }
    assert!(hit > 100, "most leader-aimed faults find a leader: {hit}");
}

fn on_election(kinds: Vec<ElectionKind>) -> Nemesis {
    let mut nemesis = Nemesis::new(Vec::new(), Duration::from_secs(1), Duration::from_secs(1), ms(2500));
    nemesis.on_election = Some(OnElection {
        kinds,
        chance: Probability::ALWAYS,
        delay_max: Duration::from_millis(10),
        duration: Duration::from_millis(400),
        until_successor: None,
    });
    nemesis
}

#[test]
fn an_election_starts_an_episode_aimed_at_the_winner_within_the_delay() {
    for seed in 0..20 {
        let mut sim = sim(seed, FaultSchedule::new(), Some(on_election(vec![ElectionKind::Crash])));
        let mut first = None;
        while sim.step() {
            if first.is_none()
                && let Some(leader) = leader_now(&sim)
            {
                first = Some((sim.now(), leader));
            }
            if sim.now() > ms(1000) {
                break;
            }
        }
        let (won, leader) = first.expect("an election within a second");
        let report = sim.run();
        let crash = &report.schedule.entries()[0];
        assert_eq!(crash.fault, Fault::Crash { node: leader }, "seed={seed}: the winner crashes");
        assert!(crash.at > won && crash.at <= won + Duration::from_millis(10), "seed={seed}: {crash:?}");
        assert!(report.faults_applied >= 2 && report.end.is_normal(), "seed={seed}");
    }
}

#[test]
fn an_episode_until_a_successor_ends_that_long_after_another_server_wins() {
    let mut nemesis = on_election(vec![ElectionKind::Split]);
    let trigger = nemesis.on_election.as_mut().expect("a trigger");
    trigger.duration = Duration::from_secs(2);
    trigger.until_successor = Some(Duration::from_millis(5));
    let mut checked = 0;
    for seed in 0..20 {
        let mut sim = sim(seed, FaultSchedule::new(), Some(nemesis.clone()));
        let mut wins: Vec<(Time, NodeId)> = Vec::new();
        while sim.step() {
            if let Some(leader) = leader_now(&sim)
                && wins.last().is_none_or(|&(_, last)| last != leader)
            {
                wins.push((sim.now(), leader));
            }
        }
        let report = sim.run();
        let entries = report.schedule.entries();
        let Some(Fault::Partition { cut }) = entries.first().map(|e| &e.fault) else { continue };
        let Cut::Split { groups } = cut else { panic!("seed={seed}: {cut:?}") };
        let hit = groups[0][0];
        let mend = entries.iter().find(|e| e.fault == Fault::Mend { cut: cut.clone() });
        let mend = mend.unwrap_or_else(|| panic!("seed={seed}: the split ends: {entries:?}"));
        let successor = wins.iter().find(|&&(at, n)| at > entries[0].at && n != hit);
        let &(won, _) = successor.unwrap_or_else(|| panic!("seed={seed}: the others elect a successor"));
        assert_eq!(mend.at, won + Duration::from_millis(5), "seed={seed}: 5ms after the successor's win");
        assert!(mend.at - entries[0].at < Duration::from_secs(1), "seed={seed}: before its duration");
        checked += 1;
    }
    assert!(checked >= 10, "most seeds split a leader: {checked}");
}

#[test]
fn an_election_triggered_run_replays_exactly_as_the_plain_schedule_it_reports() {
    let plain = on_election(ElectionKind::ALL.to_vec());
    let mut until = plain.clone();
    until.on_election.as_mut().expect("a trigger").until_successor = Some(Duration::from_millis(3));
    let mut triggered = 0;
    for seed in 0..40 {
        let nemesis = if seed % 2 == 0 { &plain } else { &until };
        let report = sim(seed, FaultSchedule::new(), Some(nemesis.clone())).run();
        triggered += report.faults_applied;
        let again = replay(seed, &report);
        assert_eq!(again.trace_hash, report.trace_hash, "seed={seed}");
        assert_eq!(again.history, report.history, "seed={seed}");
    }
    assert!(triggered > 100, "elections start episodes: {triggered}");
}
