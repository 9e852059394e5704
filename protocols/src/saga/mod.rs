//! Sagas: a bank transfer as two local steps, each with its compensation,
//! run by an orchestrator that never blocks on anyone — and whose half-done
//! transfers other clients can see.
//!
//! # Layout
//!
//! The same sharded bank as [`crate::commit`]: the first `orchestrators`
//! servers (default 3: n0, n1, n2) orchestrate, the rest are shards (account
//! `a` lives on shard `a % shards`), balances are changes since the start.
//! Clients send each transfer to one orchestrator, n0 at first, and move to
//! the next after a timeout. A `read-all` asks every shard directly: there
//! are no locks, so it needs no orchestrator, and sees whatever is there.
//!
//! # The saga
//!
//! 1. `Begin`: the orchestrator logs the saga (phase *debiting*), *syncs*,
//!    and asks the paying shard to `Do` the debit.
//! 2. The shard applies the debit unless it would overdraw, logs the step
//!    under its request id `(saga, debit)` with the new balance, *syncs*,
//!    and reports it. Refused: the saga ends *refused* — nothing to undo.
//! 3. Applied: the orchestrator logs *crediting*, syncs, asks for the credit;
//!    once it is applied it logs *completed*, syncs, and answers the client.
//! 4. A saga not ended `deadline` after it began compensates instead: it logs
//!    the steps it may have applied, last first, and sends `Undo` for each in
//!    turn. A shard reverses an applied step once; a step it never saw it
//!    records as *cancelled*, so the `Do` still in flight is refused. When
//!    every step is undone the saga ends *compensated*.
//!
//! Every request is resent each `tick` until answered, and a shard answers a
//! request it has seen with the step's recorded state: retries and network
//! duplicates are harmless. A restarted orchestrator reloads its log and
//! resumes each running saga where it stood — or compensates it, if its
//! deadline passed meanwhile. It never forgets one. The client reports `ok`
//! for *completed*, `fail` for *compensated* and *refused* (the money
//! certainly did not move), and `info` when it gave up waiting.
//!
//! Nothing blocks: an orchestrator that is down stalls only its own sagas,
//! and clients go on through another. The price is isolation: between the
//! debit and the credit (or its compensation) the money is nowhere, and a
//! `read-all` that looks then sums to less than the bank's total (or to
//! more: it asks the shards one by one, so it may see a credit and miss
//! its debit).
//!
//! # Checks (judged at the end of a run, see [`checks`])
//!
//! * **saga-outcome**: every saga an orchestrator ended agrees with its
//!   steps (completed: both applied; compensated or refused: neither); no
//!   step is applied for a saga its orchestrator has no record of; and a
//!   second after the last repair nothing is still running (the run drains).
//! * **conservation**: the final balances sum to the opening total.
//! * **isolation**: the fraction of `read-all`s that saw a transfer half
//!   done — measured and reported, never a failure: it is what sagas cost.
//!
//! # Planted bugs ([`SagaBug`])
//!
//! `non-idempotent-compensation`: a shard reverses a step again at each
//! retried `Undo` — money appears (conservation fires).
//! `forget-progress`: the orchestrator keeps its sagas in memory only; a
//! restart leaves debits that are never credited nor refunded (saga-outcome
//! fires, and conservation with it).

pub mod checks;
mod client;
mod message;
mod orchestrator;
pub mod probe;
mod server;
mod shard;

use serde::{Deserialize, Serialize};
use sim_core::{Cluster, ClusterView, Duration, NodeId, Protocol, RunReport};

pub use client::SagaClient;
pub use message::{Ending, Msg, SagaId, Step, StepState, Timer, Transfer};
pub use orchestrator::{Orchestrator, Phase, SagaRecord};
pub use server::Server;
pub use shard::{Shard, StepRecord};

use sim_core::{Catalogued, Judgement, ModelKind};

sim_core::planted_bugs! {
    /// A planted bug: a named deviation from the protocol, off by default.
    pub enum SagaBug {
        /// A shard reverses an already compensated step again when the `Undo` is retried.
        NonIdempotentCompensation = "non-idempotent-compensation": "a retried compensation refunds again: money appears or vanishes (conservation)",
        /// The orchestrator does not log its sagas: a restart forgets them mid-way.
        ForgetProgress = "forget-progress": "the orchestrator logs nothing: a restart leaves debits never credited nor refunded (saga-outcome)",
    }
}

/// The saga bank, as a scenario's `[protocol]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Saga {
    /// How many servers (the first ones) orchestrate; the rest are shards.
    pub orchestrators: usize,
    /// Every account's balance at the start; a debit may not go below zero.
    /// It must equal the workload's `initial_balance` (conservation checks).
    pub opening_balance: i64,
    /// Period of the orchestrators' resends and deadline checks.
    pub tick: Duration,
    /// How long after it began a saga that has not ended starts compensating.
    pub deadline: Duration,
    /// How long a client waits before resending its request.
    pub client_resend: Duration,
    /// Planted bugs to switch on.
    pub bugs: Vec<SagaBug>,
}

impl Default for Saga {
    fn default() -> Saga {
        Saga {
            orchestrators: 3,
            opening_balance: 100,
            tick: Duration::from_millis(50),
            deadline: Duration::from_millis(250),
            client_resend: Duration::from_millis(100),
            bugs: Vec::new(),
        }
    }
}

impl Saga {
    /// Whether planted bug `bug` is switched on.
    pub fn has(&self, bug: SagaBug) -> bool {
        self.bugs.contains(&bug)
    }

    /// The same settings with `bug` switched on.
    pub fn with_bug(mut self, bug: SagaBug) -> Saga {
        self.bugs.push(bug);
        self
    }
}

impl Protocol for Saga {
    type Msg = Msg;
    type Timer = Timer;
    type Server = Server;
    type Client = SagaClient;

    fn server(&self, _id: NodeId, cluster: &Cluster) -> Server {
        Server::new(self.clone(), cluster)
    }

    fn client(&self, _id: NodeId, cluster: &Cluster) -> SagaClient {
        SagaClient::new(self, cluster)
    }
}

impl Catalogued for Saga {
    const NAME: &'static str = "saga";
    const SUMMARY: &'static str = "bank transfers as sagas (debit, credit, compensations): never blocks, but reads see half-done transfers";
    type Bug = SagaBug;
    type Workload = crate::commit::BankWorkload;
    const MODEL: Option<ModelKind> = None;
    const PROBES: &'static [(&'static str, &'static str)] = probe::ALL;

    fn validate(&self, setup: &sim_core::Setup) -> Result<(), sim_core::Invalid> {
        use sim_core::Invalid;
        Invalid::periods(&[
            ("tick", self.tick),
            ("deadline", self.deadline),
            ("client_resend", self.client_resend),
        ])?;
        if !(0..=1_000_000_000_000).contains(&self.opening_balance) {
            return Err(Invalid::new(
                "protocol.opening_balance",
                "`opening_balance` must be between 0 and 1000000000000",
            ));
        }
        if self.orchestrators == 0 || self.orchestrators >= setup.servers {
            return Err(Invalid::new(
                "protocol.orchestrators",
                format!(
                    "{} orchestrators among {} servers leaves no shard or no orchestrator",
                    self.orchestrators, setup.servers
                ),
            ));
        }
        Ok(())
    }

    fn judge(&self, report: &RunReport, servers: &ClusterView<'_, Self>) -> Vec<Judgement> {
        checks::judge(self, report, servers)
    }
}
