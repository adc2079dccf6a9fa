//! Column mapping: a district's own files under their own names and headers.
//!
//! A public-security export is called `户籍人口2024.xlsx` and has the columns
//! 姓名/身份证号/现住址/联系电话; Minqing wants `residents` with `name`, `id_number`,
//! `address`, `phone`. A mapping file (TOML, written by hand or by
//! `minqing import --suggest-mapping`) says which file is which import file and which
//! header is which column, and may recode values (性别 男/女 → M/F):
//!
//! ```toml
//! [files]
//! "户籍人口*.xlsx" = "residents"      # a file-name pattern (* and ?) → a base name
//!
//! [residents.columns]
//! "姓名" = "name"
//! "身份证号" = "id_number"
//!
//! [residents.values.sex]
//! "男" = "M"
//! "女" = "F"
//! ```
//!
//! Every target is checked when the file is read (a base name or column Minqing does not
//! have is an error naming the entry), so a typo in the mapping fails before any row is
//! read rather than as 600,000 row errors.
//!
//! Suggestions ([`suggest`]) come from a built-in table of the header names Chinese
//! registers use, and near matches to it (shared characters, so 身份证件号 finds
//! 身份证号); a file's base name is guessed from its headers (the base whose columns the
//! suggestions cover best) or from words of its name (人口 → residents).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A parsed and checked mapping file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    /// File-name pattern → base name, in file order.
    pub files: Vec<(String, String)>,
    /// Base name → its column and value maps.
    pub tables: BTreeMap<String, TableMapping>,
}

/// How one base name's headers and values map.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableMapping {
    /// Source header → our column.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Our column → (source value → our value).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct RawMapping {
    #[serde(default)]
    files: toml::Table,
    #[serde(flatten)]
    tables: BTreeMap<String, TableMapping>,
}

/// The column a delta file's operation is read from (`add`, `update`, `retire`).
pub const OP_COLUMN: &str = "op";

/// A header as compared: no spaces inside, full-width brackets and colons as ASCII.
fn header_key(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '：' => ':',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

impl Mapping {
    /// Read and check a mapping file.
    pub fn load(path: &Path) -> Result<Mapping, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading the mapping {}: {e}", path.display()))?;
        Mapping::parse(&text).map_err(|e| format!("mapping {}: {e}", path.display()))
    }

    /// Parse and check mapping text (see the module doc for its shape).
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let raw: RawMapping = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut files = Vec::new();
        for (pattern, target) in raw.files {
            let target = target
                .as_str()
                .ok_or_else(|| format!("[files] {pattern:?}: the base name must be a string"))?
                .to_string();
            if super::source::canonical(&target).is_none() {
                return Err(format!(
                    "[files] {pattern:?} = {target:?}: {target} is not an import file's base name"
                ));
            }
            files.push((pattern, target));
        }
        for (base, t) in &raw.tables {
            let Some(canonical) = super::source::canonical(base) else {
                return Err(format!(
                    "[{base}]: {base} is not an import file's base name"
                ));
            };
            let ours = super::rows::required(&canonical);
            let known = |c: &str| ours.contains(&c) || c == OP_COLUMN;
            for (src, col) in &t.columns {
                if !known(col) {
                    return Err(format!(
                        "[{base}.columns] {src:?} = {col:?}: {base} has no column {col} (its columns: {}, and {OP_COLUMN} for deltas)",
                        ours.join(", ")
                    ));
                }
            }
            for col in t.values.keys() {
                if !known(col) {
                    return Err(format!("[{base}.values.{col}]: {base} has no column {col}"));
                }
            }
        }
        Ok(Mapping {
            files,
            tables: raw.tables,
        })
    }

    /// The base name a file not named after one is mapped to by `[files]`.
    pub fn base_for(&self, file_name: &str) -> Option<&str> {
        let stem = file_name.rsplit_once('.').map_or(file_name, |(s, _)| s);
        self.files.iter().find_map(|(pattern, base)| {
            // A pattern without an extension matches the name without its extension.
            let subject = if pattern.contains('.') {
                file_name
            } else {
                stem
            };
            glob(pattern, subject).then_some(base.as_str())
        })
    }

    /// The maps of the import file `canonical` (`residents-gbk.csv` falls back to
    /// `residents`).
    pub fn table(&self, canonical: &str) -> Option<&TableMapping> {
        let stem = canonical.rsplit_once('.').map_or(canonical, |(s, _)| s);
        self.tables.get(stem).or_else(|| {
            stem.starts_with("residents")
                .then(|| self.tables.get("residents"))
                .flatten()
        })
    }
}

