//! One integration-test binary: the generator, both stores, the index and the HTTP API
//! working together on small synthetic districts.

mod address;
mod aliases;
mod analysis;
mod auth;
mod basemap;
mod calendar;
mod disclosure;
mod events;
mod feed;
mod forces;
mod generator;
mod http;
mod import_delta;
mod import_errors;
mod import_formats;
mod import_mapping;
mod key_groups;
mod layers;
mod replicas;
mod routes;
mod stores;
mod support;
mod tiles;
mod web;
mod workflow;
