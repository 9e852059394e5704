//! The server type: server 0 is the controller, the others are brokers.

use sim_core::{Context, Node, NodeId, TimerId};

use super::Log;
use super::broker::Broker;
use super::controller::Controller;
use super::message::{Msg, Timer};

/// A log server, by role.
#[derive(Debug)]
pub enum Server {
    /// Server 0: leadership, in-sync sets and the consumer group.
    Controller(Controller),
    /// Every other server: a replica of every partition.
    Broker(Broker),
}

impl Node<Log> for Server {
    fn on_start(&mut self, ctx: &mut Context<'_, Log>) {
        match self {
            Server::Controller(c) => c.start(ctx),
            Server::Broker(b) => b.start(ctx),
        }
        let tick = match self {
            Server::Controller(c) => c.tick_every(),
            Server::Broker(b) => b.tick_every(),
        };
        ctx.set_timer(tick, Timer::Tick);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Log>, from: NodeId, msg: Msg) {
        match self {
            Server::Controller(c) => controller_message(c, ctx, from, msg),
            Server::Broker(b) => broker_message(b, ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Log>, _id: TimerId, timer: Timer) {
        if timer != Timer::Tick {
            return;
        }
        let tick = match self {
            Server::Controller(c) => {
                c.tick(ctx);
                c.tick_every()
            }
            Server::Broker(b) => {
                b.tick(ctx);
                b.tick_every()
            }
        };
        ctx.set_timer(tick, Timer::Tick);
    }
}

fn controller_message(c: &mut Controller, ctx: &mut Context<'_, Log>, from: NodeId, msg: Msg) {
    match msg {
        Msg::BrokerHeartbeat { incarnation } => c.on_broker_heartbeat(ctx, from, incarnation),
        Msg::AlterIsr { partition, version, isr } => {
            c.on_alter_isr(ctx, from, partition as usize, version, isr)
        }
        Msg::MetadataRequest => ctx.send(from, c.metadata()),
        Msg::Join { member } => c.on_join(ctx, from, member),
        Msg::Heartbeat { member } => c.on_heartbeat(ctx, from, member),
        Msg::Commit { member, generation, partition, offset } => {
            c.on_commit(ctx, member, generation, partition as usize, offset);
        }
        _ => {}
    }
}

fn broker_message(b: &mut Broker, ctx: &mut Context<'_, Log>, from: NodeId, msg: Msg) {
    match msg {
        Msg::Metadata { partitions, incarnations } => b.on_metadata(ctx, from, partitions, &incarnations),
        Msg::MetadataRequest => {
            ctx.send(from, Msg::Metadata { partitions: b.metadata(), incarnations: Vec::new() })
        }
        Msg::Fetch { partition, epoch, offset, last_epoch } => {
            b.on_fetch(ctx, from, partition as usize, epoch, offset, last_epoch);
        }
        Msg::FetchReply { partition, epoch, from: start, records, hw } => {
            b.on_fetch_reply(ctx, partition as usize, epoch, start, records, hw);
        }
        Msg::Diverged { partition, epoch, at, last_epoch, to } => {
            b.on_diverged(ctx, partition as usize, epoch, (at, last_epoch), to)
        }
        Msg::Produce { req, partition, record, idempotent, acks } => {
            b.on_produce(ctx, (from, req), partition as usize, record, idempotent, acks);
        }
        Msg::Consume { req, partition, offset } => b.on_consume(ctx, from, req, partition as usize, offset),
        _ => {}
    }
}
