//! MVT 2.1 encoding (extent 4096): points through the lean writer of
//! [`crate::mvt_points`], lines and polygons through the `mvt` crate.
//!
//! A [`TileBuilder`] holds one [`LayerBuilder`] per layer name, so composite tiles such as
//! `buildings,events` are one builder with two layers. Every `add_*` call projects (if
//! needed), clips to the tile plus buffer, fixes ring winding to what MVT 2.1 demands
//! (exterior rings positive area in tile space, holes negative) and tags the feature.
//! A layer refuses features beyond its configured maximum with
//! [`EncodeError::TooManyFeatures`] instead of silently truncating: the server decides
//! whether to aggregate, and [`LayerBuilder::len`] tells it how many it has.
//!
//! A layer starts as a [`PointLayer`]; the first line or polygon moves it (and the points
//! it already holds, in order) onto an `mvt` crate layer, because one layer has one
//! key/value table. The tile is the concatenation of its layers' `Tile.layers` entries
//! (protobuf merges repeated fields), so both kinds mix freely in a composite tile.

use geo_types::{Coord, CoordNum, Geometry, LineString, Polygon};
use mvt::{GeomEncoder, GeomType};

use crate::clip::{ClipBox, clip_line, clip_point, clip_polygon, ring_area2};
use crate::mvt_points::{KeyId, PointLayer};
use crate::tile::{EXTENT, TileId, TileTransform};

/// A typed feature property.
///
/// Integers are written as `sint` (signed, zig-zag) and `uint`, floats as `double`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PropValue<'a> {
    /// UTF-8 string.
    Str(&'a str),
    /// A string the caller knows to occur once in the layer (a feature's own code): the
    /// point encoder then skips looking it up in the value table. Encoded as `Str`; if
    /// it does repeat, the layer holds the value twice (valid MVT, only less compact).
    UniqueStr(&'a str),
    /// Signed integer.
    I64(i64),
    /// Unsigned integer.
    U64(u64),
    /// Double.
    F64(f64),
    /// Boolean.
    Bool(bool),
}

impl<'a> From<&'a str> for PropValue<'a> {
    fn from(v: &'a str) -> Self {
        PropValue::Str(v)
    }
}
impl From<i64> for PropValue<'_> {
    fn from(v: i64) -> Self {
        PropValue::I64(v)
    }
}
impl From<i32> for PropValue<'_> {
    fn from(v: i32) -> Self {
        PropValue::I64(v.into())
    }
}
impl From<u64> for PropValue<'_> {
    fn from(v: u64) -> Self {
        PropValue::U64(v)
    }
}
impl From<u32> for PropValue<'_> {
    fn from(v: u32) -> Self {
        PropValue::U64(v.into())
    }
}
impl From<f64> for PropValue<'_> {
    fn from(v: f64) -> Self {
        PropValue::F64(v)
    }
}
impl From<bool> for PropValue<'_> {
    fn from(v: bool) -> Self {
        PropValue::Bool(v)
    }
}

/// Property list of one feature.
pub type Props<'a, 'b> = &'b [(&'b str, PropValue<'a>)];

/// Why encoding failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    /// The layer already holds its maximum number of features; nothing was added.
    #[error("layer {layer:?} already holds its maximum of {max} features")]
    TooManyFeatures {
        /// Layer name.
        layer: String,
        /// Configured maximum.
        max: usize,
    },
    /// Two layers with the same name in one tile.
    #[error("duplicate layer name {0:?}")]
    DuplicateLayer(String),
    /// A geometry collection cannot be a single MVT feature.
    #[error("geometry collections are not supported; add their members separately")]
    UnsupportedGeometry,
    /// The layer was built for another tile.
    #[error("layer {layer:?} was built for tile {layer_tile}, not {tile}")]
    WrongTile {
        /// Layer name.
        layer: String,
        /// Tile the layer was built for.
        layer_tile: TileId,
        /// Tile being assembled.
        tile: TileId,
    },
    /// The `mvt` crate rejected the data.
    #[error("mvt encoder: {0}")]
    Mvt(String),
}

fn mvt_err(e: mvt::Error) -> EncodeError {
    EncodeError::Mvt(e.to_string())
}

/// Encoding parameters shared by all layers of a tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Buffer around the tile, tile units (of 4096).
    pub buffer: u32,
    /// Maximum features per layer.
    pub max_features_per_layer: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            buffer: 64,
            max_features_per_layer: 50_000,
        }
    }
}

