//! A Paxos Commit acceptor: one consensus instance per (transaction,
//! participant), with one promise per transaction covering all its instances.
//!
//! It accepts a value at ballot `b` only if it has promised nothing above
//! `b`, and it logs and syncs every promise and acceptance before replying,
//! so a restarted acceptor never contradicts what it said.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_core::{Context, NodeId};

use super::Variant;
use super::message::{Msg, TxnId, Vote};

/// What an acceptor has promised and accepted for one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    txn: Option<TxnId>,
    promised: u64,
    accepted: Vec<(NodeId, u64, Vote)>,
}

/// An acceptor's state.
#[derive(Clone, Debug, Default)]
pub struct Acceptor {
    records: BTreeMap<TxnId, Record>,
}

impl Acceptor {
    /// Rebuilds an acceptor from its storage.
    pub fn recover<V: Variant>(ctx: &mut Context<'_, V>) -> Acceptor {
        let mut records = BTreeMap::new();
        for (_, record) in ctx.storage().scan::<Record>("acc/").unwrap_or_default() {
            if let Some(txn) = record.txn {
                records.insert(txn, record);
            }
        }
        Acceptor { records }
    }

    fn persist<V: Variant>(&self, ctx: &mut Context<'_, V>, txn: TxnId) {
        let record = &self.records[&txn];
        ctx.storage().put(&format!("acc/{:06}.{:09}", txn.client, txn.seq), record);
        ctx.storage().sync();
    }

    /// Phase 1: promise `ballot` for every instance of `txn`, or refuse.
    pub fn on_promise<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        leader: NodeId,
        txn: TxnId,
        ballot: u64,
    ) {
        let record =
            self.records.entry(txn).or_insert_with(|| Record { txn: Some(txn), ..Record::default() });
        if ballot < record.promised {
            ctx.send(leader, Msg::Nack { txn, promised: record.promised });
            return;
        }
        record.promised = ballot;
        let accepted = record.accepted.clone();
        self.persist(ctx, txn);
        ctx.send(leader, Msg::Promised { txn, ballot, accepted });
    }

    /// Phase 2: accept `value` for `rm`'s instance at `ballot`, or refuse.
    pub fn on_accept<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        txn: TxnId,
        rm: NodeId,
        ballot: u64,
        value: Vote,
        leader: NodeId,
    ) {
        let record =
            self.records.entry(txn).or_insert_with(|| Record { txn: Some(txn), ..Record::default() });
        if ballot < record.promised {
            ctx.send(leader, Msg::Nack { txn, promised: record.promised });
            return;
        }
        record.promised = ballot;
        record.accepted.retain(|(r, _, _)| *r != rm);
        record.accepted.push((rm, ballot, value));
        self.persist(ctx, txn);
        ctx.send(leader, Msg::Accepted { txn, rm, ballot, value });
    }
}
