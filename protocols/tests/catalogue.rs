//! Every protocol's catalogue entry agrees with its configuration: each
//! planted bug listed for `orrery list` is a name a scenario file can use,
//! and the defaults round-trip through TOML.

use protocols::Catalogued;

fn bugs_parse<P: Catalogued>() {
    for (bug, _) in P::BUGS {
        let text = format!("bugs = [\"{bug}\"]");
        let parsed: Result<P, _> = toml::from_str(&text);
        assert!(parsed.is_ok(), "{}: bug {bug:?} from BUGS does not parse: {:?}", P::NAME, parsed.err());
    }
    let defaults = toml::to_string(&P::default()).expect("defaults serialise");
    let back: P =
        toml::from_str(&defaults).unwrap_or_else(|e| panic!("{}: defaults do not parse back: {e}", P::NAME));
    assert_eq!(toml::to_string(&back).unwrap(), defaults, "{}", P::NAME);
}

#[test]
fn catalogued_bugs_are_valid_parameters() {
    bugs_parse::<protocols::register::Register>();
    bugs_parse::<protocols::abd::Abd>();
    bugs_parse::<protocols::primary_backup::PrimaryBackup>();
    bugs_parse::<protocols::raft::Raft>();
    bugs_parse::<protocols::load_balancer::LoadBalancer>();
    bugs_parse::<protocols::commit::TwoPc>();
    bugs_parse::<protocols::commit::PaxosCommit>();
}
