//! `minqing`: the CLI, server, generator and importer in one binary.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use minqing_server::config::{Config, Secret};
use minqing_server::http::{AppState, app};
use minqing_server::import::FileReport;
use minqing_server::store::Store;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "minqing",
    version,
    about = "民情 Minqing — the people's-conditions map server"
)]
struct Cli {
    /// Optional TOML configuration file (environment variables MINQING_* override it).
    #[arg(long, global = true, env = "MINQING_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the synthetic district if DATA_DIR holds none, store it, and serve it.
    Demo {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
    /// Serve an existing store.
    Serve {
        /// `sqlite://PATH` (embedded) or `postgres://…` (PostGIS).
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        bind: Option<String>,
    },
    /// Write the synthetic district as import files (CSV + GeoJSON).
    Generate {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 20_240_101)]
        seed: u64,
    },
    /// Import a directory of such files, link addresses, print a link report.
    Import {
        #[arg(long)]
        database_url: Option<String>,
        dir: PathBuf,
    },
    /// Apply the migrations.
    Migrate {
        #[arg(long)]
        database_url: Option<String>,
    },
}

fn init_logging(cfg: &Config) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(cfg.log.as_deref().unwrap_or("info,sqlx=error"))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log_format.as_deref() == Some("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn database_url(flag: Option<String>, cfg: &Config) -> Result<Secret> {
    flag.map(Secret::new)
        .or_else(|| cfg.database_url.clone())
        .context("--database-url (or MINQING_DATABASE_URL) is required")
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let cfg = Config::load(cli.config.as_deref(), |k| std::env::var(k).ok())?;
    init_logging(&cfg);
    match cli.command {
        Command::Generate { out, scale, seed } => {
            let started = Instant::now();
            let m = generate_with_progress(&out, scale, seed)?;
            println!("{}", serde_json::to_string_pretty(&m)?);
            eprintln!(
                "generated in {:.1}s into {}",
                started.elapsed().as_secs_f64(),
                out.display()
            );
        }
        Command::Migrate { database_url: url } => {
            let store = Store::connect(database_url(url, &cfg)?.expose()).await?;
            store.migrate().await?;
            println!("migrations applied ({})", store.backend());
        }
        Command::Import {
            database_url: url,
            dir,
        } => {
            let store = Store::connect(database_url(url, &cfg)?.expose()).await?;
            store.migrate().await?;
            let reports = import_with_progress(&store, &dir).await?;
            print_report(&reports);
            store.close().await;
        }
        Command::Serve {
            database_url: url,
            bind,
        } => {
            let store = Store::connect(database_url(url, &cfg)?.expose()).await?;
            store.migrate().await?;
            let bind = bind
                .or(cfg.bind.clone())
                .unwrap_or_else(|| "127.0.0.1:8080".into());
            serve(store, &bind, &cfg).await?;
        }
        Command::Demo {
            port,
            data_dir,
            scale,
        } => {
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            let db = data_dir.join("minqing.db");
            let url = format!("sqlite://{}", db.display());
            let store = Store::connect(&url).await?;
            store.migrate().await?;
            if store.count("buildings").await? == 0 {
                let files = data_dir.join("import");
                eprintln!(
                    "第一次运行：生成模拟旌阳区 (scale {scale}) → {}",
                    files.display()
                );
                let started = Instant::now();
                generate_with_progress(&files, scale, 20_240_101)?;
                let reports = import_with_progress(&store, &files).await?;
                print_report(&reports);
                eprintln!(
                    "generated and imported in {:.1}s",
                    started.elapsed().as_secs_f64()
                );
            } else {
                eprintln!("reusing the district stored in {}", db.display());
            }
            let bind = format!("127.0.0.1:{port}");
            println!("Minqing demo: http://{bind}/   (store: {url})");
            println!(
                "demo accounts: none yet — sign-in arrives with the access-control work; every page is open."
            );
            serve(store, &bind, &cfg).await?;
        }
    }
    Ok(())
}

fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").expect("valid template"),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    pb.set_message(msg.to_string());
    pb
}

fn generate_with_progress(
    out: &Path,
    scale: f64,
    seed: u64,
) -> Result<minqing_server::generate::Manifest> {
    let pb = spinner("generating");
    let m = minqing_server::generate::generate(out, scale, seed, &|phase| {
        pb.set_message(format!("generating {phase}"))
    });
    pb.finish_and_clear();
    m
}

async fn import_with_progress(store: &Store, dir: &Path) -> Result<Vec<FileReport>> {
    let pb = spinner("importing");
    let r = minqing_server::import::import_dir(store, dir, &|file| {
        pb.set_message(format!("importing {file}"))
    })
    .await;
    pb.finish_and_clear();
    r
}

fn print_report(reports: &[FileReport]) {
    println!(
        "{:<20} {:>8} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8}",
        "file",
        "encoding",
        "rows",
        "loaded",
        "dupes",
        "bad",
        "unit",
        "building",
        "ambig/un",
        "pending"
    );
    for r in reports {
        println!(
            "{:<20} {:>8} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8}",
            r.file,
            r.encoding,
            r.rows_total,
            r.rows_loaded,
            r.rows_duplicate,
            r.errors.len(),
            r.links.unit,
            r.links.building,
            r.links.ambiguous + r.links.unmatched,
            r.links.pending
        );
        for e in r.errors.iter().take(5) {
            println!("    line {}: {}", e.line, e.message);
        }
        if r.errors.len() > 5 {
            println!(
                "    … {} more bad rows (all stored in import_errors)",
                r.errors.len() - 5
            );
        }
    }
}

async fn serve(store: Store, bind: &str, cfg: &Config) -> Result<()> {
    let started = Instant::now();
    let state =
        AppState::new(store.clone()).with_deadlines(cfg.deadlines.clone().unwrap_or_default());
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    tracing::info!(%bind, store = store.backend(), "listening; loading the index");
    let loader = state.clone();
    tokio::spawn(async move {
        match minqing_server::load_index(&loader.store).await {
            Ok(ix) => {
                tracing::info!(
                    buildings = ix.0.buildings.len(),
                    residents = ix.0.people.len(),
                    events = ix.1.len(),
                    seconds = started.elapsed().as_secs_f64(),
                    "index loaded"
                );
                loader.set_index(ix);
            }
            Err(e) => {
                tracing::error!(error = ?e, "loading the index failed");
                std::process::exit(1);
            }
        }
    });
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
