//! A lean encoder for MVT layers of points.
//!
//! The `mvt` crate builds a prost message per feature: every tag value becomes an owned
//! `Value` (a `String` allocation for every string, deduplicated or not, plus a key copy
//! for its index), the layer is moved in and out of every feature, and the final encode
//! walks the message tree twice (lengths, then bytes). That is about 1 µs per point,
//! which dominates a dense z14 tile. Points need none of it: this writes the protobuf by
//! hand (varints and zig-zag, section 4.3 of the MVT 2.1 specification) from flat arrays.
//!
//! - **Keys** are deduplicated by a linear scan (a layer has a handful), trying first
//!   the key at the property's position (features usually list their keys in one order).
//! - **Values** are deduplicated by exact type and value, like the `mvt` crate (a double
//!   `-0.0` is the same value as `0.0`); strings live in one arena, and the table maps
//!   a 64-bit hash to the first value with that hash, with a chain for collisions — no
//!   allocation per feature.
//! - **Features** are written to a byte buffer as they are added (their tag indices are
//!   known then), and kept as `(id, x, y, tag range)` records for replay;
//!   [`PointLayer::encode_tile_layer`] adds the keys and values and writes the layer with
//!   fields in field-number order, exactly as prost does, so the bytes are identical to
//!   the `mvt` crate's for the same input (the tests check this, and that an independent
//!   decoder reads the same features).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::mvt_encode::PropValue;

/// A tag value as stored in the layer's value table.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Val {
    /// `start..start + len` in the string arena.
    Str {
        start: u32,
        len: u32,
    },
    /// Bits of the double as first seen (`0.0` and `-0.0` compare equal).
    F64(u64),
    I64(i64),
    U64(u64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy)]
struct PointFeature {
    id: Option<u64>,
    x: i32,
    y: i32,
    /// Range in `PointLayer::tags`.
    tags_start: u32,
    tags_end: u32,
}

/// A key of one layer's key table, from [`PointLayer::key`]: a caller that adds many
/// features with the same keys names them by index, and the encoder skips comparing
/// key strings for every property of every feature (about 2.5 % of the uncached
/// buildings tile under wrk went to those comparisons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyId(u32);

/// Passes a precomputed 64-bit hash through (the table's keys are already hashes).
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; anything else is folded in, to stay correct.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Unsigned integers below this are deduplicated through a direct table.
const SMALL_UINT: u64 = 256;

/// A fast non-cryptographic hash (the inputs are our own property values).
fn mix(mut h: u64, v: u64) -> u64 {
    h = (h.rotate_left(23) ^ v).wrapping_mul(K);
    h
}

fn finish(mut h: u64) -> u64 {
    // murmur3 fmix64: spread the bits (the table uses both the low and the high ones).
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn hash_str(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut h = mix(1, b.len() as u64);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(w));
    }
    finish(h)
}

fn hash_scalar(kind: u64, bits: u64) -> u64 {
    finish(mix(mix(kind, bits), 0))
}

/// The features, keys and values of one point layer.
#[derive(Debug, Clone, Default)]
pub struct PointLayer {
    keys: Vec<String>,
    values: Vec<Val>,
    arena: String,
    /// Hash → first value index with that hash.
    index: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    /// Next value index with the same hash (`u32::MAX`: none).
    chain: Vec<u32>,
    /// Value index of each unsigned integer below [`SMALL_UINT`] seen so far
    /// (`u32::MAX`: not yet): a direct table instead of a hash lookup, because counts in
    /// tiles are mostly small (the profile of the uncached buildings tile showed the
    /// value table's hashing as a large part of [`PointLayer::add`]).
    small_uint: Vec<u32>,
    tags: Vec<u32>,
    features: Vec<PointFeature>,
    /// The encoded `Layer.features` entries.
    bytes: Vec<u8>,
}

/// A property value as seen by [`PointLayer::feature_props`] (for replaying features
/// into another encoder).
pub type OwnedProps = Vec<(String, OwnedValue)>;

/// An owned copy of a property value.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    /// String.
    Str(String),
    /// Signed integer (`sint`).
    I64(i64),
    /// Unsigned integer.
    U64(u64),
    /// Double.
    F64(f64),
    /// Boolean.
    Bool(bool),
}

impl OwnedValue {
    /// Borrow as a [`PropValue`].
    pub fn as_prop(&self) -> PropValue<'_> {
        match self {
            OwnedValue::Str(s) => PropValue::Str(s),
            OwnedValue::I64(v) => PropValue::I64(*v),
            OwnedValue::U64(v) => PropValue::U64(*v),
            OwnedValue::F64(v) => PropValue::F64(*v),
            OwnedValue::Bool(v) => PropValue::Bool(*v),
        }
    }
}

impl PointLayer {
    /// An empty layer.
    pub fn new() -> PointLayer {
        PointLayer::default()
    }

