//! Data-driven parser cases: one per noise kind and then some. Each case gives the
//! input and the full expected parse as `key=value` pairs (absent keys must be empty).

use minqing_address::{ParsedAddress, normalize, parse};

fn describe(p: &ParsedAddress) -> String {
    let mut v: Vec<String> = Vec::new();
    let mut s = |k: &str, x: Option<String>| {
        if let Some(x) = x {
            v.push(format!("{k}={x}"));
        }
    };
    s("prov", p.province.clone());
    s("city", p.city.clone());
    s("dist", p.district.clone());
    s("town", p.township.clone());
    s("comm", p.community.clone());
    s("road", p.road.clone());
    s("door", p.door.map(|x| x.to_string()));
    s("cpd", p.compound.clone());
    s("b", p.building.map(|x| x.to_string()));
    s("u", p.unit.map(|x| x.to_string()));
    s("f", p.floor.map(|x| x.to_string()));
    s("room", p.room.map(|x| x.to_string()));
    s("g", p.group.map(|x| x.to_string()));
    s("h", p.house.map(|x| x.to_string()));
    if !p.leftover.is_empty() {
        v.push(format!("left={}", p.leftover.join("|")));
    }
    v.join(" ")
}

fn check(input: &str, expected: &str) {
    let got = describe(&parse(input));
    assert_eq!(got, expected, "input: {input}");
}

const FULL: &str = "prov=四川省 city=德阳市 dist=旌阳区 town=旌阳街道 comm=文庙社区 road=长江西路 door=18 cpd=锦绣花园";

#[test]
fn canonical_labels() {
    check(
        "四川省德阳市旌阳区旌阳街道文庙社区长江西路18号锦绣花园3栋2单元502室",
        &format!("{FULL} b=3 u=2 f=5 room=502"),
    );
    check(
        "四川省德阳市旌阳区旌阳街道文庙社区长江西路18号锦绣花园3栋",
        &format!("{FULL} b=3"),
    );
    check(
        "四川省德阳市旌阳区城北街道泰山社区泰山北路99号",
        "prov=四川省 city=德阳市 dist=旌阳区 town=城北街道 comm=泰山社区 road=泰山北路 door=99",
    );
    check(
        "四川省德阳市旌阳区孝泉镇红光村3组18号",
        "prov=四川省 city=德阳市 dist=旌阳区 town=孝泉镇 comm=红光村 g=3 h=18",
    );
    check(
        "四川省德阳市旌阳区黄许镇正街社区正街12号",
        "prov=四川省 city=德阳市 dist=旌阳区 town=黄许镇 comm=正街社区 road=正街 door=12",
    );
}

#[test]
fn dropped_prefix_and_levels() {
    check(
        "旌阳区旌阳街道文庙社区长江西路18号锦绣花园3栋2单元502室",
        "dist=旌阳区 town=旌阳街道 comm=文庙社区 road=长江西路 door=18 cpd=锦绣花园 b=3 u=2 f=5 room=502",
    );
    check(
        "德阳旌阳旌阳街道长江西路18号锦绣花园3栋",
        "city=德阳市 dist=旌阳区 town=旌阳街道 road=长江西路 door=18 cpd=锦绣花园 b=3",
    );
    check(
        "四川德阳旌阳区长江西路18号",
        "prov=四川省 city=德阳市 dist=旌阳区 road=长江西路 door=18",
    );
    check("锦绣花园3栋2单元502室", "cpd=锦绣花园 b=3 u=2 f=5 room=502");
    check("红光村3组18号", "comm=红光村 g=3 h=18");
    check("孝泉镇红光村18号", "town=孝泉镇 comm=红光村 h=18");
    // Repeated prefixes.
    check(
        "四川省德阳市四川省德阳市旌阳区长江西路18号",
        "prov=四川省 city=德阳市 dist=旌阳区 road=长江西路 door=18",
    );
    // 旌阳街道 is a township, not the district prefix.
    check("旌阳街道文庙社区", "town=旌阳街道 comm=文庙社区");
}

#[test]
fn full_width_and_traditional() {
    check(
        "锦绣花园１２栋３单元１００１室",
        "cpd=锦绣花园 b=12 u=3 f=10 room=1001",
    );
    check(
        "旌陽區旌陽街道文廟社區長江西路１８號錦繡花園3棟2單元502室",
        "dist=旌阳区 town=旌阳街道 comm=文庙社区 road=长江西路 door=18 cpd=锦绣花园 b=3 u=2 f=5 room=502",
    );
    check("孝泉鎮紅光村3組18號", "town=孝泉镇 comm=红光村 g=3 h=18");
    check("長江西路１８號", "road=长江西路 door=18");
}

