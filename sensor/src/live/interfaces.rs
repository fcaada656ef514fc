//! Which interfaces to attach to: every interface by default (loopback
//! included: sidecars talk TLS there), narrowed by include/exclude globs.

use std::path::Path;

/// A network interface of this namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interface {
    pub index: u32,
    pub name: String,
}

/// The interfaces in `/sys/class/net` (name and ifindex).
pub fn list_interfaces() -> std::io::Result<Vec<Interface>> {
    list_interfaces_in(Path::new("/sys/class/net"))
}

fn list_interfaces_in(root: &Path) -> std::io::Result<Vec<Interface>> {
    let mut interfaces = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // An interface can vanish between the listing and this read.
        let Ok(index) = std::fs::read_to_string(entry.path().join("ifindex")) else {
            continue;
        };
        if let Ok(index) = index.trim().parse() {
            interfaces.push(Interface { index, name });
        }
    }
    interfaces.sort();
    Ok(interfaces)
}

/// Include/exclude rules by name glob (`*` and `?`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct InterfaceFilter {
    /// Empty: every interface.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl InterfaceFilter {
    pub fn admits(&self, name: &str) -> bool {
        let included = self.include.is_empty() || self.include.iter().any(|g| glob_match(g, name));
        included && !self.exclude.iter().any(|g| glob_match(g, name))
    }
}

/// `*` matches any run of characters, `?` one character; the rest literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("veth*", "veth1a2b"));
        assert!(glob_match("*", ""));
        assert!(glob_match("e?h0", "eth0"));
        assert!(glob_match("*a*b", "xxaxxb"));
        assert!(!glob_match("veth*", "eth0"));
        assert!(!glob_match("lo", "lo0"));
        assert!(glob_match("lo*", "lo"));
    }

    #[test]
    fn include_then_exclude() {
        let filter = InterfaceFilter {
            include: vec!["veth*".into(), "lo".into()],
            exclude: vec!["veth9*".into()],
        };
        assert!(filter.admits("lo"));
        assert!(filter.admits("veth1"));
        assert!(!filter.admits("veth9x"));
        assert!(!filter.admits("eth0"));
        assert!(InterfaceFilter::default().admits("anything"));
    }

    #[test]
    fn this_namespace_has_loopback() {
        let interfaces = list_interfaces().expect("/sys/class/net");
        assert!(interfaces.iter().any(|i| i.name == "lo" && i.index == 1));
    }
}
