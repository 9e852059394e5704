//! Who does what: coordinator nodes, shards, and where each account lives.

use sim_core::{Cluster, NodeId};

use super::message::{Request, Work};

/// The roles of the servers: the first few coordinate, the rest hold accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Coordinator nodes (also the acceptors of Paxos Commit).
    pub coordinators: Vec<NodeId>,
    /// Shards: account `a` lives on `shards[a % shards.len()]`.
    pub shards: Vec<NodeId>,
}

impl Layout {
    /// The layout for `coordinators` coordinator nodes; with too few servers
    /// for separate roles, every server holds both.
    pub fn new(coordinators: usize, cluster: &Cluster) -> Layout {
        let servers = cluster.servers();
        assert!(!servers.is_empty(), "servers=0");
        let count = coordinators.clamp(1, servers.len());
        let shards = if count < servers.len() { &servers[count..] } else { servers };
        Layout { coordinators: servers[..count].to_vec(), shards: shards.to_vec() }
    }

    /// The shard holding `account`.
    pub fn shard_of(&self, account: u64) -> NodeId {
        self.shards[(account % self.shards.len() as u64) as usize]
    }

    /// Whether `id` coordinates.
    pub fn is_coordinator(&self, id: NodeId) -> bool {
        self.coordinators.contains(&id)
    }

    /// Whether `id` holds accounts.
    pub fn is_shard(&self, id: NodeId) -> bool {
        self.shards.contains(&id)
    }

    /// A strict majority of the coordinator nodes (the acceptors).
    pub fn majority(&self) -> usize {
        self.coordinators.len() / 2 + 1
    }

    /// Each participant's share of `request`, by node id.
    pub fn plan(&self, request: &Request) -> Vec<(NodeId, Work)> {
        let mut shares: Vec<(NodeId, Work)> = Vec::new();
        let mut add = |node: NodeId, delta: Option<(u64, i64)>, read: Option<u64>| {
            let i = match shares.iter().position(|(n, _)| *n == node) {
                Some(i) => i,
                None => {
                    shares.push((node, Work::default()));
                    shares.len() - 1
                }
            };
            shares[i].1.deltas.extend(delta);
            shares[i].1.reads.extend(read);
        };
        match *request {
            Request::Transfer { from, to, amount } => {
                add(self.shard_of(from), Some((from, -amount)), None);
                add(self.shard_of(to), Some((to, amount)), None);
            }
            Request::ReadAll { accounts } => {
                for account in 0..accounts {
                    add(self.shard_of(account), None, Some(account));
                }
            }
        }
        shares.sort_by_key(|(n, _)| *n);
        shares
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_touches_the_two_shards() {
        let layout = Layout::new(3, &Cluster::new(6, 1));
        assert_eq!(layout.shards, vec![NodeId(3), NodeId(4), NodeId(5)]);
        let plan = layout.plan(&Request::Transfer { from: 1, to: 5, amount: 7 });
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0], (NodeId(4), Work { deltas: vec![(1, -7)], reads: vec![] }));
        assert_eq!(plan[1], (NodeId(5), Work { deltas: vec![(5, 7)], reads: vec![] }));
        let all = layout.plan(&Request::ReadAll { accounts: 4 });
        assert_eq!(all[0].1.reads, vec![0, 3]);
    }
}
