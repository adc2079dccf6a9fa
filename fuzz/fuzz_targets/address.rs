//! The address parser, normaliser, matcher and search on arbitrary text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = minqing_address::parse(text);
    let _ = parsed.to_label();
    let _ = minqing_address::normalize(text);
    let reg = minqing_fuzz::register();
    let m = minqing_address::match_address(reg, text);
    // A match names a code of the register.
    if let Some(code) = &m.code {
        assert!(
            reg.find_code(code).is_some(),
            "matched an unknown code {code}"
        );
    }
    let _ = reg.search(text, 10);
});