    /// Make room for `n` more points with about `props` properties each (saves the
    /// buffers' growth when the caller knows the count).
    pub fn reserve(&mut self, n: usize, props: usize) {
        self.features.reserve(n);
        self.tags.reserve(n * props * 2);
        self.bytes.reserve(n * (8 + 3 * props));
        self.values.reserve(n);
        self.chain.reserve(n);
        // Not the hash index: small integers and unique strings never enter it.
    }

    /// Make room for `bytes` more bytes of string values.
    pub fn reserve_string_bytes(&mut self, bytes: usize) {
        self.arena.reserve(bytes);
    }

    /// Features added.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether no feature was added.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// The id of `key` in this layer's key table (added if new).
    pub fn key(&mut self, key: &str) -> KeyId {
        KeyId(match self.keys.iter().position(|k| k == key) {
            Some(i) => i as u32,
            None => {
                self.keys.push(key.to_string());
                (self.keys.len() - 1) as u32
            }
        })
    }

    /// The name of a key of this layer.
    ///
    /// # Panics
    /// If `key` came from another layer with more keys (a caller's bug).
    pub fn key_name(&self, key: KeyId) -> &str {
        &self.keys[key.0 as usize]
    }

    /// A layer with no features that knows these keys (so that [`KeyId`]s handed out
    /// before stay valid).
    pub fn with_keys_of(other: &PointLayer) -> PointLayer {
        PointLayer {
            keys: other.keys.clone(),
            ..PointLayer::default()
        }
    }

    /// The index of `key`, the `nth` property of its feature.
    fn key_index(&mut self, key: &str, nth: usize) -> u32 {
        if self.keys.get(nth).is_some_and(|k| k == key) {
            return nth as u32;
        }
        self.key(key).0
    }

    fn str_of(&self, start: u32, len: u32) -> &str {
        &self.arena[start as usize..(start + len) as usize]
    }

    fn value_index(&mut self, v: PropValue<'_>) -> u32 {
        if let PropValue::U64(u) = v
            && u < SMALL_UINT
        {
            if self.small_uint.is_empty() {
                self.small_uint = vec![u32::MAX; SMALL_UINT as usize];
            }
            let slot = self.small_uint[u as usize];
            if slot != u32::MAX {
                return slot;
            }
            let new = self.values.len() as u32;
            self.values.push(Val::U64(u));
            self.chain.push(u32::MAX);
            self.small_uint[u as usize] = new;
            return new;
        }
        if let PropValue::UniqueStr(s) = v {
            // Known to occur once: stored, never looked up (so not entered in `index`).
            let new = self.values.len() as u32;
            let start = self.arena.len() as u32;
            self.arena.push_str(s);
            self.values.push(Val::Str {
                start,
                len: s.len() as u32,
            });
            self.chain.push(u32::MAX);
            return new;
        }
        let (hash, probe) = match v {
            PropValue::Str(s) | PropValue::UniqueStr(s) => (hash_str(s), None),
            PropValue::F64(d) => (
                hash_scalar(1, zero_bits(d.to_bits())),
                Some(Val::F64(d.to_bits())),
            ),
            PropValue::I64(i) => (hash_scalar(2, i as u64), Some(Val::I64(i))),
            PropValue::U64(u) => (hash_scalar(3, u), Some(Val::U64(u))),
            PropValue::Bool(b) => (hash_scalar(4, u64::from(b)), Some(Val::Bool(b))),
        };
        let same = |layer: &PointLayer, i: u32| -> bool {
            match (layer.values[i as usize], probe, v) {
                (Val::Str { start, len }, None, PropValue::Str(s)) => layer.str_of(start, len) == s,
                (Val::F64(a), Some(Val::F64(b)), _) => zero_bits(a) == zero_bits(b),
                (a, Some(b), _) => a == b,
                _ => false,
            }
        };
        let mut last = None;
        if self.index.capacity() == 0 {
            self.index.reserve(256);
        }
        if let Some(&first) = self.index.get(&hash) {
            let mut i = first;
            loop {
                if same(self, i) {
                    return i;
                }
                last = Some(i);
                match self.chain[i as usize] {
                    u32::MAX => break,
                    next => i = next,
                }
            }
        }
        let new = self.values.len() as u32;
        let val = match (probe, v) {
            (Some(val), _) => val,
            (None, PropValue::Str(s) | PropValue::UniqueStr(s)) => {
                let start = self.arena.len() as u32;
                self.arena.push_str(s);
                Val::Str {
                    start,
                    len: s.len() as u32,
                }
            }
            // `probe` is None only for strings.
            (None, _) => Val::Bool(false),
        };
        self.values.push(val);
        self.chain.push(u32::MAX);
        match last {
            Some(l) => self.chain[l as usize] = new,
            None => {
                self.index.insert(hash, new);
            }
        }
        new
    }

