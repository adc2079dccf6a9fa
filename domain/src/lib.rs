//! Minqing's domain: everything the server knows and does, without HTTP.
//!
//! The stores (SQLite and PostGIS through sqlx), the in-memory index built from them, the
//! closed loop of events and its write path, accounts and sessions, the audit log,
//! personal records behind access-checked accessors, the address service, the analysis
//! and tile services over the pure `minqing-analysis` and `minqing-tiles` libraries, the
//! importer and the synthetic district generator.
//!
//! The crate never names an HTTP status or an HTTP type: errors are [`Error`]s in the
//! domain's words, and `minqing-server` (the HTTP crate on top) maps them. [`App`] is the
//! one shared state the HTTP handlers, Open311, the replica follower, the CLI and the
//! benchmarks all work on. See ARCHITECTURE.md for the map and the invariants.

pub mod address_service;
pub mod analysis;
pub mod app;
pub mod audit;
pub mod auth;
pub mod basemap;
pub mod config;
pub mod disclosure;
pub mod error;
pub mod events;
pub mod forces;
pub mod generate;
pub mod ids;
pub mod import;
pub mod index;
pub mod model;
pub mod personal;
pub mod store;
pub mod tiles_service;
pub mod time;

pub use app::{App, Change};
pub use error::{Error, Result};

use anyhow::Context;

/// Load the store into a fresh register index and event index.
pub async fn load_index(store: &store::Store) -> anyhow::Result<(index::Index, index::EventIndex)> {
    let started = std::time::Instant::now();
    let (mut snapshot, stage_steps) = tokio::try_join!(store.load(), async {
        events::write::stage_steps(store)
            .await
            .map_err(|e| anyhow::anyhow!("reading the events' stage history: {e}"))
    })?;
    tracing::info!(ms = started.elapsed().as_millis() as u64, "store read");
    let events = std::mem::take(&mut snapshot.events);
    Ok(tokio::task::spawn_blocking(move || {
        let mut event_index = index::EventIndex::build(events);
        event_index.reached = events::work::reached_from_steps(
            stage_steps
                .iter()
                .map(|(c, s, at)| (c.as_str(), s.as_str(), *at)),
        );
        (index::Index::build(snapshot), event_index)
    })
    .await?)
}

/// A synthetic district served from memory, for benchmarks and fuzzing: generated into
/// `dir/district` (`seed`, `scale`), imported into the SQLite store `dir/minqing.db`,
/// loaded.
pub async fn synthetic_state(dir: &std::path::Path, scale: f64, seed: u64) -> anyhow::Result<App> {
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
pub async fn stored_state(url: &str) -> anyhow::Result<App> {
    let store = store::Store::connect(url).await?;
    store.migrate().await?;
    loaded_state(store).await
}

/// What a benchmark measures, as its environment asks: the imported store at
/// `MINQING_BENCH_STORE` (`sqlite://…` or `postgres://…`, see [`stored_state`]), else a
/// district at `MINQING_BENCH_SCALE` (default 1) made in `dir` by [`synthetic_state`]
/// (seed 7). Also returns a line saying which, and how long it took to have it.
pub async fn bench_state(dir: &std::path::Path) -> anyhow::Result<(App, String)> {
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

async fn loaded_state(store: store::Store) -> anyhow::Result<App> {
    let state = App::new(store.clone());
    state.set_index(load_index(&store).await?);
    Ok(state)
}
