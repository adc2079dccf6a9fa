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

/// 510603199001011234 → 510603********1234 (region code and last four kept).
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    if chars.len() < 10 {
        return "*".repeat(chars.len());
    }
    let n = chars.len();
    let mut s: String = chars[..6].iter().collect();
    s.extend(std::iter::repeat_n('*', n - 10));
    s.extend(&chars[n - 4..]);
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
        assert_eq!(mask_id_number("510603199001011234"), "510603********1234");
        assert_eq!(mask_id_number("51060319900101123X"), "510603********123X");
        assert_eq!(mask_id_number("123"), "***");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("12"), "**");
    }
}
