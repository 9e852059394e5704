//! What saga orchestrators, shards and clients say to each other, and the
//! timers they set.

use serde::{Deserialize, Serialize};

use crate::commit::{Reads, TxnId};

/// A saga's name: the client that began it and that client's counter (the
/// same naming as a commit transaction).
pub type SagaId = TxnId;

/// One local step of a transfer saga; with the saga's id it is the step's
/// request id, which makes the step and its compensation idempotent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Take the amount from the paying account (refused if it would overdraw).
    Debit,
    /// Add the amount to the receiving account (never refused).
    Credit,
}

/// A transfer: `amount` from account `from` to account `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transfer {
    /// The debited account.
    pub from: u64,
    /// The credited account.
    pub to: u64,
    /// How much moves.
    pub amount: i64,
}

impl Transfer {
    /// The account `step` touches and the balance change it makes.
    pub fn change(&self, step: Step) -> (u64, i64) {
        match step {
            Step::Debit => (self.from, -self.amount),
            Step::Credit => (self.to, self.amount),
        }
    }
}

/// Where a step stands at its shard, which answers every request with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// Done: the balance changed.
    Applied,
    /// Refused (a debit that would overdraw); nothing changed, nothing to undo.
    Refused,
    /// Done, then compensated: the change was reversed.
    Undone,
    /// Compensated before it was ever done: a late request for it is refused,
    /// so a delayed `Do` cannot apply a step already given up.
    Cancelled,
}

impl StepState {
    /// Whether the step's change is in the balance now.
    pub fn is_applied(self) -> bool {
        self == StepState::Applied
    }
}

/// How a saga ended, as its orchestrator tells the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// Both steps applied: the money moved.
    Completed,
    /// Every applied step was compensated: the money did not move.
    Compensated,
    /// The debit was refused (it would overdraw): nothing happened.
    Refused,
}

/// Messages between clients, orchestrators and shards.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// Client to orchestrator: run this transfer (resent until answered).
    Begin {
        /// The saga.
        saga: SagaId,
        /// What it moves.
        transfer: Transfer,
    },
    /// Orchestrator to client: the saga ended.
    Reply {
        /// The saga.
        saga: SagaId,
        /// How.
        ending: Ending,
    },
    /// Orchestrator to shard: do this step (resent until answered).
    Do {
        /// The saga.
        saga: SagaId,
        /// Which step.
        step: Step,
        /// The account it changes.
        account: u64,
        /// The change.
        delta: i64,
    },
    /// Orchestrator to shard: compensate this step (resent until answered).
    Undo {
        /// The saga.
        saga: SagaId,
        /// Which step.
        step: Step,
        /// The account it changed.
        account: u64,
        /// The change to reverse.
        delta: i64,
    },
    /// Shard to orchestrator: where the step stands, after a `Do` or `Undo`.
    Stepped {
        /// The saga.
        saga: SagaId,
        /// Which step.
        step: Step,
        /// Its state, durable at the shard.
        state: StepState,
    },
    /// Client to shard: the balances of these accounts (no locks, no saga).
    Read {
        /// The client's read counter.
        read: u64,
        /// Which accounts.
        accounts: Vec<u64>,
    },
    /// Shard to client: balance changes since the start.
    Balances {
        /// The client's read counter.
        read: u64,
        /// As (account, change).
        balances: Reads,
    },
}

/// What a timer brings back.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// A server's periodic look at unfinished work (resends, deadlines).
    Tick,
    /// A client resends its `Begin`.
    Resend {
        /// The saga.
        saga: SagaId,
    },
    /// A client resends its `Read` to the shards that have not answered.
    Reread {
        /// The read.
        read: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_debits_one_account_and_credits_the_other() {
        let transfer = Transfer { from: 3, to: 5, amount: 7 };
        assert_eq!(transfer.change(Step::Debit), (3, -7));
        assert_eq!(transfer.change(Step::Credit), (5, 7));
    }

    #[test]
    fn only_an_applied_step_is_in_the_balance() {
        assert!(StepState::Applied.is_applied());
        for state in [StepState::Refused, StepState::Undone, StepState::Cancelled] {
            assert!(!state.is_applied(), "{state:?}");
        }
    }
}
