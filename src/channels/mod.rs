//! Channel adapters: each turns one channel's traffic into the dialogue core's messages and
//! carries the replies back. They know the core and the store's traits; the core knows none
//! of them.

pub mod phone;
