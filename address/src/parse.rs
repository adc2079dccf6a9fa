//! Normalising and parsing free-text addresses.
//!
//! Two stages, both total (they never panic and accept any string):
//!
//! 1. [`normalize`] folds the text to one spelling: half-width digits and letters,
//!    simplified characters, one kind of dash, single spaces for any punctuation, and
//!    Arabic digits for Chinese numerals — but only for numerals that *count something*
//!    (followed by 号/栋/单元/室/组/楼…, or a bare room after a unit). Numerals inside
//!    names (二环路, 五里堆社区, 十里铺) are left alone; that context rule is the key
//!    choice that lets names and numbers share the same characters safely.
//!    `normalize` is idempotent.
//! 2. [`tokenize`] cuts normalised text into name runs and numbers with their markers
//!    (号, 栋, 单元, 室, 组, 楼/层, dashed shorthand); [`parse`] then assigns numbers to
//!    levels from their marker and their neighbours (a 号 after a unit is a room, after a
//!    group a house, after a road a door) and splits name runs by their suffixes.
//!
//! The matcher uses the tokens directly and finds names with the register's own
//! dictionary, so the suffix heuristics of [`parse`] only matter for callers that have
//! no register.

use crate::hanzi;

/// Prefix words of the district that carry no information inside the register.
const PREFIXES: &[(&str, PrefixLevel)] = &[
    ("四川省", PrefixLevel::Province),
    ("四川", PrefixLevel::Province),
    ("德阳市", PrefixLevel::City),
    ("德阳", PrefixLevel::City),
    ("旌阳区", PrefixLevel::District),
];

#[derive(Clone, Copy)]
enum PrefixLevel {
    Province,
    City,
    District,
}

/// Words that only locate loosely (附近 "nearby") and are dropped from names.
pub const NOISE_WORDS: &[&str] = &[
    "附近", "对面", "门口", "旁边", "楼下", "隔壁", "后面", "里面", "背后",
];

/// A free-text address cut into its parts. Every field is optional; `leftover` keeps
/// the words that fitted nowhere (noise words included) so callers can show them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedAddress {
    /// 四川省 when written (always this district's province).
    pub province: Option<String>,
    /// 德阳市 when written.
    pub city: Option<String>,
    /// 旌阳区 when written.
    pub district: Option<String>,
    /// Township or street (…街道, …镇, …乡).
    pub township: Option<String>,
    /// Community (…社区) or village (…村).
    pub community: Option<String>,
    /// Road (…路, …街, …大道, …巷).
    pub road: Option<String>,
    /// Door number on the road.
    pub door: Option<u32>,
    /// Compound name.
    pub compound: Option<String>,
    /// Building number.
    pub building: Option<u32>,
    /// Unit (单元/门).
    pub unit: Option<u32>,
    /// Floor, when written explicitly (5楼, 5层) or implied by the room number.
    pub floor: Option<u32>,
    /// Room number including its floor (502, 1603).
    pub room: Option<u32>,
    /// Villagers' group (组).
    pub group: Option<u32>,
    /// House number in the group.
    pub house: Option<u32>,
    /// Words that fitted nowhere.
    pub leftover: Vec<String>,
}

impl ParsedAddress {
    /// The parts in canonical label order, without the district prefix, e.g.
    /// `旌阳街道文庙社区长江西路18号锦绣花园3栋2单元502室`. Parsing this label again
    /// yields the same parts (for parts whose names carry their usual suffixes).
    pub fn to_label(&self) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(64);
        for n in [&self.township, &self.community, &self.road]
            .into_iter()
            .flatten()
        {
            s.push_str(n);
        }
        if let Some(d) = self.door {
            let _ = write!(s, "{d}号");
        }
        if let Some(g) = self.group {
            let _ = write!(s, "{g}组");
        }
        if let Some(h) = self.house {
            let _ = write!(s, "{h}号");
        }
        if let Some(c) = &self.compound {
            s.push_str(c);
        }
        if let Some(b) = self.building {
            let _ = write!(s, "{b}栋");
        }
        if let Some(u) = self.unit {
            let _ = write!(s, "{u}单元");
        }
        match (self.floor, self.room) {
            (_, Some(r)) => {
                let _ = write!(s, "{r}室");
            }
            (Some(f), None) => {
                let _ = write!(s, "{f}层");
            }
            (None, None) => {}
        }
        s
    }
}

