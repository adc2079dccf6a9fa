//! Property tests: tile maths round trips, clipping totality and bounds, encoder totality.

use geo_types::{Coord, Geometry, LineString, Polygon};
use minqing_tiles::clip::{ClipBox, clip_line, clip_point, clip_ring};
use minqing_tiles::mvt_encode::{EncodeOptions, TileBuilder};
use minqing_tiles::projection::{lonlat_to_mercator, mercator_to_lonlat};
use minqing_tiles::tile::{MAX_ZOOM, TileId, TileRange};
use proptest::prelude::*;

fn coord() -> impl Strategy<Value = Coord<i64>> {
    prop_oneof![
        (-10_000i64..14_000, -10_000i64..14_000).prop_map(|(x, y)| Coord { x, y }),
        (any::<i32>(), any::<i32>()).prop_map(|(x, y)| Coord {
            x: x.into(),
            y: y.into()
        }),
    ]
}

proptest! {
    #[test]
    fn any_tile_id_input_never_panics(z in any::<u8>(), x in any::<u32>(), y in any::<u32>()) {
        if let Ok(t) = TileId::new(z, x, y) {
            prop_assert!(t.z() <= MAX_ZOOM);
            let b = t.bounds_lonlat();
            prop_assert!(b.west < b.east && b.south < b.north);
            if let Some(p) = t.parent() { prop_assert!(p.children().unwrap().contains(&t)); }
            let _ = t.transform();
        }
        let _ = TileId::checked(u32::from(z) * 3, u64::from(x) * 7, u64::from(y));
        let _ = TileId::parse(&z.to_string(), &x.to_string(), &format!("{y}x"));
    }

    #[test]
    fn lonlat_tile_roundtrip(lon in -180.0f64..180.0, lat in -85.0f64..85.0, z in 0u8..=22) {
        let t = TileId::from_lonlat(lon, lat, z).unwrap();
        let b = t.bounds_lonlat();
        prop_assert!(b.west <= lon + 1e-9 && lon <= b.east + 1e-9);
        prop_assert!(b.south <= lat + 1e-9 && lat <= b.north + 1e-9);
        let tr = t.transform();
        let (x, y) = tr.lonlat_to_tile(lon, lat).unwrap();
        prop_assert!((0..=4096).contains(&x) && (0..=4096).contains(&y));
        // Back from the integer position: within half a tile unit (plus float slack).
        let (lon2, lat2) = tr.tile_to_lonlat(f64::from(x), f64::from(y));
        let (x2, y2) = tr.lonlat_to_tile(lon2, lat2).unwrap();
        prop_assert_eq!((x, y), (x2, y2));
        let (mx, my) = lonlat_to_mercator(lon, lat);
        let (lon3, lat3) = mercator_to_lonlat(mx, my);
        prop_assert!((lon - lon3).abs() < 1e-9 && (lat - lat3).abs() < 1e-9);
        prop_assert!(TileRange::covering(&b, z).unwrap().contains(&t));
    }

    #[test]
    fn clipping_is_total_and_bounded(
        pts in prop::collection::vec(coord(), 0..40),
        buffer in 0u32..512,
    ) {
        let b = ClipBox::new(buffer);
        let inside = |c: &Coord<i32>| b.contains(c.x.into(), c.y.into());
        for p in &pts {
            if let Some(c) = clip_point(*p, &b) { prop_assert!(inside(&c)); }
        }
        for part in clip_line(&pts, &b) {
            prop_assert!(part.0.len() >= 2);
            prop_assert!(part.0.iter().all(inside));
        }
        if let Some(r) = clip_ring(&pts, &b) {
            prop_assert!(r.len() >= 3);
            prop_assert!(r.iter().all(inside));
        }
    }

    #[test]
    fn encoder_is_total(
        pts in prop::collection::vec(coord(), 0..30),
        z in 0u8..=22,
    ) {
        let t = TileId::new(z, 0, 0).unwrap();
        let mut tb = TileBuilder::new(t, EncodeOptions::default());
        let narrow: Vec<Coord<i64>> = pts.clone();
        let line = LineString::new(narrow.clone());
        let _ = tb.layer("l").add_tile_geometry(&Geometry::LineString(line.clone()), None, &[]);
        let _ = tb.layer("p").add_tile_geometry(&Geometry::Polygon(Polygon::new(line, vec![])), None, &[]);
        for p in &pts {
            let _ = tb.layer("pt").add_tile_point(p.x, p.y, None, &[]);
        }
        let enc = tb.finish().unwrap();
        if !enc.is_empty() {
            prop_assert!(mvt_reader::Reader::new(enc.bytes).is_ok());
        }
    }
}