/// Builds one layer of one tile.
pub struct LayerBuilder {
    name: String,
    transform: TileTransform,
    clip: ClipBox,
    max: usize,
    /// The `mvt` crate layer, once the layer holds a line or a polygon.
    layer: Option<mvt::Layer>,
    /// Points, while the layer holds nothing else.
    points: PointLayer,
    features: usize,
    outside: usize,
}

impl std::fmt::Debug for LayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerBuilder")
            .field("name", &self.name)
            .field("tile", &self.transform.tile())
            .field("features", &self.features)
            .field("outside", &self.outside)
            .finish()
    }
}

impl LayerBuilder {
    /// An empty layer for `tile`.
    pub fn new(tile: TileId, name: &str, opts: &EncodeOptions) -> LayerBuilder {
        LayerBuilder {
            name: name.to_string(),
            transform: tile.transform(),
            clip: ClipBox::new(opts.buffer),
            max: opts.max_features_per_layer,
            layer: None,
            points: PointLayer::new(),
            features: 0,
            outside: 0,
        }
    }

    /// Layer name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The transform used by the lon/lat and mercator entry points.
    pub fn transform(&self) -> &TileTransform {
        &self.transform
    }

    /// Features added so far.
    pub fn len(&self) -> usize {
        self.features
    }

    /// Whether no feature was added.
    pub fn is_empty(&self) -> bool {
        self.features == 0
    }

    /// Features that were offered but fell entirely outside tile + buffer.
    pub fn outside(&self) -> usize {
        self.outside
    }

    /// A hint that about `n` points with `props` properties each follow (no effect on
    /// the result, only on buffer growth).
    pub fn reserve_points(&mut self, n: usize, props: usize) {
        if self.layer.is_none() {
            self.points.reserve(n.min(self.max), props);
        }
    }

    /// A hint that about `bytes` bytes of distinct string values follow.
    pub fn reserve_string_bytes(&mut self, bytes: usize) {
        if self.layer.is_none() {
            self.points.reserve_string_bytes(bytes);
        }
    }

    /// How many more features fit.
    pub fn remaining_capacity(&self) -> usize {
        self.max.saturating_sub(self.features)
    }

    fn check_capacity(&self) -> Result<(), EncodeError> {
        if self.features >= self.max {
            return Err(EncodeError::TooManyFeatures {
                layer: self.name.clone(),
                max: self.max,
            });
        }
        Ok(())
    }

    /// Adds a point in tile-local coordinates. `Ok(false)` when it lies outside the
    /// buffered tile (nothing added).
    pub fn add_tile_point(
        &mut self,
        x: i64,
        y: i64,
        id: Option<u64>,
        props: Props<'_, '_>,
    ) -> Result<bool, EncodeError> {
        let Some(p) = self.admit_point(x, y)? else {
            return Ok(false);
        };
        if self.layer.is_none() {
            self.points.add(p.x, p.y, id, props);
            self.features += 1;
            return Ok(true);
        }
        let geom = point_geom(p)?;
        self.push(geom, id, props);
        Ok(true)
    }

    /// The point if it lies in the buffered tile (else counted as outside) and the
    /// layer has room for it (else the error).
    fn admit_point(&mut self, x: i64, y: i64) -> Result<Option<Coord<i32>>, EncodeError> {
        let Some(p) = clip_point(Coord { x, y }, &self.clip) else {
            self.outside += 1;
            return Ok(None);
        };
        self.check_capacity()?;
        Ok(Some(p))
    }

    /// The id of a property key, for [`LayerBuilder::add_tile_point_keyed`]: a caller
    /// adding many points with the same keys looks each up once per tile.
    pub fn key(&mut self, name: &str) -> KeyId {
        self.points.key(name)
    }

