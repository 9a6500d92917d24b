//! Bad command lines: each exits 2 with one line on stderr that names the bad value, and sends nothing.

use crate::common::*;

#[test]
fn bad_command_lines_exit_2_with_one_line_naming_the_value() {
    let pki = Pki::new();
    let dir = pki.dir.path();
    let ca = pki.ca_pem.to_str().unwrap().to_string();
    let cert = pki.client_cert.to_str().unwrap().to_string();
    let key = pki.client_key.to_str().unwrap().to_string();
    let missing = dir.join("missing.pem").to_str().unwrap().to_string();
    let empty_pem = pki.path("empty.pem");
    std::fs::write(&empty_pem, "not a pem file\n").unwrap();
    let empty_pem = empty_pem.to_str().unwrap().to_string();
    let encrypted = pki.path("encrypted.key");
    std::fs::write(
        &encrypted,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let encrypted = encrypted.to_str().unwrap().to_string();
    let empty_password = pki.path("empty-password");
    std::fs::write(&empty_password, "").unwrap();
    let empty_password = empty_password.to_str().unwrap().to_string();
    let a_dir = dir.to_str().unwrap().to_string();

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--udp", "--tls", "h"], "UDP + TLS"),
        (vec![""], "SERVER is empty"),
        (vec!["host:0"], "port 0"),
        (vec!["host:70000"], "70000"),
        (vec!["host:port"], "\"port\""),
        (vec!["[::1"], "unclosed"),
        (vec!["[::1]5060"], "5060"),
        (vec!["[zz::1]:5060"], "zz::1"),
        (vec!["http://pbx"], "\"http\""),
        (vec!["sip:alice@pbx"], "--user"),
        (vec!["pbx;transport=tcp"], "transport=tcp"),
        (vec!["bad_host!"], "bad_host!"),
        (vec!["--", "-bad.example"], "-bad.example"),
        (vec!["sips:pbx", "--udp"], "sips:"),
        (vec!["--t1", "-5s", "h"], "-5s"),
        (vec!["--t1", "fast", "h"], "fast"),
        (vec!["--t1", "0s", "h"], "--t1"),
        (vec!["--connect-timeout", "10 parsecs", "h"], "10 parsecs"),
        (vec!["--timeout", "0ms", "h"], "--timeout"),
        (vec!["--retry-interval", "soon", "h"], "soon"),
        (vec!["--expires", "-1", "h"], "-1"),
        (vec!["--expires", "many", "h"], "many"),
        (vec!["--expires", "0", "h"], "--expires"),
        (vec!["--t1", "5000000000y", "h"], "5000000000y"),
        (vec!["--timeout", "3000y", "h"], "--timeout"),
        (vec!["--user", "a%zz", "h"], "a%zz"),
        (vec!["--user", "bj\u{f6}rn", "h"], "bj\u{f6}rn"),
        (vec!["--retries", "-2", "h"], "-2"),
        (vec!["--tls-port", "0", "h"], "0"),
        (vec!["--tls-port", "70000", "h"], "70000"),
        (vec!["--user", "", "h"], "--user is empty"),
        (vec!["--user", "a b", "h"], "\"a b\""),
        (vec!["--domain", "x:5060", "h"], "x:5060"),
        (vec!["--bogus", "h"], "--bogus"),
        (vec!["--cert", &cert, "h"], "--key"),
        (vec!["--key", &key, "h"], "--cert"),
        (vec!["--tls", "--ca-file", &missing, "h"], "missing.pem"),
        (vec!["--tls", "--ca-file", &a_dir, "h"], &a_dir),
        (vec!["--tls", "--ca-file", &empty_pem, "h"], "empty.pem"),
        (
            vec!["--tls", "--cert", &key, "--key", &cert, "h"],
            "client.key",
        ),
        (
            vec!["--tls", "--cert", &cert, "--key", &encrypted, "h"],
            "encrypted.key",
        ),
        (
            vec!["--tls", "--cert", &cert, "--key", &missing, "h"],
            "missing.pem",
        ),
        (vec!["--password-file", &missing, "h"], "missing.pem"),
        (
            vec!["--password-file", &empty_password, "h"],
            "empty-password",
        ),
        (
            vec!["--insecure", "--strict-tls", "--tls", "h"],
            "--strict-tls",
        ),
        (
            vec![
                "--tls",
                "--ca-file",
                &ca,
                "--tls-server-name",
                "bad name!",
                "h",
            ],
            "bad name!",
        ),
        (vec!["-v", "-q", "h"], "--quiet"),
        (vec![], "<SERVER>"),
    ];
    assert!(cases.len() >= 30);
    for (args, needle) in &cases {
        let out = run(args);
        assert_eq!(
            out.code, 2,
            "{args:?} should be a usage error: {}{}",
            out.stdout, out.stderr
        );
        let stderr = out.stderr.trim_end();
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: one line, got:\n{stderr}"
        );
        assert!(stderr.starts_with("sipreg: error: "), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: {stderr:?} should name {needle:?}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}

#[test]
fn usage_errors_are_json_with_json() {
    let out = run(&["--json", "--udp", "--tls", "h"]);
    assert_eq!(out.code, 2);
    let j = out.json();
    assert_eq!(j["error"], "unsupported transport set: UDP + TLS");
    assert_eq!(j["exit_code"], 2);
    let out = run(&["--json", "--t1", "soon", "h"]);
    assert_eq!(out.code, 2);
    assert!(out.json()["error"].as_str().unwrap().contains("soon"));
}

#[test]
fn help_documents_the_exit_codes() {
    let out = run(&["--help"]);
    assert_eq!(out.code, 0);
    for code in [
        "0  registered",
        "1  rejected",
        "2  usage",
        "3  unreachable",
        "4  unauthorized",
    ] {
        assert!(out.stdout.contains(code), "--help lacks {code:?}");
    }
}

/// The commit of this work tree as build.rs sees it, or None without git (or when the tree is not this crate's
/// own repository, as for a packaged copy).
fn head_commit() -> Option<String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let top = std::fs::canonicalize(git(&["rev-parse", "--show-toplevel"])?).ok()?;
    (top == std::fs::canonicalize(dir).ok()?).then_some(())?;
    git(&["rev-parse", "--short=12", "HEAD"])
}

#[test]
fn version_names_the_commit_and_the_man_page_does_not() {
    let out = run(&["--version"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let package = format!("sipreg {}", env!("CARGO_PKG_VERSION"));
    let line = out.stdout.trim_end();
    let rest = line
        .strip_prefix(&package)
        .unwrap_or_else(|| panic!("--version printed {line:?}"));
    let from_git = match std::env::var_os("SIPREG_COMMIT") {
        None => head_commit(),
        Some(_) => None,
    };
    if let Some(commit) = from_git {
        assert_eq!(rest, format!(" ({commit})"), "--version printed {line:?}");
    } else {
        let commit = rest.trim_start_matches(" (").trim_end_matches(')');
        assert!(
            rest.is_empty()
                || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
            "--version printed {line:?}"
        );
    }
    assert_eq!(run(&["-V"]).stdout, out.stdout);
    // The committed man page (tests/it/generated.rs) must not change with every commit.
    let man = run(&["man"]).stdout;
    assert!(man.contains(&format!("\"{package}\"")), "{man}");
    if !rest.is_empty() {
        assert!(!man.contains(rest.trim()), "the man page names the commit");
    }
}
