//! Whether the current thread is running a simulated node's code.
//!
//! The engine catches a panic in a node's handler and ends the run with
//! [`RunEnd::Panic`](crate::RunEnd::Panic): that is the protocol's bug, a
//! verdict. A panic anywhere else in a run is the engine's (or the
//! harness's) bug. A panic hook runs before the panic unwinds to the
//! engine, so it can ask [`in_handler`] which of the two it is looking at,
//! without guessing from source paths.

use std::cell::Cell;

thread_local! {
    /// Handler calls open on this thread (a handler may run a nested simulation).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// True while the current thread runs a simulated node's handler (or an
/// invariant over nodes), including inside a panic hook for a panic raised
/// there; false in the engine, the checkers and the harness.
pub fn in_handler() -> bool {
    DEPTH.with(|depth| depth.get() > 0)
}

/// Marks the current thread as inside a handler until dropped (also when
/// the handler unwinds).
pub(crate) struct HandlerScope(());

impl HandlerScope {
    #[inline]
    pub(crate) fn enter() -> HandlerScope {
        DEPTH.with(|depth| depth.set(depth.get() + 1));
        HandlerScope(())
    }
}

impl Drop for HandlerScope {
    #[inline]
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get() - 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_end_on_unwind() {
        assert!(!in_handler());
        let outer = HandlerScope::enter();
        {
            let _inner = HandlerScope::enter();
            assert!(in_handler());
        }
        assert!(in_handler());
        drop(outer);
        assert!(!in_handler());
        let unwound = std::panic::catch_unwind(|| {
            let _scope = HandlerScope::enter();
            panic!("in a handler");
        });
        assert!(unwound.is_err());
        assert!(!in_handler(), "the scope ends when the handler unwinds");
    }
}
