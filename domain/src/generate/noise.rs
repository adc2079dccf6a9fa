//! Addresses as people type them into a register, on top of the address crate's noise
//! model (`minqing_address::noise`, which renders a label in another but still exact
//! style). These are the slips that make a record hard or impossible to link without a
//! person: what the demo's link report and its review queue (`/review`) should show.
//!
//! Each record's address text is passed through [`typed`] with the generator's own
//! random stream for it, so every other generated value stays the same. Per record, at
//! most one slip, with these probabilities (about 6% of records in all):
//!
//! | slip | rate | example |
//! |---|---|---|
//! | a separator inside a name | 1.5% | 光 明村, 齐，福村 |
//! | a separator inside a number | 0.5% | 4，6号 (a damaged number: never matched with confidence) |
//! | a character dropped from a name | 1.0% | 光村 for 光明村 |
//! | a character doubled | 1.0% | 光明明村 |
//! | levels out of order | 1.0% | the compound and building before the road and door |
//! | a door-number range | 0.5% | 12-14号 for 12号 |
//! | a homophone or look-alike in a name | 0.5% | 光名村, 齐福材 |
//! | a road's old name (曾用名) | 3% of the records on a renamed road | 人民路12号 for 光明南路12号 |
//!
//! The renamed roads ([`renamed_roads`]) are written to `address_aliases.csv`, the
//! table a centre keeps of its roads' old names: with it the importer links the old
//! spelling; without it those records wait in the review queue.
//!
//! The code is written here, apart from the matcher's normalisation, so the slips are
//! not shaped by what the matcher already reads.

use rand::Rng;

/// The slips and their rates, in the order they are tried (see the module doc).
pub const RATES: [(Slip, f64); 8] = [
    (Slip::NameSeparator, 0.015),
    (Slip::NumberSeparator, 0.005),
    (Slip::Dropped, 0.010),
    (Slip::Doubled, 0.010),
    (Slip::OutOfOrder, 0.010),
    (Slip::DoorRange, 0.005),
    (Slip::SoundAlike, 0.005),
    (Slip::OldName, 0.030),
];

/// Names roads of a Chinese town were commonly given before a renaming: the district's
/// old names, each given to one of its roads by [`renamed_roads`].
const OLD_ROAD_NAMES: [&str; 8] = [
    "人民路",
    "解放路",
    "建设路",
    "胜利路",
    "红旗路",
    "东风路",
    "工农路",
    "跃进路",
];

/// Old name → current name of some of the district's roads: every third road name of
/// `roads` (in the order given, duplicates ignored) gets the next of the old names that
/// is not itself a name in `roads`, up to eight roads.
pub fn renamed_roads<'a>(roads: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut seen: Vec<&str> = Vec::new();
    for r in roads {
        if !r.is_empty() && !seen.contains(&r) {
            seen.push(r);
        }
    }
    let mut old = OLD_ROAD_NAMES.iter().filter(|o| !seen.contains(o));
    seen.iter()
        .step_by(3)
        .filter(|r| !OLD_ROAD_NAMES.contains(r))
        .zip(&mut old)
        .map(|(current, old)| (old.to_string(), current.to_string()))
        .collect()
}

/// One kind of slip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slip {
    NameSeparator,
    NumberSeparator,
    Dropped,
    Doubled,
    OutOfOrder,
    DoorRange,
    SoundAlike,
    OldName,
}

/// Characters that mark a level or a number (号, 栋, 单元…): left alone by the
/// name slips, so a slip changes a name and not the structure around it.
const MARKERS: &str = "号栋幢座楼单元门室户层组村社区街道镇乡路巷街省市区县";

/// Homophones and look-alikes people type for common characters of place names.
const SOUND_ALIKE: [(char, char); 16] = [
    ('明', '名'),
    ('福', '富'),
    ('花', '华'),
    ('园', '元'),
    ('安', '按'),
    ('光', '广'),
    ('金', '今'),
    ('龙', '隆'),
    ('青', '清'),
    ('平', '坪'),
    ('阳', '杨'),
    ('江', '汪'),
    ('新', '心'),
    ('和', '禾'),
    ('德', '得'),
    ('兴', '星'),
];

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// Positions `i` where `chars[i]` is a character of a name (a Han character that is not
/// a marker).
fn name_positions(chars: &[char]) -> Vec<usize> {
    chars
        .iter()
        .enumerate()
        .filter(|(_, c)| is_han(**c) && !MARKERS.contains(**c))
        .map(|(i, _)| i)
        .collect()
}

