//! Reading the closed loop: the event list's filter and the list itself, over the
//! in-memory event index (no SQL). Every time filter is read by [`crate::time`]: whole
//! days in China Standard Time, both ends inclusive.

use crate::auth::{Access, Permission};
use crate::events;
use crate::index::Index;
use crate::model::{CATEGORIES, Event, STATUSES};
use crate::time::Window;
use crate::{App, Error};

/// The list's parameters as given (all optional; validated by [`Filter::parse`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct ListParams<'a> {
    /// `minLon,minLat,maxLon,maxLat`.
    pub bbox: Option<&'a str>,
    /// One status or a comma-separated list.
    pub status: Option<&'a str>,
    /// A grid code, or a community/township code (its grids).
    pub grid: Option<&'a str>,
    pub category: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub overdue: Option<&'a str>,
    /// An H3 cell index in hex.
    pub cell: Option<&'a str>,
    /// A building code.
    pub building: Option<&'a str>,
}

fn parse_bool(name: &str, v: &str) -> Result<bool, Error> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::Invalid(format!("{name} must be true or false"))),
    }
}

pub fn parse_int(name: &str, v: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, Error> {
    v.parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{name} must be an integer in {}..={}",
                range.start(),
                range.end()
            ))
        })
}

/// A compiled list filter.
pub struct Filter {
    bbox: Option<[f64; 4]>,
    statuses: Option<Vec<String>>,
    area: Option<String>,
    category: Option<String>,
    window: Option<Window>,
    overdue: Option<bool>,
    cell: Option<h3o::CellIndex>,
    building: Option<String>,
}

impl Filter {
    pub fn parse(q: &ListParams<'_>) -> Result<Filter, Error> {
        let bbox = match q.bbox {
            None => None,
            Some(b) => {
                let v: Vec<f64> = b
                    .split(',')
                    .map(|s| s.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        Error::Invalid("bbox must be minLon,minLat,maxLon,maxLat".into())
                    })?;
                if v.len() != 4 || v[0] > v[2] || v[1] > v[3] || v.iter().any(|x| !x.is_finite()) {
                    return Err(Error::Invalid(
                        "bbox must be minLon,minLat,maxLon,maxLat with min ≤ max".into(),
                    ));
                }
                Some([v[0], v[1], v[2], v[3]])
            }
        };
        let statuses = match q.status {
            None => None,
            Some(s) => {
                let v: Vec<String> = s.split(',').map(|x| x.trim().to_string()).collect();
                for x in &v {
                    if !STATUSES.contains(&x.as_str()) {
                        return Err(Error::Invalid(format!(
                            "status must be among {}; got {x:?}",
                            STATUSES.join(", ")
                        )));
                    }
                }
                Some(v)
            }
        };
        if let Some(c) = q.category
            && !CATEGORIES.contains(&c)
        {
            return Err(Error::Invalid(format!(
                "category must be one of {}",
                CATEGORIES.join(", ")
            )));
        }
        Ok(Filter {
            bbox,
            statuses,
            area: q.grid.map(str::to_string),
            category: q.category.map(str::to_string),
            window: crate::time::parse_window(q.from, q.to)?,
            overdue: q.overdue.map(|v| parse_bool("overdue", v)).transpose()?,
            cell: q
                .cell
                .map(|v| {
                    v.parse::<h3o::CellIndex>()
                        .map_err(|_| Error::Invalid("cell must be an H3 cell index in hex".into()))
                })
                .transpose()?,
            building: q.building.map(str::to_string),
        })
    }

    /// The building filter as a building index of `register` (`None`: no such filter).
    /// An unknown building code is a 404.
    pub fn building_index(
        &self,
        index: &Index,
        register: &crate::analysis::RegisterModels,
    ) -> Result<Option<u32>, Error> {
        let Some(code) = &self.building else {
            return Ok(None);
        };
        if index.building(code).is_none() {
            return Err(Error::NotFound(format!("no building {code}")));
        }
        Ok(register.building_of_address.get(code).copied())
    }

    /// The register models a `building` filter needs to find its events (`None`
    /// without such a filter).
    pub fn register(
        &self,
        state: &App,
        index: &std::sync::Arc<Index>,
    ) -> Option<std::sync::Arc<crate::analysis::RegisterModels>> {
        self.building
            .is_some()
            .then(|| state.analysis.register(index))
    }

    /// The `building` argument of [`Filter::matches`], given [`Filter::register`].
    pub fn building_arg<'r>(
        &self,
        index: &Index,
        register: Option<&'r crate::analysis::RegisterModels>,
    ) -> Result<Option<(u32, &'r crate::analysis::RegisterModels)>, Error> {
        Ok(match register {
            Some(r) => match self.building_index(index, r)? {
                Some(b) => Some((b, r)),
                // A building of the index that the register does not know: nothing matches.
                None => Some((u32::MAX, r)),
            },
            None => None,
        })
    }

    /// `building`: the index from [`Filter::building_index`] when the filter has one.
    pub fn matches(
        &self,
        e: &Event,
        index: &Index,
        now: i64,
        building: Option<(u32, &crate::analysis::RegisterModels)>,
    ) -> bool {
        if let Some(cell) = self.cell {
            let inside = h3o::LatLng::new(e.lat, e.lon)
                .map(|ll| ll.to_cell(cell.resolution()) == cell)
                .unwrap_or(false);
            if !inside {
                return false;
            }
        }
        if let Some((b, register)) = building {
            let at = e
                .address_code
                .as_ref()
                .and_then(|c| register.building_of_address.get(c));
            if at != Some(&b) {
                return false;
            }
        }
        if let Some([a, b, c, d]) = self.bbox
            && !(e.lon >= a && e.lon <= c && e.lat >= b && e.lat <= d)
        {
            return false;
        }
        if let Some(s) = &self.statuses
            && !s.contains(&e.status)
        {
            return false;
        }
        if let Some(c) = &self.category
            && c != &e.category
        {
            return false;
        }
        if self.window.is_some_and(|w| !w.contains(e.reported_at)) {
            return false;
        }
        if let Some(o) = self.overdue
            && events::is_overdue(e, now) != o
        {
            return false;
        }
        if let Some(area) = &self.area
            && area != &e.grid_code
        {
            let inside = index
                .area(&e.grid_code)
                .map(|g| index.ancestors(g).iter().any(|a| &a.area.code == area))
                .unwrap_or(false);
            if !inside {
                return false;
            }
        }
        true
    }
}

