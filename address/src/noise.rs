//! Noisy variants of register addresses, as real records carry them.
//!
//! The model renders an address from its parts rather than editing the canonical label
//! with string replacements: every number knows what it counts (door, building, unit,
//! room…), so each can be written in its own style (十八号, 五〇二室, 12-3-1001, 5层2号)
//! without ever producing text that no longer identifies the address. Character-level
//! noise (full-width digits, traditional characters, typos) is applied afterwards.
//!
//! Every output is meant to be resolvable by a careful human reader; that is the
//! contract the matcher is evaluated against.

use crate::AddressParts;
use crate::hanzi;
use rand::Rng;

/// One kind of noise the model can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum NoiseKind {
    /// Drop the province/city/district prefix or a part of it (四川德阳…, 旌阳区…, nothing).
    DropPrefix = 0,
    /// Drop the township/street name.
    DropTownship = 1,
    /// Drop the community name (urban and town addresses only; villages are kept).
    DropCommunity = 2,
    /// Drop road and door number when a compound names the place.
    DropRoad = 3,
    /// Drop the compound name when road and door number name the place.
    DropCompound = 4,
    /// Full-width digits (１８号).
    FullWidth = 5,
    /// Chinese numerals (十八号, 二单元, 五〇二室, 两).
    ChineseNumerals = 6,
    /// Synonymous markers (栋→幢/号楼/座, 单元→门, 室→号/户/none).
    Synonyms = 7,
    /// Dashed shorthand (锦绣花园12-3-1001, 11-802).
    Dashed = 8,
    /// The floor written out (5楼502, 5层2号).
    FloorRoom = 9,
    /// Traditional characters for some simplified ones (陽, 區, 號…).
    Traditional = 10,
    /// One similar-looking or homophone character in a name.
    Typo = 11,
    /// Extra words (附近, 对面, 门口, 旁边, 楼下).
    ExtraWords = 12,
    /// Stray punctuation and spaces between the parts.
    Punctuation = 13,
}

impl NoiseKind {
    /// Every kind, in declaration order.
    pub const ALL: [NoiseKind; 14] = [
        NoiseKind::DropPrefix,
        NoiseKind::DropTownship,
        NoiseKind::DropCommunity,
        NoiseKind::DropRoad,
        NoiseKind::DropCompound,
        NoiseKind::FullWidth,
        NoiseKind::ChineseNumerals,
        NoiseKind::Synonyms,
        NoiseKind::Dashed,
        NoiseKind::FloorRoom,
        NoiseKind::Traditional,
        NoiseKind::Typo,
        NoiseKind::ExtraWords,
        NoiseKind::Punctuation,
    ];

    /// A short stable name for reports.
    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::DropPrefix => "drop_prefix",
            NoiseKind::DropTownship => "drop_township",
            NoiseKind::DropCommunity => "drop_community",
            NoiseKind::DropRoad => "drop_road",
            NoiseKind::DropCompound => "drop_compound",
            NoiseKind::FullWidth => "full_width",
            NoiseKind::ChineseNumerals => "chinese_numerals",
            NoiseKind::Synonyms => "synonyms",
            NoiseKind::Dashed => "dashed",
            NoiseKind::FloorRoom => "floor_room",
            NoiseKind::Traditional => "traditional",
            NoiseKind::Typo => "typo",
            NoiseKind::ExtraWords => "extra_words",
            NoiseKind::Punctuation => "punctuation",
        }
    }

    /// The probability that the mixed model tries this kind on a noisy label.
    fn probability(self) -> f64 {
        match self {
            NoiseKind::DropPrefix => 0.45,
            NoiseKind::DropTownship => 0.2,
            NoiseKind::DropCommunity => 0.25,
            NoiseKind::DropRoad => 0.2,
            NoiseKind::DropCompound => 0.08,
            NoiseKind::FullWidth => 0.1,
            NoiseKind::ChineseNumerals => 0.15,
            NoiseKind::Synonyms => 0.25,
            NoiseKind::Dashed => 0.15,
            NoiseKind::FloorRoom => 0.08,
            NoiseKind::Traditional => 0.06,
            NoiseKind::Typo => 0.05,
            NoiseKind::ExtraWords => 0.08,
            NoiseKind::Punctuation => 0.12,
        }
    }
}