impl TableMapping {
    /// Rename the headers this mapping names; the others stay as they are.
    pub fn rename(&self, header: &mut [String]) {
        let keyed: BTreeMap<String, &String> = self
            .columns
            .iter()
            .map(|(k, v)| (header_key(k), v))
            .collect();
        for h in header.iter_mut() {
            if let Some(ours) = keyed.get(&header_key(h)) {
                *h = (*ours).clone();
            }
        }
    }

    /// The value maps aligned with `names` (the file's required columns).
    pub fn recoder(&self, names: &[&str]) -> Recoder {
        Recoder(
            names
                .iter()
                .map(|n| {
                    self.values.get(*n).map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.trim().to_string(), v.clone()))
                            .collect()
                    })
                })
                .collect(),
        )
    }
}

/// Value maps per required column of one file.
#[derive(Debug, Clone, Default)]
pub struct Recoder(Vec<Option<BTreeMap<String, String>>>);

impl Recoder {
    /// Replace the values that have a mapping (compared trimmed).
    pub fn apply(&self, values: &mut [String]) {
        for (v, m) in values.iter_mut().zip(&self.0) {
            if let Some(m) = m
                && let Some(ours) = m.get(v.trim())
            {
                *v = ours.clone();
            }
        }
    }
}

/// `*` any run of characters, `?` one character; the rest literal.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic two-pointer match with one backtrack point for the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Header names Chinese registers use, per base name, for our columns.
const KNOWN_HEADERS: &[(&str, &[(&str, &str)])] = &[
    (
        "residents",
        &[
            ("人员编号", "id"),
            ("人口编号", "id"),
            ("编号", "id"),
            ("姓名", "name"),
            ("名字", "name"),
            ("性别", "sex"),
            ("出生日期", "birth_date"),
            ("出生年月日", "birth_date"),
            ("生日", "birth_date"),
            ("身份证号", "id_number"),
            ("身份证号码", "id_number"),
            ("公民身份号码", "id_number"),
            ("证件号码", "id_number"),
            ("联系电话", "phone"),
            ("手机号", "phone"),
            ("手机号码", "phone"),
            ("电话", "phone"),
            ("联系方式", "phone"),
            ("人口类型", "registration"),
            ("户籍类型", "registration"),
            ("登记类型", "registration"),
            ("户编号", "household_id"),
            ("户号", "household_id"),
            ("家庭编号", "household_id"),
            ("与户主关系", "relation"),
            ("关系", "relation"),
            ("现住址", "address"),
            ("居住地址", "address"),
            ("现居住地址", "address"),
            ("住址", "address"),
            ("地址", "address"),
            ("地址编码", "address_code"),
            ("标准地址编码", "address_code"),
            ("重点人群", "key_groups"),
            ("人员类别", "key_groups"),
            ("操作", "op"),
            ("变更类型", "op"),
        ],
    ),
    (
        "housing",
        &[
            ("房屋编号", "id"),
            ("编号", "id"),
            ("房屋地址", "address"),
            ("地址", "address"),
            ("地址编码", "address_code"),
            ("标准地址编码", "address_code"),
            ("建筑面积", "floor_area"),
            ("面积", "floor_area"),
            ("居住状态", "occupancy"),
            ("使用情况", "occupancy"),
            ("操作", "op"),
        ],
    ),
    (
        "enterprises",
        &[
            ("企业编号", "id"),
            ("单位编号", "id"),
            ("编号", "id"),
            ("企业名称", "name"),
            ("单位名称", "name"),
            ("名称", "name"),
            ("统一社会信用代码", "credit_code"),
            ("信用代码", "credit_code"),
            ("行业门类", "industry"),
            ("行业", "industry"),
            ("企业规模", "size"),
            ("规模", "size"),
            ("从业人数", "employees"),
            ("职工人数", "employees"),
            ("员工人数", "employees"),
            ("经营地址", "address"),
            ("注册地址", "address"),
            ("地址", "address"),
            ("地址编码", "address_code"),
            ("操作", "op"),
        ],
    ),
    (
        "buildings",
        &[
            ("建筑编码", "code"),
            ("楼栋编码", "code"),
            ("标准地址", "label"),
            ("地址名称", "label"),
            ("网格编码", "grid_code"),
            ("街路巷", "road"),
            ("道路", "road"),
            ("路名", "road"),
            ("门牌号", "door"),
            ("小区名称", "compound"),
            ("小区", "compound"),
            ("楼栋号", "building_no"),
            ("栋号", "building_no"),
            ("村民小组", "village_group"),
            ("组", "village_group"),
            ("户号", "house_no"),
            ("建筑类型", "kind"),
            ("类型", "kind"),
            ("层数", "floors"),
            ("楼层数", "floors"),
            ("经度", "lon"),
            ("纬度", "lat"),
        ],
    ),
    (
        "units",
        &[
            ("户室编码", "code"),
            ("房间编码", "code"),
            ("楼栋编码", "building_code"),
            ("建筑编码", "building_code"),
            ("单元号", "unit"),
            ("单元", "unit"),
            ("楼层", "floor"),
            ("室号", "room"),
            ("房号", "room"),
            ("标准地址", "label"),
            ("地址", "label"),
        ],
    ),
];