/// One page of the list.
pub struct Page {
    /// Every match (not only this page).
    pub total: usize,
    pub events: Vec<Event>,
}

/// The events `access` may see that match `params`, newest first, `limit` from
/// `offset`. Records need `EventsRead` (and are limited to the caller's events); a bare
/// total (`limit` 0) is an aggregate.
pub fn list(
    state: &App,
    access: &Access,
    params: &ListParams<'_>,
    limit: i64,
    offset: i64,
) -> Result<Page, Error> {
    let filter = Filter::parse(params)?;
    let records = access.allows(Permission::EventsRead);
    if !records {
        access.require(if limit == 0 {
            Permission::Aggregates
        } else {
            Permission::EventsRead
        })?;
    }
    if let (Some(c), Some(area)) = (access.caller(), params.grid)
        && c.role.grid_scoped()
        && !c.can_see_grid(area)
    {
        return Err(Error::Forbidden(format!(
            "the grid {area} is outside your grids"
        )));
    }
    let visible =
        |e: &Event| !records || access.can_see_event(&e.grid_code, e.mediation_org.as_deref());
    let index = state.index()?;
    let now = state.clock.now();
    let register = filter.register(state, &index);
    let building = filter.building_arg(&index, register.as_deref())?;
    let matches = |e: &Event| visible(e) && filter.matches(e, &index, now, building);
    let events = state.events();
    let mut hits: Vec<&Event> = match (filter.bbox, filter.cell) {
        (Some([a, b, c, d]), _) => events
            .in_box([a, b], [c, d])
            .filter(|e| matches(e))
            .collect(),
        (None, Some(cell)) => {
            // The cell's bounding box through the R-tree, then the exact cell test.
            let boundary = cell.boundary();
            let (mut w, mut s, mut e, mut n) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
            for v in boundary.iter() {
                w = w.min(v.lng());
                e = e.max(v.lng());
                s = s.min(v.lat());
                n = n.max(v.lat());
            }
            // Padded a little: the edges between the vertices are not quite straight in
            // lon/lat.
            let pad = 1e-4;
            events
                .in_box([w - pad, s - pad], [e + pad, n + pad])
                .filter(|e| matches(e))
                .collect()
        }
        (None, None) => events.events.iter().filter(|e| matches(e)).collect(),
    };
    hits.sort_by(|x, y| {
        y.reported_at
            .cmp(&x.reported_at)
            .then_with(|| y.code.cmp(&x.code))
    });
    let page = hits
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|e| (*e).clone())
        .collect();
    Ok(Page {
        total: hits.len(),
        events: page,
    })
}
