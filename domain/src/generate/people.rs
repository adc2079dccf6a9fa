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

fn birth_for_age<R: Rng>(rng: &mut R, age: i32) -> (i32, u32, u32) {
    let year = 2024 - age;
    let month = rng.gen_range(1..=12);
    let day = rng.gen_range(1..=28);
    (year, month, day)
}

/// An adult age from an ageing Sichuan profile.
fn adult_age<R: Rng>(rng: &mut R) -> i32 {
    match rng.gen_range(0..100) {
        0..=19 => rng.gen_range(20..35),
        20..=44 => rng.gen_range(35..50),
        45..=69 => rng.gen_range(50..65),
        70..=89 => rng.gen_range(65..80),
        _ => rng.gen_range(80..96),
    }
}

/// Draw the members of a household of `size` people.
pub fn household<R: Rng>(
    rng: &mut R,
    size: u32,
    rented: bool,
    id_serials: &mut HashMap<String, u32>,
) -> Vec<Person> {
    let crowded = rented && size >= 6;
    let floating_rate = if rented { 0.55 } else { 0.08 };
    let head_age = if size == 1 && rng.gen_bool(0.42) {
        rng.gen_range(65..92)
    } else {
        adult_age(rng)
    };
    let mut members = Vec::with_capacity(size as usize);
    let head_male = rng.gen_bool(0.56);
    for k in 0..size {
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
            ("子女", rng.gen_range(lo..hi), rng.gen_bool(0.52))
        };
        let floating = rng.gen_bool(floating_rate);
        let birth = birth_for_age(rng, age);
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
        members.push(Person {
            name: person_name(rng, male),
            male,
            birth,
            id_number,
            phone,
            floating,
            relation,
            key_groups,
        });
    }
    members
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
