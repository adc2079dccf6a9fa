//! Households, residents, housing units and enterprises of the synthetic district.

use super::names::{ENTERPRISE_WORDS, INDUSTRIES, person_name, weighted};
use super::register::{Kind, Register};
use crate::ids::{id_check_char, org_code_check_char, uscc_check_char};
use rand::Rng;
use rand::seq::SliceRandom;
use std::collections::HashMap;

/// The register's view of a housing unit after households are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occupancy {
    Owner,
    Rented,
    Vacant,
}

impl Occupancy {
    pub fn as_str(self) -> &'static str {
        match self {
            Occupancy::Owner => "owner",
            Occupancy::Rented => "rented",
            Occupancy::Vacant => "vacant",
        }
    }
}

/// Occupancy and household size of every unit, with the resident total exact.
pub fn households<R: Rng>(rng: &mut R, reg: &Register, residents: usize) -> Vec<(Occupancy, u32)> {
    let mut out: Vec<(Occupancy, u32)> = reg
        .units
        .iter()
        .map(|u| {
            let urban = matches!(
                reg.buildings[u.building].kind,
                Kind::Walkup | Kind::Highrise
            );
            let x: f64 = rng.gen_range(0.0..1.0);
            let occ = if x < if urban { 0.09 } else { 0.07 } {
                Occupancy::Vacant
            } else if x < if urban { 0.34 } else { 0.15 } {
                Occupancy::Rented
            } else {
                Occupancy::Owner
            };
            let size = match occ {
                Occupancy::Vacant => 0,
                // Over-crowded group rentals (群租).
                Occupancy::Rented if rng.gen_bool(0.012) => rng.gen_range(6..=10),
                _ => match rng.gen_range(0..100) {
                    0..=32 => 1,
                    33..=69 => 2,
                    70..=87 => 3,
                    88..=94 => 4,
                    95..=97 => 5,
                    _ => 6,
                },
            };
            (occ, size)
        })
        .collect();
    // Exact total: nudge random occupied households up or down by one person.
    let mut total: i64 = out.iter().map(|&(_, s)| i64::from(s)).sum();
    let target = residents as i64;
    let occupied: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].0 != Occupancy::Vacant)
        .collect();
    if occupied.is_empty() {
        return out;
    }
    let mut guard = 0;
    while total != target && guard < 50 * out.len() {
        guard += 1;
        let &i = occupied.choose(rng).expect("non-empty");
        let s = &mut out[i].1;
        if total < target && *s < 12 {
            *s += 1;
            total += 1;
        } else if total > target && *s > 1 {
            *s -= 1;
            total -= 1;
        }
    }
    out
}

/// One resident drawn for a household.
pub struct Person {
    pub name: String,
    pub male: bool,
    pub birth: (i32, u32, u32),
    pub id_number: String,
    pub phone: String,
    pub floating: bool,
    pub relation: &'static str,
    pub key_groups: Vec<&'static str>,
}

const HOME_REGION: &str = "510603";
const OTHER_REGIONS: &[&str] = &[
    "510681", "510623", "510682", "510683", "511002", "510722", "500101", "513401",
];

/// A birth date for a person of `age` in `year` (the generator's present: the census
/// structure holds for the district as the views show it today).
fn birth_for_age<R: Rng>(rng: &mut R, age: i32, year: i32) -> (i32, u32, u32) {
    let year = year - age;
    let month = rng.gen_range(1..=12);
    let day = rng.gen_range(1..=28);
    (year, month, day)
}

/// The age structure the district is calibrated to, in percent of all residents.
///
/// Sichuan, 7th national census (2020): 四川省第七次全国人口普查公报（第四号）—
/// 0–14 years 16.10%, 15–59 years 62.19%, 60 and over 21.71%, of which 65 and over
/// 16.93%. The provincial bulletin gives no 80-and-over share; we use the national one
/// (第七次全国人口普查主要数据: 2.54%), which Sichuan, older than the nation, exceeds a
/// little.
pub mod census {
    pub const AGED_0_14: f64 = 16.10;
    pub const AGED_15_59: f64 = 62.19;
    pub const AGED_60_PLUS: f64 = 21.71;
    pub const AGED_65_PLUS: f64 = 16.93;
    pub const AGED_80_PLUS: f64 = 2.54;
    /// Males per 100 females, Sichuan 2020 (公报第四号: 102.19).
    pub const SEX_RATIO: f64 = 102.19;
}

