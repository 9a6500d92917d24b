//! Names the commit in `sipreg --version`: sets `SIPREG_VERSION` to `0.1.0 (abc123def456)`, or to the bare
//! package version when no commit is known.
//!
//! The commit comes from, in this order: the `SIPREG_COMMIT` variable (a container build, whose context has no
//! `.git`); `git rev-parse --short=12 HEAD` when this crate is the top of a git work tree; the
//! `.cargo_vcs_info.json` that `cargo package` writes (a crate from crates.io). Nothing here fails the build: no
//! git, no commit.
//!
//! The script reruns only when HEAD or the branch it points to moves, not on every build. A tree with
//! uncommitted changes is not marked: that would mean rerunning on every edit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=SIPREG_COMMIT");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // The linker reads the function layout (.cargo/config.toml), and cargo does not watch it: a new
    // layout reruns this script, which relinks the binary.
    watch(&dir.join(".cargo/order.txt"));
    let commit = from_env()
        .or_else(|| from_git(&dir))
        .or_else(|| from_vcs_info(&dir));
    match commit {
        Some(commit) => println!("cargo::rustc-env=SIPREG_VERSION={version} ({commit})"),
        None => println!("cargo::rustc-env=SIPREG_VERSION={version}"),
    }
}

/// Twelve hex digits at most, or nothing.
fn short(text: &str) -> Option<String> {
    let text = text.trim();
    let ok = !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| text.chars().take(12).collect())
}

fn from_env() -> Option<String> {
    short(&std::env::var("SIPREG_COMMIT").ok()?)
}

/// `git -C dir args…`, its trimmed stdout when it succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.trim().to_string())
}

fn from_git(dir: &Path) -> Option<String> {
    // Only this crate's own repository: a packaged copy under some other work tree (target/package/…, a vendor
    // directory) must not take that tree's commit.
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    let commit = short(&git(dir, &["rev-parse", "--short=12", "HEAD"])?)?;
    // Git paths are printed relative to `dir` unless absolute; a linked work tree keeps HEAD in its own git
    // directory and the branches in the common one, which --git-path resolves.
    let path = |name: &str| git(dir, &["rev-parse", "--git-path", name]).map(|p| dir.join(p));
    if let Some(head) = path("HEAD") {
        watch(&head);
    }
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        match path(&branch) {
            Some(loose) if loose.is_file() => watch(&loose),
            loose => {
                // A packed branch: a commit writes it loose again, into its directory.
                if let Some(packed) = path("packed-refs") {
                    watch(&packed);
                }
                if let Some(parent) = loose.as_deref().and_then(Path::parent) {
                    watch(parent);
                }
            }
        }
    }
    Some(commit)
}

/// Only paths that exist: cargo reruns the script on every build for a path that does not.
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo::rerun-if-changed={}", path.display());
    }
}

/// `"sha1": "…"` in the `.cargo_vcs_info.json` of a packaged crate.
fn from_vcs_info(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let rest = &text[text.find("\"sha1\"")? + "\"sha1\"".len()..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    short(&rest[..rest.find('"')?])
}