    /// [`LayerBuilder::add_tile_point`] with keys from [`LayerBuilder::key`].
    pub fn add_tile_point_keyed(
        &mut self,
        x: i64,
        y: i64,
        id: Option<u64>,
        props: &[(KeyId, PropValue<'_>)],
    ) -> Result<bool, EncodeError> {
        let Some(p) = self.admit_point(x, y)? else {
            return Ok(false);
        };
        if self.layer.is_none() {
            self.points.add_keyed(p.x, p.y, id, props);
            self.features += 1;
            return Ok(true);
        }
        // The layer holds lines or polygons too (rare for a keyed caller): by name. The
        // names are copied out of `points`, as `push` takes the builder mutably.
        let names: Vec<String> = props
            .iter()
            .map(|&(k, _)| self.points.key_name(k).to_string())
            .collect();
        let named: Vec<(&str, PropValue<'_>)> = names
            .iter()
            .zip(props)
            .map(|(k, &(_, v))| (k.as_str(), v))
            .collect();
        self.push(point_geom(p)?, id, &named);
        Ok(true)
    }

    /// Move onto an `mvt` crate layer (replaying the points held so far).
    fn switch_to_mvt(&mut self) -> Result<(), EncodeError> {
        if self.layer.is_some() {
            return Ok(());
        }
        // The empty point layer left behind keeps the keys, so [`KeyId`]s stay valid.
        let keys = PointLayer::with_keys_of(&self.points);
        let points = std::mem::replace(&mut self.points, keys);
        self.layer = Some(mvt::Tile::new(EXTENT).create_layer(&self.name));
        // `push` counts the replayed points again.
        self.features -= points.len();
        for (x, y, id, props) in points.features() {
            let props: Vec<(&str, PropValue<'_>)> = props
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_prop()))
                .collect();
            self.push(point_geom(Coord { x, y })?, id, &props);
        }
        Ok(())
    }

    /// Adds a point given in lon/lat degrees.
    pub fn add_lonlat_point(
        &mut self,
        lon: f64,
        lat: f64,
        id: Option<u64>,
        props: Props<'_, '_>,
    ) -> Result<bool, EncodeError> {
        match self.transform.lonlat_to_tile_i64(lon, lat) {
            Some((x, y)) => self.add_tile_point(x, y, id, props),
            None => {
                self.outside += 1;
                Ok(false)
            }
        }
    }

    /// Adds a point given in mercator metres (the fast path: no trigonometry).
    pub fn add_mercator_point(
        &mut self,
        x: f64,
        y: f64,
        id: Option<u64>,
        props: Props<'_, '_>,
    ) -> Result<bool, EncodeError> {
        match self.transform.mercator_to_tile_i64(x, y) {
            Some((x, y)) => self.add_tile_point(x, y, id, props),
            None => {
                self.outside += 1;
                Ok(false)
            }
        }
    }

    /// Adds a geometry in lon/lat degrees: projected with this layer's transform, then as
    /// [`LayerBuilder::add_tile_geometry`].
    pub fn add_lonlat_geometry(
        &mut self,
        geom: &Geometry<f64>,
        id: Option<u64>,
        props: Props<'_, '_>,
    ) -> Result<bool, EncodeError> {
        let t = self.transform;
        let mut bad = false;
        let projected = map_geometry(geom, &mut |c: &Coord<f64>| {
            let (x, y) = t.lonlat_to_tile_i64(c.x, c.y).unwrap_or_else(|| {
                bad = true;
                (0, 0)
            });
            Coord { x, y }
        })?;
        if bad {
            self.outside += 1;
            return Ok(false);
        }
        self.add_tile_geometry(&projected, id, props)
    }

    /// Adds a geometry already in tile-local integer coordinates (any integer width).
    /// It is clipped to tile + buffer; `Ok(false)` if nothing remains.
    pub fn add_tile_geometry<T: CoordNum + Into<i64>>(
        &mut self,
        geom: &Geometry<T>,
        id: Option<u64>,
        props: Props<'_, '_>,
    ) -> Result<bool, EncodeError> {
        let encoded = match geom {
            Geometry::Point(p) => {
                return self.add_tile_point(p.x().into(), p.y().into(), id, props);
            }
            Geometry::MultiPoint(mp) => {
                let cs: Vec<Coord<T>> = mp.0.iter().map(|p| p.0).collect();
                self.encode_points(&cs)?
            }
            Geometry::Line(l) => self.encode_lines(&[LineString::new(vec![l.start, l.end])])?,
            Geometry::LineString(ls) => self.encode_lines(std::slice::from_ref(ls))?,
            Geometry::MultiLineString(mls) => self.encode_lines(&mls.0)?,
            Geometry::Polygon(p) => self.encode_polygons(std::slice::from_ref(p))?,
            Geometry::MultiPolygon(mp) => self.encode_polygons(&mp.0)?,
            Geometry::Rect(r) => self.encode_polygons(&[r.to_polygon()])?,
            Geometry::Triangle(t) => self.encode_polygons(&[t.to_polygon()])?,
            Geometry::GeometryCollection(_) => return Err(EncodeError::UnsupportedGeometry),
        };
        match encoded {
            Some(geom) => {
                self.check_capacity()?;
                self.switch_to_mvt()?;
                self.push(geom, id, props);
                Ok(true)
            }
            None => {
                self.outside += 1;
                Ok(false)
            }
        }
    }

    fn encode_points<T: CoordNum + Into<i64>>(
        &self,
        pts: &[Coord<T>],
    ) -> Result<Option<mvt::GeomData>, EncodeError> {
        let mut enc = GeomEncoder::new(GeomType::Point);
        let mut any = false;
        for p in pts {
            if let Some(c) = clip_point(*p, &self.clip) {
                enc.add_point(c.x, c.y).map_err(mvt_err)?;
                any = true;
            }
        }
        if !any {
            return Ok(None);
        }
        enc.encode().map(Some).map_err(mvt_err)
    }

    fn encode_lines<T: CoordNum + Into<i64>>(
        &self,
        lines: &[LineString<T>],
    ) -> Result<Option<mvt::GeomData>, EncodeError> {
        let mut enc = GeomEncoder::new(GeomType::Linestring);
        let mut last: Option<Coord<i32>> = None;
        let mut any = false;
        for line in lines {
            for part in clip_line(&line.0, &self.clip) {
                let mut pts = part.0;
                // The encoder would fuse a part starting where the previous one ended;
                // reversing keeps parts separate (the rendered line is the same).
                if pts.first() == last.as_ref() {
                    pts.reverse();
                }
                for c in &pts {
                    enc.add_point(c.x, c.y).map_err(mvt_err)?;
                }
                enc.complete_geom().map_err(mvt_err)?;
                last = pts.last().copied();
                any = true;
            }
        }
        if !any {
            return Ok(None);
        }
        enc.encode().map(Some).map_err(mvt_err)
    }

    fn encode_polygons<T: CoordNum + Into<i64>>(
        &self,
        polys: &[Polygon<T>],
    ) -> Result<Option<mvt::GeomData>, EncodeError> {
        let mut enc = GeomEncoder::new(GeomType::Polygon);
        let mut last: Option<Coord<i32>> = None;
        let mut any = false;
        for poly in polys {
            let Some(clipped) = clip_polygon(poly, &self.clip) else {
                continue;
            };
            let rings = std::iter::once((true, clipped.exterior()))
                .chain(clipped.interiors().iter().map(|h| (false, h)));
            for (exterior, ring) in rings {
                let mut pts: Vec<Coord<i32>> = ring.0.clone();
                if pts.len() > 1 && pts.first() == pts.last() {
                    pts.pop();
                }
                if pts.len() < 3 {
                    continue;
                }
                let a = ring_area2(&pts);
                if (exterior && a < 0) || (!exterior && a > 0) {
                    pts.reverse();
                }
                // A ring starting on the previous ring's last point would lose its MoveTo
                // in the encoder; start it elsewhere (a valid ring has other vertices).
                if let Some(k) = last.and_then(|l| pts.iter().position(|p| *p != l)) {
                    pts.rotate_left(k);
                }
                for c in &pts {
                    enc.add_point(c.x, c.y).map_err(mvt_err)?;
                }
                enc.complete_geom().map_err(mvt_err)?;
                last = pts.last().copied();
                any = true;
            }
        }
        if !any {
            return Ok(None);
        }
        enc.encode().map(Some).map_err(mvt_err)
    }

    /// Adds a feature to the `mvt` crate layer (see [`LayerBuilder::switch_to_mvt`]).
    fn push(&mut self, geom: mvt::GeomData, id: Option<u64>, props: Props<'_, '_>) {
        let Some(layer) = self.layer.take() else {
            return;
        };
        let mut f = layer.into_feature(geom);
        if let Some(id) = id {
            f.set_id(id);
        }
        for (k, v) in props {
            match *v {
                PropValue::Str(s) | PropValue::UniqueStr(s) => f.add_tag_string(k, s),
                PropValue::I64(i) => f.add_tag_sint(k, i),
                PropValue::U64(u) => f.add_tag_uint(k, u),
                PropValue::F64(d) => f.add_tag_double(k, d),
                PropValue::Bool(b) => f.add_tag_bool(k, b),
            }
        }
        self.layer = Some(f.into_layer());
        self.features += 1;
    }
}

fn point_geom(p: Coord<i32>) -> Result<mvt::GeomData, EncodeError> {
    GeomEncoder::new(GeomType::Point)
        .point(p.x, p.y)
        .and_then(|e| e.encode())
        .map_err(mvt_err)
}

/// Projects every coordinate of a geometry (collections are rejected).
fn map_geometry<F>(g: &Geometry<f64>, f: &mut F) -> Result<Geometry<i64>, EncodeError>
where
    F: FnMut(&Coord<f64>) -> Coord<i64>,
{
    use geo_types::{MultiLineString, MultiPoint, MultiPolygon, Point};
    let mut ls = |l: &LineString<f64>| LineString::new(l.0.iter().map(&mut *f).collect());
    Ok(match g {
        Geometry::Point(p) => Geometry::Point(Point(ls(&LineString::new(vec![p.0])).0[0])),
        Geometry::MultiPoint(mp) => Geometry::MultiPoint(MultiPoint(
            ls(&LineString::new(mp.0.iter().map(|p| p.0).collect()))
                .0
                .into_iter()
                .map(Point)
                .collect(),
        )),
        Geometry::Line(l) => Geometry::LineString(ls(&LineString::new(vec![l.start, l.end]))),
        Geometry::LineString(l) => Geometry::LineString(ls(l)),
        Geometry::MultiLineString(m) => {
            Geometry::MultiLineString(MultiLineString(m.0.iter().map(&mut ls).collect()))
        }
        Geometry::Polygon(p) => Geometry::Polygon(poly_map(p, &mut ls)),
        Geometry::MultiPolygon(m) => Geometry::MultiPolygon(MultiPolygon(
            m.0.iter().map(|p| poly_map(p, &mut ls)).collect(),
        )),
        Geometry::Rect(r) => Geometry::Polygon(poly_map(&r.to_polygon(), &mut ls)),
        Geometry::Triangle(t) => Geometry::Polygon(poly_map(&t.to_polygon(), &mut ls)),
        Geometry::GeometryCollection(_) => return Err(EncodeError::UnsupportedGeometry),
    })
}

fn poly_map(
    p: &Polygon<f64>,
    ls: &mut impl FnMut(&LineString<f64>) -> LineString<i64>,
) -> Polygon<i64> {
    let ext = ls(p.exterior());
    let holes = p.interiors().iter().map(&mut *ls).collect();
    Polygon::new(ext, holes)
}

/// An encoded tile and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedTile {
    /// Protobuf bytes (uncompressed); empty when the tile has no features.
    pub bytes: Vec<u8>,
    /// `(layer name, feature count)` for every non-empty layer, in tile order.
    pub layers: Vec<(String, usize)>,
}

impl EncodedTile {
    /// Whether the tile carries no feature at all (serve 204 / an empty body).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Total features over all layers.
    pub fn feature_count(&self) -> usize {
        self.layers.iter().map(|(_, n)| n).sum()
    }
}

/// Assembles the layers of one tile.
#[derive(Debug)]
pub struct TileBuilder {
    tile: TileId,
    opts: EncodeOptions,
    layers: Vec<LayerBuilder>,
}

impl TileBuilder {
    /// An empty tile.
    pub fn new(tile: TileId, opts: EncodeOptions) -> TileBuilder {
        TileBuilder {
            tile,
            opts,
            layers: Vec::new(),
        }
    }

