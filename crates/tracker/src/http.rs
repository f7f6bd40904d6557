//! HTTP routes: WebSocket upgrades at `/` and `/announce`, `GET /stats`, static files.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::{conn, ws, Shared};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/stats", get(stats))
        .route("/", any(root))
        .route("/announce", any(announce))
        .fallback(static_file)
        .with_state(shared)
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let mut r = Json(shared.stats()).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

/// `/`: the tracker for WebSocket upgrades, the page otherwise.
async fn root(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if is_upgrade(&req) {
        upgrade(shared, req).await
    } else {
        static_file(State(shared), req).await
    }
}

/// `/announce`: the tracker only.
async fn announce(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if is_upgrade(&req) {
        upgrade(shared, req).await
    } else {
        (
            StatusCode::UPGRADE_REQUIRED,
            [(header::UPGRADE, "websocket")],
            "this is a WebSocket tracker: connect with ws://",
        )
            .into_response()
    }
}

async fn static_file(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if is_hidden(req.uri().path()) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match &shared.config.static_dir {
        Some(dir) => match ServeDir::new(dir).oneshot(req).await {
            Ok(r) => r.into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        None => (StatusCode::NOT_FOUND, "no static directory configured").into_response(),
    }
}

/// Paths with a component starting with `.` (`/.git/...`, `/.ci/run`) are never served: the
/// static root is often a whole checkout.
fn is_hidden(path: &str) -> bool {
    path.split('/')
        .any(|c| c.starts_with('.') || c.starts_with("%2e") || c.starts_with("%2E"))
}

fn is_upgrade(req: &Request) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

async fn upgrade(shared: Arc<Shared>, mut req: Request) -> Response {
    let h = req.headers();
    let has = |name: header::HeaderName, token: &str| {
        h.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if req.method() != Method::GET || !has(header::CONNECTION, "upgrade") {
        return (StatusCode::BAD_REQUEST, "not a WebSocket upgrade").into_response();
    }
    if !has(header::SEC_WEBSOCKET_VERSION, "13") {
        return (
            StatusCode::UPGRADE_REQUIRED,
            [(header::SEC_WEBSOCKET_VERSION, "13")],
            "WebSocket version 13 required",
        )
            .into_response();
    }
    let Some(accept) = h
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| ws::accept_key(k.as_bytes()))
    else {
        return (StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key").into_response();
    };
    let open = shared.open.load(Ordering::Relaxed);
    if open >= shared.config.max_connections as u64 {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    }
    let Some(alive) = shared.alive.lock().ok().and_then(|a| a.clone()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("upgrade failed: {e}");
                return;
            }
        };
        // The server runs hyper's HTTP/1 directly on TCP streams (lib.rs), so the upgraded
        // connection is always this type; the tracker then owns the socket.
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(hyper::upgrade::Parts { io, read_buf, .. }) => {
                // Copy what hyper read ahead (usually nothing) and free its read buffer.
                let pre = read_buf.to_vec();
                drop(read_buf);
                conn::run(io.into_inner(), &pre, shared, alive).await;
            }
            Err(_) => tracing::warn!("upgraded connection is not a TCP stream"),
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::UPGRADE, "websocket".to_owned()),
            (header::CONNECTION, "Upgrade".to_owned()),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::is_hidden;

    #[test]
    fn dot_paths_are_hidden() {
        assert!(is_hidden("/.git/HEAD"));
        assert!(is_hidden("/www/.env"));
        assert!(is_hidden("/%2egit/config"));
        assert!(!is_hidden("/www/app.js"));
        assert!(!is_hidden("/pkg/tabswarm_bg.wasm"));
        assert!(!is_hidden("/"));
    }
}
