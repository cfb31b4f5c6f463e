//! The Rust versions the repository promises hold for the locked
//! dependencies: the library's `rust-version` for every crate it builds
//! with (every feature), and the README's quick start version for every
//! crate of the workspace, tools of the tests and benchmarks included.
//! Each crate declares the oldest compiler it builds with; one newer than
//! the promise would make cargo refuse to build it.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use serde_json::Value;

const README: &str = include_str!("../README.md");

/// `1.89` as `(1, 89, 0)`.
fn version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.split('.').map(|part| part.parse().expect("a version"));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

fn metadata() -> Value {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--all-features",
            "--locked",
        ])
        .args([
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// The crates newer than `max` among `ids`: name, version, rust-version.
fn newer_than(meta: &Value, ids: &HashSet<&str>, max: &str) -> Vec<String> {
    let max = version(max);
    let mut found: Vec<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| ids.contains(p["id"].as_str().unwrap()))
        .filter_map(|p| {
            let needs = p["rust_version"].as_str()?;
            (version(needs) > max).then(|| {
                format!(
                    "{} {} needs {needs}",
                    p["name"].as_str().unwrap(),
                    p["version"].as_str().unwrap()
                )
            })
        })
        .collect();
    found.sort();
    found
}

#[test]
fn the_library_builds_with_its_rust_version() {
    let meta = metadata();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tower-portal-link")
        .expect("the library")["id"]
        .as_str()
        .unwrap();
    // What a user's build compiles: normal and build dependencies, not
    // the ones only this repository's tests use.
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let kinds = dep["dep_kinds"].as_array().unwrap();
            if kinds.iter().any(|k| k["kind"] != "dev") {
                stack.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    let ours = env!("CARGO_PKG_RUST_VERSION");
    assert_eq!(
        newer_than(&meta, &seen, ours),
        Vec::<String>::new(),
        "rust-version {ours}"
    );
}

#[test]
fn the_workspace_builds_with_the_readme_toolchain() {
    let (_, after) = README
        .split_once("With a Rust toolchain (")
        .expect("README's quick start names a toolchain");
    let (readme, _) = after.split_once(" or newer").expect("`X or newer`");
    assert!(
        version(readme) >= version(env!("CARGO_PKG_RUST_VERSION")),
        "README's toolchain {readme} is older than the library's rust-version"
    );
    let meta = metadata();
    let all: HashSet<&str> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        newer_than(&meta, &all, readme),
        Vec::<String>::new(),
        "README's {readme}"
    );
}
