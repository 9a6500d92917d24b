//! The committed completions and man page in `completions/` match what the binary generates.
//! Regenerate with `SIPREG_UPDATE_GENERATED=1 cargo test --test it generated::`.

use crate::common::run;
use std::path::Path;

#[test]
fn committed_completions_and_man_page_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("SIPREG_UPDATE_GENERATED").is_some();
    let files: [(&[&str], &str); 6] = [
        (&["completions", "bash"], "sipreg.bash"),
        (&["completions", "zsh"], "_sipreg"),
        (&["completions", "fish"], "sipreg.fish"),
        (&["completions", "elvish"], "sipreg.elv"),
        (&["completions", "powershell"], "_sipreg.ps1"),
        (&["man"], "sipreg.1"),
    ];
    let mut stale = Vec::new();
    for (args, file) in files {
        let out = run(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(out.stdout.len() > 500, "{args:?} printed almost nothing");
        let path = dir.join(file);
        if update {
            std::fs::write(&path, &out.stdout).expect("write");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(out.stdout.as_str()) {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "stale in completions/: {stale:?}; run SIPREG_UPDATE_GENERATED=1 cargo test --test it generated::"
    );
}

#[test]
fn completions_know_the_flags() {
    let bash = run(&["completions", "bash"]).stdout;
    for flag in [
        "--udp",
        "--tcp",
        "--tls",
        "--expect-transport",
        "--count",
        "--ca-file",
    ] {
        assert!(bash.contains(flag), "bash completion lacks {flag}");
    }
    assert!(run(&["man"]).stdout.contains(".TH sipreg 1"));
    assert_eq!(run(&["completions", "tcsh"]).code, 2);
}

#[test]
fn the_docs_list_every_long_flag() {
    // The README and the pages of docs/ together: a flag is documented where its topic is.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for page in std::fs::read_dir(root.join("docs")).unwrap() {
        readme.push_str(&std::fs::read_to_string(page.unwrap().path()).unwrap());
    }
    let help = [
        run(&["--help"]).stdout,
        run(&["watch", "--help"]).stdout,
        run(&["exporter", "--help"]).stdout,
        run(&["storm", "--help"]).stdout,
    ]
    .join("\n");
    let flags: Vec<&str> = help
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '-')))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .filter(|w| !matches!(*w, "--help" | "--version"))
        .collect();
    assert!(flags.len() > 30, "{flags:?}");
    for flag in flags {
        assert!(
            readme.contains(&format!("`{flag}")) || readme.contains(&format!(" {flag} ")),
            "neither README.md nor docs/ mention {flag}"
        );
    }
}