// ---------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------

fn is_cn_numeral(c: char) -> bool {
    matches!(
        c,
        '〇' | '零'
            | '一'
            | '二'
            | '三'
            | '四'
            | '五'
            | '六'
            | '七'
            | '八'
            | '九'
            | '十'
            | '百'
            | '千'
            | '两'
    )
}

fn cn_digit(c: char) -> Option<u32> {
    Some(match c {
        '〇' | '零' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// The value of a run of Chinese numerals: positional (五〇二 = 502) when it has no
/// 十/百/千, otherwise by value (一百零二 = 102, 十八 = 18). `None` when malformed.
pub fn parse_cn_number(run: &[char]) -> Option<u32> {
    if run.is_empty() || run.len() > 9 {
        return None;
    }
    let has_units = run.iter().any(|c| matches!(c, '十' | '百' | '千'));
    if !has_units {
        let mut v: u32 = 0;
        for &c in run {
            v = v.checked_mul(10)?.checked_add(cn_digit(c)?)?;
        }
        return Some(v);
    }
    let mut total: u32 = 0;
    let mut pending: Option<u32> = None;
    let mut last_unit = u32::MAX;
    for &c in run {
        let unit = match c {
            '十' => 10,
            '百' => 100,
            '千' => 1000,
            _ => {
                let d = cn_digit(c)?;
                if pending.is_some() && d != 0 {
                    return None;
                }
                // 零 only separates; 一百零二 has its 二 pending after the 零.
                pending = if d == 0 { None } else { Some(d) };
                continue;
            }
        };
        if unit >= last_unit {
            return None;
        }
        last_unit = unit;
        let d = match pending.take() {
            Some(d) => d,
            // 十八: a leading 十 means one ten; elsewhere a unit needs its digit.
            None if unit == 10 && total == 0 => 1,
            None => return None,
        };
        total += d * unit;
    }
    if let Some(d) = pending {
        total += d;
    }
    Some(total)
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '，' | '、'
                | ','
                | '.'
                | '/'
                | '\\'
                | '。'
                | ';'
                | '；'
                | ':'
                | '：'
                | '('
                | ')'
                | '（'
                | '）'
                | '【'
                | '】'
                | '['
                | ']'
                | '「'
                | '」'
                | '"'
                | '\''
                | '“'
                | '”'
                | '‘'
                | '’'
                | '!'
                | '！'
                | '?'
                | '？'
                | '#'
                | '·'
                | '•'
                | '|'
                | '*'
                | '_'
                | '《'
                | '》'
                | '<'
                | '>'
                | '\u{3000}'
        )
        || c.is_control()
}

fn fold_char(c: char) -> char {
    let c = match c as u32 {
        // Full-width ASCII block.
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    let c = match c {
        '—' | '–' | '―' | '‐' | '‑' | '−' | '~' | '～' | '─' => '-',
        _ => c,
    };
    hanzi::to_simplified(c)
}

/// Characters after which a numeral counts something (号, 栋, 单元, 室, 组, 楼…).
fn is_marker_start(c: char) -> bool {
    matches!(
        c,
        '号' | '栋' | '幢' | '座' | '单' | '门' | '室' | '户' | '组' | '楼' | '层'
    )
}

/// Characters that end a level, after which a bare numeral is a number (二单元五〇二).
fn is_marker_end(c: char) -> bool {
    matches!(
        c,
        '号' | '栋' | '幢' | '座' | '元' | '门' | '室' | '户' | '组' | '楼' | '层'
    )
}

/// Fold `text` to the register's spelling. Idempotent; never panics.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

/// [`normalize`] into a caller-owned buffer (cleared first), to avoid an allocation per
/// record in bulk matching.
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    // Pass 1: fold characters, collapse separators. Kept in a small char buffer because
    // the numeral rule needs to look both ways.
    let mut chars: Vec<char> = Vec::with_capacity(text.len() / 2 + 4);
    let mut pending_space = false;
    for c in text.chars() {
        let c = fold_char(c);
        if is_separator(c) {
            pending_space = !chars.is_empty();
            continue;
        }
        if pending_space {
            chars.push(' ');
            pending_space = false;
        }
        chars.push(c);
    }
    // Pass 2: Chinese numerals that count something become Arabic digits; 第 before a
    // number is dropped.
    let n = chars.len();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c == '第' {
            // Drop a run of 第 only when a number follows it, so that a second pass finds
            // nothing left to drop.
            let mut j = i;
            while j < n && chars[j] == '第' {
                j += 1;
            }
            if j < n && (chars[j].is_ascii_digit() || numeral_run_converts(&chars, j).is_some()) {
                i = j;
                continue;
            }
            for &c in &chars[i..j] {
                out.push(c);
            }
            i = j;
            continue;
        }
        if is_cn_numeral(c) {
            if let Some((end, value)) = numeral_run_converts(&chars, i) {
                use std::fmt::Write;
                let _ = write!(out, "{value}");
                i = end;
                continue;
            }
            let mut j = i;
            while j < n && is_cn_numeral(chars[j]) {
                out.push(chars[j]);
                j += 1;
            }
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
}

/// If the numeral run starting at `i` counts something, its end and value.
fn numeral_run_converts(chars: &[char], i: usize) -> Option<(usize, u32)> {
    if i >= chars.len() || !is_cn_numeral(chars[i]) {
        return None;
    }
    if i > 0 && is_cn_numeral(chars[i - 1]) {
        return None;
    }
    let mut j = i;
    while j < chars.len() && is_cn_numeral(chars[j]) {
        j += 1;
    }
    let next = chars.get(j).copied();
    let prev = if i > 0 {
        chars.get(i - 1).copied()
    } else {
        None
    };
    let followed_by_marker = match next {
        Some('门') => chars.get(j + 1) != Some(&'口'),
        Some('楼') => chars.get(j + 1) != Some(&'下'),
        Some('单') => chars.get(j + 1) == Some(&'元'),
        Some(c) => is_marker_start(c),
        None => false,
    };
    // A bare room is a floor and an index, three numerals at least (二单元五〇二); two
    // or one after a 号 are the start of a name cut by a separator (147号五一，祥公寓).
    let bare_after_marker = matches!(next, None | Some(' ') | Some('-'))
        && j - i >= 3
        && prev.is_some_and(|p| is_marker_end(p) || p.is_ascii_digit() || p == '-');
    if !(followed_by_marker || bare_after_marker) {
        return None;
    }
    // A lone 两/十/百/千 before a marker is still a number (两栋, 十号), but lone 〇/零 is
    // not worth the risk.
    let value = parse_cn_number(&chars[i..j])?;
    Some((j, value))
}

// ---------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------

/// What a number is marked as in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// 号: door, house or room depending on context.
    Hao,
    /// 栋, 幢, 座, 号楼.
    Building,
    /// 单元, 门.
    Unit,
    /// 室, 户.
    Room,
    /// 组.
    Group,
    /// 楼, 层 (a floor).
    Floor,
    /// No marker.
    Bare,
}

/// One token of normalised text. Text tokens are byte ranges into that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// A run of name characters.
    Text { start: usize, end: usize },
    /// A loose-location word (附近…), kept apart so it never becomes part of a name.
    Noise { start: usize, end: usize },
    /// A number and its marker.
    Num { value: u32, marker: Marker },
    /// Dashed shorthand: `a-b` or `a-b-c`, with an optional trailing marker.
    Dashed { parts: [u32; 3], len: u8 },
    /// `a-b号` with `a < b ≤ a + 20`: a door or house number span (12-14号) after a road
    /// or group, otherwise building-room shorthand like [`Token::Dashed`].
    Range { from: u32, to: u32 },
    /// A separator (space or a stray dash).
    Sep,
}

fn starts_with_at(s: &str, at: usize, pat: &str) -> bool {
    s.get(at..).is_some_and(|t| t.starts_with(pat))
}

fn noise_word_at(s: &str, at: usize) -> Option<usize> {
    NOISE_WORDS
        .iter()
        .find(|w| starts_with_at(s, at, w))
        .map(|w| w.len())
}

/// Cut normalised text into tokens, appending to `out` (cleared first).
pub fn tokenize_into(s: &str, out: &mut Vec<Token>) {
    out.clear();
    let b = s.as_bytes();
    let n = b.len();
    let mut i = 0;
    let mut text_start: Option<usize> = None;
    let flush = |out: &mut Vec<Token>, text_start: &mut Option<usize>, end: usize| {
        if let Some(st) = text_start.take()
            && st < end
        {
            out.push(Token::Text { start: st, end });
        }
    };
    while i < n {
        let c = b[i];
        if c.is_ascii_digit() {
            flush(out, &mut text_start, i);
            let (v, j) = read_number(b, i);
            i = j;
            // 12至14号: a span written out; read as 12-14号 when 号 closes it.
            if let Some(span) = span_written_out(s, i, v) {
                let (from, to, j) = span;
                out.push(Token::Range { from, to });
                i = j;
                continue;
            }
            // Dashed shorthand: digits '-' digits ['-' digits].
            if i + 1 < n && b[i] == b'-' && b[i + 1].is_ascii_digit() {
                let mut parts = [v.unwrap_or(u32::MAX), 0, 0];
                let mut len = 1u8;
                while len < 3 && i + 1 < n && b[i] == b'-' && b[i + 1].is_ascii_digit() {
                    let (v2, j2) = read_number(b, i + 1);
                    parts[len as usize] = v2.unwrap_or(u32::MAX);
                    len += 1;
                    i = j2;
                }
                // A trailing room marker belongs to the shorthand.
                let mut hao = false;
                for m in ["室", "号", "户"] {
                    if starts_with_at(s, i, m) {
                        hao = m == "号" && !starts_with_at(s, i, "号楼");
                        i += m.len();
                        break;
                    }
                }
                if parts[..len as usize].contains(&u32::MAX) {
                    out.push(Token::Sep);
                } else if hao && len == 2 && parts[0] < parts[1] && parts[1] - parts[0] <= 20 {
                    // 12-14号: a span of door (or house) numbers, one building covering
                    // several. Whether it is that or building-room shorthand depends on
                    // what precedes it, which `assign_numbers` decides.
                    out.push(Token::Range {
                        from: parts[0],
                        to: parts[1],
                    });
                } else {
                    out.push(Token::Dashed { parts, len });
                }
                continue;
            }
            let (marker, mlen) = marker_at(s, i);
            i += mlen;
            match v {
                Some(value) => out.push(Token::Num { value, marker }),
                None => out.push(Token::Sep),
            }
            continue;
        }
        if c == b' ' || c == b'-' {
            flush(out, &mut text_start, i);
            if out.last() != Some(&Token::Sep) {
                out.push(Token::Sep);
            }
            i += 1;
            continue;
        }
        if let Some(len) = noise_word_at(s, i) {
            flush(out, &mut text_start, i);
            out.push(Token::Noise {
                start: i,
                end: i + len,
            });
            i += len;
            continue;
        }
        if text_start.is_none() {
            text_start = Some(i);
        }
        // Advance one UTF-8 character.
        i += utf8_len(c);
    }
    flush(out, &mut text_start, n.min(s.len()));
}

/// `至 digits 号` right after a number `from` at byte `i`: the span's end and where the
/// text goes on after its 号.
fn span_written_out(s: &str, i: usize, from: Option<u32>) -> Option<(u32, u32, usize)> {
    let from = from?;
    let rest = s.get(i..)?.strip_prefix('至')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 6 {
        return None;
    }
    let to: u32 = rest[..digits].parse().ok()?;
    let after = &rest[digits..];
    if !after.starts_with('号') || after.starts_with("号楼") || to <= from || to - from > 20 {
        return None;
    }
    Some((from, to, s.len() - after.len() + '号'.len_utf8()))
}

/// Tokens of already normalised text.
pub fn tokenize(s: &str) -> Vec<Token> {
    let mut v = Vec::new();
    tokenize_into(s, &mut v);
    v
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        _ => 1,
    }
}

