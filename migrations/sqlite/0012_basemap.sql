-- The basemap of our own (issue 24): rivers and lakes, land use and points of interest,
-- imported like the roads (one GeoJSON-shaped layer each) and drawn as vector tiles.
-- A feature's name may be absent (farmland, a small wood); `rank` orders the points of
-- interest (1 district-wide, 2 a township's, 3 a community's).
CREATE TABLE water (
    id      INTEGER PRIMARY KEY,
    name    TEXT,
    kind    TEXT NOT NULL,
    geojson TEXT NOT NULL
);
CREATE TABLE landuse (
    id      INTEGER PRIMARY KEY,
    name    TEXT,
    kind    TEXT NOT NULL,
    geojson TEXT NOT NULL
);
CREATE TABLE pois (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    rank    INTEGER NOT NULL,
    geojson TEXT NOT NULL
);
