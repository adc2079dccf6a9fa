//! Models 1 and 2: population structure, housing and enterprises per area or polygon.

use super::*;

pub fn buildings_in_polygon(ix: &Index, polygon: &geo_types::MultiPolygon<f64>) -> Vec<u32> {
    let Some(r) = polygon.bounding_rect() else {
        return Vec::new();
    };
    let env = rstar::AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
    ix.building_tree
        .locate_in_envelope(&env)
        .filter(|e| polygon.contains(&geo_types::Point::new(e.geom()[0], e.geom()[1])))
        .map(|e| e.data)
        .collect()
}

/// Equirectangular area in km² (as the index computes area sizes).
pub fn polygon_km2(polygon: &geo_types::MultiPolygon<f64>) -> f64 {
    use geo::Area;
    let lat = polygon.bounding_rect().map_or(31.0, |r| r.center().y);
    polygon.unsigned_area() * 111.32 * 110.574 * lat.to_radians().cos()
}

/// Population profile of a drawn polygon (the server's code path, without HTTP).
pub fn population_of_polygon(
    register: &RegisterModels,
    ix: &Index,
    polygon: &geo_types::MultiPolygon<f64>,
) -> (PopulationProfile, HousingProfile, usize) {
    let buildings = buildings_in_polygon(ix, polygon);
    let mut pop = PopulationProfile::new(AgeBasis::at(register.reference));
    let mut housing = HousingProfile::new(
        register
            .building_housing
            .first()
            .map_or_else(CrowdingRule::default, HousingProfile::rule),
    );
    for &b in &buildings {
        pop.merge(&register.building_population[b as usize]);
        housing.merge(&register.building_housing[b as usize]);
    }
    (pop, housing, buildings.len())
}