/// `text` (a record's address) as a person might have typed it, and the slip made, if
/// any; `renamed` is [`renamed_roads`]' table. Draws from `rng` only (the caller's own
/// stream).
pub fn typed<R: Rng>(
    rng: &mut R,
    text: &str,
    renamed: &[(String, String)],
) -> (String, Option<Slip>) {
    let roll: f64 = rng.r#gen();
    let mut acc = 0.0;
    let Some(slip) = RATES.iter().find_map(|(s, p)| {
        acc += p;
        (roll < acc).then_some(*s)
    }) else {
        return (text.to_string(), None);
    };
    let mut chars: Vec<char> = text.chars().collect();
    // Skip the district prefix: its words are not what people get wrong.
    let start = text
        .find("旌阳区")
        .map_or(0, |b| text[..b].chars().count() + 3);
    let names: Vec<usize> = name_positions(&chars)
        .into_iter()
        .filter(|i| *i >= start)
        .collect();
    let pick = |rng: &mut R, v: &[usize]| (!v.is_empty()).then(|| v[rng.gen_range(0..v.len())]);
    let done = match slip {
        Slip::NameSeparator => {
            // Between two characters of one name.
            let inner: Vec<usize> = names
                .iter()
                .copied()
                .filter(|i| names.contains(&(i + 1)))
                .collect();
            pick(rng, &inner).map(|i| {
                let sep = [' ', '，', '、', ' '][rng.gen_range(0..4)];
                chars.insert(i + 1, sep);
            })
        }
        Slip::NumberSeparator => {
            let inner: Vec<usize> = (start..chars.len().saturating_sub(1))
                .filter(|i| chars[*i].is_ascii_digit() && chars[i + 1].is_ascii_digit())
                .collect();
            pick(rng, &inner).map(|i| chars.insert(i + 1, '，'))
        }
        Slip::Dropped => {
            // Keep a name at least one character long.
            let inner: Vec<usize> = names
                .iter()
                .copied()
                .filter(|i| names.contains(&(i + 1)) || (*i > 0 && names.contains(&(i - 1))))
                .collect();
            pick(rng, &inner).map(|i| {
                chars.remove(i);
            })
        }
        Slip::Doubled => pick(rng, &names).map(|i| chars.insert(i, chars[i])),
        Slip::OutOfOrder => {
            // "…路12号锦绣花园3栋…" → "锦绣花园3栋…路12号": the part after the first
            // 号 that is followed by more text is moved to the front of the place.
            let first = (start..chars.len())
                .find(|i| chars[*i] == '号' && *i + 1 < chars.len() && is_han(chars[*i + 1]));
            first.map(|i| {
                let tail: Vec<char> = chars.split_off(i + 1);
                let head: Vec<char> = chars.split_off(start);
                chars.extend(tail);
                chars.extend(head);
            })
        }
        Slip::DoorRange => {
            // The first number followed by 号: 12号 → 12-14号.
            (start..chars.len())
                .find(|i| chars[*i] == '号' && *i > 0 && chars[*i - 1].is_ascii_digit())
                .map(|i| {
                    let mut j = i;
                    while j > 0 && chars[j - 1].is_ascii_digit() {
                        j -= 1;
                    }
                    let n: u32 = chars[j..i].iter().collect::<String>().parse().unwrap_or(0);
                    let range: Vec<char> = format!("-{}", n + 2).chars().collect();
                    chars.splice(i..i, range);
                })
        }
        Slip::SoundAlike => {
            let hits: Vec<usize> = names
                .iter()
                .copied()
                .filter(|i| SOUND_ALIKE.iter().any(|(a, _)| *a == chars[*i]))
                .collect();
            pick(rng, &hits).map(|i| {
                let (_, b) = SOUND_ALIKE.iter().find(|(a, _)| *a == chars[i]).unwrap();
                chars[i] = *b;
            })
        }
        Slip::OldName => {
            let place: String = chars[start..].iter().collect();
            return match renamed
                .iter()
                .find(|(_, current)| place.contains(current.as_str()))
            {
                Some((old, current)) => {
                    let head: String = chars[..start].iter().collect();
                    (
                        format!("{head}{}", place.replacen(current.as_str(), old, 1)),
                        Some(slip),
                    )
                }
                None => (text.to_string(), None),
            };
        }
    };
    match done {
        Some(()) => (chars.into_iter().collect(), Some(slip)),
        None => (text.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn slips_keep_the_rest_of_the_text() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let text = "四川省德阳市旌阳区城南街道光明社区光明路12号锦绣花园3栋2单元502室";
        let renamed = renamed_roads(["光明路", "青龙北路", "长江西路", "人民路"]);
        // The first and the fourth name; 人民路 is a current name, so not an old one.
        assert_eq!(
            renamed,
            [("解放路".to_string(), "光明路".to_string())],
            "{renamed:?}"
        );
        let mut seen = Vec::new();
        let mut changed = 0;
        for _ in 0..20_000 {
            let (t, slip) = typed(&mut rng, text, &renamed);
            assert!(t.starts_with("四川省德阳市旌阳区"), "{t}");
            match slip {
                Some(s) => {
                    assert_ne!(t, text, "{s:?}");
                    changed += 1;
                    if !seen.contains(&s) {
                        seen.push(s);
                    }
                }
                None => assert_eq!(t, text),
            }
        }
        assert_eq!(seen.len(), RATES.len(), "{seen:?}");
        // About 9% of records (every slip applies to this text).
        assert!((1650..1950).contains(&changed), "{changed}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        loop {
            if let (t, Some(Slip::DoorRange)) = typed(&mut rng, text, &renamed) {
                assert!(t.contains("光明路12-14号锦绣花园"), "{t}");
                break;
            }
        }
        loop {
            if let (t, Some(Slip::OutOfOrder)) = typed(&mut rng, text, &renamed) {
                assert!(t.ends_with("光明路12号"), "{t}");
                assert!(t.contains("旌阳区锦绣花园3栋"), "{t}");
                break;
            }
        }
        loop {
            if let (t, Some(Slip::OldName)) = typed(&mut rng, text, &renamed) {
                assert_eq!(t, text.replace("光明路", "解放路"));
                break;
            }
        }
        // A text on no renamed road is left as it is by that slip.
        let other = "四川省德阳市旌阳区城南街道光明社区长江西路8号";
        for _ in 0..2_000 {
            let (t, slip) = typed(&mut rng, other, &renamed);
            assert!(slip != Some(Slip::OldName) && !t.contains("解放路"), "{t}");
        }
    }
}
