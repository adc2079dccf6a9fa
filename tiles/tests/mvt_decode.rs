//! Tiles encoded here are decoded with `mvt-reader`, an independent decoder.

mod common;

use geo_types::{Geometry, LineString, MultiPolygon, Polygon};
use minqing_tiles::mvt_encode::{EncodeError, EncodeOptions, PropValue, TileBuilder};
use minqing_tiles::simplify::Topology;
use minqing_tiles::tile::TileId;
use mvt_reader::Reader;
use mvt_reader::feature::Value;

/// Independent slippy-map projection to fractional tile-local units.
fn reference_tile_xy(lon: f64, lat: f64, t: TileId) -> (f64, f64) {
    let n = (1u64 << t.z()) as f64;
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    (
        (x - f64::from(t.x())) * 4096.0,
        (y - f64::from(t.y())) * 4096.0,
    )
}

fn core_tile() -> TileId {
    TileId::from_lonlat(104.397, 31.127, 14).unwrap()
}

fn decode(bytes: &[u8]) -> Reader {
    Reader::new(bytes.to_vec()).expect("mvt-reader accepts the tile")
}

#[test]
fn dense_points_positions_counts_and_properties() {
    let tile = core_tile();
    let pts = common::city_points(8000, 0.004, 11);
    let buffer = 64u32;
    let mut tb = TileBuilder::new(
        tile,
        EncodeOptions {
            buffer,
            max_features_per_layer: 100_000,
        },
    );
    let kinds = ["fire", "flood", "dispute"];
    for (i, (lon, lat, w)) in pts.iter().enumerate() {
        let props = [
            ("w0", PropValue::F64(w[0])),
            ("w1", PropValue::I64(w[1] as i64 - 5)),
            ("n", PropValue::U64(i as u64)),
            ("kind", PropValue::Str(kinds[i % 3])),
            ("odd", PropValue::Bool(i % 2 == 1)),
        ];
        tb.layer("events")
            .add_lonlat_point(*lon, *lat, Some(i as u64), &props)
            .unwrap();
    }
    let enc = tb.finish().unwrap();
    // Brute force over the same bounds and buffer.
    let lim = (-(buffer as f64) - 0.5, 4096.0 + buffer as f64 + 0.5);
    let expected: Vec<usize> = pts
        .iter()
        .enumerate()
        .filter(|(_, (lon, lat, _))| {
            let (x, y) = reference_tile_xy(*lon, *lat, tile);
            x.round() >= lim.0 && x.round() <= lim.1 && y.round() >= lim.0 && y.round() <= lim.1
        })
        .map(|(i, _)| i)
        .collect();
    assert!(
        expected.len() > 3000 && expected.len() < pts.len(),
        "{}",
        expected.len()
    );
    assert_eq!(enc.feature_count(), expected.len());

    let r = decode(&enc.bytes);
    assert_eq!(r.get_layer_names().unwrap(), vec!["events".to_string()]);
    let meta = r.get_layer_metadata().unwrap();
    assert_eq!(meta[0].extent, 4096);
    assert_eq!(meta[0].version, 2);
    let feats = r.get_features_as::<i32>(0).unwrap();
    assert_eq!(feats.len(), expected.len());
    let mut seen = Vec::new();
    for f in &feats {
        let i = f.id.unwrap() as usize;
        seen.push(i);
        let (lon, lat, w) = pts[i];
        let (ex, ey) = reference_tile_xy(lon, lat, tile);
        let Geometry::MultiPoint(mp) = &f.geometry else {
            panic!("point expected, got {:?}", f.geometry)
        };
        assert_eq!(mp.0.len(), 1);
        let p = mp.0[0];
        assert!((f64::from(p.x()) - ex).abs() <= 1.0 && (f64::from(p.y()) - ey).abs() <= 1.0);
        let props = f.properties.as_ref().unwrap();
        assert_eq!(props.get("w0"), Some(&Value::Double(w[0])));
        assert_eq!(props.get("w1"), Some(&Value::SInt(w[1] as i64 - 5)));
        assert_eq!(props.get("n"), Some(&Value::UInt(i as u64)));
        assert_eq!(
            props.get("kind"),
            Some(&Value::String(kinds[i % 3].to_string()))
        );
        assert_eq!(props.get("odd"), Some(&Value::Bool(i % 2 == 1)));
    }
    seen.sort_unstable();
    assert_eq!(seen, expected);
}

