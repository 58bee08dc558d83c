//! tongban-node: the daemon a department runs.
#![forbid(unsafe_code)]

pub mod net;
