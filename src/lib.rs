//! livechat-mcp: the LiveChat Agent Chat and Configuration Web API as MCP tools.
//!
//! `main.rs` only parses the command line; everything it runs lives here so tests can call it.

pub mod agent;
pub mod approvals;
pub mod audit;
pub mod bots;
pub mod cli;
pub mod client;
pub mod config;
pub mod console;
pub mod digest;
pub mod error;
pub mod events;
pub mod fence;
pub mod http;
pub mod limiter;
pub mod pg;
pub mod policy;
pub mod quota;
pub mod request_ids;
pub mod retry;
pub mod sandbox;
pub mod scopes;
pub mod server;
pub mod stdio;
pub mod tls;
pub mod tools;
pub mod upload;
pub mod version;
pub mod webhook_setup;
