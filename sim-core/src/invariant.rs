//! Invariants over the servers' states, checked as the run goes.

use crate::node::{NodeId, Protocol};
use crate::time::Time;

/// A read-only view of the servers at one instant.
pub struct ClusterView<'a, P: Protocol> {
    pub(crate) now: Time,
    pub(crate) changed: Option<NodeId>,
    pub(crate) servers: &'a [Option<P::Server>],
}

impl<'a, P: Protocol> ClusterView<'a, P> {
    /// The virtual time of the observation.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The server whose handler just ran, if the check follows one.
    pub fn changed(&self) -> Option<NodeId> {
        self.changed
    }

    /// The server `id`, if it is up (or paused).
    pub fn server(&self, id: NodeId) -> Option<&'a P::Server> {
        self.servers.get(id.index()).and_then(Option::as_ref)
    }

    /// Every server that is up (or paused), in id order.
    pub fn servers(&self) -> impl Iterator<Item = (NodeId, &'a P::Server)> + 'a {
        self.servers.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|s| (NodeId(i as u32), s)))
    }
}

/// A property every reachable state must have, such as "at most one leader
/// per term". It may remember what it has seen (leaders of past terms).
pub trait Invariant<P: Protocol> {
    /// A short name for reports, e.g. "election-safety".
    fn name(&self) -> &str;

    /// Checks the cluster after a server's handler ran; `Err` explains the violation.
    fn check(&mut self, view: &ClusterView<'_, P>) -> Result<(), String>;

    /// Checks the cluster once the run is over (for example, liveness-flavoured
    /// properties such as "nobody is still prepared").
    fn at_end(&mut self, _view: &ClusterView<'_, P>) -> Result<(), String> {
        Ok(())
    }
}
