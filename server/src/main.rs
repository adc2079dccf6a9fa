//! `minqing`: the CLI, server, generator and importer in one binary.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use minqing_domain::App;
use minqing_domain::auth::{Role, users};
use minqing_domain::config::{Config, Secret};
use minqing_domain::import::FileReport;
use minqing_domain::store::Store;
use minqing_domain::{audit, personal};
use minqing_server::http::app;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// mimalloc instead of glibc's malloc: a cached tile spent ~27 % of its user-space
// instructions in malloc/free (callgrind), and the start-up builds millions of small
// strings and vectors.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        /// Keep the district still: no new demo reports, no steps taken by the demo.
        #[arg(long)]
        no_live: bool,
        /// Seconds between two changes of the living demo.
        #[arg(long, default_value_t = 15)]
        live_every_secs: u64,
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
        /// The generator's present, YYYY-MM-DD: events continue from the seed years
        /// (2023–2024) up to 00:00 CST of this day. Default: today (CST).
        #[arg(long)]
        until: Option<String>,
    },
    /// Import a directory of such files (each as .csv, .xlsx/.xls, .geojson, .shp or
    /// .gpkg), link addresses, print a link report. Exits non-zero when a file fails.
    Import {
        #[arg(long)]
        database_url: Option<String>,
        /// Coordinate system of files that declare none (no .prj, .crs sidecar or
        /// GeoPackage srs_id): wgs84, cgcs2000, gcj02, bd09, EPSG:4490, EPSG:4544, EPSG:4523…
        #[arg(long)]
        crs: Option<String>,
        /// A mapping file (TOML) naming the district's own files and headers: which
        /// file is which import file, which header is which column, values to recode.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Write a mapping suggested from the headers of files that are not Minqing's
        /// to this file (to edit, then pass as --mapping), and import nothing.
        #[arg(long, value_name = "FILE")]
        suggest_mapping: Option<PathBuf>,
        /// Read, check and link everything and print the report; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// A monthly delta: residents, housing and enterprises rows without an `op`
        /// column (add, update, retire) update the stored records by their keys.
        #[arg(long)]
        delta: bool,
        dir: PathBuf,
    },
    /// Apply the migrations.
    Migrate {
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Manage accounts: add, list, passwd (passwords are read from standard input).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Re-encrypt every ID number and phone under a new data key, in one transaction.
    /// The current key comes from the configuration (MINQING_DATA_KEY or its file).
    RotateKey {
        #[arg(long)]
        database_url: Option<String>,
        /// A file holding the new key as 64 hex digits (`minqing gen-key > new.key`).
        #[arg(long)]
        new_key_file: PathBuf,
    },
    /// Print a fresh random data key (64 hex digits).
    GenKey,
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create an account; the password is the first line of standard input.
    Add {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        username: String,
        /// screen, grid_worker, mediator, leader, admin, reception or risk_centre.
        #[arg(long)]
        role: String,
        /// A grid in the account's scope (repeatable; grid workers).
        #[arg(long = "grid")]
        grids: Vec<String>,
        /// The mediator's organisation.
        #[arg(long)]
        mediation_org: Option<String>,
        /// The name shown for the account as a case owner and assignee.
        #[arg(long)]
        display: Option<String>,
    },
    /// List the accounts with their roles and scopes.
    List {
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Set a new password (first line of standard input) and revoke the account's sessions.
    Passwd {
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Verify the hash chain; exits with status 2 and names the first broken entry if it
    /// was tampered with.
    Verify {
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
        Command::Generate {
            out,
            scale,
            seed,
            until,
        } => {
            let until = match until {
                Some(d) => minqing_domain::time::parse_date(&d)
                    .with_context(|| format!("--until {d:?} is not a date YYYY-MM-DD"))?,
                None => minqing_domain::generate::today(),
            };
            let started = Instant::now();
            let m = generate_with_progress(&out, scale, seed, until)?;
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
            crs,
            mapping,
            suggest_mapping,
            dry_run,
            delta,
            dir,
        } => {
            use minqing_domain::import::mapping as m;
            let mapping = match mapping {
                Some(path) => Some(m::Mapping::load(&path).map_err(anyhow::Error::msg)?),
                None => None,
            };
            let opts = minqing_domain::import::ImportOptions {
                crs: match crs {
                    Some(word) => Some(
                        minqing_domain::import::crs::Crs::parse(&word).with_context(|| {
                            format!("--crs: unknown coordinate system {word:?}")
                        })?,
                    ),
                    None => None,
                },
                mapping,
                delta,
                dry_run,
            };
            if let Some(out) = suggest_mapping {
                let suggestions = minqing_domain::import::suggest_mapping(&dir, &opts).await?;
                for s in &suggestions {
                    println!("{}", m::describe(s));
                }
                std::fs::write(&out, m::to_toml(&suggestions))
                    .with_context(|| format!("writing {}", out.display()))?;
                println!(
                    "{} file(s) need a mapping; suggestion written to {} (check it, then \
                     import with --mapping {})",
                    suggestions.len(),
                    out.display(),
                    out.display()
                );
                return Ok(());
            }
            install_configured_keys(&cfg)?;
            let store = Store::connect(database_url(url, &cfg)?.expose()).await?;
            store.migrate().await?;
            let reports = import_with_progress(&store, &dir, &opts).await?;
            if dry_run {
                println!("dry run: nothing was written; this is what the import would do");
            }
            print_report(&reports, dry_run);
            store.close().await;
            let failed: Vec<&str> = reports
                .iter()
                .filter(|(r, _)| r.failed.is_some())
                .map(|(r, _)| r.file.as_str())
                .collect();
            if !failed.is_empty() {
                eprintln!(
                    "import failed for {} file(s): {}",
                    failed.len(),
                    failed.join(", ")
                );
                std::process::exit(1);
            }
        }
        Command::Serve {
            database_url: url,
            bind,
        } => {
            install_configured_keys(&cfg)?;
            let store = Store::connect(database_url(url, &cfg)?.expose()).await?;
            store.migrate().await?;
            let bind = bind
                .or(cfg.bind.clone())
                .unwrap_or_else(|| "127.0.0.1:8080".into());
            // A production server answers nobody without a sign-in unless configured to.
            serve(store, &bind, &cfg, None, false).await?;
        }
        Command::GenKey => println!("{}", personal::DataKeys::generate_hex()),
        Command::RotateKey {
            database_url: url,
            new_key_file,
        } => {
            let old = cfg.data_keys()?.context(
                "the current key is needed: set MINQING_DATA_KEY or MINQING_DATA_KEY_FILE",
            )?;
            let text = std::fs::read_to_string(&new_key_file)
                .with_context(|| format!("reading {}", new_key_file.display()))?;
            let new = personal::DataKeys::from_hex(&text)?;
            let store = Store::connect(database_url(url, &cfg)?.expose()).await?;
            store.migrate().await?;
            let n = personal::rotate_keys(&store, &old, &new).await?;
            audit::append(
                &store,
                audit::Record {
                    actor: "cli",
                    role: "admin",
                    action: "rotate_key",
                    target: "residents",
                    reason: None,
                    client: None,
                },
            )
            .await?;
            println!(
                "re-encrypted {n} residents under the new key; now configure MINQING_DATA_KEY_FILE={}",
                new_key_file.display()
            );
        }
        Command::Audit {
            action: AuditAction::Verify { database_url: url },
        } => {
            let store = Store::connect(database_url(url, &cfg)?.expose()).await?;
            let v = audit::verify(&store).await?;
            match v.first_broken {
                None => println!("audit chain intact: {} entries, head {}", v.entries, v.head),
                Some((seq, why)) => {
                    println!("audit chain BROKEN at entry {seq}: {why}");
                    std::process::exit(2);
                }
            }
        }
        Command::User { action } => user_command(action, &cfg).await?,
        Command::Demo {
            port,
            data_dir,
            scale,
            no_live,
            live_every_secs,
        } => {
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            demo_keys(&cfg, &data_dir)?;
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
                generate_with_progress(
                    &files,
                    scale,
                    20_240_101,
                    minqing_domain::generate::today(),
                )?;
                let reports = import_with_progress(&store, &files, &Default::default()).await?;
                print_report(&reports, false);
                eprintln!(
                    "generated and imported in {:.1}s",
                    started.elapsed().as_secs_f64()
                );
            } else {
                eprintln!("reusing the district stored in {}", db.display());
            }
            let bind = format!("127.0.0.1:{port}");
            demo_accounts(&store, &bind).await?;
            println!("Minqing demo: http://{bind}/   (store: {url})");
            let live = (!no_live).then(|| Duration::from_secs(live_every_secs.max(1)));
            if live.is_some() {
                println!(
                    "living demo: a new report or a step every {live_every_secs} s (--no-live to keep it still)"
                );
            }
            // The demo is an open-data portal: public aggregates on, protected.
            serve(store, &bind, &cfg, live, true).await?;
        }
    }
    Ok(())
}

/// The demo's leader, as the living demo acts (its steps name this account).
async fn demo_caller(store: &Store) -> Result<minqing_domain::auth::Caller> {
    let record = users::login_record(store, "leader")
        .await?
        .context("the demo leader account is missing")?;
    let who = users::identity(store, record.id)
        .await?
        .context("the demo leader account is missing")?;
    Ok(minqing_domain::auth::Caller {
        user_id: record.id,
        display: who.display_name.unwrap_or_else(|| who.username.clone()),
        username: who.username,
        role: who.role,
        grids: std::sync::Arc::new(who.grids),
        mediation_org: who.mediation_org,
        client: "living-demo".into(),
        token_hash: String::new(),
    })
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
    until: minqing_domain::time::Date,
) -> Result<minqing_domain::generate::Manifest> {
    let pb = spinner("generating");
    let m = minqing_domain::generate::generate_until(out, scale, seed, until, &|phase| {
        pb.set_message(format!("generating {phase}"))
    });
    pb.finish_and_clear();
    m
}

/// Import `dir`, each file's report with the seconds it took (read, validate, link, store).
async fn import_with_progress(
    store: &Store,
    dir: &Path,
    opts: &minqing_domain::import::ImportOptions,
) -> Result<Vec<(FileReport, f64)>> {
    let pb = spinner("importing");
    let starts = std::sync::Mutex::new(Vec::new());
    let r = minqing_domain::import::import_dir_with(store, dir, opts, &|file| {
        starts.lock().unwrap().push(Instant::now());
        pb.set_message(format!("importing {file}"))
    })
    .await;
    pb.finish_and_clear();
    let mut starts = starts.into_inner().unwrap();
    starts.push(Instant::now());
    let seconds = starts.windows(2).map(|w| (w[1] - w[0]).as_secs_f64());
    Ok(r?.into_iter().zip(seconds).collect())
}

/// `all_errors`: list every bad row (a dry run), not the first five of each file.
fn print_report(reports: &[(FileReport, f64)], all_errors: bool) {
    println!(
        "{:<20} {:>8} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "file",
        "encoding",
        "rows",
        "loaded",
        "dupes",
        "bad",
        "unit",
        "building",
        "ambig/un",
        "pending",
        "seconds"
    );
    for (r, seconds) in reports {
        println!(
            "{:<20} {:>8} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8.1}",
            r.file,
            r.encoding,
            r.rows_total,
            r.rows_loaded,
            r.rows_duplicate,
            r.errors.len(),
            r.links.unit,
            r.links.building,
            r.links.ambiguous + r.links.unmatched,
            r.links.pending,
            seconds
        );
        if r.rows_updated > 0 || r.rows_retired > 0 {
            println!(
                "    delta: {} updated, {} retired",
                r.rows_updated, r.rows_retired
            );
        }
        if r.format != "csv" || r.crs != "wgs84" {
            println!("    read as {}, coordinates in {}", r.format, r.crs);
        }
        if let Some(why) = &r.failed {
            println!("    FAILED: {why}");
        }
        // A dry run lists every problem: it is the list to fix before the real import.
        let shown = if all_errors { usize::MAX } else { 5 };
        for e in r.errors.iter().take(shown) {
            println!("    {} {}: {}", r.position, e.line, e.message);
        }
        if r.errors.len() > shown {
            println!(
                "    … {} more bad rows (all stored in import_errors)",
                r.errors.len() - 5
            );
        }
    }
}

/// Serve `store` on `bind`; `live`: run the living demo with a change that often (the
/// demo only); `public_default`: whether anonymous callers get public aggregates when
/// the configuration does not say (`serve`: no, `demo`: yes).
async fn serve(
    store: Store,
    bind: &str,
    cfg: &Config,
    live: Option<Duration>,
    public_default: bool,
) -> Result<()> {
    let started = Instant::now();
    // Names and birth dates stored in the clear before migration 0011 are sealed now.
    let sealed = personal::seal_plain_names(&store).await?;
    if sealed > 0 {
        tracing::info!(
            rows = sealed,
            "sealed names and birth dates stored in the clear"
        );
    }
    let (risk_grid, risk_building) = cfg.analysis.risk.resolve()?;
    let state = App::new(store.clone())
        .with_deadlines(cfg.deadlines.clone().unwrap_or_default())
        .with_risk(risk_grid, risk_building)
        .with_outside_basemap(cfg.basemap.clone())?;
    if let Some(ttl) = cfg.session_ttl_secs {
        state.auth().set_ttl_secs(ttl);
    }
    if let Some(ttl) = cfg.kiosk_session_ttl_secs {
        state.auth().set_kiosk_ttl_secs(ttl);
    }
    state
        .auth()
        .set_public_aggregates(cfg.public_aggregates.unwrap_or(public_default));
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    let bound = listener.local_addr().context("the bound address")?;
    // Scripts and tests that pass port 0 read the real address here.
    println!("listening on http://{bound}/");
    tracing::info!(%bound, store = store.backend(), "listening; loading the index");
    let loader = state.clone();
    tokio::spawn(async move {
        // The outbox position before the load: changes committed during the load are
        // applied again by the follower, which keeps the newest version (harmless).
        let outbox = minqing_domain::events::write::last_change(&loader.store).await;
        match minqing_domain::load_index(&loader.store).await {
            Ok(ix) => {
                tracing::info!(
                    buildings = ix.0.buildings.len(),
                    residents = ix.0.people.len(),
                    events = ix.1.len(),
                    seconds = started.elapsed().as_secs_f64(),
                    "index loaded"
                );
                loader.set_index(ix);
                if let Some(every) = live {
                    match demo_caller(&loader.store).await {
                        Ok(caller) => {
                            tokio::spawn(minqing_domain::generate::live::run(
                                loader.clone(),
                                caller,
                                every,
                            ));
                        }
                        Err(e) => tracing::warn!(error = %e, "no living demo"),
                    }
                }
                let warm = loader.clone();
                tokio::task::spawn_blocking(move || {
                    let started = std::time::Instant::now();
                    match minqing_domain::tiles_service::analysis_layers::warm(&warm) {
                        Ok(()) => tracing::info!(
                            ms = started.elapsed().as_millis() as u64,
                            "hotspots/risk tile feed built"
                        ),
                        Err(e) => {
                            tracing::warn!(error = %e, "building the hotspots/risk tile feed failed")
                        }
                    }
                });
                // Other replicas' writes (PostgreSQL only; see events::replica).
                match outbox {
                    Ok(after) => {
                        tokio::spawn(minqing_domain::events::replica::follow(
                            loader.clone(),
                            after,
                        ));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "no outbox position; not following other replicas")
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, "loading the index failed");
                std::process::exit(1);
            }
        }
    });
    // Expired idempotency records are removed hourly (the intake path also ignores them).
    let purger = state.store.clone();
    tokio::spawn(async move {
        let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            hourly.tick().await;
            let now = minqing_domain::time::system_now();
            match minqing_domain::events::write::purge_idempotency(&purger, now).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "expired idempotency keys"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging idempotency keys failed"),
            }
        }
    });
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// Install the configured data key, or refuse: personal data is never stored or read
/// without one.
fn install_configured_keys(cfg: &Config) -> Result<()> {
    let keys = cfg.data_keys()?.context(
        "no data key: set MINQING_DATA_KEY (64 hex digits, e.g. from `minqing gen-key`) \
         or MINQING_DATA_KEY_FILE",
    )?;
    personal::install_keys(keys)
}

