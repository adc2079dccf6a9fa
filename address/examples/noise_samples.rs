//! Prints noisy variants of a few addresses, to eyeball the noise model.
use minqing_address::{AddressParts, noisy_label_with_kinds};
use rand::SeedableRng;

fn main() {
    let urban = AddressParts {
        township: "旌阳街道".into(),
        community: "文庙社区".into(),
        road: Some("长江西路".into()),
        door: Some(18),
        compound: Some("锦绣花园".into()),
        building: Some(12),
        unit: Some(3),
        room: Some(1001),
        ..Default::default()
    };
    let rural = AddressParts {
        township: "孝泉镇".into(),
        community: "红光村".into(),
        group: Some(3),
        house: Some(18),
        ..Default::default()
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for p in [&urban, &rural] {
        for _ in 0..15 {
            let (s, k) = noisy_label_with_kinds(p, &mut rng);
            let names: Vec<&str> = k.iter().map(|k| k.name()).collect();
            println!("{s}    {names:?}");
        }
    }
}
