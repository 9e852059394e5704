//! Protocol implementations for Orrery, each with its client, model and invariants.
//!
//! Every protocol is a [`sim_core::Protocol`] whose settings deserialize from
//! a scenario file's `[protocol]` table, and a [`Catalogued`] entry that tells
//! the harness its name, its planted bugs, its workload and the model its
//! histories are checked against. They use the harness exactly as a
//! protocol in another crate would: `orrery::Registry::builtin()` lists them.

pub mod abd;
pub mod commit;
pub mod load_balancer;
pub mod log;
pub mod primary_backup;
pub mod raft;
pub mod register;
pub mod saga;

pub use sim_core::{Catalogued, Judgement};

impl Catalogued for register::Register {
    const NAME: &'static str = "register";
    const SUMMARY: &'static str = "a single-node register store: the smallest complete protocol";
    type Bug = register::RegisterBug;
    type Workload = sim_core::RegisterWorkload;
    const PROBES: &'static [(&'static str, &'static str)] = register::probe::ALL;

    /// One server holds every register; more would sit idle and mislead.
    fn validate(&self, setup: &sim_core::Setup) -> Result<(), sim_core::Invalid> {
        if setup.servers == 1 {
            Ok(())
        } else {
            Err(sim_core::Invalid::new(
                "cluster.servers",
                format!("register is a single-server protocol: set servers = 1, not {}", setup.servers),
            ))
        }
    }
}
