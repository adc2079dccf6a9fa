//! Word pools for synthetic place, road, compound, enterprise and person names.
//!
//! Every name is a combination drawn from these pools, so no real person is named.

use rand::Rng;
use rand::seq::SliceRandom;
use std::collections::BTreeSet;

pub const STREETS: [&str; 7] = [
    "旌阳街道",
    "城北街道",
    "城南街道",
    "八角井街道",
    "东湖街道",
    "天元街道",
    "工农街道",
];
pub const TOWNS: [&str; 6] = ["孝泉镇", "黄许镇", "德新镇", "双东镇", "新中镇", "和新镇"];

/// Two-character words for communities, villages and roads.
pub const PLACE_WORDS: &[&str] = &[
    "长江", "泰山", "岷江", "庐山", "黄河", "珠江", "天山", "华山", "衡山", "嵩山", "峨眉", "青城",
    "金沙", "锦江", "凯江", "绵远", "石亭", "旌湖", "文庙", "东山", "西山", "南华", "蓥华", "龙泉",
    "玉泉", "清泉", "白鹤", "凤凰", "麒麟", "桂花", "梅林", "竹园", "柳岸", "桃源", "杏林", "兴隆",
    "永兴", "太平", "长乐", "和平", "幸福", "团结", "光明", "红星", "胜利", "前进", "新华", "新民",
    "新建", "五星", "先锋", "联合", "友谊", "民主", "顺德", "东升", "朝阳", "向阳", "晨光", "高槐",
    "金山", "银河", "天河", "双江", "沱江", "云龙", "卧龙", "青龙", "白马", "金鸡", "石桥", "柏林",
    "松林", "红光", "八角", "三星", "德胜", "龙井", "莲花", "荷花", "齐福", "安居", "罗江", "秦宓",
    "汉旺", "雍城", "黄山", "钟鼓", "华强", "庆丰", "丰收", "复兴", "建设", "共和", "同心", "金桥",
    "玉龙", "花园", "双河", "元通", "长征", "天池", "望江", "回龙", "观音", "文星", "永丰", "泉江",
    "青岗", "东林",
];

/// Words for compound names.
pub const COMPOUND_WORDS: &[&str] = &[
    "锦绣", "金色", "阳光", "世纪", "翡翠", "碧桂", "丽景", "春天", "御景", "滨江", "上城", "天府",
    "蓝湾", "绿洲", "和园", "金域", "香榭", "紫荆", "翠湖", "书香", "康桥", "水岸", "东方", "凯旋",
    "名门", "华府", "枫林", "金港", "银杏", "时代", "城市", "盛世", "万象", "云顶", "清华", "学府",
    "雅居", "嘉园", "瑞景", "宏达", "鸿基", "恒大", "龙湖", "天悦", "铂悦", "澜庭", "熙岸", "望府",
    "尚品", "悦城", "旌湖", "凯江", "石亭", "文庙", "泰山", "长江", "岷山", "黄河", "庐山", "蓥华",
    "东湖", "西湖", "南苑", "北城", "中央", "国际",
];
pub const COMPOUND_SUFFIXES: &[&str] =
    &["小区", "花园", "苑", "家园", "公寓", "新城", "广场", "新村"];

pub const DIRECTION_CHARS: &[&str] = &["东", "西", "南", "北", "新", "上", "下", "中"];

/// Surnames with rough relative frequencies (Sichuan).
pub const SURNAMES: &[(&str, u32)] = &[
    ("王", 80),
    ("李", 80),
    ("张", 70),
    ("刘", 60),
    ("陈", 60),
    ("杨", 50),
    ("黄", 30),
    ("赵", 30),
    ("吴", 25),
    ("周", 25),
    ("徐", 20),
    ("孙", 15),
    ("马", 15),
    ("朱", 15),
    ("胡", 15),
    ("郭", 12),
    ("何", 20),
    ("罗", 20),
    ("高", 10),
    ("林", 10),
    ("谢", 12),
    ("唐", 12),
    ("邓", 12),
    ("冯", 10),
    ("曾", 12),
    ("彭", 10),
    ("蒋", 10),
    ("蔡", 8),
    ("贾", 5),
    ("丁", 5),
    ("魏", 6),
    ("薛", 4),
    ("叶", 6),
    ("阎", 3),
    ("余", 8),
    ("潘", 5),
    ("杜", 8),
    ("戴", 5),
    ("夏", 5),
    ("钟", 6),
    ("汪", 4),
    ("田", 6),
    ("任", 6),
    ("姜", 4),
    ("范", 5),
    ("方", 4),
    ("石", 5),
    ("姚", 4),
    ("谭", 6),
    ("廖", 6),
    ("邹", 5),
    ("熊", 5),
    ("金", 3),
    ("陆", 3),
    ("郝", 3),
    ("孔", 3),
    ("白", 4),
    ("崔", 3),
    ("康", 3),
    ("毛", 4),
];