/// Oldest age drawn.
const MAX_AGE: usize = 100;

/// The census age structure as a share per single year of age (0..=MAX_AGE), summing
/// to 1: flat within 0–14, 15–59 and 60–64, declining within 65–79 and after 80.
fn census_age_shares() -> [f64; MAX_AGE + 1] {
    let mut w = [0.0; MAX_AGE + 1];
    let mut fill =
        |range: std::ops::RangeInclusive<usize>, percent: f64, shape: &dyn Fn(usize) -> f64| {
            let total: f64 = range.clone().map(shape).sum();
            for a in range {
                w[a] = percent / 100.0 * shape(a) / total;
            }
        };
    fill(0..=14, census::AGED_0_14, &|_| 1.0);
    fill(15..=59, census::AGED_15_59, &|_| 1.0);
    fill(
        60..=64,
        census::AGED_60_PLUS - census::AGED_65_PLUS,
        &|_| 1.0,
    );
    fill(65..=79, census::AGED_65_PLUS - census::AGED_80_PLUS, &|a| {
        1.0 - 0.035 * (a - 65) as f64
    });
    fill(80..=MAX_AGE, census::AGED_80_PLUS, &|a| {
        0.84f64.powi((a - 80) as i32)
    });
    w
}

/// A household member before names and documents are drawn.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub relation: &'static str,
    pub age: i32,
    pub male: bool,
}

/// A provisional adult age (the census calibration fixes the marginal afterwards);
/// village households are older, as the census shows for rural Sichuan, where the
/// young have moved to the towns.
fn adult_age<R: Rng>(rng: &mut R, rural: bool) -> i32 {
    let old = if rural { 12 } else { 0 };
    match rng.gen_range(0..100) {
        x if x < 30 - old / 2 => rng.gen_range(20..35),
        x if x < 62 - old => rng.gen_range(35..50),
        x if x < 84 - old / 2 => rng.gen_range(50..65),
        x if x < 97 => rng.gen_range(65..80),
        _ => rng.gen_range(80..96),
    }
}

/// Draw who lives in a household of `size` people: relations, provisional ages, sexes.
pub fn composition<R: Rng>(rng: &mut R, size: u32, rented: bool, rural: bool) -> Vec<Member> {
    let crowded = rented && size >= 6;
    // One-person households are mostly young workers; some are elderly people living
    // alone, more of them in the villages.
    let head_age = if size == 1 {
        if rng.gen_bool(if rural { 0.16 } else { 0.10 }) {
            rng.gen_range(65..92)
        } else {
            rng.gen_range(20..60)
        }
    } else {
        adult_age(rng, rural)
    };
    let head_male = rng.gen_bool(0.50);
    (0..size)
        .map(|k| {
            let (relation, age, male) = if crowded {
                ("合租人", rng.gen_range(18..45), rng.gen_bool(0.6))
            } else if k == 0 {
                ("户主", head_age, head_male)
            } else if k == 1 && size >= 2 && head_age >= 22 {
                (
                    "配偶",
                    (head_age + rng.gen_range(-5..=5)).max(20),
                    !head_male,
                )
            } else if head_age >= 45 && k == size - 1 && size >= 4 {
                (
                    "孙子女",
                    rng.gen_range(0..(head_age - 40).clamp(1, 18)),
                    rng.gen_bool(0.51),
                )
            } else if head_age <= 55 && k >= 3 && rng.gen_bool(0.5) {
                (
                    "父母",
                    (head_age + rng.gen_range(24..32)).min(99),
                    rng.gen_bool(0.45),
                )
            } else {
                let lo = (head_age - 38).max(0);
                let hi = (head_age - 20).max(lo + 1);
                ("子女", rng.gen_range(lo..hi), rng.gen_bool(0.51))
            };
            Member {
                relation,
                age,
                male,
            }
        })
        .collect()
}

