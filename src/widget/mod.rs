//! The citizen's web widget: one script a city embeds with a single tag, and a demo host
//! page. Both are compiled into the binary; nothing here sets a cookie or loads anything from
//! a third party.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

const SCRIPT: &str = include_str!("widget.js");
const DEMO: &str = include_str!("demo.html");

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/widget.js", get(script))
        .route("/demo", get(demo))
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Cities embed the script on their own pages: any site may load it.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        SCRIPT,
    )
}

/// The demo page: its own styles inline, scripts only from Rathaus itself.
async fn demo() -> impl IntoResponse {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
             form-action 'self'; base-uri 'none'",
        )],
        Html(DEMO),
    )
}