/// A set of [`NoiseKind`]s, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NoiseKinds(u16);

impl NoiseKinds {
    /// The empty set: a clean label.
    pub const NONE: NoiseKinds = NoiseKinds(0);

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: NoiseKind) -> bool {
        self.0 & (1 << kind as u8) != 0
    }

    /// Add `kind` to the set.
    pub fn insert(&mut self, kind: NoiseKind) {
        self.0 |= 1 << kind as u8;
    }

    /// Whether no noise was applied.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = NoiseKind> {
        NoiseKind::ALL
            .into_iter()
            .filter(move |&k| self.contains(k))
    }
}

/// A free-text variant of `parts` with realistic noise. About 30% of outputs are clean
/// canonical labels; the rest combine one or more [`NoiseKind`]s.
pub fn noisy_label<R: Rng>(parts: &AddressParts, rng: &mut R) -> String {
    noisy_label_with_kinds(parts, rng).0
}

/// Like [`noisy_label`], also returning the kinds of noise that were actually applied
/// (a kind that did not fit the address, e.g. dashed shorthand on a rural house, is not
/// reported).
pub fn noisy_label_with_kinds<R: Rng>(parts: &AddressParts, rng: &mut R) -> (String, NoiseKinds) {
    let mut wanted = NoiseKinds::NONE;
    if !rng.gen_bool(0.3) {
        for kind in NoiseKind::ALL {
            if rng.gen_bool(kind.probability()) {
                wanted.insert(kind);
            }
        }
    }
    render(parts, wanted, rng)
}

/// A variant of `parts` with exactly one kind of noise requested, for per-kind
/// evaluation. The returned set is empty when that kind does not apply to the address.
pub fn label_with_kind<R: Rng>(
    parts: &AddressParts,
    kind: NoiseKind,
    rng: &mut R,
) -> (String, NoiseKinds) {
    let mut wanted = NoiseKinds::NONE;
    wanted.insert(kind);
    render(parts, wanted, rng)
}

/// How one number is written.
#[derive(Clone, Copy, PartialEq)]
enum NumStyle {
    Arabic,
    /// 十八, 一百零二.
    CnValue,
    /// 五〇二 / 五零二.
    CnDigits,
}

fn num<R: Rng>(out: &mut String, n: u32, style: NumStyle, rng: &mut R) {
    match style {
        NumStyle::Arabic => {
            use std::fmt::Write;
            let _ = write!(out, "{n}");
        }
        NumStyle::CnValue => {
            // 两 is natural for a count of two before a measure word (两单元 is not, but
            // 两栋/两幢 and 两组 are heard), so use it now and then.
            if n == 2 && rng.gen_bool(0.3) {
                out.push('两');
            } else {
                out.push_str(&hanzi::cn_value(n));
            }
        }
        NumStyle::CnDigits => {
            let zero = if rng.gen_bool(0.5) { '〇' } else { '零' };
            out.push_str(&hanzi::cn_digits(n, zero));
        }
    }
}

fn pick<'a, R: Rng>(rng: &mut R, options: &[&'a str]) -> &'a str {
    options[rng.gen_range(0..options.len())]
}

/// Separators inserted between parts under [`NoiseKind::Punctuation`]. No bare `-`
/// between two numbers: that would read as dashed shorthand and change the meaning.
const SEPARATORS: &[&str] = &[" ", "，", "、", " ", "/", ",", "-", "  "];
const EXTRA_WORDS: &[&str] = &["附近", "对面", "门口", "旁边", "楼下"];

