//! `tabswarm-tracker`: the WebSocket tracker and the page's static file server on one port.
//!
//! ```text
//! tabswarm-tracker [--listen ADDR:PORT] [--static-dir DIR] [--config FILE]
//! ```
//! Other settings come from `TABSWARM_*` environment variables or the config file (see
//! `config.rs`); logs go to stderr, filtered by `RUST_LOG` (default `info`; `debug` shows each
//! connection).

use std::path::PathBuf;

use tabswarm_tracker::{config::KEYS, Config};

fn usage() -> ! {
    eprintln!(
        "usage: tabswarm-tracker [--listen ADDR:PORT] [--static-dir DIR] [--config FILE]\n\
         settings (config file `key = value`, or env TABSWARM_<KEY>): {}",
        KEYS.join(", ")
    );
    std::process::exit(2)
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("tabswarm-tracker: {msg}");
    std::process::exit(1)
}

fn main() {
    let config = load_config();
    let mut rt = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if config.threads > 1 {
            b.worker_threads(config.threads);
        }
        b
    };
    let rt = rt
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("cannot start the runtime: {e}")));
    rt.block_on(run(config));
}

fn load_config() -> Config {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let mut listen = None;
    let mut static_dir = None;
    let mut config_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => listen = Some(value()),
            "--static-dir" => static_dir = Some(value()),
            "--config" => config_file = Some(PathBuf::from(value())),
            _ => usage(),
        }
    }
    let mut config = Config {
        static_dir: Some(PathBuf::from(".")),
        ..Config::default()
    };
    if let Some(f) = &config_file {
        config.apply_file(f).unwrap_or_else(|e| fail(e));
    }
    config
        .apply_env(std::env::vars())
        .unwrap_or_else(|e| fail(e));
    if let Some(l) = listen {
        config.set("listen", &l).unwrap_or_else(|e| fail(e));
    }
    if let Some(d) = static_dir {
        config.set("static_dir", &d).unwrap_or_else(|e| fail(e));
    }
    config
}

async fn run(config: Config) {
    let addr = config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| fail(format!("cannot listen on {addr}: {e}")));
    let server = tabswarm_tracker::serve(listener, config).unwrap_or_else(|e| fail(e));
    println!(
        "tabswarm-tracker listening on http://{0} (tracker ws://{0}/announce)",
        server.local_addr()
    );

    wait_for_signal().await;
    tracing::info!("signal received, shutting down");
    server.shutdown().await;
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