fn area2(ring: &LineString<i32>) -> i64 {
    ring.0
        .windows(2)
        .map(|w| i64::from(w[0].x) * i64::from(w[1].y) - i64::from(w[1].x) * i64::from(w[0].y))
        .sum()
}

#[test]
fn polygons_decode_with_correct_winding_and_area() {
    let input = common::tessellation(6, 40, 21);
    let topo = Topology::build(&input);
    let z = 12;
    let generalized = topo.generalize(z, 1.0);
    // A tile in the district's interior: the clipped pieces must cover it exactly.
    let tile = TileId::from_lonlat(104.40, 31.125, z).unwrap();
    let pieces = generalized.tile_features(tile, 0);
    assert!(pieces.len() > 1);
    let mut tb = TileBuilder::new(
        tile,
        EncodeOptions {
            buffer: 0,
            ..Default::default()
        },
    );
    for (i, mp) in &pieces {
        let g = Geometry::MultiPolygon(mp.clone());
        let added = tb
            .layer("grid")
            .add_tile_geometry(&g, None, &[("area_id", PropValue::U64(*i as u64))])
            .unwrap();
        assert!(added);
    }
    let enc = tb.finish().unwrap();
    let r = decode(&enc.bytes);
    let feats = r.get_features_as::<i32>(0).unwrap();
    assert_eq!(feats.len(), pieces.len());
    let mut total = 0i64;
    for (f, (i, _)) in feats.iter().zip(&pieces) {
        assert_eq!(
            f.properties.as_ref().unwrap().get("area_id"),
            Some(&Value::UInt(*i as u64))
        );
        let polys: Vec<Polygon<i32>> = match &f.geometry {
            Geometry::Polygon(p) => vec![p.clone()],
            Geometry::MultiPolygon(mp) => mp.0.clone(),
            other => panic!("polygon expected, got {other:?}"),
        };
        for p in polys {
            // MVT 2.1: exterior rings positive, holes negative (y-down shoelace).
            assert!(area2(p.exterior()) > 0);
            total += area2(p.exterior());
            for h in p.interiors() {
                assert!(area2(h) < 0);
                total += area2(h);
            }
        }
    }
    assert_eq!(total, 2 * 4096 * 4096);
}

#[test]
fn lines_are_clipped_into_parts() {
    let tile = core_tile();
    let mut tb = TileBuilder::new(tile, EncodeOptions::default());
    // Leaves the buffered tile through the top and comes back.
    let line: LineString<i32> = vec![(100, 100), (100, -500), (300, -500), (300, 100)].into();
    assert!(
        tb.layer("roads")
            .add_tile_geometry(&Geometry::LineString(line), Some(1), &[])
            .unwrap()
    );
    let far: LineString<i32> = vec![(-900, -900), (-800, -950)].into();
    assert!(
        !tb.layer("roads")
            .add_tile_geometry(&Geometry::LineString(far), Some(2), &[])
            .unwrap()
    );
    assert_eq!(tb.layer("roads").outside(), 1);
    let enc = tb.finish().unwrap();
    let feats = decode(&enc.bytes).get_features_as::<i32>(0).unwrap();
    assert_eq!(feats.len(), 1);
    let Geometry::MultiLineString(mls) = &feats[0].geometry else {
        panic!("{:?}", feats[0].geometry)
    };
    let parts: Vec<Vec<(i32, i32)>> = mls
        .0
        .iter()
        .map(|l| l.0.iter().map(|c| (c.x, c.y)).collect())
        .collect();
    assert_eq!(
        parts,
        vec![vec![(100, 100), (100, -64)], vec![(300, -64), (300, 100)]]
    );
}

