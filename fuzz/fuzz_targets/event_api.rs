//! The event API bodies: arbitrary bytes as the JSON body of intake
//! (`POST /api/v1/events`), of a transition (`POST /api/v1/events/{code}/transitions`)
//! and of a geocoding request (`POST /api/v1/geocode`), signed in as a leader. Every
//! answer must be < 500.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let server = minqing_fuzz::server();
    let uri = match pick % 3 {
        0 => "/api/v1/events".to_string(),
        1 => format!("/api/v1/events/{}/transitions", server.event.0),
        _ => "/api/v1/geocode".to_string(),
    };
    server.request("POST", &uri, Some(&server.leader), body.to_vec());
});
