//! User and group names from `passwd`/`group` files, the container's own
//! first (ids mean what the image says they mean), then the host's.

use std::collections::HashMap;

/// Largest account file read.
const MAX_ACCOUNT_FILE: u64 = 1 << 20;

/// id -> name from a `passwd` or `group` file (`name:x:id:...`).
pub fn parse_accounts(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse().ok()?;
            (!name.is_empty()).then(|| (id, name.to_string()))
        })
        .collect()
}

/// Reads and parses one account file, bounded.
pub fn load_accounts(path: &std::path::Path) -> HashMap<u32, String> {
    super::process::read_bounded_with_limit(path, MAX_ACCOUNT_FILE)
        .map(|text| parse_accounts(&text))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group_lines() {
        let names = parse_accounts(
            "root:x:0:0:root:/root:/bin/bash\n# comment\nnobody:x:65534:65534::/:/sbin/nologin\n\
             broken\n:x:5:5\nweird:x:notanumber:1\nwww-data:x:33:\n",
        );
        assert_eq!(names.get(&0).map(String::as_str), Some("root"));
        assert_eq!(names.get(&65534).map(String::as_str), Some("nobody"));
        assert_eq!(names.get(&33).map(String::as_str), Some("www-data"));
        assert_eq!(names.len(), 3);
    }
}
