//! Minqing (民情): the people's-conditions map server.
//!
//! This crate is the shell around the pure `minqing-tiles`, `minqing-analysis` and
//! `minqing-address` libraries: the CLI, the synthetic district generator, the importer,
//! the two stores (SQLite and PostGIS through sqlx), the in-memory index and the HTTP
//! server. See ARCHITECTURE.md for the code map and the invariants.

pub mod address_service;
pub mod analysis;
pub mod audit;
pub mod auth;
pub mod config;
pub mod events;
pub mod generate;
pub mod http;
pub mod ids;
pub mod import;
pub mod index;
pub mod model;
pub mod personal;
pub mod store;
pub mod tiles_service;

use anyhow::{Context, Result};

/// Load the store into a fresh register index and event index.
pub async fn load_index(store: &store::Store) -> Result<(index::Index, index::EventIndex)> {
    let started = std::time::Instant::now();
    let mut snapshot = store.load().await?;
    tracing::info!(ms = started.elapsed().as_millis() as u64, "store read");
    let events = std::mem::take(&mut snapshot.events);
    Ok(tokio::task::spawn_blocking(move || {
        (
            index::Index::build(snapshot),
            index::EventIndex::build(events),
        )
    })
    .await?)
}

/// A synthetic district served from memory, for benchmarks and fuzzing: generated into
/// `dir/district` (`seed`, `scale`), imported into the SQLite store `dir/minqing.db`,
/// loaded.
pub async fn synthetic_state(
    dir: &std::path::Path,
    scale: f64,
    seed: u64,
) -> Result<http::AppState> {
    let out = dir.join("district");
    generate::generate(&out, scale, seed, &|_| {})?;
    let store =
        store::Store::connect(&format!("sqlite://{}", dir.join("minqing.db").display())).await?;
    store.migrate().await?;
    import::import_dir(&store, &out, &|_| {}).await?;
    loaded_state(store).await
}

/// An already imported store (`sqlite://…` or `postgres://…`) served from memory, for
/// benchmarks that reuse another stage's import instead of generating their own.
pub async fn stored_state(url: &str) -> Result<http::AppState> {
    let store = store::Store::connect(url).await?;
    store.migrate().await?;
    loaded_state(store).await
}

/// What a benchmark measures, as its environment asks: the imported store at
/// `MINQING_BENCH_STORE` (`sqlite://…` or `postgres://…`, see [`stored_state`]), else a
/// district at `MINQING_BENCH_SCALE` (default 1) made in `dir` by [`synthetic_state`]
/// (seed 7). Also returns a line saying which, and how long it took to have it.
pub async fn bench_state(dir: &std::path::Path) -> Result<(http::AppState, String)> {
    let started = std::time::Instant::now();
    if let Ok(url) = std::env::var("MINQING_BENCH_STORE") {
        let state = stored_state(&url).await?;
        return Ok((state, format!("loaded {url} in {:.1?}", started.elapsed())));
    }
    let scale = match std::env::var("MINQING_BENCH_SCALE") {
        Ok(s) => s
            .parse()
            .with_context(|| format!("MINQING_BENCH_SCALE={s} is not a number"))?,
        Err(_) => 1.0,
    };
    let state = synthetic_state(dir, scale, 7).await?;
    let how = format!(
        "generated, imported and loaded --scale {scale} in {:.1?}",
        started.elapsed()
    );
    Ok((state, how))
}

async fn loaded_state(store: store::Store) -> Result<http::AppState> {
    let state = http::AppState::new(store.clone());
    state.set_index(load_index(&store).await?);
    Ok(state)
}
