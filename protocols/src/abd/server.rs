//! The ABD server: a durable map from key to the newest timestamped value.

use std::collections::BTreeMap;

use sim_core::{Context, Node, NodeId, TimerId};

use super::message::{Msg, Stamped, Timer};
use super::{Abd, probe};

const PREFIX: &str = "abd/";

/// An ABD server.
#[derive(Debug, Default)]
pub struct Server {
    registers: BTreeMap<i64, Stamped>,
}

impl Server {
    /// What the server holds for `key`.
    pub fn stamped(&self, key: i64) -> Stamped {
        self.registers.get(&key).copied().unwrap_or_default()
    }

    /// Every key the server holds, with its value, in key order.
    pub fn registers(&self) -> impl Iterator<Item = (i64, Stamped)> + '_ {
        self.registers.iter().map(|(&k, &v)| (k, v))
    }

    /// Keeps `stamped` if newer, durably; returns whether it changed anything.
    fn store(&mut self, ctx: &mut Context<'_, Abd>, key: i64, stamped: Stamped) -> bool {
        if stamped.ts < self.stamped(key).ts {
            ctx.probe(probe::STALE_STORE_IGNORED);
        }
        if stamped.ts <= self.stamped(key).ts {
            return false;
        }
        self.registers.insert(key, stamped);
        ctx.storage().put(&format!("{PREFIX}{key}"), &stamped);
        // Acknowledging before the sync would let a crash take back an acknowledged write.
        ctx.storage().sync();
        true
    }
}

impl Node<Abd> for Server {
    fn on_start(&mut self, ctx: &mut Context<'_, Abd>) {
        // Only synced values were acknowledged, so a torn or missing entry is safe to skip.
        for name in ctx.storage().keys(PREFIX) {
            if let (Ok(key), Ok(Some(stamped))) = (name[PREFIX.len()..].parse(), ctx.storage().get(&name)) {
                self.registers.insert(key, stamped);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Abd>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Query { phase, key } => ctx.send(from, Msg::QueryAck { phase, stamped: self.stamped(key) }),
            Msg::Store { phase, key, stamped } => {
                self.store(ctx, key, stamped);
                ctx.send(from, Msg::StoreAck { phase });
            }
            Msg::QueryAck { .. } | Msg::StoreAck { .. } => {}
        }
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, Abd>, _id: TimerId, _timer: Timer) {}
}
