//! The exporter's TOML file: `[modules.NAME]` tables holding the one-shot command's long flags with
//! underscores (`udp = true`, `connect_timeout = "2s"`, …), an optional `targets` list, and passwords
//! only from `password_file` or `password_env`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigBuilder, Secret};
use crate::model::{Family, Transport};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    modules: BTreeMap<String, ModuleFile>,
}

/// One `[modules.NAME]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleFile {
    udp: Option<bool>,
    tcp: Option<bool>,
    tls: Option<bool>,
    user: Option<String>,
    domain: Option<String>,
    auth_user: Option<String>,
    /// Refused with a reason: a password in the file would end up in backups and diffs.
    password: Option<serde::de::IgnoredAny>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    expires: Option<u32>,
    keep: Option<bool>,
    check_inbound: Option<bool>,
    connect_timeout: Option<String>,
    timeout: Option<String>,
    t1: Option<String>,
    retries: Option<u32>,
    retry_interval: Option<String>,
    retry_max: Option<String>,
    tls_port: Option<u16>,
    ca_file: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    tls_server_name: Option<String>,
    insecure: Option<bool>,
    strict_tls: Option<bool>,
    no_srv: Option<bool>,
    dns_server: Option<String>,
    ipv4: Option<bool>,
    ipv6: Option<bool>,
    expect_transport: Option<String>,
    max_time: Option<String>,
    targets: Option<Vec<String>>,
}

/// A module ready to probe: a [`ConfigBuilder`] waiting for its target.
#[derive(Debug, Clone)]
pub struct Module {
    /// Its name.
    pub name: String,
    /// The flags, with a placeholder server.
    pub builder: ConfigBuilder,
    /// The only targets it may probe, when listed.
    pub targets: Option<Vec<String>>,
    /// It sends a digest password.
    pub has_credentials: bool,
    /// The module's settings as written, secrets left out (for `debug=true`).
    pub shown: String,
}