#[test]
fn chinese_numerals() {
    check("长江西路十八号", "road=长江西路 door=18");
    check("长江西路一百零二号", "road=长江西路 door=102");
    check("长江西路二十三号", "road=长江西路 door=23");
    check(
        "锦绣花园十二栋二单元五〇二室",
        "cpd=锦绣花园 b=12 u=2 f=5 room=502",
    );
    check(
        "锦绣花园两栋三单元一零零一",
        "cpd=锦绣花园 b=2 u=3 f=10 room=1001",
    );
    check(
        "锦绣花园3栋2单元一千六百零三室",
        "cpd=锦绣花园 b=3 u=2 f=16 room=1603",
    );
    check("红光村三组十八号", "comm=红光村 g=3 h=18");
    check("红光村第三组18号", "comm=红光村 g=3 h=18");
    // Numerals inside names stay names.
    check("二环路十号", "road=二环路 door=10");
    check("五里堆社区三组", "comm=五里堆社区 g=3");
    check("十里铺村一组二号", "comm=十里铺村 g=1 h=2");
}

#[test]
fn synonyms() {
    check("锦绣花园3幢2单元502室", "cpd=锦绣花园 b=3 u=2 f=5 room=502");
    check(
        "锦绣花园3号楼2单元502室",
        "cpd=锦绣花园 b=3 u=2 f=5 room=502",
    );
    check("锦绣花园3座2门502户", "cpd=锦绣花园 b=3 u=2 f=5 room=502");
    check("锦绣花园3栋2单元502号", "cpd=锦绣花园 b=3 u=2 f=5 room=502");
    check("锦绣花园3栋2单元502", "cpd=锦绣花园 b=3 u=2 f=5 room=502");
    check(
        "长江西路18号锦绣花园3栋2门502",
        "road=长江西路 door=18 cpd=锦绣花园 b=3 u=2 f=5 room=502",
    );
}

#[test]
fn dashed_shorthand() {
    check("锦绣花园12-3-1001", "cpd=锦绣花园 b=12 u=3 f=10 room=1001");
    check(
        "锦绣花园12—3—1001室",
        "cpd=锦绣花园 b=12 u=3 f=10 room=1001",
    );
    check("锦绣花园11-802", "cpd=锦绣花园 b=11 f=8 room=802");
    check(
        "长江西路18号锦绣花园-12-3-1001",
        "road=长江西路 door=18 cpd=锦绣花园 b=12 u=3 f=10 room=1001",
    );
    check(
        "锦绣花园１２－３－１００１",
        "cpd=锦绣花园 b=12 u=3 f=10 room=1001",
    );
}

#[test]
fn floors_written_out() {
    check(
        "锦绣花园3栋2单元5楼502",
        "cpd=锦绣花园 b=3 u=2 f=5 room=502",
    );
    check(
        "锦绣花园3栋2单元5层2号",
        "cpd=锦绣花园 b=3 u=2 f=5 room=502",
    );
    check(
        "锦绣花园3栋2单元16楼03室",
        "cpd=锦绣花园 b=3 u=2 f=16 room=1603",
    );
    check(
        "锦绣花园3栋2单元十层一号",
        "cpd=锦绣花园 b=3 u=2 f=10 room=1001",
    );
    check(
        "锦绣花园3栋2单元1603室",
        "cpd=锦绣花园 b=3 u=2 f=16 room=1603",
    );
}

#[test]
fn extra_words_and_punctuation() {
    check(
        "锦绣花园3栋2单元502室附近",
        "cpd=锦绣花园 b=3 u=2 f=5 room=502 left=附近",
    );
    check("长江西路18号对面", "road=长江西路 door=18 left=对面");
    check("锦绣花园门口3栋", "cpd=锦绣花园 b=3 left=门口");
    check("锦绣花园3栋楼下", "cpd=锦绣花园 b=3 left=楼下");
    check("长江西路18号楼下", "road=长江西路 door=18 left=楼下");
    check("锦绣花园18号楼", "cpd=锦绣花园 b=18");
    check(
        "旌阳街道，文庙社区、长江西路 18号/锦绣花园-3栋 2单元502室。",
        "town=旌阳街道 comm=文庙社区 road=长江西路 door=18 cpd=锦绣花园 b=3 u=2 f=5 room=502",
    );
    check("红光村-3组18号", "comm=红光村 g=3 h=18");
}

#[test]
fn typos_keep_structure() {
    check(
        "长疆西路18号锦秀花园3栋2单元502室",
        "road=长疆西路 door=18 cpd=锦秀花园 b=3 u=2 f=5 room=502",
    );
}

#[test]
fn garbage_does_not_panic_and_keeps_what_it_can() {
    check("", "");
    check("   ，、  ", "");
    check("99999999999999号", "");
    check("附近", "left=附近");
    check("12-", "");
}

#[test]
fn normalisation_cases() {
    let cases = [
        ("锦绣花园１２栋", "锦绣花园12栋"),
        ("錦繡花園 , 3棟", "锦绣花园 3栋"),
        ("  a　b  ", "a b"),
        ("十八号", "18号"),
        ("二环路", "二环路"),
        ("3单元五〇二", "3单元502"),
        ("第三组", "3组"),
        ("第第三", "第第三"),
    ];
    for (input, want) in cases {
        assert_eq!(normalize(input), want, "input {input}");
    }
}
