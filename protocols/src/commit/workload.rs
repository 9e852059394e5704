//! The bank workload: transfers between accounts, and reads of every balance.

use serde::{Deserialize, Serialize};
use sim_core::{Op, Probability, SimRng, Value, Workload};

/// Transfers and whole-bank reads, Jepsen's bank test.
///
/// `transfer` ops carry `[from, to, amount]`; `read-all` ops carry
/// `[accounts, initial_balance]` and complete with every balance in account
/// order, which must sum to `accounts * initial_balance`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BankWorkload {
    /// How many accounts (`0..accounts`).
    pub accounts: u64,
    /// Every account's balance at the start.
    pub initial_balance: i64,
    /// Transfers move `1..=amount_max`.
    pub amount_max: i64,
    /// Chance that an operation is a `read-all`.
    pub read_ratio: Probability,
}

impl Default for BankWorkload {
    fn default() -> BankWorkload {
        BankWorkload {
            accounts: 8,
            initial_balance: 100,
            amount_max: 5,
            read_ratio: Probability::ratio(1, 5),
        }
    }
}

impl BankWorkload {
    /// Checks the parameters; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if !(2..=10_000).contains(&self.accounts) {
            return Err("`accounts` must be between 2 and 10000".into());
        }
        if !(1..=1_000_000_000).contains(&self.amount_max) {
            return Err("`amount_max` must be between 1 and 1000000000".into());
        }
        if !(0..=1_000_000_000_000).contains(&self.initial_balance) {
            return Err("`initial_balance` must be between 0 and 1000000000000".into());
        }
        Ok(())
    }

    /// The money in the bank.
    pub fn total(&self) -> i64 {
        self.accounts as i64 * self.initial_balance
    }
}

impl Workload for BankWorkload {
    fn next_op(&mut self, _client: usize, rng: &mut SimRng) -> Option<Op> {
        if rng.chance(self.read_ratio) {
            return Some(Op::new("read-all", vec![self.accounts as i64, self.initial_balance]));
        }
        let from = rng.below(self.accounts);
        let to = (from + 1 + rng.below(self.accounts - 1)) % self.accounts;
        let amount = rng.between(1, self.amount_max as u64) as i64;
        Some(Op::new("transfer", Value::List(vec![(from as i64).into(), (to as i64).into(), amount.into()])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::{Seed, Stream};

    #[test]
    fn transfers_move_between_distinct_accounts() {
        let mut workload = BankWorkload::default();
        let mut rng = SimRng::new(Seed(3), Stream::Workload);
        let ops: Vec<Op> = (0..500).map(|_| workload.next_op(0, &mut rng).unwrap()).collect();
        let reads = ops.iter().filter(|op| op.f == "read-all").count();
        assert!((50..150).contains(&reads), "reads={reads}");
        for op in ops.iter().filter(|op| op.f == "transfer") {
            let v: Vec<i64> = op.value.as_list().unwrap().iter().map(|v| v.as_int().unwrap()).collect();
            assert_ne!(v[0], v[1]);
            assert!((1..=5).contains(&v[2]));
        }
    }
}
