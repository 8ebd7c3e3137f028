//! The README names the tests that prove its promises; each name must be a
//! test that exists, so a promise never points at nothing.

use std::fs;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() && !["target", "node_modules", "build", ".git"].contains(&name) {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "mjs") {
            out.push(path);
        }
    }
}

#[test]
fn every_test_the_readme_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = fs::read_to_string(root.join("README.md")).expect("README.md");
    let mut sources = Vec::new();
    for dir in ["crates", "tests"] {
        files(&root.join(dir), &mut sources);
    }
    let code: String = sources.iter().filter_map(|p| fs::read_to_string(p).ok()).collect();
    // A test name: a backticked snake_case identifier of four or more words
    // that is not a field of the API.
    let fields = fs::read_to_string(root.join("crates/core/openapi.json")).expect("openapi.json");
    let named: Vec<&str> = readme
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.split('_').count() >= 4
                && !fields.contains(&format!("\"{s}\""))
                && s.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
        .collect();
    assert!(named.len() >= 10, "the README names its tests: {named:?}");
    let missing: Vec<&&str> = named.iter().filter(|n| !code.contains(&format!("fn {n}("))).collect();
    assert!(missing.is_empty(), "the README names tests that do not exist: {missing:?}");
}
