//! Decimal numbers as memcached reads and writes them (its `safe_strto*`
//! helpers over C's `strto*`), without allocation.

/// C's `isspace` in the "C" locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// memcached's `safe_strtoull` over an item value (which memcached keeps
/// followed by `\r\n`): leading white space and one sign are skipped, the
/// digits must be followed by white space or the end, overflow fails, and
/// a '-' that leaves a value at or above 2^63 fails. With no digits at all
/// C leaves the end pointer at the start, so a value that begins with
/// white space reads as 0 and anything else fails.
pub fn strtoull(bytes: &[u8]) -> Option<u64> {
    let mut i = bytes.iter().take_while(|&&b| is_space(b)).count();
    let negative = match bytes.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        // strtoull converted nothing: memcached then looks at the first byte
        // (the item's "\r" when the value is empty).
        return match bytes.first() {
            Some(&b) if is_space(b) => Some(0),
            _ => None,
        };
    }
    let mut value: u64 = 0;
    for &d in &bytes[i..i + digits] {
        value = value.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if let Some(&b) = bytes.get(i + digits) {
        if !is_space(b) {
            return None;
        }
    }
    if negative {
        value = value.wrapping_neg();
        if (value as i64) < 0 {
            return None;
        }
    }
    Some(value)
}

/// An unsigned decimal token, digits only (flags, delta, CAS unique, byte
/// counts): memcached's `strtoul` family would also take signs and leading
/// blanks, but tokens never carry blanks and a sign is never meaningful.
pub fn parse_u64(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > 20 {
        return None;
    }
    token.iter().try_fold(0u64, |v, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        v.checked_mul(10)?.checked_add((b - b'0') as u64)
    })
}

/// A signed decimal token in `i32` range (memcached's `safe_strtol` into an
/// `int32_t`: exptime, byte counts, delays).
pub fn parse_i32(token: &[u8]) -> Option<i64> {
    let (negative, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    let v = parse_u64(digits)? as i64;
    let v = if negative { -v } else { v };
    (i32::MIN as i64..=i32::MAX as i64)
        .contains(&v)
        .then_some(v)
}

/// Writes `v` in decimal into `buf`, returning the digits.
pub fn format_u64(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoull_follows_memcached() {
        assert_eq!(strtoull(b"42"), Some(42));
        assert_eq!(strtoull(b"  42"), Some(42));
        assert_eq!(strtoull(b"42  "), Some(42));
        assert_eq!(strtoull(b"42 junk"), Some(42));
        assert_eq!(strtoull(b"+7"), Some(7));
        assert_eq!(strtoull(b"-0"), Some(0));
        assert_eq!(strtoull(b"-5"), None);
        assert_eq!(strtoull(b"42x"), None);
        assert_eq!(strtoull(b"abc"), None);
        assert_eq!(strtoull(b""), None);
        assert_eq!(strtoull(b" "), Some(0));
        assert_eq!(strtoull(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(strtoull(b"18446744073709551616"), None);
    }

    #[test]
    fn tokens() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_i32(b"-1"), Some(-1));
        assert_eq!(parse_i32(b"2147483647"), Some(i32::MAX as i64));
        assert_eq!(parse_i32(b"2147483648"), None);
        assert_eq!(parse_i32(b"-"), None);
        assert_eq!(parse_i32(b"1a"), None);
    }

    #[test]
    fn formats() {
        let mut b = [0; 20];
        assert_eq!(format_u64(0, &mut b), b"0");
        assert_eq!(format_u64(u64::MAX, &mut b), b"18446744073709551615");
    }
}
