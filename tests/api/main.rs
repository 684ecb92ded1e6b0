//! Integration tests: the real server on port 0 with a fresh database, driven over HTTP,
//! and the store suite against SQLite and PostgreSQL.

mod api_errors;
mod browser;
mod console;
mod conversations;
mod email;
mod hardening;
mod helpers;
mod import;
mod mail_servers;
mod outbox;
mod phone;
mod runtime;
mod semantic;
mod store;
mod telegram;
