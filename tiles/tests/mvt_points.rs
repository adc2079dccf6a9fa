//! The lean point writer against the `mvt` crate: the same input gives the same bytes,
//! and `mvt-reader` (an independent decoder) reads the same features from both; a layer
//! that gets a polygon after points, and composite tiles mixing both writers, decode too.

mod common;

use common::Rng;
use geo_types::{Coord, Geometry, LineString, Polygon};
use minqing_tiles::mvt_encode::{EncodeOptions, PropValue, TileBuilder};
use minqing_tiles::tile::{EXTENT, TileId};
use mvt::{GeomEncoder, GeomType};
use mvt_reader::Reader;

fn tile() -> TileId {
    TileId::from_lonlat(104.397, 31.127, 14).unwrap()
}

fn opts() -> EncodeOptions {
    EncodeOptions {
        buffer: 64,
        max_features_per_layer: 1_000_000,
    }
}

/// `(x, y, id, properties)` of a point feature.
type Feature = (i64, i64, Option<u64>, Vec<(String, Owned)>);

/// Deterministic random point features with every property type, repeated and unique
/// strings, both zeros, ids or none, coordinates in the buffer and far out.
fn features(n: usize, seed: u64) -> Vec<Feature> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let x = (rng.unit() * 4400.0) as i64 - 150;
            let y = (rng.unit() * 4400.0) as i64 - 150;
            let id = (i % 3 != 0).then_some(i as u64 * 7);
            let mut props = vec![
                ("code".to_string(), Owned::Str(format!("5106032{i:08}"))),
                (
                    "kind".to_string(),
                    Owned::Str(["住宅", "商铺", "dispute"][i % 3].to_string()),
                ),
                ("n".to_string(), Owned::U64(rng.next_u64() % 40)),
                ("d".to_string(), Owned::I64((rng.next_u64() % 9) as i64 - 4)),
                (
                    "w".to_string(),
                    Owned::F64([0.0, -0.0, 1.5, f64::MAX, -3.25][i % 5]),
                ),
                ("b".to_string(), Owned::Bool(i % 2 == 0)),
            ];
            if i % 4 == 0 {
                props.truncate(2);
            }
            if i % 11 == 0 {
                props.clear();
            }
            if i % 5 == 0 {
                props.reverse();
            }
            (x, y, id, props)
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Owned {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

fn props(p: &[(String, Owned)]) -> Vec<(&str, PropValue<'_>)> {
    p.iter()
        .map(|(k, v)| {
            let v = match v {
                Owned::Str(s) => PropValue::Str(s),
                Owned::I64(i) => PropValue::I64(*i),
                Owned::U64(u) => PropValue::U64(*u),
                Owned::F64(d) => PropValue::F64(*d),
                Owned::Bool(b) => PropValue::Bool(*b),
            };
            (k.as_str(), v)
        })
        .collect()
}

/// The same points through the `mvt` crate alone (clipped like the builder does).
fn reference(name: &str, feats: &[Feature]) -> Vec<u8> {
    let lim = (-64, i64::from(EXTENT) + 64);
    let mut t = mvt::Tile::new(EXTENT);
    let mut layer = t.create_layer(name);
    let mut any = false;
    for (x, y, id, p) in feats {
        if *x < lim.0 || *x > lim.1 || *y < lim.0 || *y > lim.1 {
            continue;
        }
        let g = GeomEncoder::new(GeomType::Point)
            .point(*x as i32, *y as i32)
            .unwrap()
            .encode()
            .unwrap();
        let mut f = layer.into_feature(g);
        if let Some(id) = id {
            f.set_id(*id);
        }
        for (k, v) in p {
            match v {
                Owned::Str(s) => f.add_tag_string(k, s),
                Owned::I64(i) => f.add_tag_sint(k, *i),
                Owned::U64(u) => f.add_tag_uint(k, *u),
                Owned::F64(d) => f.add_tag_double(k, *d),
                Owned::Bool(b) => f.add_tag_bool(k, *b),
            }
        }
        layer = f.into_layer();
        any = true;
    }
    if !any {
        return Vec::new();
    }
    t.add_layer(layer).unwrap();
    t.to_bytes().unwrap()
}

fn lean(name: &str, feats: &[Feature]) -> Vec<u8> {
    lean_with(name, feats, false)
}

/// With `unique_codes`, the `code` values (one per feature) go in as `UniqueStr`.
fn lean_with(name: &str, feats: &[Feature], unique_codes: bool) -> Vec<u8> {
    let mut tb = TileBuilder::new(tile(), opts());
    for (x, y, id, p) in feats {
        let mut props = props(p);
        if unique_codes {
            for (k, v) in &mut props {
                if let (&mut "code", PropValue::Str(s)) = (k, *v) {
                    *v = PropValue::UniqueStr(s);
                }
            }
        }
        tb.layer(name).add_tile_point(*x, *y, *id, &props).unwrap();
    }
    tb.finish().unwrap().bytes
}

#[test]
fn same_bytes_as_the_mvt_crate() {
    for (n, seed) in [(1usize, 1u64), (2, 2), (17, 3), (500, 4), (5000, 5)] {
        let feats = features(n, seed);
        let ours = lean("buildings", &feats);
        let theirs = reference("buildings", &feats);
        assert_eq!(ours, theirs, "{n} features, seed {seed}");
    }
    // Strings that occur once, passed as such, skip the value table's lookup and still
    // give the same bytes.
    for (n, seed) in [(17usize, 6u64), (5000, 7)] {
        let feats = features(n, seed);
        assert_eq!(
            lean_with("buildings", &feats, true),
            reference("buildings", &feats),
            "unique codes: {n} features, seed {seed}"
        );
    }
    // Nothing inside: no bytes.
    let far = vec![(10_000i64, 10_000i64, None, Vec::new())];
    assert!(lean("x", &far).is_empty());
}

#[test]
fn independent_decoder_reads_the_points() {
    let feats = features(3000, 9);
    let bytes = lean("events", &feats);
    let r = Reader::new(bytes).unwrap();
    assert_eq!(r.get_layer_names().unwrap(), ["events"]);
    let meta = r.get_layer_metadata().unwrap();
    assert_eq!((meta[0].extent, meta[0].version), (4096, 2));
    let decoded = r.get_features_as::<i32>(0).unwrap();
    let inside: Vec<_> = feats
        .iter()
        .filter(|(x, y, _, _)| (-64..=4160).contains(x) && (-64..=4160).contains(y))
        .collect();
    assert_eq!(decoded.len(), inside.len());
    for (f, (x, y, id, p)) in decoded.iter().zip(inside) {
        let Geometry::MultiPoint(mp) = &f.geometry else {
            panic!("point expected, got {:?}", f.geometry)
        };
        assert_eq!(mp.0.len(), 1);
        assert_eq!((i64::from(mp.0[0].x()), i64::from(mp.0[0].y())), (*x, *y));
        assert_eq!(f.id, *id);
        let got = f.properties.clone().unwrap_or_default();
        // Duplicate keys are not generated, so the maps compare one to one.
        assert_eq!(got.len(), p.len());
        for (k, v) in p {
            use mvt_reader::feature::Value;
            let want = match v {
                Owned::Str(s) => Value::String(s.clone()),
                Owned::I64(i) => Value::SInt(*i),
                Owned::U64(u) => Value::UInt(*u),
                // The value table stores one zero for 0.0 and -0.0 (as the mvt crate does).
                Owned::F64(d) if *d == 0.0 => match got[k] {
                    Value::Double(z) if z == 0.0 => Value::Double(z),
                    ref other => panic!("{other:?}"),
                },
                Owned::F64(d) => Value::Double(*d),
                Owned::Bool(b) => Value::Bool(*b),
            };
            assert_eq!(got[k], want, "{k}");
        }
    }
}

/// A square polygon inside the tile.
fn square() -> Polygon<i64> {
    Polygon::new(
        LineString::new(vec![
            Coord { x: 100i64, y: 100 },
            Coord { x: 900, y: 100 },
            Coord { x: 900, y: 900 },
            Coord { x: 100, y: 900 },
            Coord { x: 100, y: 100 },
        ]),
        Vec::new(),
    )
}

#[test]
fn points_then_a_polygon_in_one_layer_and_composites() {
    let feats = features(200, 11);
    let square = square();
    let mut tb = TileBuilder::new(tile(), opts());
    for (x, y, id, p) in &feats {
        tb.layer("risk")
            .add_tile_point(*x, *y, *id, &props(p))
            .unwrap();
    }
    let before = tb.feature_counts()[0].1;
    tb.layer("risk")
        .add_tile_geometry(
            &Geometry::Polygon(square.clone()),
            None,
            &[("tier", PropValue::Str("large"))],
        )
        .unwrap();
    tb.layer("risk").add_tile_point(5, 5, None, &[]).unwrap();
    // A points-only layer and a polygon-only layer around it.
    tb.layer("buildings")
        .add_tile_point(7, 9, Some(1), &[("code", PropValue::Str("b"))])
        .unwrap();
    tb.layer("areas")
        .add_tile_geometry(&Geometry::Polygon(square), None, &[])
        .unwrap();
    assert_eq!(tb.feature_counts()[0].1, before + 2);
    let enc = tb.finish().unwrap();
    assert_eq!(
        enc.layers,
        [
            ("risk".to_string(), before + 2),
            ("buildings".to_string(), 1),
            ("areas".to_string(), 1)
        ]
    );
    let r = Reader::new(enc.bytes).unwrap();
    assert_eq!(r.get_layer_names().unwrap(), ["risk", "buildings", "areas"]);
    let risk = r.get_features_as::<i32>(0).unwrap();
    assert_eq!(risk.len(), before + 2);
    assert!(matches!(
        risk[before].geometry,
        Geometry::Polygon(_) | Geometry::MultiPolygon(_)
    ));
    // The replayed points are the same as in a points-only layer.
    let only = Reader::new(lean("risk", &feats)).unwrap();
    let only = only.get_features_as::<i32>(0).unwrap();
    for (a, b) in only.iter().zip(&risk) {
        assert_eq!(a.geometry, b.geometry);
        assert_eq!(a.id, b.id);
        assert_eq!(a.properties, b.properties);
    }
    let b = r.get_features_as::<i32>(1).unwrap();
    assert_eq!(b[0].id, Some(1));
}

/// Every feature through [`LayerBuilder::add_tile_point_keyed`], keys looked up once.
fn lean_keyed(name: &str, feats: &[Feature]) -> Vec<u8> {
    let mut tb = TileBuilder::new(tile(), opts());
    let layer = tb.layer(name);
    for (x, y, id, p) in feats {
        let keyed: Vec<_> = props(p)
            .into_iter()
            .map(|(k, v)| (layer.key(k), v))
            .collect();
        layer.add_tile_point_keyed(*x, *y, *id, &keyed).unwrap();
    }
    tb.finish().unwrap().bytes
}

#[test]
fn keyed_points_give_the_same_bytes() {
    for (n, seed) in [(1usize, 21u64), (17, 22), (5000, 23)] {
        let feats = features(n, seed);
        assert_eq!(
            lean_keyed("b", &feats),
            reference("b", &feats),
            "{n}, {seed}"
        );
    }
    // Features with more properties than the stack buffer holds take the other writer.
    let mut rng = Rng::new(24);
    let wide: Vec<Feature> = (0..300)
        .map(|i| {
            let props = (0..(i % 40))
                .map(|k| (format!("k{k}"), Owned::U64(rng.next_u64() >> (i % 64))))
                .collect();
            (
                i as i64 * 13 % 4096,
                i as i64 * 29 % 4096,
                Some(u64::MAX - i as u64),
                props,
            )
        })
        .collect();
    assert_eq!(lean("w", &wide), reference("w", &wide));
    assert_eq!(lean_keyed("w", &wide), reference("w", &wide));
}

#[test]
fn keyed_points_after_a_polygon_keep_their_keys() {
    let mut tb = TileBuilder::new(tile(), opts());
    let layer = tb.layer("mixed");
    let (code, n) = (layer.key("code"), layer.key("n"));
    layer
        .add_tile_point_keyed(
            10,
            20,
            None,
            &[(code, PropValue::Str("a")), (n, PropValue::U64(1))],
        )
        .unwrap();
    let square = square();
    layer
        .add_tile_geometry(
            &Geometry::Polygon(square),
            None,
            &[("tier", PropValue::Str("x"))],
        )
        .unwrap();
    layer
        .add_tile_point_keyed(
            30,
            40,
            None,
            &[(n, PropValue::U64(2)), (code, PropValue::Str("b"))],
        )
        .unwrap();
    let r = Reader::new(tb.finish().unwrap().bytes).unwrap();
    let got: Vec<_> = r
        .get_features_as::<i32>(0)
        .unwrap()
        .into_iter()
        .map(|f| f.properties.unwrap_or_default())
        .collect();
    use mvt_reader::feature::Value;
    assert_eq!(got.len(), 3);
    assert_eq!(got[0]["code"], Value::String("a".into()));
    assert_eq!(got[0]["n"], Value::UInt(1));
    assert_eq!(got[1]["tier"], Value::String("x".into()));
    assert_eq!(got[2]["code"], Value::String("b".into()));
    assert_eq!(got[2]["n"], Value::UInt(2));
}