pub const GIVEN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "波", "宇", "浩", "俊", "建", "国", "文", "志", "海", "林", "峰", "亮", "成", "东", "兵", "洪",
    "德", "福", "昌", "荣", "睿", "轩", "宸", "博", "然", "川", "川", "江",
];
pub const GIVEN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "桂", "英", "秀", "兰", "梅", "红",
    "琴", "雪", "婷", "慧", "颖", "琳", "蓉", "萍", "欣", "怡", "涵", "悦", "诗", "雨", "晴", "佳",
    "月", "菊", "凤", "珍", "淑", "莉", "倩", "瑶",
];

pub const ENTERPRISE_WORDS: &[&str] = &[
    "鑫盛", "宏发", "恒通", "兴旺", "金鼎", "瑞丰", "华信", "永利", "德润", "锦程", "嘉禾", "天成",
    "富源", "盛达", "佳美", "新意", "顺通", "万家", "百姓", "鸿运", "蜀川", "旌德", "东方", "川西",
    "名扬", "优品", "精工", "博远", "中和", "安泰", "众联", "海纳", "汇丰", "合力", "同创", "乐家",
    "广源", "荣昌", "长青", "益民",
];

/// GB/T 4754 sections with a business word and a weight for this district.
pub const INDUSTRIES: &[(&str, &str, u32)] = &[
    ("A", "农业专业合作社", 6),
    ("C", "机械制造有限公司", 10),
    ("D", "电力设备有限公司", 1),
    ("E", "建筑工程有限公司", 6),
    ("F", "商贸有限公司", 30),
    ("G", "物流有限公司", 4),
    ("H", "餐饮店", 18),
    ("I", "信息技术有限公司", 3),
    ("J", "金融服务有限公司", 1),
    ("K", "房地产经纪有限公司", 3),
    ("L", "商务咨询有限公司", 4),
    ("M", "科技有限公司", 3),
    ("N", "环境服务有限公司", 1),
    ("O", "家政服务部", 6),
    ("P", "培训学校", 2),
    ("Q", "诊所", 2),
    ("R", "文化传媒有限公司", 2),
];

/// Yields unique names: single words with a suffix first, then combinations.
#[derive(Default)]
pub struct UniqueNames {
    used: BTreeSet<String>,
}

impl UniqueNames {
    pub fn new() -> Self {
        Self {
            used: BTreeSet::new(),
        }
    }

    /// A fresh name `word + suffix`, falling back to `word + direction + suffix`
    /// and `word + word + suffix` once the simple forms are used up.
    pub fn pick<R: Rng>(&mut self, rng: &mut R, words: &[&str], suffix: &str) -> String {
        for _ in 0..64 {
            let w = words.choose(rng).copied().unwrap_or("新");
            let name = format!("{w}{suffix}");
            if self.used.insert(name.clone()) {
                return name;
            }
        }
        for _ in 0..256 {
            let w = words.choose(rng).copied().unwrap_or("新");
            let d = DIRECTION_CHARS.choose(rng).copied().unwrap_or("新");
            let name = format!("{w}{d}{suffix}");
            if self.used.insert(name.clone()) {
                return name;
            }
        }
        loop {
            let a = words.choose(rng).copied().unwrap_or("新");
            let b = PLACE_WORDS.choose(rng).copied().unwrap_or("华");
            let name = format!("{a}{b}{suffix}");
            if self.used.insert(name.clone()) {
                return name;
            }
        }
    }

    /// Reserve a fixed name; returns false when it was taken.
    pub fn reserve(&mut self, name: &str) -> bool {
        self.used.insert(name.to_string())
    }
}

/// Pick an item by integer weight.
pub fn weighted<'a, T, R: Rng>(rng: &mut R, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.gen_range(0..total);
    for (item, w) in items {
        if x < *w {
            return item;
        }
        x -= w;
    }
    &items[items.len() - 1].0
}

/// A synthetic person name of the given sex (`true` = male).
pub fn person_name<R: Rng>(rng: &mut R, male: bool) -> String {
    let surname = weighted(rng, SURNAMES);
    let pool = if male { GIVEN_MALE } else { GIVEN_FEMALE };
    let first = pool.choose(rng).copied().unwrap_or("明");
    if rng.gen_bool(0.7) {
        let second = pool.choose(rng).copied().unwrap_or("华");
        format!("{surname}{first}{second}")
    } else {
        format!("{surname}{first}")
    }
}
