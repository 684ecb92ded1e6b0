//! The channels through which citizens reach Rathaus besides the HTTP API: each turns its
//! traffic into the core's messages and carries replies back. None holds dialogue logic.

pub mod telegram;
