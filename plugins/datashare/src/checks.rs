//! Check-digit algorithms of the identifiers the PII detector recognises: Chinese resident
//! identity numbers (GB 11643-1999), unified social credit codes (GB 32100-2015) and payment
//! card numbers (Luhn, ISO/IEC 7812-1), plus the mainland mobile number plan.

/// GB 11643-1999 weights of the first 17 digits (2^(17-i) mod 11).
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// GB 11643-1999 check characters, indexed by the weighted sum mod 11.
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// Whether `s` is an 18-character resident identity number (GB 11643-1999) with a valid
/// address-code province digit, a real birth date and the right check character (`X` or
/// `x` stands for 10).
pub fn is_cn_resident_id(s: &[u8]) -> bool {
    if s.len() != 18 || !s[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    // the first digit is the region (1–8: mainland regions, 8: Hong Kong/Macao/Taiwan)
    if !(b'1'..=b'8').contains(&s[0]) {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> u32 {
        s[r].iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (num(6..10), num(10..12), num(12..14));
    if !(1800..=2999).contains(&year) || !(1..=12).contains(&month) {
        return false;
    }
    if day == 0 || day > days_in_month(year, month) {
        return false;
    }
    s[17].to_ascii_uppercase() == cn_resident_id_check(&s[..17])
}

/// The GB 11643-1999 check character of the first 17 digits.
pub fn cn_resident_id_check(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK[(sum % 11) as usize]
}

/// The 31 characters of GB 32100-2015 codes (no I, O, S, V, Z), in value order.
const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// GB 32100-2015 weights of the first 17 characters (3^(i) mod 31).
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARS
        .iter()
        .position(|&x| x == c.to_ascii_uppercase())
        .map(|p| p as u32)
}

/// Whether `s` is an 18-character unified social credit code (GB 32100-2015): registration
/// authority and organisation type characters, a six-digit administrative division code
/// and the right check character.
pub fn is_uscc(s: &[u8]) -> bool {
    if s.len() != 18 || !s[2..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    // registration authority: 1–9, A–G, N, Y (GB 32100-2015 table 1)
    if !matches!(s[0].to_ascii_uppercase(), b'1'..=b'9' | b'A'..=b'G' | b'N' | b'Y') {
        return false;
    }
    match uscc_check(&s[..17]) {
        Some(c) => s[17].to_ascii_uppercase() == c,
        None => false,
    }
}

/// The GB 32100-2015 check character of the first 17 characters, `None` when one of them
/// is not in the code's character set.
pub fn uscc_check(first17: &[u8]) -> Option<u8> {
    let mut sum = 0;
    for (c, w) in first17.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_CHARS[check as usize])
}

/// Whether the digits pass the Luhn (mod 10) check.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.len() < 2 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether the digits are a payment card number: 13–19 digits, an issuer prefix that is not
/// 0 and a valid Luhn check digit.
pub fn is_bank_card(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len()) && digits[0] != b'0' && luhn_valid(digits)
}

/// Whether the 11 digits are a mainland China mobile number (`1[3-9]` followed by nine
/// digits).
pub fn is_cn_mobile(digits: &[u8]) -> bool {
    digits.len() == 11
        && digits.iter().all(u8::is_ascii_digit)
        && digits[0] == b'1'
        && (b'3'..=b'9').contains(&digits[1])
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_check_characters() {
        // the example of GB 11643-1999 annex A and a check character of 10 (X)
        assert!(is_cn_resident_id(b"11010519491231002X"));
        assert!(is_cn_resident_id(b"11010519491231002x"));
        assert!(is_cn_resident_id(b"440524188001010014"));
        // one digit changed, the check character no longer matches
        assert!(!is_cn_resident_id(b"11010519491231003X"));
        assert!(!is_cn_resident_id(b"110105194912310021"));
        // impossible birth dates and regions with a matching check character
        let mut bad_date = *b"11010519490230000_";
        bad_date[17] = cn_resident_id_check(&bad_date[..17]);
        assert!(!is_cn_resident_id(&bad_date));
        let mut bad_region = *b"91010519491231002_";
        bad_region[17] = cn_resident_id_check(&bad_region[..17]);
        assert!(!is_cn_resident_id(&bad_region));
        assert!(!is_cn_resident_id(b"1101051949123100"));
    }

    #[test]
    fn uscc_check_characters() {
        assert!(is_uscc(b"91350100M000100Y43"));
        assert!(is_uscc(b"91110000802100433B"));
        assert!(!is_uscc(b"91350100M000100Y44"));
        assert!(!is_uscc(b"91110000802100433C"));
        // letters outside the GB 32100 set are never valid
        assert!(!is_uscc(b"9135010OM000100Y43"));
        assert_eq!(uscc_check(b"9111000080210043I"), None);
    }

    #[test]
    fn luhn_and_card_numbers() {
        assert!(is_bank_card(b"4111111111111111"));
        assert!(is_bank_card(b"6222020200000000006"));
        assert!(!is_bank_card(b"4111111111111112"));
        assert!(!is_bank_card(b"411111111111")); // too short
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
    }

    #[test]
    fn mobile_numbers() {
        assert!(is_cn_mobile(b"13800138000"));
        assert!(is_cn_mobile(b"19912345678"));
        assert!(!is_cn_mobile(b"12800138000"));
        assert!(!is_cn_mobile(b"1380013800"));
    }
}
