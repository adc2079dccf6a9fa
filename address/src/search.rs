//! Search-as-you-type over the register: areas (townships, communities, villages),
//! roads, compounds and buildings, by characters or by pinyin (initials `jxhy` or full
//! syllables `jinxiu`).
//!
//! The index is a flat list of a few thousand named entries scanned per query. That is
//! deliberate: a district has at most some thousands of distinct names, a linear scan of
//! them with precomputed pinyin takes well under a millisecond, and it supports
//! substring and pinyin matching that a prefix tree would not without extra structures.

use crate::matcher::{BldView, Register};
use crate::parse;
use pinyin::ToPinyin;

/// What a search hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HitKind {
    /// A township/street, community or village.
    Area,
    /// A road.
    Road,
    /// A compound.
    Compound,
    /// One building.
    Building,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Area code (9-digit township, 12-digit community) for areas, the building code for
    /// buildings, and the code of the first building (lowest number) for roads and
    /// compounds.
    pub code: String,
    /// The name shown (for buildings, the canonical label without the district prefix).
    pub label: String,
    /// Where it is (township and community), to tell same-named places apart.
    pub context: String,
    /// What it is.
    pub kind: HitKind,
    /// Relevance in [0, 1].
    pub score: f64,
    /// A representative WGS-84 position (mean of its buildings).
    pub lon: f64,
    /// Latitude of that position.
    pub lat: f64,
}

#[derive(Clone)]
struct Entry {
    kind: HitKind,
    name: String,
    /// Initials for every reading of its polyphonic characters (长 is chang and
    /// zhang: 长江西路 is cjxl to most people, zjxl to the dictionary's first reading),
    /// at most eight spellings.
    initials: Vec<String>,
    full: String,
    context: String,
    code: String,
    lon: f64,
    lat: f64,
    /// Buildings with their number (building number in a compound, door on a road),
    /// sorted by number.
    buildings: Vec<(u32, u32)>,
}

/// The search index, built with the register.
#[derive(Clone)]
pub(crate) struct SearchIndex {
    entries: Vec<Entry>,
}

fn pinyin_keys(name: &str) -> (Vec<String>, String) {
    use pinyin::ToPinyinMulti;
    let mut initials = vec![String::new()];
    let mut full = String::new();
    for (c, p) in name.chars().zip(name.to_pinyin()) {
        match p {
            Some(p) => {
                full.push_str(p.plain());
                let mut letters: Vec<&str> = vec![p.first_letter()];
                if let Some(multi) = c.to_pinyin_multi() {
                    for q in multi {
                        if !letters.contains(&q.first_letter()) {
                            letters.push(q.first_letter());
                        }
                    }
                }
                let mut next = Vec::with_capacity(initials.len() * letters.len());
                for stem in &initials {
                    for l in &letters {
                        if next.len() < 8 {
                            next.push(format!("{stem}{l}"));
                        }
                    }
                }
                initials = next;
            }
            None => {
                let c = c.to_ascii_lowercase();
                for i in &mut initials {
                    i.push(c);
                }
                full.push(c);
            }
        }
    }
    (initials, full)
}

