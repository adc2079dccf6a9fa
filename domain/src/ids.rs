//! Check characters of the national identifiers: the resident ID number (GB 11643) and
//! the unified social credit code (GB 32100, with its embedded GB 11714 organisation
//! code). Used by the generator to make valid numbers and by the importer to reject
//! invalid ones.

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// The GB 11643 check character for the first 17 digits of an ID number.
pub fn id_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    Some(ID_CHECK[(sum % 11) as usize] as char)
}

/// Whether `id` is an 18-character ID number with a valid check character and a
/// plausible birth date.
pub fn is_valid_id_number(id: &str) -> bool {
    if id.len() != 18 || !id.is_ascii() {
        return false;
    }
    let (body, check) = id.split_at(17);
    let Some(expected) = id_check_char(body) else {
        return false;
    };
    let month: u32 = body[10..12].parse().unwrap_or(0);
    let day: u32 = body[12..14].parse().unwrap_or(0);
    (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && check.eq_ignore_ascii_case(&expected.to_string())
}

/// The 31 characters of GB 32100 in value order (no I, O, S, V, Z).
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The GB 11714 check character of an 8-character organisation code body.
pub fn org_code_check_char(first8: &str) -> Option<char> {
    let bytes = first8.as_bytes();
    if bytes.len() != 8 {
        return None;
    }
    let mut sum = 0;
    for (b, w) in bytes.iter().zip(ORG_WEIGHTS) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return None,
        };
        sum += v * w;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from_digit(n, 10)?,
    })
}

/// The GB 32100 check character for the first 17 characters of a credit code.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (&b, w) in bytes.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(b)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_ALPHABET[check as usize] as char)
}

/// Whether `code` is an 18-character unified social credit code with valid check
/// characters (both the embedded organisation code's and the whole code's).
pub fn is_valid_credit_code(code: &str) -> bool {
    if code.len() != 18 || !code.is_ascii() {
        return false;
    }
    let org = &code[8..17];
    let org_ok = org_code_check_char(&org[..8]).is_some_and(|c| org.ends_with(c));
    org_ok && uscc_check_char(&code[..17]).is_some_and(|c| code.ends_with(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers() {
        // The worked example of GB 11643-1999 (appendix): 11010519491231002X.
        assert_eq!(id_check_char("11010519491231002"), Some('X'));
        assert!(is_valid_id_number("11010519491231002X"));
        assert!(!is_valid_id_number("110105194912310021"));
        assert!(!is_valid_id_number("11010519491331002X"), "month 13");
        assert!(!is_valid_id_number("1101051949123100"));
        assert!(!is_valid_id_number("中文中文中文"));
    }

    #[test]
    fn credit_codes() {
        // Build a code from parts and check that every single-character change is caught.
        let org_body = "MA6CXN0R";
        let org = format!("{org_body}{}", org_code_check_char(org_body).unwrap());
        let body = format!("91510603{org}");
        let code = format!("{body}{}", uscc_check_char(&body).unwrap());
        assert!(is_valid_credit_code(&code), "{code}");
        for i in 0..18 {
            let mut bad = code.clone().into_bytes();
            bad[i] = if bad[i] == b'1' { b'2' } else { b'1' };
            let bad = String::from_utf8(bad).unwrap();
            assert!(!is_valid_credit_code(&bad), "{bad} should fail");
        }
        // By hand: D=13; 13·3+2·7+1·9+4·10+3·5+5·8+6·4+9·2 = 199; 199 mod 11 = 1;
        // 11 − 1 = 10 → 'X'.
        assert_eq!(org_code_check_char("D2143569"), Some('X'));
    }
}
