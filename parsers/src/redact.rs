//! Redaction of plaintext before it leaves the sensor: the values of
//! configured HTTP/1 header fields (by default `Authorization`, `Cookie`,
//! `Set-Cookie`, `Proxy-Authorization`) are replaced, whatever else the
//! bytes are. A field is a line `NAME: value` (RFC 9112 section 5, name
//! matched without regard to case); a value cut off by the capture cap is
//! redacted to the end. HTTP/2 and HTTP/3 compress headers (HPACK, QPACK):
//! their values are not recognised, which the docs say.

use cipherlens_record::plaintext::Redaction;

/// What a redacted value is replaced with.
pub const REDACTED: &[u8] = b"[REDACTED]";

/// The header fields redacted unless configured otherwise (the
/// configuration's default says the same).
pub const DEFAULT_HEADERS: [&str; 4] = [
    "Authorization",
    "Cookie",
    "Set-Cookie",
    "Proxy-Authorization",
];

/// Redacts `data` in place; returns what matched, per pattern.
pub fn redact(data: &mut Vec<u8>, headers: &[String]) -> Vec<Redaction> {
    let mut counts = vec![0u32; headers.len()];
    let mut out = Vec::with_capacity(data.len());
    let mut line_start = 0;
    while line_start < data.len() {
        let line_end = data[line_start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(data.len(), |at| line_start + at + 1);
        let line = &data[line_start..line_end];
        match headers
            .iter()
            .position(|name| value_start(line, name.as_bytes()).is_some())
        {
            Some(index) => {
                let value_at = value_start(line, headers[index].as_bytes()).unwrap_or(line.len());
                let ending = line_ending(line);
                out.extend_from_slice(&line[..value_at]);
                out.extend_from_slice(REDACTED);
                out.extend_from_slice(&line[line.len() - ending..]);
                counts[index] += 1;
            }
            None => out.extend_from_slice(line),
        }
        line_start = line_end;
    }
    *data = out;
    headers
        .iter()
        .zip(counts)
        .filter(|(_, count)| *count > 0)
        .map(|(pattern, count)| Redaction {
            pattern: pattern.clone(),
            count,
        })
        .collect()
}

/// Where the value starts when `line` is the header field `name`.
fn value_start(line: &[u8], name: &[u8]) -> Option<usize> {
    if line.len() <= name.len() || !line[..name.len()].eq_ignore_ascii_case(name) {
        return None;
    }
    let mut at = name.len();
    // RFC 9112 allows no white space before the colon; be lenient.
    while line.get(at).is_some_and(|b| *b == b' ' || *b == b'\t') {
        at += 1;
    }
    if line.get(at) != Some(&b':') {
        return None;
    }
    at += 1;
    while line.get(at).is_some_and(|b| *b == b' ' || *b == b'\t') {
        at += 1;
    }
    Some(at)
}

/// Bytes of `\r\n` or `\n` at the end of a line.
fn line_ending(line: &[u8]) -> usize {
    if line.ends_with(b"\r\n") {
        2
    } else if line.ends_with(b"\n") {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_HEADERS.iter().map(|h| (*h).to_owned()).collect()
    }

    #[test]
    fn header_values_are_redacted_and_counted() {
        let mut data = b"GET / HTTP/1.1\r\nHost: example.test\r\nauthorization: Bearer abc.def\r\nCookie: a=1; b=2\r\nX-Cookie: keep\r\nCOOKIE:c=3\r\n\r\nbody Cookie: not a header".to_vec();
        let redactions = redact(&mut data, &defaults());
        assert_eq!(
            String::from_utf8(data).unwrap(),
            "GET / HTTP/1.1\r\nHost: example.test\r\nauthorization: [REDACTED]\r\nCookie: [REDACTED]\r\nX-Cookie: keep\r\nCOOKIE:[REDACTED]\r\n\r\nbody Cookie: not a header"
        );
        assert_eq!(
            redactions,
            vec![
                Redaction {
                    pattern: "Authorization".into(),
                    count: 1
                },
                Redaction {
                    pattern: "Cookie".into(),
                    count: 2
                },
            ]
        );
    }

    #[test]
    fn a_value_cut_by_the_cap_is_redacted_to_the_end() {
        let mut data = b"HTTP/1.1 200 OK\nSet-Cookie: session=sec".to_vec();
        let redactions = redact(&mut data, &defaults());
        assert_eq!(data, b"HTTP/1.1 200 OK\nSet-Cookie: [REDACTED]");
        assert_eq!(redactions.len(), 1);
        let mut plain = b"no headers at all".to_vec();
        assert!(redact(&mut plain, &defaults()).is_empty());
        assert_eq!(plain, b"no headers at all");
    }
}
