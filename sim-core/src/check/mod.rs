//! Checkers: judge a history against a model (linearizability) and against
//! service-level expectations (availability). Usable without the simulator.
