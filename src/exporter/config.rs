//! The exporter's TOML file: `[modules.NAME]` tables holding the one-shot command's long flags with
//! underscores (`udp = true`, `connect_timeout = "2s"`, …), an optional `targets` list, and passwords
//! only from `password_file` or `password_env`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::config::{ConfigBuilder, Secret};
use crate::model::Family;

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

/// The keys of a module that are the exporter's own, not flags: they are taken out of the table
/// before the rest is read into a [`ConfigBuilder`].
const OWN_KEYS: [&str; 5] = ["password", "password_env", "targets", "ipv4", "ipv6"];

/// Parses a config text; `env` looks up `password_env` variables.
///
/// # Errors
/// One line naming the module and the bad value.
pub fn parse(
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<BTreeMap<String, Module>> {
    let file: Value = basic_toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(Value::Object(modules)) = file.as_object().and_then(|f| {
        (f.len() == 1).then_some(())?;
        f.get("modules").cloned()
    }) else {
        anyhow::bail!("the file holds one table, modules, of [modules.NAME] tables");
    };
    if modules.is_empty() {
        anyhow::bail!("no [modules.NAME] table: nothing to probe");
    }
    let mut out = BTreeMap::new();
    for (name, table) in modules {
        let Value::Object(table) = table else {
            anyhow::bail!("modules.{name} is not a table");
        };
        let module =
            module(&name, table, &env).map_err(|e| anyhow::anyhow!("module {name}: {e}"))?;
        out.insert(name, module);
    }
    Ok(out)
}

fn module(
    name: &str,
    mut table: Map<String, Value>,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Module> {
    let own: BTreeMap<&str, Value> = OWN_KEYS
        .iter()
        .filter_map(|k| table.remove(*k).map(|v| (*k, v)))
        .collect();
    if own.contains_key("password") {
        anyhow::bail!(
            "password is not read from the config file: use password_file or password_env"
        );
    }
    let password_env = match own.get("password_env") {
        Some(Value::String(var)) => Some(var.clone()),
        Some(v) => anyhow::bail!("password_env = {v}: not a string"),
        None => None,
    };
    let has_credentials = table.contains_key("password_file") || password_env.is_some();
    let targets = match own.get("targets") {
        None => None,
        Some(v) => Some(
            serde_json::from_value::<Vec<String>>(v.clone())
                .map_err(|e| anyhow::anyhow!("targets: {e}"))?,
        ),
    };
    match &targets {
        Some(list) if list.is_empty() => anyhow::bail!("targets is empty"),
        None if has_credentials => anyhow::bail!(
            "a module with a password must list its targets (targets = [\"host:port\"]): otherwise anyone who reaches the exporter could make it answer digest challenges from a server of their choosing"
        ),
        _ => {}
    }
    let shown = shown(&table, password_env.as_deref(), targets.as_deref());
    let mut builder = flags(table)?;
    let on = |k: &str| own.get(k).and_then(Value::as_bool).unwrap_or(false);
    builder.family = Family::from_flags(on("ipv4"), on("ipv6"))
        .ok_or_else(|| anyhow::anyhow!("ipv4 and ipv6 exclude each other"))?;
    builder = password(builder, password_env, env)?;
    if builder.cert.is_some() != builder.key.is_some() {
        anyhow::bail!("cert and key go together");
    }
    let placeholder = targets.as_ref().and_then(|t| t.first().cloned());
    builder
        .clone()
        .server(placeholder.unwrap_or_else(|| "localhost".into()))
        .build()
        .map_err(|e| anyhow::anyhow!("{}", e.as_keys()))?;
    Ok(Module {
        name: name.to_string(),
        builder,
        targets,
        has_credentials,
        shown,
    })
}

/// The flags of a module, read into the builder: each key alone first, so that an error names it.
fn flags(table: Map<String, Value>) -> anyhow::Result<ConfigBuilder> {
    for (key, value) in &table {
        let mut one = Map::new();
        one.insert(key.clone(), value.clone());
        serde_json::from_value::<ConfigBuilder>(Value::Object(one))
            .map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
    }
    serde_json::from_value(Value::Object(table)).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `password_env`: the password from that variable.
fn password(
    b: ConfigBuilder,
    var: Option<String>,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ConfigBuilder> {
    let Some(var) = var else { return Ok(b) };
    if b.password_file.is_some() {
        anyhow::bail!("give password_file or password_env, not both");
    }
    let value = env(&var).ok_or_else(|| {
        anyhow::anyhow!("password_env: the variable {var} is not set (or not UTF-8)")
    })?;
    Ok(b.password(Secret::new(value)))
}

/// The module's settings as `key = value` lines, passwords left out (a password is never in the
/// table: only the name of its file or variable).
fn shown(
    table: &Map<String, Value>,
    password_env: Option<&str>,
    targets: Option<&[String]>,
) -> String {
    let mut lines: Vec<String> = table.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    if let Some(var) = password_env {
        lines.push(format!("password_env = {var:?}"));
    }
    if let Some(t) = targets {
        lines.push(format!("targets = {t:?}"));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Transport;
    use std::time::Duration;

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
    fn a_module_holds_the_websocket_flags_as_keys() {
        let text = "[modules.webrtc]\nwss = true\nws_path = \"/ws\"\nexpect_transport = \"wss\"\n";
        let modules = parse(text, no_env).unwrap();
        let cfg = modules["webrtc"]
            .builder
            .clone()
            .server("pbx.example.com")
            .build()
            .unwrap();
        assert_eq!(cfg.order, vec![Transport::Wss]);
        assert_eq!(
            (cfg.ws_path.as_str(), cfg.port(Transport::Wss)),
            ("/ws", 443)
        );
        assert_eq!(cfg.expect_transport, Some(Transport::Wss));
        let err = parse("[modules.a]\nws = true\nudp = true\n", no_env).unwrap_err();
        assert!(err.to_string().contains("do not mix"), "{err}");
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
            ("[modules.a]\nt1 = \"soon\"\n", "t1: \"soon\""),
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
}