fn render<R: Rng>(p: &AddressParts, wanted: NoiseKinds, rng: &mut R) -> (String, NoiseKinds) {
    let mut applied = NoiseKinds::NONE;
    let want = |k| wanted.contains(k);
    // Numbers in Chinese: each number independently, at least one.
    let cn = want(NoiseKind::ChineseNumerals);
    let mut cn_used = false;
    let mut style_for = |rng: &mut R, digits_ok: bool| -> NumStyle {
        if cn && rng.gen_bool(0.6) {
            cn_used = true;
            if digits_ok && rng.gen_bool(0.7) {
                NumStyle::CnDigits
            } else {
                NumStyle::CnValue
            }
        } else {
            NumStyle::Arabic
        }
    };

    let has_compound = p.compound.is_some() && p.building.is_some();
    let has_road = p.road.is_some() && p.door.is_some();
    let rural = p.group.is_some();

    let drop_road = want(NoiseKind::DropRoad) && has_compound && has_road;
    let drop_compound = !drop_road && want(NoiseKind::DropCompound) && has_compound && has_road;
    let drop_township = want(NoiseKind::DropTownship) && !p.township.is_empty();
    // A village is the only name of a rural address: keep it. A community may go when
    // something more specific (road+door) remains.
    let drop_community =
        want(NoiseKind::DropCommunity) && !rural && has_road && !p.community.is_empty();
    let dashed = want(NoiseKind::Dashed) && has_compound && !drop_compound && p.room.is_some();
    let floor_room = !dashed && want(NoiseKind::FloorRoom) && p.room.is_some_and(|r| r >= 100);
    let punct = want(NoiseKind::Punctuation);

    // Segments are pushed one by one; `sep` optionally adds stray punctuation between.
    let mut segs: Vec<String> = Vec::with_capacity(12);

    // Prefix.
    if want(NoiseKind::DropPrefix) {
        let prefix = pick(
            rng,
            &[
                "",
                "",
                "旌阳区",
                "德阳市旌阳区",
                "四川德阳旌阳区",
                "德阳旌阳",
                "四川省德阳市",
                "德阳市",
                "四川省旌阳区",
            ],
        );
        if !prefix.is_empty() {
            segs.push(prefix.to_string());
        }
        applied.insert(NoiseKind::DropPrefix);
    } else {
        segs.push(crate::PROVINCE_CITY_DISTRICT.to_string());
    }

    if drop_township {
        applied.insert(NoiseKind::DropTownship);
    } else if !p.township.is_empty() {
        segs.push(p.township.clone());
    }
    if drop_community {
        applied.insert(NoiseKind::DropCommunity);
    } else if !p.community.is_empty() {
        segs.push(p.community.clone());
    }

    if let (Some(road), Some(door)) = (&p.road, p.door) {
        if drop_road {
            applied.insert(NoiseKind::DropRoad);
        } else {
            let mut s = road.clone();
            let st = style_for(rng, false);
            num(&mut s, door, st, rng);
            s.push('号');
            segs.push(s);
        }
    }
    if let (Some(group), Some(house)) = (p.group, p.house) {
        let mut s = String::new();
        let st = style_for(rng, false);
        num(&mut s, group, st, rng);
        s.push('组');
        segs.push(s);
        let mut s = String::new();
        let st = style_for(rng, false);
        num(&mut s, house, st, rng);
        s.push('号');
        segs.push(s);
    }

    if let Some(compound) = &p.compound {
        if drop_compound {
            applied.insert(NoiseKind::DropCompound);
        } else {
            segs.push(compound.clone());
        }
    }

    let syn = want(NoiseKind::Synonyms);
    let mut syn_used = false;
    if dashed {
        // 12-3-1001, or 11-802 when the address has no unit.
        applied.insert(NoiseKind::Dashed);
        let mut s = String::new();
        let b = p.building.unwrap_or(0);
        let dash = pick(rng, &["-", "-", "-", "—", "－"]);
        s.push_str(&b.to_string());
        if let Some(u) = p.unit {
            s.push_str(dash);
            s.push_str(&u.to_string());
        }
        s.push_str(dash);
        s.push_str(&p.room.unwrap_or(0).to_string());
        segs.push(s);
    } else {
        if let Some(b) = p.building {
            let mut s = String::new();
            let st = style_for(rng, false);
            num(&mut s, b, st, rng);
            let marker = if syn && rng.gen_bool(0.7) {
                syn_used = true;
                pick(rng, &["幢", "号楼", "座", "幢"])
            } else {
                "栋"
            };
            s.push_str(marker);
            segs.push(s);
        }
        if let Some(u) = p.unit {
            let mut s = String::new();
            let st = style_for(rng, false);
            num(&mut s, u, st, rng);
            let marker = if syn && rng.gen_bool(0.6) {
                syn_used = true;
                "门"
            } else {
                "单元"
            };
            s.push_str(marker);
            segs.push(s);
        }
        if let Some(r) = p.room {
            let mut s = String::new();
            if floor_room {
                applied.insert(NoiseKind::FloorRoom);
                let floor = r / 100;
                let idx = r % 100;
                let st = style_for(rng, false);
                num(&mut s, floor, st, rng);
                match rng.gen_range(0..3) {
                    0 => {
                        // 5楼502: the whole room number after the floor.
                        s.push('楼');
                        s.push_str(&r.to_string());
                        s.push_str(pick(rng, &["室", "", "号"]));
                    }
                    1 => {
                        // 5层2号: floor, then the index on that floor.
                        s.push('层');
                        s.push_str(&idx.to_string());
                        s.push_str(pick(rng, &["号", "室", "户"]));
                    }
                    _ => {
                        // 16楼03 (index written with its leading zero).
                        s.push('楼');
                        s.push_str(&format!("{idx:02}"));
                        s.push_str(pick(rng, &["室", "号"]));
                    }
                }
            } else {
                let st = style_for(rng, true);
                num(&mut s, r, st, rng);
                let marker = if syn && rng.gen_bool(0.6) {
                    syn_used = true;
                    pick(rng, &["号", "户", ""])
                } else {
                    "室"
                };
                s.push_str(marker);
            }
            segs.push(s);
        }
    }
    if syn_used {
        applied.insert(NoiseKind::Synonyms);
    }
    if cn_used {
        applied.insert(NoiseKind::ChineseNumerals);
    }

    if want(NoiseKind::ExtraWords) {
        let w = pick(rng, EXTRA_WORDS).to_string();
        // Usually trailing; sometimes before the last part (…花园门口3栋).
        if segs.len() >= 2 && rng.gen_bool(0.25) {
            let at = segs.len() - 1;
            segs.insert(at, w);
        } else {
            segs.push(w);
        }
        applied.insert(NoiseKind::ExtraWords);
    }

    // Join, with stray separators between parts.
    let mut out = String::with_capacity(96);
    let mut punct_used = false;
    for (i, seg) in segs.iter().enumerate() {
        if i > 0 && punct && rng.gen_bool(0.35) {
            out.push_str(pick(rng, SEPARATORS));
            punct_used = true;
        }
        out.push_str(seg);
    }
    if punct && !punct_used {
        // Leading or trailing stray punctuation still counts as this kind.
        if rng.gen_bool(0.5) {
            out.insert_str(0, pick(rng, &[" ", "，", "、"]));
        } else {
            out.push_str(pick(rng, &["。", " ", "，", "、"]));
        }
    }
    if punct {
        applied.insert(NoiseKind::Punctuation);
    }

    if want(NoiseKind::Typo) && typo(&mut out, p, rng) {
        applied.insert(NoiseKind::Typo);
    }
    char_noise(
        &mut out,
        want(NoiseKind::Traditional),
        want(NoiseKind::FullWidth),
        rng,
        &mut applied,
    );
    (out, applied)
}