/// Words of a file name that say which base name it is.
const NAME_WORDS: &[(&str, &str)] = &[
    ("人口", "residents"),
    ("居民", "residents"),
    ("户籍", "residents"),
    ("流动", "residents"),
    ("人员", "residents"),
    ("房屋", "housing"),
    ("住房", "housing"),
    ("企业", "enterprises"),
    ("法人", "enterprises"),
    ("单位", "enterprises"),
    ("楼栋", "buildings"),
    ("建筑", "buildings"),
    ("户室", "units"),
];

/// How alike two headers are: the share of characters they have in common (Dice).
fn likeness(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let mut rest = b.clone();
    let mut common = 0usize;
    for c in &a {
        if let Some(i) = rest.iter().position(|d| d == c) {
            rest.swap_remove(i);
            common += 1;
        }
    }
    2.0 * common as f64 / (a.len() + b.len()) as f64
}

/// One header's suggested column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnGuess {
    pub header: String,
    pub column: String,
    /// `exact` (our own name or a known header) or `near` (a near match: check it).
    pub how: &'static str,
}

/// The suggestion for one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSuggestion {
    pub file: String,
    /// The base name guessed, if any.
    pub base: Option<String>,
    pub columns: Vec<ColumnGuess>,
    /// Headers nothing was found for.
    pub unknown: Vec<String>,
    /// Required columns of the guessed base no header gives.
    pub missing: Vec<String>,
}

/// Suggest each header's column for the base `base`.
fn guess_columns(base: &str, header: &[String]) -> (Vec<ColumnGuess>, Vec<String>) {
    let canonical = super::source::canonical(base).unwrap_or_default();
    let ours = super::rows::required(&canonical);
    let known = KNOWN_HEADERS
        .iter()
        .find(|(b, _)| *b == base || (base.starts_with("residents") && *b == "residents"))
        .map_or(&[][..], |(_, t)| t);
    let mut taken: Vec<String> = Vec::new();
    let mut guesses = Vec::new();
    let mut unknown = Vec::new();
    for h in header {
        let k = header_key(h);
        if k.is_empty() {
            continue;
        }
        let exact = ours
            .iter()
            .find(|c| **c == k)
            .map(|c| c.to_string())
            .or_else(|| (k == OP_COLUMN).then(|| OP_COLUMN.to_string()))
            .or_else(|| {
                known
                    .iter()
                    .find(|(name, _)| header_key(name) == k)
                    .map(|(_, c)| c.to_string())
            });
        let guess = match exact {
            Some(c) => Some((c, "exact")),
            None => known
                .iter()
                .map(|(name, c)| (likeness(&k, name), *c))
                .filter(|(s, _)| *s >= 0.6)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, c)| (c.to_string(), "near")),
        };
        match guess {
            // Each of our columns from one header only: the first claim wins.
            Some((c, how)) if !taken.contains(&c) => {
                taken.push(c.clone());
                guesses.push(ColumnGuess {
                    header: h.clone(),
                    column: c,
                    how,
                });
            }
            _ => unknown.push(h.clone()),
        }
    }
    (guesses, unknown)
}