/// Move every member's age onto the census structure, keeping the order of ages
/// (a parent stays older than a child, a village stays older than the town): rank all
/// members by provisional age (ties broken at random) and give the r-th youngest the
/// age at rank r of the census structure, with per-age counts rounded by largest
/// remainder so the bands hold to within one person.
pub fn calibrate_ages<R: Rng>(rng: &mut R, households: &mut [Vec<Member>]) {
    let mut ranked: Vec<(i32, u64, usize, usize)> = households
        .iter()
        .enumerate()
        .flat_map(|(h, members)| (0..members.len()).map(move |m| (h, m)))
        .map(|(h, m)| (households[h][m].age, rng.r#gen::<u64>(), h, m))
        .collect();
    ranked.sort_unstable();
    let n = ranked.len();
    let shares = census_age_shares();
    let exact: Vec<f64> = shares.iter().map(|s| s * n as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..=MAX_AGE).collect();
    by_remainder.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let missing = n - counts.iter().sum::<usize>();
    for &a in by_remainder.iter().take(missing) {
        counts[a] += 1;
    }
    let mut ages = counts
        .iter()
        .enumerate()
        .flat_map(|(age, &c)| std::iter::repeat_n(age as i32, c));
    for &(_, _, h, m) in &ranked {
        households[h][m].age = ages.next().expect("counts sum to the members");
    }
}

/// Give a household member a name, a birth date at their age, documents and a phone.
pub fn person<R: Rng>(
    rng: &mut R,
    member: &Member,
    rented: bool,
    id_serials: &mut HashMap<String, u32>,
    present_year: i32,
) -> Person {
    let floating_rate = if rented { 0.55 } else { 0.08 };
    let Member {
        relation,
        age,
        male,
    } = *member;
    let floating = rng.gen_bool(floating_rate);
    let birth = birth_for_age(rng, age, present_year);
    let region = if floating {
        OTHER_REGIONS.choose(rng).copied().unwrap_or("510681")
    } else {
        HOME_REGION
    };
    // The sequence number is unique per region and birth date; its parity is the sex.
    let stem = format!("{region}{:04}{:02}{:02}", birth.0, birth.1, birth.2);
    let serial = id_serials.entry(stem.clone()).or_insert(0);
    *serial += 1;
    let seq = (*serial % 500) * 2 + u32::from(male);
    let body = format!("{stem}{seq:03}");
    let id_number = format!("{body}{}", id_check_char(&body).expect("17 digits"));
    let phone = format!(
        "1{}{}{:08}",
        ["3", "5", "7", "8", "9"]
            .choose(rng)
            .copied()
            .unwrap_or("3"),
        rng.gen_range(0..10),
        rng.gen_range(0..100_000_000u32)
    );
    let mut key_groups = Vec::new();
    if age >= 18 {
        for (code, rate) in [
            ("drug", 0.0015),
            ("mental", 0.0042),
            ("correction", 0.0008),
            ("released", 0.0012),
            ("other", 0.0010),
        ] {
            if rng.gen_bool(rate) {
                key_groups.push(code);
            }
        }
    }
    Person {
        name: person_name(rng, male),
        male,
        birth,
        id_number,
        phone,
        floating,
        relation,
        key_groups,
    }
}

/// Enterprise placement weight of a building kind.
fn enterprise_weight(kind: Kind) -> f64 {
    match kind {
        Kind::Office => 30.0,
        Kind::Shop => 12.0,
        Kind::Townhouse => 1.2,
        Kind::Walkup | Kind::Highrise => 0.25,
        Kind::Rural => 0.05,
    }
}

pub struct GenEnterprise {
    pub name: String,
    pub credit_code: String,
    pub industry: &'static str,
    pub size: &'static str,
    pub employees: u32,
    pub building: usize,
}

const ORG_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// `n` enterprises at buildings weighted by kind (commercial streets cluster them).
pub fn enterprises<R: Rng>(rng: &mut R, reg: &Register, n: usize) -> Vec<GenEnterprise> {
    let cumulative: Vec<f64> = reg
        .buildings
        .iter()
        .scan(0.0, |acc, b| {
            *acc += enterprise_weight(b.kind);
            Some(*acc)
        })
        .collect();
    let total = cumulative.last().copied().unwrap_or(0.0);
    let mut out = Vec::with_capacity(n);
    let mut used_names = std::collections::BTreeSet::new();
    for k in 0..n {
        let x = rng.gen_range(0.0..total.max(f64::MIN_POSITIVE));
        let building = cumulative
            .partition_point(|&c| c <= x)
            .min(reg.buildings.len() - 1);
        let industries: Vec<((&'static str, &'static str), u32)> =
            INDUSTRIES.iter().map(|&(s, w, n)| ((s, w), n)).collect();
        let &(section, business) = weighted(rng, &industries);
        let (size, employees) = match rng.gen_range(0..100) {
            0..=71 => ("micro", rng.gen_range(1..10)),
            72..=93 => ("small", rng.gen_range(10..100)),
            94..=98 => ("medium", rng.gen_range(100..300)),
            _ => ("large", rng.gen_range(300..2000)),
        };
        let word = ENTERPRISE_WORDS.choose(rng).copied().unwrap_or("鑫盛");
        let prefix = if business.ends_with("公司") {
            "德阳市"
        } else {
            "旌阳区"
        };
        let mut name = format!("{prefix}{word}{business}");
        if !used_names.insert(name.clone()) {
            name = format!("{prefix}{word}{}{business}", k + 1);
            used_names.insert(name.clone());
        }
        // GB 32100: authority 9 (market regulation), category 1 company / 2 individual.
        let category = if business.ends_with("公司") {
            '1'
        } else {
            '2'
        };
        let org_body: String = (0..8)
            .map(|_| ORG_ALPHABET[rng.gen_range(0..ORG_ALPHABET.len())] as char)
            .collect();
        let org_check = org_code_check_char(&org_body).expect("8 alphabet characters");
        let body = format!("9{category}510603{org_body}{org_check}");
        let credit_code = format!(
            "{body}{}",
            uscc_check_char(&body).expect("17 alphabet characters")
        );
        out.push(GenEnterprise {
            name,
            credit_code,
            industry: section,
            size,
            employees,
            building,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn district_households(rng: &mut rand_chacha::ChaCha8Rng) -> Vec<(bool, Vec<Member>)> {
        (0..20_000)
            .map(|k| {
                let rural = k % 4 == 0;
                let size = [1, 1, 2, 2, 2, 3, 3, 4, 5, 6][k % 10];
                (rural, composition(rng, size, k % 7 == 0, rural))
            })
            .collect()
    }

    #[test]
    fn calibration_gives_the_census_bands_and_keeps_households_plausible() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let drawn = district_households(&mut rng);
        let rural: Vec<bool> = drawn.iter().map(|(r, _)| *r).collect();
        let mut households: Vec<Vec<Member>> = drawn.into_iter().map(|(_, h)| h).collect();
        calibrate_ages(&mut rng, &mut households);
        let all: Vec<&Member> = households.iter().flatten().collect();
        let share = |f: &dyn Fn(i32) -> bool| {
            100.0 * all.iter().filter(|m| f(m.age)).count() as f64 / all.len() as f64
        };
        for (got, want) in [
            (share(&|a| a <= 14), census::AGED_0_14),
            (share(&|a| (15..=59).contains(&a)), census::AGED_15_59),
            (share(&|a| a >= 60), census::AGED_60_PLUS),
            (share(&|a| a >= 65), census::AGED_65_PLUS),
            (share(&|a| a >= 80), census::AGED_80_PLUS),
        ] {
            assert!((got - want).abs() < 0.1, "{got:.3} against {want}");
        }
        // Order kept: no child older than the head, no parent younger.
        for h in &households {
            for m in &h[1..] {
                match m.relation {
                    "子女" | "孙子女" => assert!(m.age <= h[0].age, "{h:?}"),
                    "父母" => assert!(m.age >= h[0].age, "{h:?}"),
                    _ => {}
                }
            }
        }
        // Generations stay apart: the typical head–child gap is a generation.
        let mut gaps: Vec<i32> = households
            .iter()
            .flat_map(|h| {
                h[1..]
                    .iter()
                    .filter(|m| m.relation == "子女")
                    .map(|m| h[0].age - m.age)
            })
            .collect();
        gaps.sort_unstable();
        let median = gaps[gaps.len() / 2];
        assert!(
            (20..=36).contains(&median),
            "median head–child gap {median}"
        );
        // Villages are older than the town.
        let old_share = |want_rural: bool| {
            let (old, n) = households
                .iter()
                .zip(&rural)
                .filter(|(_, r)| **r == want_rural)
                .flat_map(|(h, _)| h)
                .fold((0, 0), |(o, n), m| (o + usize::from(m.age >= 60), n + 1));
            old as f64 / n as f64
        };
        assert!(
            old_share(true) > old_share(false) + 0.05,
            "rural {:.3}, urban {:.3}",
            old_share(true),
            old_share(false)
        );
    }
}