impl SearchIndex {
    pub(crate) fn build(
        names: &[String],
        kinds: &[u8],
        bld: &[BldView],
        codes: &[String],
        pos: &[(f64, f64)],
    ) -> SearchIndex {
        use std::collections::BTreeMap;
        // Group buildings by (kind, name id, community id): same-named compounds in two
        // communities are two entries.
        #[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
        enum K {
            Town,
            Comm,
            Road,
            Compound,
        }
        let mut groups: BTreeMap<(K, u32, u32), Vec<usize>> = BTreeMap::new();
        for (i, b) in bld.iter().enumerate() {
            let _ = kinds;
            groups
                .entry((K::Town, b.town, u32::MAX))
                .or_default()
                .push(i);
            groups.entry((K::Comm, b.comm, b.town)).or_default().push(i);
            if b.road != u32::MAX {
                groups.entry((K::Road, b.road, b.town)).or_default().push(i);
            }
            if b.compound != u32::MAX {
                groups
                    .entry((K::Compound, b.compound, b.comm))
                    .or_default()
                    .push(i);
            }
        }
        let name_of = |id: u32| names.get(id as usize).map_or("", String::as_str);
        let mut entries = Vec::with_capacity(groups.len());
        for ((k, id, parent), members) in groups {
            if id == u32::MAX || members.is_empty() {
                continue;
            }
            let name = name_of(id).to_string();
            let first = members[0];
            let (kind, code, context) = match k {
                K::Town => (HitKind::Area, prefix_code(&codes[first], 9), String::new()),
                K::Comm => (
                    HitKind::Area,
                    prefix_code(&codes[first], 12),
                    name_of(parent).to_string(),
                ),
                K::Road => (HitKind::Road, String::new(), name_of(parent).to_string()),
                K::Compound => (
                    HitKind::Compound,
                    String::new(),
                    format!("{}{}", name_of(bld[first].town), name_of(parent)),
                ),
            };
            let mut numbered: Vec<(u32, u32)> = match k {
                K::Compound => members.iter().map(|&i| (bld[i].b, i as u32)).collect(),
                // Every building by its door, compound buildings too: 光明南路600号 is
                // how people name the compound behind gate 600.
                K::Road => members
                    .iter()
                    .filter(|&&i| bld[i].door != u32::MAX)
                    .map(|&i| (bld[i].door, i as u32))
                    .collect(),
                _ => Vec::new(),
            };
            numbered.sort_unstable();
            let code = if code.is_empty() {
                let rep = numbered.first().map_or(first, |&(_, i)| i as usize);
                codes[rep].clone()
            } else {
                code
            };
            let n = members.len() as f64;
            let lon = members.iter().map(|&i| pos[i].0).sum::<f64>() / n;
            let lat = members.iter().map(|&i| pos[i].1).sum::<f64>() / n;
            let (initials, full) = pinyin_keys(&name);
            entries.push(Entry {
                kind,
                name,
                initials,
                full,
                context,
                code,
                lon,
                lat,
                buildings: numbered,
            });
        }
        SearchIndex { entries }
    }
}

fn prefix_code(code: &str, len: usize) -> String {
    if code.len() >= len && code.is_char_boundary(len) {
        code[..len].to_string()
    } else {
        code.to_string()
    }
}

/// How well `q` matches `target` as typed text: exact, prefix, substring.
fn text_score(target: &str, q: &str) -> Option<f64> {
    if q.is_empty() {
        return None;
    }
    if target == q {
        Some(1.0)
    } else if target.starts_with(q) {
        Some(0.9 - 0.01 * (target.len() - q.len()) as f64 / 3.0)
    } else if target.contains(q) {
        Some(0.7)
    } else {
        None
    }
}