/// Reads and checks the config file: every module is built once, so that a bad value or a missing
/// file is reported at start, not at the first scrape.
///
/// # Errors
/// One line naming the file, the module and the bad value.
pub fn load(path: &Path) -> anyhow::Result<BTreeMap<String, Module>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    parse(&text, |name| std::env::var(name).ok())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Parses a config text; `env` looks up `password_env` variables.
///
/// # Errors
/// One line naming the module and the bad value.
pub fn parse(
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<BTreeMap<String, Module>> {
    let file: File = basic_toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    if file.modules.is_empty() {
        anyhow::bail!("no [modules.NAME] table: nothing to probe");
    }
    let mut modules = BTreeMap::new();
    for (name, m) in file.modules {
        let module = module(&name, m, &env).map_err(|e| anyhow::anyhow!("module {name}: {e}"))?;
        modules.insert(name, module);
    }
    Ok(modules)
}

fn module(
    name: &str,
    m: ModuleFile,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Module> {
    if m.password.is_some() {
        anyhow::bail!(
            "password is not read from the config file: use password_file or password_env"
        );
    }
    let has_credentials = m.password_file.is_some() || m.password_env.is_some();
    let targets = m.targets.clone();
    match &targets {
        Some(list) if list.is_empty() => anyhow::bail!("targets is empty"),
        None if has_credentials => anyhow::bail!(
            "a module with a password must list its targets (targets = [\"host:port\"]): otherwise anyone who reaches the exporter could make it answer digest challenges from a server of their choosing"
        ),
        _ => {}
    }
    let shown = shown(&m);
    let builder = builder(m, env)?;
    let placeholder = targets.as_ref().and_then(|t| t.first().cloned());
    builder
        .clone()
        .server(placeholder.unwrap_or_else(|| "localhost".into()))
        .build()
        .map_err(|e| anyhow::anyhow!("{}", flag_to_key(&e.to_string())))?;
    Ok(Module {
        name: name.to_string(),
        builder,
        targets,
        has_credentials,
        shown,
    })
}

/// The builder for a module's flags.
fn builder(m: ModuleFile, env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<ConfigBuilder> {
    let mut b = ConfigBuilder::new("localhost")
        .udp(m.udp.unwrap_or(false))
        .tcp(m.tcp.unwrap_or(false))
        .tls(m.tls.unwrap_or(false))
        .keep(m.keep.unwrap_or(false))
        .check_inbound(m.check_inbound.unwrap_or(false))
        .insecure(m.insecure.unwrap_or(false))
        .strict_tls(m.strict_tls.unwrap_or(false))
        .no_srv(m.no_srv.unwrap_or(false))
        .family(family(m.ipv4, m.ipv6)?);
    b = strings(b, &m);
    b = durations(b, &m)?;
    if let Some(v) = m.expires {
        b = b.expires(v);
    }
    if let Some(v) = m.retries {
        b = b.retries(v);
    }
    if let Some(v) = m.tls_port {
        b = b.tls_port(v);
    }
    if let Some(v) = &m.dns_server {
        let addr: SocketAddr = v
            .parse()
            .map_err(|_| anyhow::anyhow!("dns_server {v:?} is not ADDR:PORT"))?;
        b = b.dns_server(addr);
    }
    if let Some(v) = &m.expect_transport {
        b = b.expect_transport(transport(v)?);
    }
    b = files(b, m, env)?;
    Ok(b)
}

fn strings(mut b: ConfigBuilder, m: &ModuleFile) -> ConfigBuilder {
    if let Some(v) = &m.user {
        b = b.user(v);
    }
    if let Some(v) = &m.domain {
        b = b.domain(v);
    }
    if let Some(v) = &m.auth_user {
        b = b.auth_user(v);
    }
    if let Some(v) = &m.tls_server_name {
        b = b.tls_server_name(v);
    }
    b
}

fn durations(mut b: ConfigBuilder, m: &ModuleFile) -> anyhow::Result<ConfigBuilder> {
    let d = |key: &str, v: &Option<String>| v.as_deref().map(|s| duration(key, s)).transpose();
    if let Some(v) = d("connect_timeout", &m.connect_timeout)? {
        b = b.connect_timeout(v);
    }
    if let Some(v) = d("timeout", &m.timeout)? {
        b = b.timeout(v);
    }
    if let Some(v) = d("t1", &m.t1)? {
        b = b.t1(v);
    }
    if let Some(v) = d("retry_interval", &m.retry_interval)? {
        b = b.retry_interval(v);
    }
    if let Some(v) = d("retry_max", &m.retry_max)? {
        b = b.retry_max(v);
    }
    if let Some(v) = d("max_time", &m.max_time)? {
        b = b.max_time(v);
    }
    Ok(b)
}

fn files(
    mut b: ConfigBuilder,
    m: ModuleFile,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ConfigBuilder> {
    if let Some(v) = m.ca_file {
        b = b.ca_file(v);
    }
    match (m.cert, m.key) {
        (Some(c), Some(k)) => b = b.client_cert(c, k),
        (None, None) => {}
        _ => anyhow::bail!("cert and key go together"),
    }
    match (m.password_file, m.password_env) {
        (Some(_), Some(_)) => anyhow::bail!("give password_file or password_env, not both"),
        (Some(path), None) => b = b.password_file(path),
        (None, Some(var)) => {
            let value = env(&var).ok_or_else(|| {
                anyhow::anyhow!("password_env: the variable {var} is not set (or not UTF-8)")
            })?;
            b = b.password(Secret::new(value));
        }
        (None, None) => {}
    }
    Ok(b)
}

fn family(v4: Option<bool>, v6: Option<bool>) -> anyhow::Result<Family> {
    match (v4.unwrap_or(false), v6.unwrap_or(false)) {
        (true, true) => anyhow::bail!("ipv4 and ipv6 exclude each other"),
        (true, false) => Ok(Family::V4),
        (false, true) => Ok(Family::V6),
        (false, false) => Ok(Family::Any),
    }
}

fn transport(v: &str) -> anyhow::Result<Transport> {
    match v.to_ascii_lowercase().as_str() {
        "udp" => Ok(Transport::Udp),
        "tcp" => Ok(Transport::Tcp),
        "tls" => Ok(Transport::Tls),
        _ => anyhow::bail!("expect_transport {v:?} is not udp, tcp or tls"),
    }
}

fn duration(key: &str, v: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(v.trim())
        .map_err(|e| anyhow::anyhow!("{key} {v:?}: {e} (examples: 300ms, 30s, 1m 30s)"))
}

/// `--connect-timeout` → `connect_timeout` in an error of the shared validation.
fn flag_to_key(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("--") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(tail.len());
        out.push_str(&tail[..end].replace('-', "_"));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The module's settings as `key = value` lines, passwords left out.
fn shown(m: &ModuleFile) -> String {
    let mut lines = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            lines.push(format!("{k} = {v}"));
        }
    };
    let b = |v: Option<bool>| v.map(|x| x.to_string());
    let s = |v: &Option<String>| v.as_ref().map(|x| format!("{x:?}"));
    let p = |v: &Option<PathBuf>| v.as_ref().map(|x| format!("{:?}", x.display().to_string()));
    put("udp", b(m.udp));
    put("tcp", b(m.tcp));
    put("tls", b(m.tls));
    put("user", s(&m.user));
    put("domain", s(&m.domain));
    put("auth_user", s(&m.auth_user));
    put("password_file", p(&m.password_file));
    put("password_env", s(&m.password_env));
    put("expires", m.expires.map(|x| x.to_string()));
    put("connect_timeout", s(&m.connect_timeout));
    put("timeout", s(&m.timeout));
    put("t1", s(&m.t1));
    put("ca_file", p(&m.ca_file));
    put("insecure", b(m.insecure));
    put("no_srv", b(m.no_srv));
    put("dns_server", s(&m.dns_server));
    put("expect_transport", s(&m.expect_transport));
    put("max_time", s(&m.max_time));
    put("targets", m.targets.as_ref().map(|t| format!("{t:?}")));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_module_takes_the_long_flags_with_underscores() {
        let text = r#"
            [modules.tls_alice]
            tls = true
            tcp = true
            user = "alice"
            password_env = "ALICE_PW"
            connect_timeout = "2s"
            t1 = "100ms"
            expect_transport = "tls"
            targets = ["pbx.example.com:5061"]
        "#;
        let env = |k: &str| (k == "ALICE_PW").then(|| "pw".to_string());
        let modules = parse(text, env).unwrap();
        let m = &modules["tls_alice"];
        assert!(m.has_credentials);
        let cfg = m
            .builder
            .clone()
            .server("pbx.example.com:5061")
            .build()
            .unwrap();
        assert_eq!(cfg.order, vec![Transport::Tls, Transport::Tcp]);
        assert_eq!(cfg.user, "alice");
        assert_eq!(cfg.timers.connect, Duration::from_secs(2));
        assert_eq!(cfg.timers.t1, Duration::from_millis(100));
        assert_eq!(cfg.password.as_ref().map(Secret::expose), Some("pw"));
        assert!(!m.shown.contains("\"pw\""), "{}", m.shown);
    }

    #[test]
    fn bad_modules_are_one_line_errors() {
        let cases = [
            ("[modules.a]\npassword = \"x\"\n", "password is not read"),
            (
                "[modules.a]\npassword_env = \"X\"\ntargets = [\"h\"]\n",
                "X is not set",
            ),
            (
                "[modules.a]\npassword_file = \"/p\"\n",
                "must list its targets",
            ),
            ("[modules.a]\nudp = true\ntls = true\n", "module a:"),
            ("[modules.a]\nt1 = \"soon\"\n", "t1 \"soon\""),
            ("[modules.a]\nt1 = \"0s\"\n", "t1"),
            ("[modules.a]\nspeed = 3\n", "speed"),
            ("[modules.a]\ntargets = []\n", "targets is empty"),
            ("[modules]\n", "nothing to probe"),
            ("modules = 3", "modules"),
        ];
        for (text, expected) in cases {
            let err = parse(text, no_env).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{text:?}: {err}");
            assert!(!err.contains("--"), "{text:?}: {err}");
        }
    }

    #[test]
    fn flags_in_errors_read_as_keys() {
        assert_eq!(
            flag_to_key("--t1 must be at least 1ms; see --connect-timeout"),
            "t1 must be at least 1ms; see connect_timeout"
        );
    }
}
