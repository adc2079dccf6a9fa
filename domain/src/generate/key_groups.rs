//! The six lists' entries and their follow-up record, from the residents the register
//! flags as key groups (`people.rs`): one entry per flag (see
//! `crate::personal::key_groups` for the lists), the grid's full-time grid worker and
//! community police officer responsible, a status, the plan it implies, and visits,
//! counselling and help at that plan's pace — with a few lapses, so that some
//! follow-ups fall due — up to the generator's present.
//!
//! The seed years' record (to [`SEED_END`]) is drawn exactly as it always was, from its
//! own stream, lapses at the end of 2024 included; the record from 2025 on continues
//! each entry from a second stream (a lapsed entry resumes within one plan interval of
//! 2025-01-01), with new lapses shortly before the present. So on the present day about
//! one entry in eight is overdue by days or weeks, as a working list is, and none by
//! the two years since the seed's record ended.

use super::events::{Y2023, Y2025};
use crate::personal::key_groups::{list_for_flag, plan_days};
use crate::time::DAY;
use anyhow::Result;
use rand::Rng;
use rand::seq::SliceRandom;
use std::path::Path;

/// The end of the seed years' follow-up record (its draws are bound to it).
pub const SEED_END: i64 = Y2025;

/// The key-group import files' columns (the store's).
pub const PEOPLE_COLUMNS: &[&str] = crate::forces::import::KEY_GROUP_PEOPLE.columns;
pub const VISIT_COLUMNS: &[&str] = crate::forces::import::KEY_GROUP_VISITS.columns;

/// A resident the register flags, as the residents' generator saw them.
#[derive(Debug, Clone)]
pub struct Flagged {
    pub resident_id: String,
    pub grid_code: String,
    pub age: i32,
    pub flags: Vec<&'static str>,
}

const VISIT_NOTES: [&str; 5] = [
    "入户走访，本人在家，情绪稳定，生活规律",
    "电话联系本人及家属，近况正常",
    "走访邻居及楼栋长了解近况，无异常反映",
    "入户走访，本人外出务工，已与家属核实去向",
    "会同社区民警走访，落实日常管控措施",
];
const COUNSEL_NOTES: [&str; 3] = [
    "开展心理疏导，本人情绪有所缓和",
    "与本人及家属谈心，疏导家庭矛盾",
    "协调社区医生上门随访，督促按时服药",
];
const HELP_NOTES: [&str; 4] = [
    "协助申请临时救助",
    "联系辖区企业提供就业岗位信息",
    "协助办理城乡居民医保",
    "落实监护补贴并上门讲解政策",
];

/// Write `key_groups.csv` and `key_group_visits.csv` with the record up to `present`
/// (unix seconds, exclusive; the seed years from `rng`, the rest from `later`); returns
/// the number of entries.
pub fn generate<R: Rng>(
    rng: &mut R,
    later: &mut R,
    out: &Path,
    flagged: &[Flagged],
    present: i64,
) -> Result<usize> {
    let mut people = super::csv_writer(&out.join("key_groups.csv"))?;
    people.write_record(PEOPLE_COLUMNS)?;
    let mut visits = super::csv_writer(&out.join("key_group_visits.csv"))?;
    visits.write_record(VISIT_COLUMNS)?;
    let mut n = 0usize;
    for f in flagged {
        for flag in &f.flags {
            let Some(list) = list_for_flag(flag, f.age) else {
                continue;
            };
            n += 1;
            let id = format!("KG{n:06}");
            let worker = super::forces::force_id(&f.grid_code, super::forces::WORKER_SLOT);
            let police = super::forces::force_id(&f.grid_code, super::forces::POLICE_SLOT);
            let alert_rate = if matches!(list, "mental" | "drug") {
                12
            } else {
                6
            };
            let status = match rng.gen_range(0..100) {
                r if r < alert_rate => "alert",
                r if r < alert_rate + 22 => "attention",
                _ => "stable",
            };
            let every = plan_days(list, status);
            let enrolled = rng.gen_range(Y2023 - 3 * 365 * DAY..SEED_END - 90 * DAY);
            // Visits at the plan's pace from enrolment (the record starts with 2023),
            // each a few days early or late; one entry in eight lapsed near the end.
            let lapse = rng.gen_bool(0.125);
            let stop = if lapse {
                SEED_END - rng.gen_range(every + 1..every + 40) * DAY
            } else {
                SEED_END
            };
            let mut at = enrolled.max(Y2023) + rng.gen_range(1..=every) * DAY;
            let mut k = 0;
            let mut last = None;
            let mut visit = |rng: &mut R, at: i64, k: usize| -> Result<i64> {
                let (kind, note) = match rng.gen_range(0..10) {
                    0..=6 => ("visit", *VISIT_NOTES.choose(rng).expect("notes")),
                    7 | 8 => ("counselling", *COUNSEL_NOTES.choose(rng).expect("notes")),
                    _ => ("help", *HELP_NOTES.choose(rng).expect("notes")),
                };
                let actor = if rng.gen_bool(0.8) { &worker } else { &police };
                let at_s = at + rng.gen_range(9 * 3600..18 * 3600);
                visits.write_record([
                    format!("{id}-{k:04}"),
                    id.clone(),
                    at_s.to_string(),
                    kind.to_string(),
                    actor.clone(),
                    status.to_string(),
                    note.to_string(),
                ])?;
                Ok(at_s)
            };
            while at < stop {
                k += 1;
                last = Some(visit(rng, at, k)?);
                at += (every + rng.gen_range(-2..=2)).max(1) * DAY;
            }
            if present > SEED_END {
                if lapse {
                    at = at.max(SEED_END) + later.gen_range(0..every) * DAY;
                }
                let stop = if later.gen_bool(0.125) {
                    present - later.gen_range(every + 1..every + 40) * DAY
                } else {
                    present
                };
                // A visit is at `at` plus 9–18 hours: none after the present.
                while at + 18 * 3600 < stop {
                    k += 1;
                    last = Some(visit(later, at, k)?);
                    at += (every + later.gen_range(-2..=2)).max(1) * DAY;
                }
            }
            people.write_record([
                id,
                f.resident_id.clone(),
                list.to_string(),
                f.grid_code.clone(),
                worker,
                police,
                every.to_string(),
                status.to_string(),
                enrolled.to_string(),
                last.map(|l: i64| l.to_string()).unwrap_or_default(),
                (k + 1).to_string(),
            ])?;
        }
    }
    people.flush()?;
    visits.flush()?;
    Ok(n)
}
