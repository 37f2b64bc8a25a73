//! `tools/<name>.json` must match what the code generates, so every change to a tool's
//! surface is reviewed as a diff. Refresh with `UPDATE_SNAPSHOTS=1 cargo test --test tool_snapshots`.

use std::{collections::BTreeSet, path::PathBuf};

use livechat_mcp::tools::{self, snapshot};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools")
}

#[test]
fn snapshots_match_the_code() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    let mut names = BTreeSet::new();
    for spec in tools::all() {
        names.insert(format!("{}.json", spec.name));
        let path = dir().join(format!("{}.json", spec.name));
        let fresh = snapshot::render_text(spec);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != fresh {
            if update {
                std::fs::write(&path, &fresh).expect("write snapshot");
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    let extra: Vec<String> = std::fs::read_dir(dir())
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".json") && !names.contains(name))
                .collect()
        })
        .unwrap_or_default();
    if update {
        for name in &extra {
            std::fs::remove_file(dir().join(name)).expect("remove stale snapshot");
        }
        return;
    }
    assert!(
        stale.is_empty() && extra.is_empty(),
        "tool snapshots drifted from the code.\n  out of date: {stale:?}\n  no such tool: {extra:?}\nRefresh with `UPDATE_SNAPSHOTS=1 cargo test --test tool_snapshots` and review the diff in tools/."
    );
}

const START: &str = "<!-- tools:start -->\n";
const END: &str = "<!-- tools:end -->";

#[test]
fn readme_tools_table_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let (Some(start), Some(end)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md needs the markers {START:?} and {END:?} around the tools table");
    };
    let fresh = snapshot::readme_table();
    let current = &readme[start + START.len()..end];
    if current == fresh {
        return;
    }
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let updated = format!(
            "{}{fresh}{}",
            &readme[..start + START.len()],
            &readme[end..]
        );
        std::fs::write(&path, updated).expect("write README.md");
        return;
    }
    panic!(
        "README.md's tools table drifted from the code. Refresh with `UPDATE_SNAPSHOTS=1 cargo test --test tool_snapshots`."
    );
}