    /// The tile.
    pub fn tile(&self) -> TileId {
        self.tile
    }

    /// The layer called `name`, created (after the existing ones) on first use.
    pub fn layer(&mut self, name: &str) -> &mut LayerBuilder {
        let i = match self.layers.iter().position(|l| l.name == name) {
            Some(i) => i,
            None => {
                self.layers
                    .push(LayerBuilder::new(self.tile, name, &self.opts));
                self.layers.len() - 1
            }
        };
        &mut self.layers[i]
    }

    /// Adds a layer built separately (e.g. on another thread).
    pub fn add_layer(&mut self, layer: LayerBuilder) -> Result<(), EncodeError> {
        if layer.transform.tile() != self.tile {
            return Err(EncodeError::WrongTile {
                layer: layer.name.clone(),
                layer_tile: layer.transform.tile(),
                tile: self.tile,
            });
        }
        if self.layers.iter().any(|l| l.name == layer.name) {
            return Err(EncodeError::DuplicateLayer(layer.name));
        }
        self.layers.push(layer);
        Ok(())
    }

    /// `(layer name, features so far)` for every layer.
    pub fn feature_counts(&self) -> Vec<(&str, usize)> {
        self.layers.iter().map(|l| (l.name(), l.len())).collect()
    }

    /// Encodes the tile. Empty layers are omitted; a tile without features yields empty
    /// bytes (see [`EncodedTile::is_empty`]).
    pub fn finish(self) -> Result<EncodedTile, EncodeError> {
        let mut bytes = Vec::new();
        let mut layers = Vec::new();
        for mut l in self.layers {
            if l.features == 0 {
                continue;
            }
            match l.layer.take() {
                Some(layer) => {
                    let mut tile = mvt::Tile::new(EXTENT);
                    tile.add_layer(layer).map_err(mvt_err)?;
                    bytes.extend_from_slice(&tile.to_bytes().map_err(mvt_err)?);
                }
                None => l.points.encode_tile_layer(&l.name, EXTENT, &mut bytes),
            }
            layers.push((l.name, l.features));
        }
        Ok(EncodedTile { bytes, layers })
    }
}