    /// Adds a point feature at tile-local `(x, y)` (already clipped by the caller).
    pub fn add(&mut self, x: i32, y: i32, id: Option<u64>, props: &[(&str, PropValue<'_>)]) {
        let tags_start = self.tags.len();
        for (nth, (k, v)) in props.iter().enumerate() {
            let ki = self.key_index(k, nth);
            let vi = self.value_index(*v);
            self.tags.push(ki);
            self.tags.push(vi);
        }
        self.push_feature(x, y, id, tags_start);
    }

    /// [`PointLayer::add`] with keys from [`PointLayer::key`].
    ///
    /// # Panics
    /// If a key came from another layer with more keys (a caller's bug: the tile
    /// would name a key it does not hold).
    pub fn add_keyed(&mut self, x: i32, y: i32, id: Option<u64>, props: &[(KeyId, PropValue<'_>)]) {
        let tags_start = self.tags.len();
        for &(k, v) in props {
            assert!((k.0 as usize) < self.keys.len(), "a key of another layer");
            let vi = self.value_index(v);
            self.tags.push(k.0);
            self.tags.push(vi);
        }
        self.push_feature(x, y, id, tags_start);
    }

    /// Writes the feature whose tags start at `tags_start` to `bytes`.
    fn push_feature(&mut self, x: i32, y: i32, id: Option<u64>, tags_start: usize) {
        let f = PointFeature {
            id,
            x,
            y,
            tags_start: tags_start as u32,
            tags_end: self.tags.len() as u32,
        };
        let tags = &self.tags[tags_start..];
        // One pass into a scratch buffer, copied onto the layer's bytes once (pushing
        // byte by byte onto the Vec checked its capacity for every byte, and the lengths
        // in front of the tags were found by a pass of their own). The tags, type and
        // geometry are written after `HEAD` bytes of room; the header (feature length,
        // id, tags length) is then put right in front of them. The buffer is on the
        // stack unless the feature has more than about a dozen properties.
        const HEAD: usize = 24; // 1 + 5 (length) + 1 + 10 (id) + 1 + 5 (tags length)
        const STACK: usize = 160;
        let need = HEAD + 5 * tags.len() + 13;
        let mut stack = [0u8; STACK];
        let mut heap = Vec::new();
        let buf: &mut [u8] = if need <= STACK {
            &mut stack
        } else {
            heap.resize(need, 0);
            &mut heap
        };
        let mut pos = HEAD;
        for &t in tags {
            pos = varint_at(buf, pos, u64::from(t));
        }
        let tags_len = pos - HEAD;
        buf[pos] = 0x18; // type = 3
        buf[pos + 1] = 1; // POINT
        buf[pos + 2] = 0x22; // geometry = 4, packed
        let geom_len_at = pos + 3;
        buf[geom_len_at + 1] = 9; // MoveTo, count 1
        let mut end = varint_at(buf, geom_len_at + 2, u64::from(zigzag32(x)));
        end = varint_at(buf, end, u64::from(zigzag32(y)));
        // At most 11 bytes: its length is one varint byte.
        buf[geom_len_at] = (end - geom_len_at - 1) as u8;
        let tags_head = if tags_len > 0 {
            1 + varint_len(tags_len as u64)
        } else {
            0
        };
        let id_len = id.map_or(0, |id| 1 + varint_len(id));
        let len = id_len + tags_head + (end - HEAD);
        let start = HEAD - (1 + varint_len(len as u64) + id_len + tags_head);
        buf[start] = 0x12; // Layer.features = 2
        let mut h = varint_at(buf, start + 1, len as u64);
        if let Some(id) = id {
            buf[h] = 0x08; // id = 1
            h = varint_at(buf, h + 1, id);
        }
        if tags_len > 0 {
            buf[h] = 0x12; // tags = 2, packed
            h = varint_at(buf, h + 1, tags_len as u64);
        }
        debug_assert_eq!(h, HEAD);
        self.bytes.extend_from_slice(&buf[start..end]);
        self.features.push(f);
    }

    /// The features as `(x, y, id, properties)`, in insertion order (to replay them into
    /// another encoder when a layer turns out to hold other geometry too).
    pub fn features(&self) -> impl Iterator<Item = (i32, i32, Option<u64>, OwnedProps)> + '_ {
        self.features.iter().map(|f| {
            let props = self.tags[f.tags_start as usize..f.tags_end as usize]
                .chunks_exact(2)
                .map(|kv| {
                    let v = match self.values[kv[1] as usize] {
                        Val::Str { start, len } => OwnedValue::Str(self.str_of(start, len).into()),
                        Val::F64(bits) => OwnedValue::F64(f64::from_bits(bits)),
                        Val::I64(i) => OwnedValue::I64(i),
                        Val::U64(u) => OwnedValue::U64(u),
                        Val::Bool(b) => OwnedValue::Bool(b),
                    };
                    (self.keys[kv[0] as usize].clone(), v)
                })
                .collect();
            (f.x, f.y, f.id, props)
        })
    }

    fn value_len(&self, v: Val) -> usize {
        1 + match v {
            Val::Str { len, .. } => varint_len(u64::from(len)) + len as usize,
            Val::F64(_) => 8,
            Val::I64(i) => varint_len(zigzag64(i)),
            Val::U64(u) => varint_len(u),
            Val::Bool(_) => 1,
        }
    }

    fn write_value(&self, out: &mut Vec<u8>, v: Val) {
        match v {
            Val::Str { start, len } => {
                out.push(0x0A); // string_value = 1
                put_varint(out, u64::from(len));
                out.extend_from_slice(self.str_of(start, len).as_bytes());
            }
            Val::F64(bits) => {
                out.push(0x19); // double_value = 3, fixed64
                out.extend_from_slice(&bits.to_le_bytes());
            }
            Val::I64(i) => {
                out.push(0x30); // sint_value = 6
                put_varint(out, zigzag64(i));
            }
            Val::U64(u) => {
                out.push(0x28); // uint_value = 5
                put_varint(out, u);
            }
            Val::Bool(b) => {
                out.push(0x38); // bool_value = 7
                out.push(u8::from(b));
            }
        }
    }

    /// Appends this layer to `out` as one `layers` entry of a Tile message (field 3),
    /// so that concatenating layers gives a valid tile. Nothing is written when empty.
    pub fn encode_tile_layer(&self, name: &str, extent: u32, out: &mut Vec<u8>) {
        if self.features.is_empty() {
            return;
        }
        let mut layer_len = 1 + varint_len(name.len() as u64) + name.len() + self.bytes.len();
        for k in &self.keys {
            layer_len += 1 + varint_len(k.len() as u64) + k.len();
        }
        for &v in &self.values {
            let l = self.value_len(v);
            layer_len += 1 + varint_len(l as u64) + l;
        }
        layer_len += 1 + varint_len(u64::from(extent));
        layer_len += 1 + 1; // version = 2
        out.reserve(layer_len + 1 + varint_len(layer_len as u64));
        out.push(0x1A); // Tile.layers = 3
        put_varint(out, layer_len as u64);
        out.push(0x0A); // name = 1
        put_varint(out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&self.bytes);
        for k in &self.keys {
            out.push(0x1A); // keys = 3
            put_varint(out, k.len() as u64);
            out.extend_from_slice(k.as_bytes());
        }
        for &v in &self.values {
            out.push(0x22); // values = 4
            put_varint(out, self.value_len(v) as u64);
            self.write_value(out, v);
        }
        out.push(0x28); // extent = 5
        put_varint(out, u64::from(extent));
        out.push(0x78); // version = 15
        out.push(2);
    }
}

/// Writes `v` as a varint at `buf[pos..]`; returns the position after it.
#[inline]
fn varint_at(buf: &mut [u8], mut pos: usize, mut v: u64) -> usize {
    while v >= 0x80 {
        buf[pos] = (v as u8) | 0x80;
        v >>= 7;
        pos += 1;
    }
    buf[pos] = v as u8;
    pos + 1
}

/// Both zeros as one value, like the `mvt` crate's value table.
fn zero_bits(bits: u64) -> u64 {
    if f64::from_bits(bits) == 0.0 { 0 } else { bits }
}

fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn varint_len(v: u64) -> usize {
    // 1 byte per 7 bits, at least one.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
        }
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
        assert_eq!(zigzag32(i32::MIN), u32::MAX);
        assert_eq!(zigzag64(-2), 3);
    }

    #[test]
    fn values_are_deduplicated_by_type_and_value() {
        let mut l = PointLayer::new();
        l.add(
            1,
            2,
            None,
            &[("a", PropValue::Str("x")), ("b", PropValue::U64(3))],
        );
        l.add(
            3,
            4,
            None,
            &[("a", PropValue::Str("x")), ("b", PropValue::I64(3))],
        );
        l.add(
            5,
            6,
            None,
            &[("b", PropValue::F64(0.0)), ("a", PropValue::F64(-0.0))],
        );
        assert_eq!(l.keys, ["a", "b"]);
        assert_eq!(l.values.len(), 4);
        let back: Vec<_> = l.features().collect();
        assert_eq!(back[1].3[1], ("b".to_string(), OwnedValue::I64(3)));
        // The first zero seen stands for both.
        assert_eq!(back[2].3[1], ("a".to_string(), OwnedValue::F64(0.0)));
        assert!(matches!(back[2].3[1].1, OwnedValue::F64(z) if z.is_sign_positive()));
    }
}
