-- The basemap of our own (issue 24): rivers and lakes, land use and points of interest,
-- imported like the roads (one GeoJSON-shaped layer each) and drawn as vector tiles.
-- A feature's name may be absent (farmland, a small wood); `rank` orders the points of
-- interest (1 district-wide, 2 a township's, 3 a community's). Water may be an area or
-- a centreline, hence the generic geometry type.
CREATE TABLE water (
    id      BIGINT PRIMARY KEY,
    name    TEXT,
    kind    TEXT NOT NULL,
    geojson TEXT NOT NULL,
    geom    geometry(Geometry, 4326)
            GENERATED ALWAYS AS (ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)) STORED
);
CREATE INDEX water_geom ON water USING GIST (geom);
CREATE TABLE landuse (
    id      BIGINT PRIMARY KEY,
    name    TEXT,
    kind    TEXT NOT NULL,
    geojson TEXT NOT NULL,
    geom    geometry(Geometry, 4326)
            GENERATED ALWAYS AS (ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)) STORED
);
CREATE INDEX landuse_geom ON landuse USING GIST (geom);
CREATE TABLE pois (
    id      BIGINT PRIMARY KEY,
    name    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    rank    BIGINT NOT NULL,
    geojson TEXT NOT NULL,
    geom    geometry(Point, 4326)
            GENERATED ALWAYS AS (ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)) STORED
);
CREATE INDEX pois_geom ON pois USING GIST (geom);
