//! What the log's nodes say to each other, and what their timers carry.

use serde::{Deserialize, Serialize};
use sim_core::NodeId;

/// Which replicas must hold a message before its send is acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Acks {
    /// The leader alone: fast, and a failover can lose acknowledged messages.
    Leader,
    /// Every in-sync replica: the message is below the high watermark.
    #[default]
    All,
}

/// One message in a partition's log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    /// The leader epoch in which it was appended: two logs holding a record
    /// with the same offset and epoch agree on everything before it.
    pub epoch: u64,
    /// The producer that sent it.
    pub producer: u32,
    /// The producer's sequence number, by which an idempotent leader knows a retry.
    pub seq: u64,
    /// The message.
    pub value: i64,
}

/// The controller's word on one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionState {
    /// Bumped at every leader change; replicas only follow a leader of their own epoch.
    pub epoch: u64,
    /// Bumped at every change (leader or in-sync set): newer wins.
    pub version: u64,
    /// The leader, if the partition has one.
    pub leader: Option<NodeId>,
    /// The in-sync replicas: every one holds every record below the high watermark.
    pub isr: Vec<NodeId>,
}

/// Messages between brokers, the controller and clients.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Msg {
    /// Broker to controller, every tick.
    BrokerHeartbeat {
        /// The broker's incarnation: one more at every start, durably, so a
        /// higher one than the controller knows says the broker restarted
        /// and lost its volatile state.
        incarnation: u64,
    },
    /// Who leads what, by partition index (controller to anyone, brokers to clients).
    Metadata {
        /// One state per partition.
        partitions: Vec<PartitionState>,
        /// From the controller: each broker's incarnation as it knew it when
        /// it sent this, in server order from server 1 (empty from a
        /// broker). A broker takes the controller's word only when its own
        /// entry is its current incarnation: news sent before the controller
        /// heard of its restart describes a broker that no longer exists.
        incarnations: Vec<u64>,
    },
    /// A client asks any server for metadata.
    MetadataRequest,
    /// A leader asks the controller to change its partition's in-sync set.
    AlterIsr {
        /// The partition.
        partition: u32,
        /// The state the change is based on.
        version: u64,
        /// The proposed in-sync set.
        isr: Vec<NodeId>,
    },
    /// A follower asks its leader for records from `offset`.
    Fetch {
        /// The partition.
        partition: u32,
        /// The follower's epoch.
        epoch: u64,
        /// Its log end.
        offset: u64,
        /// The epoch of its record at `offset - 1` (0 for an empty log).
        last_epoch: u64,
    },
    /// The leader's records from `from`, and its high watermark.
    FetchReply {
        /// The partition.
        partition: u32,
        /// The leader's epoch.
        epoch: u64,
        /// Offset of the first record.
        from: u64,
        /// The records.
        records: Vec<Record>,
        /// The leader's high watermark.
        hw: u64,
    },
    /// The follower's log does not match the leader's before `offset`: truncate to `to`.
    Diverged {
        /// The partition.
        partition: u32,
        /// The leader's epoch.
        epoch: u64,
        /// The log end the refused fetch was sent from, and the epoch of
        /// the record before it: together they name the tail the leader
        /// refused, so a late or duplicated answer to an older fetch cannot
        /// truncate a tail agreed since.
        at: u64,
        /// The epoch of the follower's last record, as the fetch gave it.
        last_epoch: u64,
        /// Truncate the log to this length and fetch again.
        to: u64,
    },
    /// A producer's send.
    Produce {
        /// Client request id, echoed.
        req: u64,
        /// The partition.
        partition: u32,
        /// The record (its epoch is set by the leader).
        record: Record,
        /// Whether the leader may recognise a retry by `(producer, seq)`.
        idempotent: bool,
        /// When to acknowledge.
        acks: Acks,
    },
    /// The leader's answer to a send: its offset, or `None` for "not the leader".
    ProduceReply {
        /// The request.
        req: u64,
        /// Where the record sits.
        offset: Option<u64>,
    },
    /// A consumer reads committed records from `offset`.
    Consume {
        /// Client request id, echoed.
        req: u64,
        /// The partition.
        partition: u32,
        /// The first offset wanted.
        offset: u64,
    },
    /// Committed records from `from`; `ok` false if this broker does not lead.
    ConsumeReply {
        /// The request.
        req: u64,
        /// Whether the broker leads the partition.
        ok: bool,
        /// The first offset.
        from: u64,
        /// The messages, in offset order.
        values: Vec<i64>,
    },
    /// A consumer joins the group (or renews its membership).
    Join {
        /// Its member id.
        member: u64,
    },
    /// A member's periodic sign of life.
    Heartbeat {
        /// The member.
        member: u64,
    },
    /// The coordinator's answer to a member: its partitions and their committed offsets.
    Assignment {
        /// The member.
        member: u64,
        /// The group's generation.
        generation: u64,
        /// `(partition, committed offset)`.
        partitions: Vec<(u32, u64)>,
    },
    /// The coordinator does not know this member (expired): rejoin.
    NotMember {
        /// The member.
        member: u64,
    },
    /// A member commits its position in a partition.
    Commit {
        /// The member.
        member: u64,
        /// The generation it believes current.
        generation: u64,
        /// The partition.
        partition: u32,
        /// The next offset to consume.
        offset: u64,
    },
}

/// What timers carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Timer {
    /// A server's periodic work.
    Tick,
    /// A producer's send `req` got no answer in time.
    Retry(u64),
    /// A consumer's heartbeat.
    Heartbeat,
    /// A consumer's fetch `req` got no answer in time.
    PollDeadline(u64),
    /// A consumer finished processing the batch of fetch `req`.
    Processed(u64),
}
