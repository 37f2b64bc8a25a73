//! TODO(area chat_access): filled in by its own change.

use super::ToolSpec;

pub const TOOLS: &[ToolSpec] = &[];
