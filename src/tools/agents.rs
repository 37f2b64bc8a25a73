//! TODO(area agents): filled in by its own change.

use super::ToolSpec;

pub const TOOLS: &[ToolSpec] = &[];
