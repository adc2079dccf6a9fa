//! Configuration: an optional TOML file, overridden by `MINQING_*` environment
//! variables, overridden by command-line flags. Secrets never print.
//!
//! Why by hand and not `figment`/`config`: the layering is eight keys and one
//! environment variable each, and every bad value must be reported with the key that
//! holds it (the risk settings' validation names each one); a layering crate would add a
//! dependency and a second error vocabulary for ~100 lines that are tested here.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::fmt;
use std::path::Path;

/// A value that must not appear in logs or debug output.
///
/// Why not `secrecy::SecretString`: it gives the same guarantee (no `Debug`/`Display`
/// of the value) but deliberately no `PartialEq`, which the configuration's comparison
/// tests rely on (`Config` derives it); this type is ten lines and tested below.
#[derive(Clone, Deserialize, Default, PartialEq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Settings that may come from the file or the environment.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://PATH` or `postgres://…` (may hold a password, hence secret).
    pub database_url: Option<Secret>,
    pub bind: Option<String>,
    /// `tracing` filter, e.g. `info,minqing_server=debug`.
    pub log: Option<String>,
    /// `text` or `json` logs.
    pub log_format: Option<String>,
    /// Handling deadlines: `[deadlines]` with `days = { dispute = 15, … }` and
    /// `tier_factor = { small = 1, medium = 2, large = 4 }`; defaults are the generator's.
    pub deadlines: Option<crate::events::Deadlines>,
    /// The analysis models: `[analysis.risk]` weights, tier thresholds and reference
    /// values (see [`crate::analysis::RiskSettings`]); checked by [`Config::load`].
    pub analysis: crate::analysis::AnalysisSettings,
    /// The master key of personal-data encryption: 64 hex digits (32 bytes). Never
    /// stored in the database. `MINQING_DATA_KEY`.
    pub data_key: Option<Secret>,
    /// A file holding the data key as hex (`MINQING_DATA_KEY_FILE`), if `data_key` is unset.
    pub data_key_file: Option<std::path::PathBuf>,
    /// Session lifetime in seconds (default 8 hours). `MINQING_SESSION_TTL_SECS`.
    pub session_ttl_secs: Option<i64>,
    /// Lifetime of kiosk sessions (the `screen` role, the wall) in seconds (default 90
    /// days). `MINQING_KIOSK_SESSION_TTL_SECS`.
    pub kiosk_session_ttl_secs: Option<i64>,
    /// Whether anonymous requests may read public aggregates (statistics, area polygons,
    /// aggregate map layers, analysis results, address search), always through the disclosure layer; default
    /// false for `minqing serve`, true for `minqing demo`. Personal
    /// records and event records always need a token. `MINQING_PUBLIC_AGGREGATES`.
    pub public_aggregates: Option<bool>,
    /// An outside basemap under Minqing's own layers, for connected deployments; off by
    /// default (`[basemap]`, or `MINQING_BASEMAP_TILES` and `MINQING_BASEMAP_ATTRIBUTION`).
    pub basemap: Option<OutsideBasemap>,
}

/// Raster tiles from another server drawn under the one-map's own layers — e.g.
/// Tianditu's street map and its labels (`vec_w`, `cva_w`, each with the centre's `tk`
/// key) or any XYZ tile server. The views' Content-Security-Policy then allows exactly
/// these tile URLs' origins and no other.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutsideBasemap {
    /// Tile URL templates with `{z}`, `{x}` and `{y}`, drawn bottom to top (a street
    /// map, then its labels).
    pub tiles: Vec<String>,
    /// The tiles' size in pixels (default 256).
    #[serde(default)]
    pub tile_size: Option<u32>,
    /// The credit shown on the map, e.g. "天地图".
    #[serde(default)]
    pub attribution: Option<String>,
}

