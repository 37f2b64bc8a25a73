//! The access page.

use std::sync::Arc;

use axum::{Extension, Router, response::Response, routing::get};

use super::{Chrome, ConsoleState, Placeholder, auth::Session, render};

pub(super) fn routes() -> Router<Arc<ConsoleState>> {
    Router::new().route("/console", get(page))
}

async fn page(Extension(session): Extension<Session>) -> Response {
    render(&Placeholder {
        chrome: Chrome::new("access", &session),
        heading: "Access",
    })
}