impl Register {
    /// Search-as-you-type: up to `limit` hits for `query`, best first. A query of Latin
    /// letters is matched against pinyin initials (`jxhy`) and full pinyin (`jinxiu`);
    /// otherwise against the names, with a trailing number selecting buildings
    /// (`锦绣花园3` → building 3 of 锦绣花园, and 30–39…).
    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchHit> {
        let norm = parse::normalize(query);
        let start = parse::strip_prefix(&norm, None);
        let q: String = norm[start..]
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        // A trailing number (with an optional 栋/号 marker) selects buildings.
        let trimmed = q.trim_end_matches(['栋', '幢', '号', '座', '室', '楼']);
        let digits_at = trimmed
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_digit())
            .last()
            .map(|(i, _)| i);
        let (text_q, num_q) = match digits_at {
            Some(i) if i > 0 => (&trimmed[..i], Some(&trimmed[i..])),
            _ => (q.as_str(), None),
        };
        // Pinyin initials with a number (gmnl600, jxhy3) are Latin too.
        let latin = !text_q.is_empty() && text_q.chars().all(|c| c.is_ascii_lowercase());
        let mut hits: Vec<SearchHit> = Vec::new();
        // A whole address (光明南路600号, 锦绣花园3栋2单元, with the usual slips) goes
        // through the matcher first: its answer, or its best candidates when it
        // abstains, are the buildings the query names.
        if !latin && num_q.is_some() {
            let m = self.match_address(query);
            let picks: Vec<(usize, f64)> = match m.building {
                Some(b) => vec![(b, m.confidence.max(0.5))],
                None => m
                    .candidates
                    .iter()
                    .filter_map(|c| {
                        let (l, i) = self.find_code(&c.code)?;
                        (l == crate::Level::Building).then_some((i, 0.5 + 0.4 * c.score))
                    })
                    .collect(),
            };
            for (bi, score) in picks {
                if let Some((code, label, _, (lon, lat))) = self.building(bi) {
                    let p = self.building(bi).map(|x| x.2);
                    hits.push(SearchHit {
                        code: code.to_string(),
                        label: label
                            .strip_prefix(crate::PROVINCE_CITY_DISTRICT)
                            .unwrap_or(label)
                            .to_string(),
                        context: p
                            .map_or(String::new(), |p| format!("{}{}", p.township, p.community)),
                        kind: HitKind::Building,
                        score,
                        lon,
                        lat,
                    });
                }
            }
        }
        // Old names and aliases the centre keeps (人民路 for 长江西路) find the entries
        // of the name they stand for, a little below the name itself.
        let by_alias: Vec<(&str, &str, f64)> = if latin {
            Vec::new()
        } else {
            self.aliases_matching(text_q, text_score).collect()
        };
        for e in &self.search.entries {
            let mut via_alias = None;
            let s = if latin {
                let a = e
                    .initials
                    .iter()
                    .filter_map(|i| text_score(i, text_q))
                    .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
                    .map(|s| s * 0.95);
                let b = if text_q.len() >= 2 {
                    text_score(&e.full, text_q).map(|s| s * 0.9)
                } else {
                    None
                };
                a.into_iter()
                    .chain(b)
                    .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
            } else {
                let own = text_score(&e.name, text_q);
                let alias = by_alias
                    .iter()
                    .filter(|(_, canonical, _)| *canonical == e.name)
                    .map(|&(alias, _, s)| (alias, s * 0.95))
                    .max_by(|x, y| x.1.total_cmp(&y.1));
                match (own, alias) {
                    (Some(o), Some((_, a))) if o >= a => Some(o),
                    (_, Some((alias, a))) => {
                        via_alias = Some(alias);
                        Some(a)
                    }
                    (own, None) => own,
                }
            };
            let Some(s) = s else { continue };
            // Found by an alias: the hit says which, beside where it is.
            let context = match via_alias {
                Some(alias) => format!("{}（别名 {alias}）", e.context),
                None => e.context.clone(),
            };
            match num_q {
                None => hits.push(SearchHit {
                    context,
                    ..self.hit_for(e, s)
                }),
                Some(num) => {
                    for &(n, bi) in &e.buildings {
                        let ns = n.to_string();
                        let ns_score = if ns == num {
                            1.0
                        } else if ns.starts_with(num) {
                            0.8
                        } else {
                            continue;
                        };
                        if let Some((code, label, _, (lon, lat))) = self.building(bi as usize) {
                            let label = label
                                .strip_prefix(crate::PROVINCE_CITY_DISTRICT)
                                .unwrap_or(label)
                                .to_string();
                            hits.push(SearchHit {
                                code: code.to_string(),
                                label,
                                context: context.clone(),
                                kind: HitKind::Building,
                                score: s * ns_score,
                                lon,
                                lat,
                            });
                        }
                    }
                }
            }
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.label.len().cmp(&b.label.len()))
                .then(a.code.cmp(&b.code))
        });
        // The matcher and the name scan may find one building twice: keep the first.
        let mut seen = std::collections::HashSet::new();
        hits.retain(|h| h.kind != HitKind::Building || seen.insert(h.code.clone()));
        hits.truncate(limit);
        hits
    }

    fn hit_for(&self, e: &Entry, score: f64) -> SearchHit {
        SearchHit {
            code: e.code.clone(),
            label: e.name.clone(),
            context: e.context.clone(),
            kind: e.kind,
            score,
            lon: e.lon,
            lat: e.lat,
        }
    }
}
