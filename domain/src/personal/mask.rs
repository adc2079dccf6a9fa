//! Masking of personal fields, applied to every response by default.

/// 张三明 → 张*明; 张三 → 张*; 欧阳小明 → 欧**明. Keeps the first and (for three or more
/// characters) the last character.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => {
            let mut s = String::new();
            s.push(chars[0]);
            s.extend(std::iter::repeat_n('*', n - 2));
            s.push(chars[n - 1]);
            s
        }
    }
}

/// 510603199001011234 → 510603************ (the region code kept, nothing else).
///
/// Everything after the region is hidden: the masked birth date shows the year and the
/// record the sex, and with the sequence number and check character shown too (the
/// former mask kept the last four) only about 33 ID numbers fit a person — one lookup
/// away from confirmation. Hidden, some 180,000 do (every day of the year × the 500
/// sequence numbers of the sex); `tests::masks_leave_at_least_1000_candidates` counts
/// them.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    if chars.len() < 10 {
        return "*".repeat(chars.len());
    }
    let mut s: String = chars[..6].iter().collect();
    s.extend(std::iter::repeat_n('*', chars.len() - 6));
    s
}

/// 13812345678 → 138****5678.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.trim().chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let n = chars.len();
    let mut s: String = chars[..3].iter().collect();
    s.extend(std::iter::repeat_n('*', n - 7));
    s.extend(&chars[n - 4..]);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_name("张三明"), "张*明");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳小明"), "欧**明");
        assert_eq!(mask_name("张"), "*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_id_number("510603199001011234"), "510603************");
        assert_eq!(mask_id_number("51060319900101123X"), "510603************");
        assert_eq!(mask_id_number("123"), "***");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("12"), "**");
    }

    /// Every valid ID number consistent with what a masked record shows: the masked ID
    /// number (known characters at their places), the birth year of the masked birth
    /// date (`YYYY-**-**`) and the sex (odd sequence numbers are male).
    fn candidates(masked_id: &str, masked_birth: &str, male: bool) -> usize {
        let shown: Vec<char> = masked_id.chars().collect();
        let year: i32 = masked_birth[..4].parse().unwrap();
        let region: String = shown[..6].iter().collect();
        let mut n = 0;
        let mut day = jiff::civil::date(year as i16, 1, 1);
        while day.year() == year as i16 {
            for seq in 0..1000u32 {
                if (seq % 2 == 1) != male {
                    continue;
                }
                let body = format!(
                    "{region}{:04}{:02}{:02}{seq:03}",
                    day.year(),
                    day.month(),
                    day.day()
                );
                let id = format!("{body}{}", crate::ids::id_check_char(&body).unwrap());
                if id.chars().zip(&shown).all(|(c, s)| *s == '*' || c == *s) {
                    n += 1;
                }
            }
            day = day.tomorrow().unwrap();
        }
        n
    }

    #[test]
    fn masks_leave_at_least_1000_candidates() {
        for id in [
            "51060319900101123X",
            "510603198507214561",
            "110105200002290012",
        ] {
            let body = &id[..17];
            let id = format!("{body}{}", crate::ids::id_check_char(body).unwrap());
            let male = id.as_bytes()[16] % 2 == 1;
            let birth = format!("{}-**-**", &id[6..10]);
            let n = candidates(&mask_id_number(&id), &birth, male);
            assert!(n >= 1000, "{id}: only {n} candidates");
            // The former mask (region and last four kept) left about 33.
            let old = format!("{}********{}", &id[..6], &id[14..]);
            let m = candidates(&old, &birth, male);
            assert!(m < 100, "{id}: the former mask left {m}");
        }
    }
}
