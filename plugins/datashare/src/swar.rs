//! Eight bytes at a time: tests on a `u64` word of text that let the scanners skip over
//! bytes they have nothing to do with (the classic bit tricks; each test is exact as a
//! yes/no answer for the whole word).

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `i`, if there are eight.
#[inline]
pub(crate) fn word(b: &[u8], i: usize) -> Option<u64> {
    b.get(i..i + 8)
        .map(|w| u64::from_le_bytes(w.try_into().expect("eight bytes")))
}

/// Whether a byte of `w` is below `n` (`n` ≤ 128).
#[inline]
pub(crate) fn has_less(w: u64, n: u8) -> bool {
    w.wrapping_sub(LO * u64::from(n)) & !w & HI != 0
}

/// Whether a byte of `w` is `c`.
#[inline]
pub(crate) fn has_byte(w: u64, c: u8) -> bool {
    let v = w ^ (LO * u64::from(c));
    v.wrapping_sub(LO) & !v & HI != 0
}

/// Whether a byte of `w` is strictly between `m` and `n` (`m` ≤ 127, `n` ≤ 128).
#[inline]
pub(crate) fn has_between(w: u64, m: u8, n: u8) -> bool {
    let low7 = w & (LO * 127);
    (LO * (127 + u64::from(n))).wrapping_sub(low7)
        & !w
        & low7.wrapping_add(LO * (127 - u64::from(m)))
        & HI
        != 0
}

/// Whether a byte of `w` is an ASCII letter or digit, or `@`.
#[inline]
pub(crate) fn has_alnum_or_at(w: u64) -> bool {
    has_between(w, b'0' - 1, b'9' + 1)
        || has_between(w, b'@' - 1, b'Z' + 1)
        || has_between(w, b'a' - 1, b'z' + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every test against the byte-by-byte answer, on words built from bytes around
    /// every boundary the tests use (and the high bytes of UTF-8 text).
    #[test]
    fn word_tests_agree_with_bytes() {
        let interesting: Vec<u8> = (0u8..=255)
            .filter(|b| {
                matches!(
                    b,
                    0..=2 | 0x1e..=0x22 | 0x2e..=0x31 | 0x38..=0x42 | 0x59..=0x62 | 0x78..=0x82 | 0xe4..=0xe6 | 0xfe..=0xff
                ) || *b == b'\\'
            })
            .collect();
        let mut seed = 0x1234_5678_9abc_def1u64;
        for _ in 0..200_000 {
            let mut bytes = [0u8; 8];
            for b in &mut bytes {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = interesting[(seed % interesting.len() as u64) as usize];
            }
            let w = u64::from_le_bytes(bytes);
            for n in [0x20u8, 0x41, 0x80] {
                assert_eq!(
                    has_less(w, n),
                    bytes.iter().any(|b| *b < n),
                    "{bytes:?} < {n}"
                );
            }
            for c in [b'"', b'\\', b'@'] {
                assert_eq!(has_byte(w, c), bytes.contains(&c), "{bytes:?} {c}");
            }
            assert_eq!(
                has_alnum_or_at(w),
                bytes
                    .iter()
                    .any(|b| b.is_ascii_alphanumeric() || *b == b'@'),
                "{bytes:?}"
            );
        }
    }
}
