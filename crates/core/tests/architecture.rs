//! The layering of docs/architecture.md, checked: the core's top-level
//! modules depend on each other in one direction only (no cycles), and the
//! core crate depends on no runtime crate and on no other crate of ours.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module → the top-level modules its code names as `crate::…`
/// (comments and `#[cfg(test)]` code below a file's test module excluded).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("a component").as_os_str().to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let text = fs::read_to_string(&file).expect("readable source");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let deps = graph.entry(module.clone()).or_default();
        for line in code.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let name: String =
                    line[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != module {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if any, as the path that closes it.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_module_depends_on_a_module_that_depends_on_it() {
    let graph = module_graph();
    assert!(graph.len() >= 10, "the walk found the modules: {graph:?}");
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_walk_finds_a_cycle_when_there_is_one() {
    let mut graph = module_graph();
    graph.entry("ports".into()).or_default().insert("app".into());
    assert!(cycle_from(&graph, "ports").is_some());
}

#[test]
fn the_core_knows_no_runtime_and_of_ours_only_the_verifiers_pure_checks() {
    let manifest = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).expect("manifest");
    let dependencies = manifest.split("[dependencies]").nth(1).and_then(|s| s.split("\n[").next()).unwrap_or("");
    let lines: Vec<&str> = dependencies.lines().map(str::trim_start).collect();
    for forbidden in ["worker", "wasm-bindgen", "js-sys", "web-sys", "m2m-edge-worker", "m2m-edge-testkit"] {
        assert!(!lines.iter().any(|l| l.starts_with(forbidden)), "m2m-edge-core must not depend on {forbidden}");
    }
    // The verifier, a leaf, without its key cache and signature back ends
    // (which would bring WebCrypto bindings into the core on wasm32).
    let verify = lines.iter().find(|l| l.starts_with("m2m-edge-verify")).expect("the verifier's checks");
    assert!(verify.contains("default-features = false"), "{verify}");
}