/// The character-level noise applied last: traditional forms (all or about half of the
/// characters that have one) and full-width digits and dashes. Adds what it changed to
/// `applied`.
pub fn char_noise<R: Rng>(
    out: &mut String,
    traditional: bool,
    full_width: bool,
    rng: &mut R,
    applied: &mut NoiseKinds,
) {
    if traditional {
        let mut changed = false;
        let rate = if rng.gen_bool(0.5) { 1.0 } else { 0.5 };
        *out = out
            .chars()
            .map(|c| match hanzi::to_traditional(c) {
                Some(t) if rng.gen_bool(rate) => {
                    changed = true;
                    t
                }
                _ => c,
            })
            .collect();
        if changed {
            applied.insert(NoiseKind::Traditional);
        }
    }
    if full_width {
        let mut changed = false;
        *out = out
            .chars()
            .map(|c| match c {
                '0'..='9' | '-' => {
                    changed = true;
                    char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c)
                }
                _ => c,
            })
            .collect();
        if changed {
            applied.insert(NoiseKind::FullWidth);
        }
    }
}

/// Render `parts` with exactly the `wanted` kinds requested (those that fit the address
/// are applied and returned). The building block of the evaluation sets: absent parts
/// (empty township/community, `None` fields) are simply not written.
pub fn label_with_kinds<R: Rng>(
    parts: &AddressParts,
    wanted: NoiseKinds,
    rng: &mut R,
) -> (String, NoiseKinds) {
    render(parts, wanted, rng)
}