/// Read ASCII digits at `i`; the value is `None` when it does not fit a sensible range.
fn read_number(b: &[u8], mut i: usize) -> (Option<u32>, usize) {
    let mut v: u64 = 0;
    let mut ok = true;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v * 10 + u64::from(b[i] - b'0');
        if v > 99_999_999 {
            ok = false;
            v = 0;
        }
        i += 1;
    }
    (if ok { Some(v as u32) } else { None }, i)
}

fn marker_at(s: &str, i: usize) -> (Marker, usize) {
    const TABLE: &[(&str, Marker)] = &[
        ("号楼", Marker::Building),
        ("号", Marker::Hao),
        ("栋", Marker::Building),
        ("幢", Marker::Building),
        ("座", Marker::Building),
        ("单元", Marker::Unit),
        ("室", Marker::Room),
        ("户", Marker::Room),
        ("组", Marker::Group),
        ("层", Marker::Floor),
    ];
    // 门口 and 楼下 are noise words, not a unit and a floor.
    if starts_with_at(s, i, "门") && !starts_with_at(s, i, "门口") {
        return (Marker::Unit, "门".len());
    }
    // 18号楼下 is "below no. 18", not building 18.
    if starts_with_at(s, i, "号楼下") {
        return (Marker::Hao, "号".len());
    }
    if starts_with_at(s, i, "楼") && !starts_with_at(s, i, "楼下") {
        return (Marker::Floor, "楼".len());
    }
    for (m, k) in TABLE {
        if starts_with_at(s, i, m) {
            return (*k, m.len());
        }
    }
    (Marker::Bare, 0)
}

