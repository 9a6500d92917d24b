//! The shipping files agree with the repository: what the Dockerfile copies exists and is in the build context,
//! the build image is the pinned Rust, the release archives' files exist, and the project's scripts make the
//! pinned toolchain available before their first cargo. (The image and the workflows cannot be run here; CI
//! lints them with hadolint and actionlint.)

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn pinned_channel() -> String {
    read("rust-toolchain.toml")
        .lines()
        .find_map(|l| l.trim().strip_prefix("channel = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("rust-toolchain.toml names a channel")
}

#[test]
fn the_dockerfile_copies_files_that_are_in_the_build_context() {
    let dockerfile = read("Dockerfile");
    // .dockerignore shuts everything out, then lets the crate's sources back in.
    let ignore = read(".dockerignore");
    let rules: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(rules.first(), Some(&"*"), ".dockerignore starts with *");
    let let_in: Vec<&str> = rules
        .iter()
        .filter_map(|l| l.strip_prefix('!'))
        .map(|l| l.trim_start_matches('/').trim_end_matches('/'))
        .collect();
    let mut copied = 0;
    for line in dockerfile.lines().map(str::trim) {
        let Some(args) = line.strip_prefix("COPY ") else {
            continue;
        };
        if args.starts_with("--from") {
            continue;
        }
        let words: Vec<&str> = args.split_whitespace().collect();
        for source in &words[..words.len() - 1] {
            let source = source.trim_start_matches("./").trim_end_matches('/');
            assert!(
                root().join(source).exists(),
                "Dockerfile copies {source}, which does not exist"
            );
            assert!(
                let_in
                    .iter()
                    .any(|l| source == *l || source.starts_with(&format!("{l}/"))),
                "Dockerfile copies {source}, which .dockerignore keeps out of the context"
            );
            copied += 1;
        }
    }
    assert!(
        copied >= 4,
        "the Dockerfile copies the crate ({copied} sources found)"
    );
    // The build image is the pinned Rust, so the container's binary is built like CI's.
    let channel = pinned_channel();
    assert!(
        dockerfile.contains(&format!("FROM rust:{channel}-")),
        "the Dockerfile's build image is not rust:{channel}"
    );
}

#[test]
fn the_release_archives_take_files_that_exist() {
    let release = read(".github/workflows/release.yml");
    let mut named = 0;
    for word in release.split_whitespace() {
        let word = word.trim_matches('"');
        if word.starts_with("completions/")
            || matches!(word, "README.md" | "CHANGELOG.md" | "LICENSE")
        {
            assert!(
                root().join(word).is_file(),
                "release.yml packs {word}, which does not exist"
            );
            named += 1;
        }
    }
    assert!(
        named >= 9,
        "release.yml packs the man page, five completions, README, CHANGELOG and LICENSE"
    );
}

#[test]
fn the_scripts_make_the_pinned_toolchain_available_before_cargo() {
    for script in [".ci/run", "tests/run.sh"] {
        let text = read(script);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .collect();
        let toolchain = lines
            .iter()
            .position(|l| l.contains("tests/toolchain.sh"))
            .unwrap_or_else(|| panic!("{script} does not run tests/toolchain.sh"));
        let cargo = lines
            .iter()
            .position(|l| l.starts_with("cargo ") || l.contains("bench/run"));
        assert!(
            cargo.is_none_or(|c| toolchain < c),
            "{script} runs cargo before tests/toolchain.sh"
        );
    }
    assert!(
        pinned_channel().starts_with("1."),
        "a pinned release, not a channel name"
    );
}