impl OutsideBasemap {
    /// The distinct origins (`scheme://host[:port]`) of the tile URLs, checked: http or
    /// https, `{z}`/`{x}`/`{y}` present, nothing that could break out of a
    /// Content-Security-Policy source expression.
    pub fn origins(&self) -> Result<Vec<String>> {
        anyhow::ensure!(
            !self.tiles.is_empty(),
            "basemap.tiles: give at least one tile URL"
        );
        let mut origins: Vec<String> = Vec::new();
        for url in &self.tiles {
            let rest = url
                .strip_prefix("https://")
                .map(|r| ("https", r))
                .or_else(|| url.strip_prefix("http://").map(|r| ("http", r)));
            let Some((scheme, rest)) = rest else {
                anyhow::bail!("basemap.tiles: {url:?} is not an http(s) URL");
            };
            for part in ["{z}", "{x}", "{y}"] {
                anyhow::ensure!(url.contains(part), "basemap.tiles: {url:?} has no {part}");
            }
            anyhow::ensure!(
                url.is_ascii()
                    && !url
                        .chars()
                        .any(|c| c.is_whitespace() || matches!(c, ';' | ',' | '\'' | '"')),
                "basemap.tiles: {url:?} is not plain ASCII or holds a space, quote, comma or semicolon"
            );
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            anyhow::ensure!(
                !host.is_empty() && !host.contains('@'),
                "basemap.tiles: {url:?} has no plain host"
            );
            let origin = format!("{scheme}://{host}");
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(origins)
    }
}

impl Config {
    /// Read `path` (if given) then apply `MINQING_DATABASE_URL`, `MINQING_BIND`,
    /// `MINQING_LOG`, `MINQING_LOG_FORMAT`, `MINQING_DATA_KEY`, `MINQING_DATA_KEY_FILE` and
    /// `MINQING_SESSION_TTL_SECS`, `MINQING_KIOSK_SESSION_TTL_SECS` from `env`.
    pub fn load(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let mut cfg = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?
            }
            None => Config::default(),
        };
        if let Some(v) = env("MINQING_DATABASE_URL") {
            cfg.database_url = Some(Secret(v));
        }
        if let Some(v) = env("MINQING_BIND") {
            cfg.bind = Some(v);
        }
        if let Some(v) = env("MINQING_LOG") {
            cfg.log = Some(v);
        }
        if let Some(v) = env("MINQING_LOG_FORMAT") {
            cfg.log_format = Some(v);
        }
        if let Some(v) = env("MINQING_DATA_KEY") {
            cfg.data_key = Some(Secret(v));
        }
        if let Some(v) = env("MINQING_DATA_KEY_FILE") {
            cfg.data_key_file = Some(v.into());
        }
        if let Some(v) = env("MINQING_SESSION_TTL_SECS") {
            cfg.session_ttl_secs = Some(
                v.parse()
                    .context("MINQING_SESSION_TTL_SECS must be seconds")?,
            );
        }
        if let Some(v) = env("MINQING_KIOSK_SESSION_TTL_SECS") {
            cfg.kiosk_session_ttl_secs = Some(
                v.parse()
                    .context("MINQING_KIOSK_SESSION_TTL_SECS must be seconds")?,
            );
        }
        if let Some(v) = env("MINQING_PUBLIC_AGGREGATES") {
            cfg.public_aggregates = Some(match v.as_str() {
                "true" | "1" | "on" => true,
                "false" | "0" | "off" => false,
                _ => anyhow::bail!("MINQING_PUBLIC_AGGREGATES must be true or false"),
            });
        }
        if let Some(v) = env("MINQING_BASEMAP_TILES") {
            cfg.basemap = Some(OutsideBasemap {
                tiles: v.split_whitespace().map(str::to_string).collect(),
                tile_size: cfg.basemap.as_ref().and_then(|b| b.tile_size),
                attribution: env("MINQING_BASEMAP_ATTRIBUTION")
                    .or_else(|| cfg.basemap.as_ref().and_then(|b| b.attribution.clone())),
            });
        }
        if let Some(basemap) = &cfg.basemap {
            basemap.origins()?;
        }
        // Refuse bad analysis settings at start, with every bad value named.
        cfg.analysis.risk.resolve()?;
        Ok(cfg)
    }

    /// The configured data key (inline or from its file), if any.
    pub fn data_keys(&self) -> Result<Option<crate::personal::DataKeys>> {
        if let Some(k) = &self.data_key {
            return crate::personal::DataKeys::from_hex(k.expose()).map(Some);
        }
        if let Some(path) = &self.data_key_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the data key file {}", path.display()))?;
            return crate::personal::DataKeys::from_hex(&text).map(Some);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_and_secret_never_prints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("minqing.toml");
        std::fs::write(
            &path,
            "database_url = \"postgres://u:hunter2@db/x\"\nbind = \"0.0.0.0:1\"\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&path), |k| {
            (k == "MINQING_BIND").then(|| "127.0.0.1:9".to_string())
        })
        .unwrap();
        assert_eq!(cfg.bind.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(
            cfg.database_url.as_ref().unwrap().expose(),
            "postgres://u:hunter2@db/x"
        );
        assert!(!format!("{cfg:?}").contains("hunter2"));
        std::fs::write(&path, "unknown_key = 1\n").unwrap();
        assert!(Config::load(Some(&path), |_| None).is_err());
    }

    #[test]
    fn an_outside_basemap_names_its_origins_and_refuses_what_would_break_the_policy() {
        let load = |tiles: &str| {
            Config::load(None, |k| {
                (k == "MINQING_BASEMAP_TILES").then(|| tiles.to_string())
            })
        };
        let cfg = load(
            "https://t0.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=k \
             https://t0.tianditu.gov.cn/cva_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=k \
             http://127.0.0.1:8081/{z}/{x}/{y}.png",
        )
        .unwrap();
        assert_eq!(
            cfg.basemap.unwrap().origins().unwrap(),
            ["https://t0.tianditu.gov.cn", "http://127.0.0.1:8081"]
        );
        for bad in [
            "ftp://tiles.example/{z}/{x}/{y}.png",
            "https://tiles.example/{z}/{x}.png",
            "https://tiles.example/{z}/{x}/{y}.png;script-src",
            "https://a'b/{z}/{x}/{y}",
            "https:///{z}/{x}/{y}",
        ] {
            assert!(load(bad).is_err(), "{bad} accepted");
        }
        assert!(
            Config::load(None, |_| None).unwrap().basemap.is_none(),
            "off by default"
        );
    }
}
