//! What the address examples share: reading a register dumped by the server's tests
//! (`buildings.tsv`, `units.tsv`) and the CPU time of this process.

use minqing_address::{AddressParts, BuildingEntry, UnitEntry};
use std::path::Path;

fn num(s: &str) -> Option<u32> {
    s.parse().ok()
}

fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// User + system CPU seconds of this process (from /proc/self/stat on Linux), so a loaded
/// machine does not distort a rate.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // Fields 14 and 15 of stat (utime, stime), counted from the state field (3).
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The register's buildings and units from `dir/buildings.tsv` and `dir/units.tsv`.
pub fn read_register(dir: &Path) -> (Vec<BuildingEntry>, Vec<UnitEntry>) {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect(f);
    let buildings = read("buildings.tsv")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            BuildingEntry {
                code: f[0].to_string(),
                parts: AddressParts {
                    township: f[1].to_string(),
                    community: f[2].to_string(),
                    road: text(f[3]),
                    door: num(f[4]),
                    compound: text(f[5]),
                    building: num(f[6]),
                    group: num(f[7]),
                    house: num(f[8]),
                    ..Default::default()
                },
                lon: f[9].parse().unwrap_or(0.0),
                lat: f[10].parse().unwrap_or(0.0),
            }
        })
        .collect();
    let units = read("units.tsv")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            UnitEntry {
                code: f[0].to_string(),
                building: f[1].parse().expect("building index"),
                unit: num(f[2]),
                room: num(f[3]),
            }
        })
        .collect();
    (buildings, units)
}
