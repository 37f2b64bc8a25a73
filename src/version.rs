//! The LiveChat Web API versions this server speaks.

use std::{fmt, str::FromStr};

/// A LiveChat Web API version, pinned in every request path (`/v3.6/...`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiVersion {
    V3_5,
    /// The current stable version, and the default.
    #[default]
    V3_6,
}

impl ApiVersion {
    /// Every supported version, oldest first.
    pub const ALL: [ApiVersion; 2] = [ApiVersion::V3_5, ApiVersion::V3_6];

    /// The version as it appears in a path, without the `v`: `3.6`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V3_5 => "3.5",
            ApiVersion::V3_6 => "3.6",
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let bare = trimmed
            .strip_prefix('v')
            .or_else(|| trimmed.strip_prefix('V'))
            .unwrap_or(trimmed);
        ApiVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == bare)
            .ok_or_else(|| format!("unsupported LiveChat API version `{s}`: use 3.5 or 3.6"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_v() {
        assert_eq!("3.5".parse::<ApiVersion>(), Ok(ApiVersion::V3_5));
        assert_eq!("v3.6".parse::<ApiVersion>(), Ok(ApiVersion::V3_6));
        assert_eq!(" V3.6 ".parse::<ApiVersion>(), Ok(ApiVersion::V3_6));
        let err = "3.7".parse::<ApiVersion>().unwrap_err();
        assert!(err.contains("`3.7`") && err.contains("3.5 or 3.6"), "{err}");
    }
}
