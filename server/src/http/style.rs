//! The MapLibre style over our own sources only: no URL outside this server.
//!
//! **Labels without the internet.** We ship no glyph PBFs. The style's `glyphs` points at
//! this server's `/fonts/{fontstack}/{range}.pbf`, which answers an empty (valid) glyph
//! set, and the labels are Chinese: MapLibre draws CJK ideographs locally with the
//! browser's own fonts (`localIdeographFontFamily`, default `sans-serif`), so area and
//! road names render offline. Latin letters and digits inside labels have no glyphs and
//! are not drawn (a known limitation until a glyph set is shipped).

//!
//! **Basemap.** Land use and water fills under the areas, points of interest with
//! their names above the points (our own basemap, issue 24); an outside basemap, when
//! configured, replaces them.
//!
//! **Analysis layers.** `hotspots` and `risk` come from a second source
//! (`/tiles/hotspots,risk/…`) so that they take no share of the base tiles' feature
//! budget. Significant hot and cold spots are drawn; the risk fills and risk buildings
//! cover the whole district and start hidden (`visibility: none`), for a client to switch on.

use minqing_domain::config::OutsideBasemap;
use serde_json::{Value, json};

const FONT: &str = "Noto Sans CJK SC Regular";
/// The layers drawn from the analysis results (a second source).
const ANALYSIS: &str = "hotspots,risk";
/// Our own basemap's layers (a third source).
const BASEMAP: &str = "landuse,water,pois";

pub fn style(base: &str, bounds: [f64; 4], outside: Option<&OutsideBasemap>) -> Value {
    let mut style = own_style(base, bounds);
    if let Some(basemap) = outside {
        underlay(&mut style, basemap);
    }
    style
}

