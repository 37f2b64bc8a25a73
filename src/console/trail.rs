//! The trail page.

use std::sync::Arc;

use axum::{Extension, Router, response::Response, routing::get};

use super::{Chrome, ConsoleState, Placeholder, auth::Session, render};

pub(super) fn routes() -> Router<Arc<ConsoleState>> {
    Router::new().route("/console/trail", get(page))
}

async fn page(Extension(session): Extension<Session>) -> Response {
    render(&Placeholder {
        chrome: Chrome::new("trail", &session),
        heading: "Trail",
    })
}
