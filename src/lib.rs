//! Rathaus: an open-source citizen-service assistant for German municipalities.
//!
//! Channels turn their traffic into [`dialogue::Inbound`] messages and render
//! [`dialogue::Reply`]s; the [`dialogue`] core answers from the [`knowledge`] catalogue via
//! [`search`]; [`conversations`] keeps the memory in the [`store`].

pub mod app;
pub mod catalogue;
pub mod channels;
pub mod commands;
pub mod config;
pub mod console;
pub mod conversations;
pub mod dialogue;
pub mod domain;
pub mod eval;
pub mod events;
pub mod http;
pub mod knowledge;
pub mod language;
pub mod limits;
pub mod pii;
pub mod queue;
pub mod search;
pub mod semantic;
pub mod store;
pub mod web;
pub mod widget;