/// Suggest a mapping for a file with `header`; `base` when its name already says it.
pub fn suggest(file: &str, base: Option<&str>, header: &[String]) -> FileSuggestion {
    let bases = ["residents", "housing", "enterprises", "buildings", "units"];
    let chosen = match base {
        Some(b) => Some(b.to_string()),
        None => {
            // The base whose required columns the headers cover best; the file name's
            // words break ties and decide when the headers say nothing.
            let by_name = NAME_WORDS
                .iter()
                .find(|(w, _)| file.contains(w))
                .map(|(_, b)| *b);
            bases
                .iter()
                .map(|b| {
                    let (g, _) = guess_columns(b, header);
                    let covered = g.iter().filter(|c| c.column != OP_COLUMN).count();
                    let bonus = usize::from(by_name == Some(*b));
                    (covered * 2 + bonus, *b)
                })
                .filter(|(score, _)| *score >= 2)
                .max_by_key(|(score, b)| (*score, std::cmp::Reverse(*b)))
                .map(|(_, b)| b.to_string())
                .or_else(|| by_name.map(str::to_string))
        }
    };
    let Some(b) = chosen else {
        return FileSuggestion {
            file: file.to_string(),
            base: None,
            columns: Vec::new(),
            unknown: header.to_vec(),
            missing: Vec::new(),
        };
    };
    let (columns, unknown) = guess_columns(&b, header);
    let canonical = super::source::canonical(&b).unwrap_or_default();
    let optional = optional_columns(&canonical);
    let missing = super::rows::required(&canonical)
        .iter()
        .filter(|c| !optional.contains(c) && !columns.iter().any(|g| g.column == **c))
        .map(|c| c.to_string())
        .collect();
    FileSuggestion {
        file: file.to_string(),
        base: Some(b),
        columns,
        unknown,
        missing,
    }
}

/// Columns that may be left out (read as empty).
fn optional_columns(canonical: &str) -> &'static [&'static str] {
    match canonical {
        "events.csv" => crate::store::tables::EVENT_OPTIONAL_COLUMNS,
        "residents.csv" => &[
            "phone",
            "household_id",
            "relation",
            "address_code",
            "key_groups",
        ],
        "housing.csv" | "enterprises.csv" => &["address_code"],
        "buildings.csv" => &[
            "road",
            "door",
            "compound",
            "building_no",
            "village_group",
            "house_no",
        ],
        "units.csv" => &["unit", "room"],
        _ => &[],
    }
}

/// One line a person reads: what the suggestion is and what is left to do.
pub fn describe(s: &FileSuggestion) -> String {
    let mut out = String::new();
    match &s.base {
        Some(b) => out.push_str(&format!("{} looks like {b}", s.file)),
        None => out.push_str(&format!("{}: no import file fits its headers", s.file)),
    }
    let mapped: Vec<String> = s
        .columns
        .iter()
        .filter(|g| g.header != g.column)
        .map(|g| {
            let near = if g.how == "near" { " (near match)" } else { "" };
            format!("{} → {}{near}", g.header, g.column)
        })
        .collect();
    if !mapped.is_empty() {
        out.push_str(&format!("; columns: {}", mapped.join(", ")));
    }
    if !s.missing.is_empty() {
        out.push_str(&format!("; no header for {}", s.missing.join(", ")));
    }
    if !s.unknown.is_empty() {
        out.push_str(&format!("; ignored: {}", s.unknown.join(", ")));
    }
    out
}

