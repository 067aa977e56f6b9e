//! Text without an allocator: numbers parsed from arguments and sysfs files, and a fixed
//! buffer that `core::fmt` writes a console line into.
#![forbid(unsafe_code)]

use core::fmt;

/// Parses a decimal or `0x`-prefixed hexadecimal number (surrounding whitespace ignored).
pub fn parse_u64(text: &[u8]) -> Option<u64> {
    let text = trim(text);
    let (digits, radix) = match text {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        _ => (text, 10),
    };
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &c| {
        let digit = (c as char).to_digit(radix)?;
        acc.checked_mul(radix as u64)?.checked_add(digit as u64)
    })
}

/// `text` without leading and trailing ASCII whitespace or NULs.
pub fn trim(text: &[u8]) -> &[u8] {
    let blank = |c: &u8| c.is_ascii_whitespace() || *c == 0;
    let start = text.iter().position(|c| !blank(c)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|c| !blank(c))
        .map_or(start, |e| e + 1);
    &text[start..end]
}

/// A line being formatted into a fixed buffer; output past the end is cut off, never a panic.
pub struct LineBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> LineBuf<N> {
    /// An empty line.
    pub fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    /// What has been written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl<const N: usize> Default for LineBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for LineBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let take = s.len().min(room);
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn decimal_and_hex_numbers_parse() {
        assert_eq!(parse_u64(b"20"), Some(20));
        assert_eq!(parse_u64(b" 0x10000000\n"), Some(0x1000_0000));
        assert_eq!(parse_u64(b"0x0000000010000000"), Some(0x1000_0000));
    }

    #[test]
    fn garbage_and_overflow_do_not_parse() {
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"0x"), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"99999999999999999999999"), None);
    }

    #[test]
    fn a_full_line_buffer_truncates_instead_of_failing() {
        let mut line = LineBuf::<8>::new();
        write!(line, "accesses={}", 123456).unwrap();
        assert_eq!(line.as_bytes(), b"accesses");
    }
}