/// Strip district prefix words from the start of `s` (repeatedly: 四川省德阳市四川省…),
/// recording them in `parsed` when given. Returns the byte offset where the rest starts.
pub fn strip_prefix(s: &str, mut parsed: Option<&mut ParsedAddress>) -> usize {
    let mut at = 0;
    loop {
        while starts_with_at(s, at, " ") || starts_with_at(s, at, "-") {
            at += 1;
        }
        let mut hit = false;
        for (p, level) in PREFIXES {
            if starts_with_at(s, at, p) {
                if let Some(parsed) = parsed.as_deref_mut() {
                    let canon = match level {
                        PrefixLevel::Province => "四川省",
                        PrefixLevel::City => "德阳市",
                        PrefixLevel::District => "旌阳区",
                    };
                    let slot = match level {
                        PrefixLevel::Province => &mut parsed.province,
                        PrefixLevel::City => &mut parsed.city,
                        PrefixLevel::District => &mut parsed.district,
                    };
                    *slot = Some(canon.to_string());
                }
                at += p.len();
                hit = true;
                break;
            }
        }
        // Bare 旌阳 right after 德阳 is the district, unless it starts a township name
        // (旌阳街道); at the very start it may begin any name, so it stays.
        if !hit && at > 0 && starts_with_at(s, at, "旌阳") && !starts_with_at(s, at, "旌阳街道")
        {
            if let Some(parsed) = parsed.as_deref_mut() {
                parsed.district = Some("旌阳区".to_string());
            }
            at += "旌阳".len();
            hit = true;
        }
        if !hit {
            return at;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

/// The numbers of an address, assigned to levels. Shared by [`parse`] and the matcher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Numbers {
    /// Door number on a road.
    pub door: Option<u32>,
    /// Building number.
    pub building: Option<u32>,
    /// Unit.
    pub unit: Option<u32>,
    /// Floor.
    pub floor: Option<u32>,
    /// Room (with floor).
    pub room: Option<u32>,
    /// Villagers' group.
    pub group: Option<u32>,
    /// House in the group.
    pub house: Option<u32>,
    /// A door (or, after a group, house) number span written as `12-14号`; `door` /
    /// `house` stay empty then.
    pub door_range: Option<(u32, u32)>,
    /// Whether a number could not be placed (repeated or contradictory levels). A
    /// separator inside a number (`4，6号`, `1，1组`) always ends here: its first half is
    /// a bare number with nothing to count, so a damaged number is never read as whole.
    pub conflict: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    None,
    Door,
    Group,
    House,
    Building,
    Unit,
    Floor,
    Room,
}

fn set(slot: &mut Option<u32>, v: u32, conflict: &mut bool) {
    match slot {
        Some(old) if *old != v => *conflict = true,
        _ => *slot = Some(v),
    }
}

/// Combine an explicit floor with a room written after it (5楼502, 5层2号, 16楼03).
fn room_on_floor(floor: Option<u32>, n: u32) -> u32 {
    match floor {
        Some(f) if n < 100 && f > 0 && f < 1000 => f * 100 + n,
        _ => n,
    }
}

/// Assign the numbers among `tokens` to levels. `road_before` tells, for the number at
/// token index `k`, whether a road-like name directly precedes it (a 号 there is a door);
/// the parser and the matcher answer that differently.
pub fn assign_numbers(tokens: &[Token], road_before: impl Fn(usize) -> bool) -> Numbers {
    let mut nb = Numbers::default();
    let mut last = Level::None;
    for (k, t) in tokens.iter().enumerate() {
        match *t {
            Token::Num { value, marker } => match marker {
                Marker::Building => {
                    set(&mut nb.building, value, &mut nb.conflict);
                    last = Level::Building;
                }
                Marker::Unit => {
                    set(&mut nb.unit, value, &mut nb.conflict);
                    last = Level::Unit;
                }
                Marker::Group => {
                    set(&mut nb.group, value, &mut nb.conflict);
                    last = Level::Group;
                }
                Marker::Floor => {
                    set(&mut nb.floor, value, &mut nb.conflict);
                    last = Level::Floor;
                }
                Marker::Room => {
                    let r = room_on_floor(nb.floor, value);
                    set(&mut nb.room, r, &mut nb.conflict);
                    last = Level::Room;
                }
                Marker::Hao => {
                    // A 号 right after a road is its door wherever it stands: written
                    // after the rooms (…502室 长江西路18号) it is still no room.
                    if road_before(k) && last != Level::Group {
                        set(&mut nb.door, value, &mut nb.conflict);
                        last = Level::Door;
                    } else if last >= Level::Building {
                        let r = room_on_floor(nb.floor, value);
                        set(&mut nb.room, r, &mut nb.conflict);
                        last = Level::Room;
                    } else if last == Level::Group {
                        set(&mut nb.house, value, &mut nb.conflict);
                        last = Level::House;
                    } else if road_before(k) || nb.door.is_none() {
                        set(&mut nb.door, value, &mut nb.conflict);
                        last = Level::Door;
                    } else {
                        nb.conflict = true;
                    }
                }
                Marker::Bare => {
                    if last >= Level::Building && last != Level::Room {
                        let r = room_on_floor(nb.floor, value);
                        set(&mut nb.room, r, &mut nb.conflict);
                        last = Level::Room;
                    } else {
                        nb.conflict = true;
                    }
                }
            },
            Token::Range { from, to } if last == Level::Group || road_before(k) => {
                if nb.door_range.is_some() || nb.house.is_some() || nb.door.is_some() {
                    nb.conflict = true;
                }
                nb.door_range = Some((from, to));
                last = if last == Level::Group {
                    Level::House
                } else {
                    Level::Door
                };
            }
            Token::Range { from, to } => {
                set(&mut nb.building, from, &mut nb.conflict);
                if to >= 100 {
                    set(&mut nb.room, to, &mut nb.conflict);
                } else {
                    set(&mut nb.unit, to, &mut nb.conflict);
                }
                last = Level::Room;
            }
            Token::Dashed { parts, len } => {
                set(&mut nb.building, parts[0], &mut nb.conflict);
                if len == 3 {
                    set(&mut nb.unit, parts[1], &mut nb.conflict);
                    set(&mut nb.room, parts[2], &mut nb.conflict);
                } else if parts[1] >= 100 {
                    set(&mut nb.room, parts[1], &mut nb.conflict);
                } else {
                    set(&mut nb.unit, parts[1], &mut nb.conflict);
                }
                last = Level::Room;
            }
            Token::Text { .. } | Token::Noise { .. } | Token::Sep => {}
        }
    }
    if nb.floor.is_none() {
        nb.floor = nb.room.map(|r| r / 100).filter(|&f| f > 0);
    }
    nb
}

const TOWNSHIP_SUFFIXES: &[&str] = &["街道", "镇", "乡"];
const COMMUNITY_SUFFIXES: &[&str] = &["社区", "村"];
const ROAD_SUFFIXES: &[&str] = &["大道", "路", "街", "巷"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Township,
    Community,
    Road,
    Other,
}

fn kind_of(name: &str) -> NameKind {
    if TOWNSHIP_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        NameKind::Township
    } else if COMMUNITY_SUFFIXES.iter().any(|s| name.ends_with(s)) && !name.ends_with("新村") {
        NameKind::Community
    } else if ROAD_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        NameKind::Road
    } else {
        NameKind::Other
    }
}