fn toml_key(s: &str) -> String {
    // A basic string is always a valid key; escape what TOML needs escaped.
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A mapping file from suggestions, with comments on what to check.
pub fn to_toml(suggestions: &[FileSuggestion]) -> String {
    let mut out = String::from(
        "# Column mapping for `minqing import --mapping FILE` (written by --suggest-mapping).\n\
         # Check every line marked \"near match\" and fill in the columns listed as missing.\n\n[files]\n",
    );
    for s in suggestions {
        if let Some(b) = &s.base {
            let stem = s
                .file
                .rsplit_once('.')
                .map_or(s.file.as_str(), |(st, _)| st);
            if super::source::canonical(stem).is_none() {
                out.push_str(&format!("{} = {}\n", toml_key(&s.file), toml_key(b)));
            }
        } else {
            out.push_str(&format!(
                "# {} = \"?\"  # no import file fits its headers\n",
                toml_key(&s.file)
            ));
        }
    }
    let mut by_base: BTreeMap<&str, Vec<&FileSuggestion>> = BTreeMap::new();
    for s in suggestions {
        if let Some(b) = &s.base {
            by_base.entry(b).or_default().push(s);
        }
    }
    for (base, list) in by_base {
        out.push_str(&format!("\n[{base}.columns]\n"));
        let mut seen: Vec<&str> = Vec::new();
        for s in &list {
            out.push_str(&format!("# from {}\n", s.file));
            for g in s.columns.iter().filter(|g| g.header != g.column) {
                if seen.contains(&g.header.as_str()) {
                    continue;
                }
                seen.push(&g.header);
                let near = if g.how == "near" {
                    "  # near match: check"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "{} = {}{near}\n",
                    toml_key(&g.header),
                    toml_key(&g.column)
                ));
            }
            for m in &s.missing {
                out.push_str(&format!(
                    "# \"?\" = {}  # missing: which header holds it?\n",
                    toml_key(m)
                ));
            }
            for u in &s.unknown {
                out.push_str(&format!("# {} is not imported\n", toml_key(u)));
            }
        }
        if base.starts_with("residents") {
            out.push_str(&format!(
                "\n# Values other than Minqing's own can be recoded:\n[{base}.values.sex]\n\"男\" = \"M\"\n\"女\" = \"F\"\n"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_names() {
        assert!(glob("户籍人口*.xlsx", "户籍人口2024.xlsx"));
        assert!(!glob("户籍人口*.xlsx", "户籍人口2024.xls"));
        assert!(glob("*人口*", "流动人口台账"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
    }

    #[test]
    fn a_mapping_is_checked_and_applied() {
        let m = Mapping::parse(
            "[files]\n\"户籍人口*\" = \"residents\"\n[residents.columns]\n\"姓 名\" = \"name\"\n\
             \"身份证号\" = \"id_number\"\n[residents.values.sex]\n\"男\" = \"M\"\n",
        )
        .unwrap();
        assert_eq!(m.base_for("户籍人口2024.xlsx"), Some("residents"));
        assert_eq!(m.base_for("房屋.xlsx"), None);
        let t = m.table("residents-gbk.csv").unwrap();
        let mut header = vec!["姓名".to_string(), "身份证号 ".into(), "x".into()];
        t.rename(&mut header);
        assert_eq!(header, ["name", "id_number", "x"]);
        let rec = t.recoder(&["id", "sex"]);
        let mut v = vec!["男".to_string(), " 男 ".to_string()];
        rec.apply(&mut v);
        assert_eq!(v, ["男", "M"]);
        let e = Mapping::parse("[residents.columns]\n\"姓名\" = \"nam\"\n").unwrap_err();
        assert!(e.contains("no column nam"), "{e}");
        let e = Mapping::parse("[files]\n\"a*\" = \"people\"\n").unwrap_err();
        assert!(e.contains("people is not"), "{e}");
        let e = Mapping::parse("[peoples.columns]\n").unwrap_err();
        assert!(e.contains("peoples"), "{e}");
    }

    #[test]
    fn suggestions_from_chinese_headers() {
        let header: Vec<String> = [
            "序号",
            "姓名",
            "性别",
            "出生日期",
            "身份证件号",
            "现住址",
            "联系电话",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = suggest("户籍人口2024.xlsx", None, &header);
        assert_eq!(s.base.as_deref(), Some("residents"));
        let col = |h: &str| {
            s.columns
                .iter()
                .find(|g| g.header == h)
                .map(|g| (g.column.as_str(), g.how))
        };
        assert_eq!(col("姓名"), Some(("name", "exact")));
        assert_eq!(col("身份证件号"), Some(("id_number", "near")));
        assert_eq!(col("现住址"), Some(("address", "exact")));
        assert!(s.missing.contains(&"id".to_string()), "{s:?}");
        assert!(s.missing.contains(&"registration".to_string()), "{s:?}");
        // The written file parses back as a mapping and maps the file.
        let text = to_toml(&[s]);
        let m = Mapping::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(m.base_for("户籍人口2024.xlsx"), Some("residents"));
        assert_eq!(m.tables["residents"].columns["身份证件号"], "id_number");
    }
}