/// Substitute one character of a compound, road or community name (not its suffix) by a
/// confusable one. Returns whether a substitution was made.
fn typo<R: Rng>(out: &mut String, p: &AddressParts, rng: &mut R) -> bool {
    let mut names: Vec<&str> = Vec::with_capacity(3);
    if let Some(c) = &p.compound {
        names.push(c);
    }
    if let Some(r) = &p.road {
        names.push(r);
    }
    names.push(&p.community);
    let start = rng.gen_range(0..names.len());
    for k in 0..names.len() {
        let name = names[(start + k) % names.len()];
        let Some(pos) = out.find(name) else { continue };
        // Only the name's body: the last character is usually the type suffix (路/园/区).
        let body: Vec<char> = name.chars().collect();
        if body.len() < 3 {
            continue;
        }
        let cands: Vec<usize> = (0..body.len() - 1)
            .filter(|&i| hanzi::confusable(body[i], 0).is_some())
            .collect();
        if cands.is_empty() {
            continue;
        }
        let i = cands[rng.gen_range(0..cands.len())];
        let Some(sub) = hanzi::confusable(body[i], rng.gen_range(0..4)) else {
            continue;
        };
        let mut new_name: String = String::with_capacity(name.len());
        for (j, &c) in body.iter().enumerate() {
            new_name.push(if j == i { sub } else { c });
        }
        out.replace_range(pos..pos + name.len(), &new_name);
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn unit() -> AddressParts {
        AddressParts {
            township: "旌阳街道".into(),
            community: "文庙社区".into(),
            road: Some("长江西路".into()),
            door: Some(18),
            compound: Some("锦绣花园".into()),
            building: Some(12),
            unit: Some(3),
            room: Some(1001),
            ..Default::default()
        }
    }

    #[test]
    fn clean_share_and_kinds_are_reported() {
        let p = unit();
        let mut rng = StdRng::seed_from_u64(7);
        let mut clean = 0;
        for _ in 0..2000 {
            let (s, k) = noisy_label_with_kinds(&p, &mut rng);
            if k.is_empty() {
                assert_eq!(s, p.canonical_label());
                clean += 1;
            } else {
                assert_ne!(s, p.canonical_label(), "{k:?}");
            }
        }
        assert!((400..900).contains(&clean), "clean {clean}");
    }

    #[test]
    fn each_kind_applies_to_an_urban_unit() {
        let p = unit();
        for kind in NoiseKind::ALL {
            let mut rng = StdRng::seed_from_u64(kind as u64);
            let mut seen = false;
            for _ in 0..50 {
                let (s, k) = label_with_kind(&p, kind, &mut rng);
                if k.contains(kind) {
                    seen = true;
                    assert!(k.iter().all(|x| x == kind), "{s} {k:?}");
                }
            }
            assert!(seen, "{kind:?} never applied");
        }
    }

    #[test]
    fn dashed_shorthand() {
        let p = unit();
        let mut rng = StdRng::seed_from_u64(1);
        let (s, _) = label_with_kind(&p, NoiseKind::Dashed, &mut rng);
        assert!(
            s.ends_with("锦绣花园12-3-1001")
                || s.contains("12—3—1001")
                || s.contains("12－3－1001"),
            "{s}"
        );
    }
}