/// Split a name run at administrative and road suffixes (文庙社区长江西路 → 文庙社区,
/// 长江西路). A piece must have at least one character before its suffix.
fn split_names(run: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let all: [&[&str]; 3] = [TOWNSHIP_SUFFIXES, COMMUNITY_SUFFIXES, ROAD_SUFFIXES];
    while i < run.len() {
        let mut cut = None;
        if i > start {
            for suffixes in all {
                for suf in suffixes {
                    if starts_with_at(run, i, suf) {
                        let end = i + suf.len();
                        // 街 followed by 道 is the longer suffix 街道; 新村 ends a compound.
                        let longer = suffixes.iter().any(|l| {
                            l.len() > suf.len() && l.starts_with(suf) && starts_with_at(run, i, l)
                        });
                        let new_village = *suf == "村" && run[start..i].ends_with('新');
                        // 正街社区: a suffix directly followed by another suffix belongs
                        // to the longer name.
                        let chained = all
                            .iter()
                            .flat_map(|g| g.iter())
                            .any(|l| starts_with_at(run, end, l));
                        if !longer && !new_village && !chained {
                            cut = Some(cut.map_or(end, |c: usize| c.max(end)));
                        }
                    }
                }
            }
        }
        if let Some(end) = cut {
            pieces.push(&run[start..end]);
            start = end;
            i = end;
        } else {
            i += run[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if start < run.len() {
        pieces.push(&run[start..]);
    }
    pieces
}

/// Parse free text into address parts. Total: any input gives a result.
pub fn parse(text: &str) -> ParsedAddress {
    let norm = normalize(text);
    let mut parsed = ParsedAddress::default();
    let start = strip_prefix(&norm, Some(&mut parsed));
    let rest = &norm[start..];
    let tokens = tokenize(rest);

    // Names: split every text run, classify by suffix; the last piece before a building
    // number or dashed shorthand is the compound, the last before a group the village.
    let mut road_before = vec![false; tokens.len()];
    let mut last_piece_kind = NameKind::Other;
    for (k, t) in tokens.iter().enumerate() {
        match *t {
            Token::Text { start, end } => {
                let run = &rest[start..end];
                let pieces = split_names(run);
                let next_num = tokens[k + 1..]
                    .iter()
                    .find(|t| !matches!(t, Token::Sep | Token::Noise { .. }));
                let before_building = matches!(
                    next_num,
                    Some(Token::Num {
                        marker: Marker::Building,
                        ..
                    }) | Some(Token::Dashed { .. })
                        | Some(Token::Range { .. })
                );
                let before_group = matches!(
                    next_num,
                    Some(Token::Num {
                        marker: Marker::Group,
                        ..
                    })
                );
                let n = pieces.len();
                for (pi, piece) in pieces.into_iter().enumerate() {
                    let kind = kind_of(piece);
                    let is_last = pi + 1 == n;
                    let slot = if is_last && before_building {
                        &mut parsed.compound
                    } else if is_last && before_group {
                        // A village, even one named …新村.
                        &mut parsed.community
                    } else {
                        match kind {
                            NameKind::Township => &mut parsed.township,
                            NameKind::Community => &mut parsed.community,
                            NameKind::Road => &mut parsed.road,
                            NameKind::Other => &mut parsed.compound,
                        }
                    };
                    if slot.is_none() {
                        *slot = Some(piece.to_string());
                    } else {
                        parsed.leftover.push(piece.to_string());
                    }
                    last_piece_kind = kind;
                }
            }
            Token::Noise { start, end } => parsed.leftover.push(rest[start..end].to_string()),
            Token::Sep => {}
            Token::Num { .. } | Token::Dashed { .. } | Token::Range { .. } => {
                road_before[k] = last_piece_kind == NameKind::Road;
                last_piece_kind = NameKind::Other;
            }
        }
    }
    let nb = assign_numbers(&tokens, |k| road_before.get(k).copied().unwrap_or(false));
    // A span of numbers has no field of its own here: its first number stands for it.
    parsed.door = nb
        .door
        .or(nb.door_range.filter(|_| nb.group.is_none()).map(|r| r.0));
    parsed.building = nb.building;
    parsed.unit = nb.unit;
    parsed.floor = nb.floor;
    parsed.room = nb.room;
    parsed.group = nb.group;
    parsed.house = nb
        .house
        .or(nb.door_range.filter(|_| nb.group.is_some()).map(|r| r.0));
    // A door number without any road is a rural house number when a village was named.
    if parsed.road.is_none()
        && parsed.house.is_none()
        && parsed.group.is_none()
        && parsed.door.is_some()
        && parsed.compound.is_none()
        && parsed
            .community
            .as_deref()
            .is_some_and(|c| c.ends_with('村'))
    {
        parsed.house = parsed.door.take();
    }
    parsed
}
