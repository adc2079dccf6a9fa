//! Pure tile machinery for Minqing: tile maths, clipping, shared-boundary generalisation,
//! point aggregation, MVT encoding and heat-map rasters.
//!
//! The crate is **pure**: no I/O, no clock, no global state. The server feeds it plain
//! geometry and numbers from its in-memory index and gets bytes and counts back; every
//! function is total (bad input gives an error value or a counted skip, never a panic).
//!
//! # Design
//!
//! **Tile-space integer geometry.** Everything drawn is projected with Web Mercator
//! ([`projection`]) and quantised onto the *global* integer grid of its zoom
//! (`2^z · 4096` units per side, [`tile::world_to_grid`]); a tile's coordinates are that
//! grid minus the tile origin ([`tile::TileTransform`]). A vertex therefore rounds to the
//! same place in every tile that shows it, and seams cannot open. Clipping ([`clip`])
//! runs on those integers against the tile square grown by a buffer, and computes every
//! intersection from a canonical segment end so that two polygons sharing an edge get
//! the same clipped vertex.
//!
//! **Consistent shared boundaries.** The district's township, community and grid polygons
//! tile the plane, so generalisation must not move a shared boundary differently on its
//! two sides. [`simplify::Topology`] splits all rings once, at load, into arcs between
//! nodes (vertices where three or more boundaries meet or the neighbour changes) and
//! stores each arc once; each zoom's [`simplify::Generalized`] simplifies every arc once
//! and rebuilds rings from the shared results. Neighbours reference the very same arc,
//! so their boundaries are identical by construction; tests check that every interior
//! edge has its exact reverse in the neighbour and that areas add up to the whole.
//!
//! **Aggregation pyramid.** Low-zoom tiles cover most of the district's ~122,000 points.
//! [`aggregate::AggregatePyramid`] keeps counts and weight sums per grid cell per zoom,
//! ordered tile by tile, so a low-zoom tile is a range lookup rather than a scan, and
//! writes update it incrementally. Only counts and sums leave it — no record identity.
//!
//! **Encoding.** [`mvt_encode::TileBuilder`] assembles MVT 2.1 tiles (extent 4096) with
//! any number of named layers — points through a lean hand-written protobuf writer
//! ([`mvt_points`], byte-identical to the `mvt` crate's output, about an order of
//! magnitude faster), lines and polygons through the `mvt` crate — fixes ring winding, types
//! properties ([`mvt_encode::PropValue`]) and refuses — rather than silently drops —
//! features beyond a per-layer maximum. [`heatmap`] gives pixel-centre coordinates for
//! kernel evaluation (densities are computed by the analysis crate) and renders RGBA PNGs.

pub mod aggregate;
pub mod clip;
pub mod heatmap;
pub mod mvt_encode;
pub mod mvt_points;
pub mod projection;
pub mod simplify;
pub mod tile;

pub use aggregate::{AggregateCell, AggregateError, AggregatePyramid, Cluster, grid_cluster};
pub use heatmap::{ColorRamp, HeatmapError, PixelGrid, render_heatmap_png};
pub use mvt_encode::{
    EncodeError, EncodeOptions, EncodedTile, LayerBuilder, PropValue, TileBuilder,
};
pub use mvt_points::KeyId;
pub use simplify::{Generalized, Topology, TopologyStats};
pub use tile::{EXTENT, MAX_ZOOM, TileError, TileId, TileRange, TileTransform, round_half_away};
