//! Tile paths: `TileId::parse` on arbitrary components, then the same text as the path
//! (and query) of the tile, TileJSON and heat-map routes of a loaded server. No panic,
//! no 5xx.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '/');
    let (z, x, y) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    if let Ok(t) = minqing_tiles::TileId::parse(z, x, y) {
        assert!(u64::from(t.x()) < t.tiles_per_side() && u64::from(t.y()) < t.tiles_per_side());
    }
    let server = minqing_fuzz::server();
    let (head, query) = text.split_once('?').unwrap_or((text, ""));
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    for prefix in ["/tiles/", "/tiles/buildings,events/", "/heatmap/"] {
        let uri = format!("{prefix}{head}{q}");
        server.request("GET", &uri, None, Vec::new());
        server.request("GET", &uri, Some(&server.leader), Vec::new());
    }
});