#[test]
fn composite_tile_layers_and_empty_tiles() {
    let tile = core_tile();
    let tr = tile.transform();
    let (lon, lat) = tr.tile_to_lonlat(2048.0, 1024.0);
    let mut tb = TileBuilder::new(tile, EncodeOptions::default());
    let square = Polygon::new(
        LineString::from(vec![
            (lon, lat),
            (lon + 0.001, lat),
            (lon + 0.001, lat - 0.001),
            (lon, lat - 0.001),
        ]),
        vec![],
    );
    tb.layer("buildings")
        .add_lonlat_geometry(
            &Geometry::Polygon(square),
            Some(7),
            &[("floors", 6i64.into())],
        )
        .unwrap();
    tb.layer("events")
        .add_lonlat_point(lon, lat, None, &[("count", 3u64.into())])
        .unwrap();
    tb.layer("empty");
    assert_eq!(
        tb.feature_counts(),
        vec![("buildings", 1), ("events", 1), ("empty", 0)]
    );
    let enc = tb.finish().unwrap();
    assert_eq!(
        enc.layers,
        vec![("buildings".to_string(), 1), ("events".to_string(), 1)]
    );
    let r = decode(&enc.bytes);
    assert_eq!(r.get_layer_names().unwrap(), vec!["buildings", "events"]);
    let b = r.get_features_as::<i32>(0).unwrap();
    let Geometry::MultiPolygon(MultiPolygon(ps)) = &b[0].geometry else {
        panic!()
    };
    let first = ps[0].exterior().0[0];
    let (ex, ey) = reference_tile_xy(lon, lat, tile);
    assert!((f64::from(first.x) - ex).abs() <= 1.0 && (f64::from(first.y) - ey).abs() <= 1.0);

    // Nothing inside: recognisably empty.
    let mut tb = TileBuilder::new(tile, EncodeOptions::default());
    tb.layer("events")
        .add_lonlat_point(0.0, 0.0, None, &[])
        .unwrap();
    let enc = tb.finish().unwrap();
    assert!(enc.is_empty() && enc.bytes.is_empty());
}

#[test]
fn feature_limit_is_an_error_not_a_truncation() {
    let tile = core_tile();
    let mut tb = TileBuilder::new(
        tile,
        EncodeOptions {
            buffer: 64,
            max_features_per_layer: 3,
        },
    );
    let l = tb.layer("events");
    for i in 0..3 {
        assert!(l.add_tile_point(i, i, None, &[]).unwrap());
    }
    assert_eq!(l.remaining_capacity(), 0);
    let err = l.add_tile_point(10, 10, None, &[]).unwrap_err();
    assert_eq!(
        err,
        EncodeError::TooManyFeatures {
            layer: "events".into(),
            max: 3
        }
    );
    // Points outside do not count against the limit.
    assert!(!l.add_tile_point(-1000, 10, None, &[]).unwrap());
    assert_eq!(tb.finish().unwrap().feature_count(), 3);
}

#[test]
fn duplicate_layers_and_collections_are_rejected() {
    let tile = core_tile();
    let mut tb = TileBuilder::new(tile, EncodeOptions::default());
    tb.layer("a");
    let other = minqing_tiles::mvt_encode::LayerBuilder::new(tile, "a", &EncodeOptions::default());
    assert_eq!(
        tb.add_layer(other).unwrap_err(),
        EncodeError::DuplicateLayer("a".into())
    );
    let gc: Geometry<i32> = Geometry::GeometryCollection(geo_types::GeometryCollection(vec![]));
    assert_eq!(
        tb.layer("a").add_tile_geometry(&gc, None, &[]).unwrap_err(),
        EncodeError::UnsupportedGeometry
    );
    let wrong = minqing_tiles::mvt_encode::LayerBuilder::new(
        TileId::new(1, 0, 0).unwrap(),
        "b",
        &EncodeOptions::default(),
    );
    assert!(matches!(
        tb.add_layer(wrong),
        Err(EncodeError::WrongTile { .. })
    ));
}
