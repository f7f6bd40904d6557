//! `tabswarm-tracker`: serves the page and (in the tracker issue) the WebSocket tracker.

use std::net::SocketAddr;
use std::path::PathBuf;

fn usage() -> ! {
    eprintln!("usage: tabswarm-tracker [--listen ADDR:PORT] [--static-dir DIR]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut listen: SocketAddr = "127.0.0.1:8080".parse().expect("valid default");
    let mut static_dir = PathBuf::from(".");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => {
                listen = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--static-dir" => {
                static_dir = args.next().map(PathBuf::from).unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    let app = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(static_dir));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot listen on {listen}: {e}");
            std::process::exit(1)
        });
    println!(
        "tabswarm-tracker listening on http://{}",
        listener.local_addr().expect("bound")
    );
    axum::serve(listener, app).await.expect("server");
}
