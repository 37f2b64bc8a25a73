//! TODO(area customers): filled in by its own change.

use super::ToolSpec;

pub const TOOLS: &[ToolSpec] = &[];
