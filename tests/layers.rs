//! The dependency rule of docs/architecture.md, enforced: every `crate::<module>` path (and
//! every `super::` chain that climbs to the crate root) in `src/<layer>/` must name the layer
//! itself or a layer it may depend on. A wrong-way import fails this test with the file,
//! the line and the rule it breaks. (Unit-test modules, after `#[cfg(test)]`, are exempt.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What each top-level module may import from the crate (besides itself).
fn allowed(layer: &str) -> Option<&'static [&'static str]> {
    Some(match layer {
        "model" | "config" | "tls" => &[],
        "metrics" => &["model"],
        "store" => &["model", "metrics"],
        "arm" => &["model", "store"],
        "runtime" => &["model", "metrics", "store", "config"],
        "deploy" => &["model", "store", "arm"],
        "controllers" => &["model", "metrics", "store", "arm", "runtime", "config"],
        "api" => &[
            "model",
            "metrics",
            "store",
            "arm",
            "runtime",
            "deploy",
            "controllers",
            "config",
            "tls",
        ],
        // The wiring at the top may use everything.
        "app" | "embedded" | "az_env" | "client" | "main" | "lib" | "bin" => return None,
        other => panic!("src/{other} is not in the layer table of tests/layers.rs"),
    })
}

/// Names exported at the crate root that are not modules (macros).
const ROOT_MACROS: &[&str] = &["arm_enum"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate modules a line names through `crate::`: `crate::a::...` and `crate::{a, b::c}`.
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or_default();
            out.extend(
                inner
                    .split(',')
                    .map(|p| p.trim().split("::").next().unwrap_or_default().to_string())
                    .filter(|p| !p.is_empty()),
            );
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
        rest = after;
    }
    out
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut broken = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        let layer = parts[0].as_str();
        let Some(allowed) = allowed(layer) else {
            continue;
        };
        // How many `super::` reach the crate root from this file's module.
        let depth = parts.len() - usize::from(parts.last().is_some_and(|p| p == "mod"));
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests (from the first `#[cfg(test)]` on) may use anything.
        for (n, line) in text
            .lines()
            .enumerate()
            .take_while(|(_, l)| !l.trim_start().starts_with("#[cfg(test)]"))
        {
            let code = line.split("//").next().unwrap_or_default();
            let mut named = crate_paths(code);
            let climbs = "super::".repeat(depth);
            if let Some(i) = code.find(&climbs) {
                let rest = &code[i + climbs.len()..];
                named.push(
                    rest.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect(),
                );
            }
            for module in named.into_iter().filter(|m| !m.is_empty()) {
                let ok = module == layer
                    || allowed.contains(&module.as_str())
                    || ROOT_MACROS.contains(&module.as_str());
                if !ok {
                    broken.insert(format!(
                        "src/{}:{}: the {layer} layer imports crate::{module} (it may import only {allowed:?})",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "wrong-way imports:\n{}",
        broken.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_checker_sees_grouped_and_plain_paths() {
    assert_eq!(
        crate_paths("use crate::{arm::Arm, store};"),
        ["arm", "store"]
    );
    assert_eq!(
        crate_paths("let x = crate::api::f(crate::model::g());"),
        ["api", "model"]
    );
}