/// The demo uses the configured key, or a key file in its data directory (created on
/// first run, readable by the owner only).
fn demo_keys(cfg: &Config, data_dir: &Path) -> Result<()> {
    if let Some(keys) = cfg.data_keys()? {
        return personal::install_keys(keys);
    }
    let path = data_dir.join("data.key");
    if !path.exists() {
        std::fs::write(&path, personal::DataKeys::generate_hex() + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        eprintln!(
            "no MINQING_DATA_KEY configured: generated a data key in {} — ID numbers and phones \
             are encrypted with it; keep it, without it they cannot be read",
            path.display()
        );
    }
    let text = std::fs::read_to_string(&path)?;
    personal::install_keys(personal::DataKeys::from_hex(&text)?)
}

/// Demo passwords are deterministic (documented in README.md) so a demo can be shown
/// without copying secrets around; never use `minqing demo` accounts in production.
const DEMO_PASSWORDS: [(&str, Role, &str); 6] = [
    ("admin", Role::Admin, "demo-admin-pass"),
    ("leader", Role::Leader, "demo-leader-pass"),
    ("screen", Role::Screen, "demo-screen-pass"),
    ("mediator", Role::Mediator, "demo-mediator-pass"),
    ("reception", Role::Reception, "demo-reception-pass"),
    ("riskcentre", Role::RiskCentre, "demo-riskcentre-pass"),
];

/// Display names of the demo accounts (shown as case owners and assignees; the
/// generated events name the same).
const DEMO_DISPLAY: [(&str, &str); 6] = minqing_domain::generate::DEMO_DISPLAY_NAMES;
const DEMO_GRID_PASSWORD: &str = "demo-grid-pass";

async fn demo_accounts(store: &Store, bind: &str) -> Result<()> {
    if store.count("users").await? > 0 {
        println!(
            "demo accounts: admin, leader, screen, mediator, reception, riskcentre, grid-<grid code> (passwords in README.md)"
        );
        // A store made before the reception and the risk centre existed gets them too.
        for (name, role, pass) in DEMO_PASSWORDS {
            if matches!(role, Role::Reception | Role::RiskCentre)
                && users::login_record(store, name).await?.is_none()
            {
                users::create(store, name, pass, role, None, &[]).await?;
                if let Some((_, display)) = DEMO_DISPLAY.iter().find(|(n, _)| *n == name) {
                    users::set_display_name(store, name, display).await?;
                }
                println!("  added {name:<10} {:<12} password {pass}", role.as_str());
            }
        }
        return Ok(());
    }
    let pb = spinner("creating demo accounts");
    for (name, role, pass) in DEMO_PASSWORDS {
        let org = (role == Role::Mediator).then_some(minqing_domain::generate::DEMO_MEDIATOR_ORG);
        users::create(store, name, pass, role, org, &[]).await?;
        if let Some((_, display)) = DEMO_DISPLAY.iter().find(|(n, _)| *n == name) {
            users::set_display_name(store, name, display).await?;
        }
    }
    let grids = minqing_domain::auth::users::grid_codes(store).await?;
    use futures_util::StreamExt;
    let results: Vec<Result<i64>> = futures_util::stream::iter(grids.iter().map(|g| {
        let store = store.clone();
        let g = g.clone();
        async move {
            users::create(
                &store,
                &format!("grid-{g}"),
                DEMO_GRID_PASSWORD,
                Role::GridWorker,
                None,
                std::slice::from_ref(&g),
            )
            .await
        }
    }))
    .buffer_unordered(4)
    .collect()
    .await;
    results.into_iter().collect::<Result<Vec<_>>>()?;
    pb.finish_and_clear();
    println!("demo accounts created (shown once; also in README.md):");
    for (name, role, pass) in DEMO_PASSWORDS {
        println!("  {name:<10} {:<12} password {pass}", role.as_str());
    }
    if let Some(g) = grids.first() {
        println!(
            "  grid-<code> grid_worker  password {DEMO_GRID_PASSWORD}  ({} accounts, e.g. grid-{g})",
            grids.len()
        );
    }
    println!(
        "sign in: curl -s -X POST http://{bind}/api/v1/auth/login -H 'content-type: application/json' \
         -d '{{\"username\":\"leader\",\"password\":\"demo-leader-pass\"}}'  then send \
         'Authorization: Bearer <token>'"
    );
    Ok(())
}

fn read_password() -> Result<Secret> {
    eprintln!("password (first line of standard input):");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(Secret::new(line.trim_end_matches(['\r', '\n'])))
}

async fn user_command(action: UserAction, cfg: &Config) -> Result<()> {
    let cli_record = |action: &'static str, target: &str| {
        let target = target.to_string();
        move |store: Store| async move {
            audit::append(
                &store,
                audit::Record {
                    actor: "cli",
                    role: "admin",
                    action,
                    target: &target,
                    reason: None,
                    client: None,
                },
            )
            .await
        }
    };
    match action {
        UserAction::Add {
            database_url: url,
            username,
            role,
            grids,
            mediation_org,
            display,
        } => {
            let role = Role::parse(&role)
                .context("role must be screen, grid_worker, mediator, leader, admin, reception or risk_centre")?;
            let store = Store::connect(database_url(url, cfg)?.expose()).await?;
            store.migrate().await?;
            let password = read_password()?;
            users::create(
                &store,
                &username,
                password.expose(),
                role,
                mediation_org.as_deref(),
                &grids,
            )
            .await?;
            if let Some(d) = &display {
                users::set_display_name(&store, &username, d).await?;
            }
            cli_record("user_add", &format!("{username}:{}", role.as_str()))(store).await?;
            println!("created {username} ({})", role.as_str());
        }
        UserAction::List { database_url: url } => {
            let store = Store::connect(database_url(url, cfg)?.expose()).await?;
            for u in users::list(&store).await? {
                println!(
                    "{:<28} {:<12} org={:<16} grids={}{}",
                    u.username,
                    u.role.as_str(),
                    u.mediation_org.as_deref().unwrap_or("-"),
                    u.grids.join(","),
                    if u.disabled { " (disabled)" } else { "" }
                );
            }
        }
        UserAction::Passwd {
            database_url: url,
            username,
        } => {
            let store = Store::connect(database_url(url, cfg)?.expose()).await?;
            let password = read_password()?;
            users::set_password(&store, &username, password.expose()).await?;
            cli_record("user_passwd", &username)(store).await?;
            println!("password of {username} changed; its sessions are revoked");
        }
    }
    Ok(())
}
