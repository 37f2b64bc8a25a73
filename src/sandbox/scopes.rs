//! The sandbox token's scopes. By default it carries every scope; `--sandbox-scopes` narrows
//! it. A granted scope also covers the narrower ones LiveChat derives from it: `rw` covers
//! `rc` and `ro`, and `--all` covers `--access`/`--groups`, which cover `--my`.

/// The scopes the sandbox token carries.
#[derive(Clone, Debug, Default)]
pub struct Scopes {
    /// `None`: every scope.
    granted: Option<Vec<String>>,
}

impl Scopes {
    pub fn all() -> Scopes {
        Scopes { granted: None }
    }

    pub fn only(granted: Vec<String>) -> Scopes {
        Scopes {
            granted: Some(granted),
        }
    }

    /// The granted scopes, for the summary; `None` means all.
    pub fn granted(&self) -> Option<&[String]> {
        self.granted.as_deref()
    }

    /// Whether the token carries `required` or a scope that covers it.
    pub fn has(&self, required: &str) -> bool {
        match &self.granted {
            None => true,
            Some(granted) => granted.iter().any(|g| covers(g, required)),
        }
    }

    /// Whether the token carries any of `required` (an empty list needs nothing).
    pub fn has_any(&self, required: &[&str]) -> bool {
        required.is_empty() || required.iter().any(|r| self.has(r))
    }
}

struct Parsed<'a> {
    base: &'a str,
    level: Option<u8>,
    mode: Option<&'a str>,
}

fn parse(scope: &str) -> Parsed<'_> {
    let (left, mode) = match scope.rsplit_once(':') {
        Some((left, mode)) => (left, Some(mode)),
        None => (scope, None),
    };
    match left.rsplit_once("--") {
        Some((base, level)) => Parsed {
            base,
            level: Some(match level {
                "all" => 2,
                "my" => 0,
                _ => 1,
            }),
            mode,
        },
        None => Parsed {
            base: left,
            level: None,
            mode,
        },
    }
}

fn covers(granted: &str, required: &str) -> bool {
    if granted == required {
        return true;
    }
    let (g, r) = (parse(granted), parse(required));
    let level_ok = match (g.level, r.level) {
        (Some(g), Some(r)) => g >= r,
        (None, None) => true,
        _ => false,
    };
    let mode_ok = match (g.mode, r.mode) {
        (Some(g), Some(r)) => {
            g == r || (g == "rw" && (r == "ro" || r == "rc")) || (g == "rc" && r == "ro")
        }
        (None, None) => true,
        _ => false,
    };
    g.base == r.base && level_ok && mode_ok
}

/// Splits `"chats--access:ro, customers:ro"` into scopes (commas or whitespace).
pub fn parse_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wider_scopes_cover_narrower_ones() {
        let s = Scopes::only(parse_list("chats--all:rw, customers:ro agents--my:rw"));
        assert!(s.has("chats--all:ro"));
        assert!(s.has("chats--access:rw"));
        assert!(s.has("customers:ro"));
        assert!(!s.has("customers:rw"));
        assert!(s.has("agents--my:ro"));
        assert!(!s.has("agents--all:rw"));
        assert!(!s.has("agents-bot--my:rw"));
        assert!(!s.has("tags--all:ro"));
        let narrow = Scopes::only(vec!["chats--access:ro".into()]);
        assert!(!narrow.has("chats--all:ro"));
        assert!(narrow.has_any(&["chats--all:ro", "chats--access:ro"]));
        assert!(Scopes::all().has("anything:rw"));
    }
}
