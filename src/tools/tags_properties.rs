//! TODO(area tags_properties): filled in by its own change.

use super::ToolSpec;

pub const TOOLS: &[ToolSpec] = &[];
