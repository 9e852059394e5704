//! The `orrery check` command, end to end.
