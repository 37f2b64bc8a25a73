//! `tools --scopes`: which LiveChat scopes a token needs for each area at `read` and at
//! `full`, derived from the tools' own scope requirements (`ToolSpec::scopes`). A Personal
//! Access Token's scopes are fixed when it is created, so the README carries this table.

use crate::{
    scopes::Scope,
    tools::{Access, Area, ToolSpec},
};

/// The scope sets the tools need, without repeats, and without a set that a smaller one
/// already answers: a token holding one scope of `{a}` also holds one of `{a, b}`.
fn needed<'a>(specs: impl Iterator<Item = &'a ToolSpec>) -> Vec<&'static [&'static str]> {
    let mut sets: Vec<&'static [&'static str]> = Vec::new();
    for spec in specs {
        for set in spec.scopes.sets() {
            if !set.is_empty() && !sets.contains(set) {
                sets.push(set);
            }
        }
    }
    minimal(&sets)
}

/// Whether a token holding one scope of `by` surely holds one of `set`: each of `by`'s
/// scopes grants one of `set`'s (`rw` grants `ro`, `--all` grants `--access`).
fn answered_by(set: &[&str], by: &[&str]) -> bool {
    let grants = |have: &str, need: &str| match (Scope::parse(have), Scope::parse(need)) {
        (Ok(have), Ok(need)) => have.implies(&need),
        _ => have == need,
    };
    by.iter()
        .all(|have| set.iter().any(|need| grants(have, need)))
}

/// `sets` without those another of them answers (of two that answer each other, the first
/// stays).
fn minimal(sets: &[&'static [&'static str]]) -> Vec<&'static [&'static str]> {
    let mut kept: Vec<&'static [&'static str]> = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let redundant = sets.iter().enumerate().any(|(j, other)| {
            j != i && answered_by(set, other) && (!answered_by(other, set) || j < i)
        });
        if !redundant {
            kept.push(set);
        }
    }
    kept
}

/// One cell: each needed set on its own line, its alternatives joined by "or".
fn cell(sets: &[&'static [&'static str]]) -> String {
    if sets.is_empty() {
        return "nothing".to_string();
    }
    sets.iter()
        .map(|set| {
            set.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The Markdown table, one row per area: the scopes its read tools need, and the further
/// scopes its write tools need. Each line of a cell is needed; of the scopes on one line, any
/// one will do.
pub fn markdown() -> String {
    let mut out = String::from(
        "| area | at `read` | at `full`, besides those of `read` |\n| --- | --- | --- |\n",
    );
    for area in Area::ALL {
        let specs = area.tools();
        let reads = specs.iter().filter(|s| s.access == Access::Read);
        let read = needed(reads.clone());
        let full: Vec<_> = needed(specs.iter())
            .into_iter()
            .filter(|set| !read.iter().any(|have| answered_by(set, have)))
            .collect();
        let read_cell = if reads.count() == 0 {
            "(no read tools)".to_string()
        } else {
            cell(&read)
        };
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            area.as_str(),
            read_cell,
            cell(&full)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_a_smaller_one_answers_is_dropped() {
        let sets: Vec<&'static [&'static str]> = vec![
            &["a:ro", "b:ro"],
            &["a:ro"],
            &["c:rw"],
            &["c:ro"],
            &["d--access:ro"],
            &["d--all:ro"],
            &["a:ro"],
        ];
        let kept: Vec<&'static [&'static str]> = vec![&["a:ro"], &["c:rw"], &["d--all:ro"]];
        assert_eq!(minimal(&sets), kept);
    }

    #[test]
    fn every_area_has_a_row_and_read_needs_something() {
        let table = markdown();
        for area in Area::ALL {
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("| {} |", area.as_str())))
                .unwrap_or_else(|| panic!("no row for {}", area.as_str()));
            assert!(row.contains(":r") || row.contains("banlist"), "{row}");
        }
    }
}
