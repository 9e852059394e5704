//! Protocol implementations for Orrery.