/// Put a configured outside basemap's raster tiles under every layer but the
/// background, each URL its own source (`outside-0`, `outside-1`, …) in the configured
/// order; our area fills become lighter so the streets show through.
fn underlay(style: &mut Value, basemap: &OutsideBasemap) {
    let size = basemap.tile_size.unwrap_or(256);
    let mut layers = Vec::new();
    for (k, url) in basemap.tiles.iter().enumerate() {
        let id = format!("outside-{k}");
        style["sources"][&id] = json!({
            "type": "raster",
            "tiles": [url],
            "tileSize": size,
            "attribution": basemap.attribution.clone().unwrap_or_default(),
        });
        layers.push(json!({"id": id, "type": "raster", "source": id}));
    }
    if let Some(list) = style["layers"].as_array_mut() {
        // The outside basemap replaces ours: our land-use and water fills would hide it.
        list.retain(|l| {
            !l["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("basemap-"))
        });
        let after_background = usize::from(list.first().is_some_and(|l| l["id"] == "background"));
        for (k, layer) in layers.into_iter().enumerate() {
            list.insert(after_background + k, layer);
        }
        for layer in list.iter_mut().filter(|l| l["id"] == "areas-fill") {
            layer["paint"]["fill-opacity"] = json!(0.25);
        }
    }
}

fn own_style(base: &str, bounds: [f64; 4]) -> Value {
    let layers = "areas,roads,buildings,enterprises,events";
    let center = [(bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0];
    json!({
        "version": 8,
        "name": "民情 一张图",
        "center": center,
        "zoom": 11,
        "glyphs": format!("{base}/fonts/{{fontstack}}/{{range}}.pbf"),
        "sources": {
            "minqing": {
                "type": "vector",
                "tiles": [format!("{base}/tiles/{layers}/{{z}}/{{x}}/{{y}}.mvt")],
                "minzoom": 0,
                "maxzoom": 16,
                "bounds": bounds,
                "attribution": "民情 Minqing (synthetic data)"
            },
            // Our own basemap in its own source (its features take no share of the
            // base tiles' budget).
            "basemap": {
                "type": "vector",
                "tiles": [format!("{base}/tiles/{BASEMAP}/{{z}}/{{x}}/{{y}}.mvt")],
                "minzoom": 8,
                "maxzoom": 16,
                "bounds": bounds,
                "attribution": "民情 Minqing (synthetic data)"
            },
            // The analysis layers in their own source, so that they do not take a share
            // of the base tiles' feature budget.
            "analysis": {
                "type": "vector",
                "tiles": [format!("{base}/tiles/{ANALYSIS}/{{z}}/{{x}}/{{y}}.mvt")],
                "minzoom": 8,
                "maxzoom": 16,
                "bounds": bounds,
                "attribution": "民情 Minqing (synthetic data)"
            },
            "heat": {
                "type": "raster",
                "tiles": [format!("{base}/heatmap/{{z}}/{{x}}/{{y}}.png")],
                "tileSize": 256,
                "minzoom": 0,
                "maxzoom": 18,
                "bounds": bounds
            }
        },
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": "#f4f1ea"}},
            // Our own basemap (issue 24; the views draw it with web/src/basemap.js).
            {"id": "basemap-landuse", "type": "fill", "source": "basemap", "source-layer": "landuse",
             "paint": {"fill-color": ["match", ["get", "kind"], "farmland", "#e6efd2", "forest", "#c9e2bb",
                "park", "#bfe3b4", "#efebe4"], "fill-antialias": false}},
            {"id": "basemap-water", "type": "fill", "source": "basemap", "source-layer": "water",
             "filter": ["==", ["geometry-type"], "Polygon"],
             "paint": {"fill-color": "#9ccbf0", "fill-antialias": false}},
            {"id": "areas-fill", "type": "fill", "source": "minqing", "source-layer": "areas",
             "paint": {"fill-color": ["match", ["get", "level"],
                "township", "#e8e0cf", "community", "#e3ead8", "#eef2f6"],
                "fill-opacity": 0.6}},
            {"id": "areas-line", "type": "line", "source": "minqing", "source-layer": "areas",
             "paint": {"line-color": "#8a7f6a", "line-width": ["interpolate", ["linear"], ["zoom"], 8, 0.6, 16, 2]}},
            {"id": "roads", "type": "line", "source": "minqing", "source-layer": "roads",
             "paint": {"line-color": ["match", ["get", "class"], "main", "#f0a040", "street", "#ffffff", "#d8cfb8"],
                       "line-width": ["match", ["get", "class"], "main", 3, 1.5]}},
            {"id": "risk", "type": "fill", "source": "analysis", "source-layer": "risk",
             "layout": {"visibility": "none"},
             "filter": ["==", ["geometry-type"], "Polygon"],
             "paint": {"fill-color": ["match", ["get", "tier"], "large", "#c0392b", "medium", "#e67e22", "#f1c40f"],
                       "fill-opacity": 0.45}},
            {"id": "hotspots", "type": "fill", "source": "analysis", "source-layer": "hotspots",
             "filter": ["!=", ["get", "class"], "not_significant"],
             "paint": {"fill-color": ["match", ["get", "class"],
                "hot99", "#b2182b", "hot95", "#ef8a62", "hot90", "#fddbc7",
                "cold90", "#d1e5f0", "cold95", "#67a9cf", "#2166ac"],
                "fill-opacity": 0.6}},
            {"id": "heatmap", "type": "raster", "source": "heat", "maxzoom": 15,
             "paint": {"raster-opacity": 0.7}},
            {"id": "buildings-cells", "type": "circle", "source": "minqing", "source-layer": "buildings",
             "filter": ["==", ["get", "cluster"], true],
             "paint": {"circle-color": "#5b7fa6", "circle-opacity": 0.6,
                       "circle-radius": ["interpolate", ["linear"], ["sqrt", ["get", "count"]], 1, 2, 30, 14]}},
            {"id": "buildings", "type": "circle", "source": "minqing", "source-layer": "buildings",
             "filter": ["!=", ["get", "cluster"], true],
             "paint": {"circle-color": "#3d5f85", "circle-radius": 3}},
            {"id": "enterprises", "type": "circle", "source": "minqing", "source-layer": "enterprises",
             "minzoom": 14, "filter": ["!=", ["get", "cluster"], true],
             "paint": {"circle-color": "#7a4fa0", "circle-radius": 2.5}},
            {"id": "events", "type": "circle", "source": "minqing", "source-layer": "events",
             "paint": {"circle-color": ["match", ["get", "risk_tier"], "large", "#d7301f", "medium", "#fc8d59", "#fdcc8a"],
                       "circle-radius": ["case", ["==", ["get", "cluster"], true],
                            ["interpolate", ["linear"], ["sqrt", ["get", "count"]], 1, 3, 30, 16], 4],
                       "circle-stroke-color": "#ffffff", "circle-stroke-width": 1}},
            {"id": "risk-buildings", "type": "circle", "source": "analysis", "source-layer": "risk",
             "layout": {"visibility": "none"},
             "filter": ["==", ["geometry-type"], "Point"],
             "paint": {"circle-color": ["match", ["get", "tier"], "large", "#c0392b", "#e67e22"],
                       "circle-radius": 4, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1}},
            {"id": "area-labels", "type": "symbol", "source": "minqing", "source-layer": "areas",
             "layout": {"text-field": ["get", "name"], "text-font": [FONT], "text-size": 13},
             "paint": {"text-color": "#4a4235", "text-halo-color": "#ffffff", "text-halo-width": 1.2}},
            {"id": "basemap-pois", "type": "circle", "source": "basemap", "source-layer": "pois",
             "paint": {"circle-color": "#8e44ad", "circle-radius": 4, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1}},
            {"id": "basemap-poi-labels", "type": "symbol", "source": "basemap", "source-layer": "pois",
             "layout": {"text-field": ["get", "name"], "text-font": [FONT], "text-size": 12, "text-anchor": "left",
                        "text-offset": [0.8, 0], "text-optional": true},
             "paint": {"text-color": "#333333", "text-halo-color": "#ffffff", "text-halo-width": 1}},
            {"id": "road-labels", "type": "symbol", "source": "minqing", "source-layer": "roads",
             "minzoom": 13, "filter": ["!=", ["get", "class"], "service"],
             "layout": {"symbol-placement": "line", "text-field": ["get", "name"], "text-font": [FONT], "text-size": 12},
             "paint": {"text-color": "#555555", "text-halo-color": "#ffffff", "text-halo-width": 1}}
        ]
    })
}
