//! From the command line to a [`Config`]: the flags map onto the library's [`ConfigBuilder`], the one
//! list of a run's settings, field for field; the builder validates.

use sipreg::config::{Config, ConfigBuilder, ConfigError, Secret};
use sipreg::model::{Family, Transport};

use super::cli::RegisterArgs;

/// Validates the flags and reads the files they name. `env_password` (`SIPREG_PASSWORD`) is used
/// when neither `--password` nor `--password-file` is given and it is not empty.
///
/// # Errors
/// A [`ConfigError`] with one line naming the bad value.
pub fn config(a: &RegisterArgs, env_password: Option<String>) -> Result<Config, ConfigError> {
    let Some(server) = a.server.as_deref() else {
        return Err(ConfigError("SERVER is required".into()));
    };
    builder(server, a, env_password).build()
}

/// The flags as builder inputs, one field for each; nothing is checked here.
pub fn builder(server: &str, a: &RegisterArgs, env_password: Option<String>) -> ConfigBuilder {
    ConfigBuilder {
        server: server.to_string(),
        udp: a.udp,
        tcp: a.tcp,
        tls: a.tls,
        ws: a.ws,
        wss: a.wss,
        ws_path: a.ws_path.clone(),
        user: a.user.clone(),
        domain: a.domain.clone(),
        auth_user: a.auth_user.clone(),
        password: password_from_args(a, env_password),
        password_file: a.password_file.clone(),
        expires: a.expires,
        keep: a.keep,
        check_inbound: a.check_inbound.is_some(),
        connect_timeout: a.connect_timeout,
        timeout: a.timeout,
        t1: a.t1,
        retries: a.retries,
        retry_interval: a.retry_interval,
        retry_max: a.retry_max,
        tls_port: a.tls_port,
        ca_file: a.ca_file.clone(),
        cert: a.cert.clone(),
        key: a.key.clone(),
        tls_server_name: a.tls_server_name.clone(),
        insecure: a.insecure,
        strict_tls: a.strict_tls,
        no_srv: a.no_srv,
        dns_server: a.dns_server,
        // clap refuses -4 with -6.
        family: Family::from_flags(a.ipv4, a.ipv6).unwrap_or_default(),
        expect_transport: a.expect_transport.map(Transport::from),
        max_time: a.max_time,
        interval: a.interval,
    }
}

/// `--password`, else `SIPREG_PASSWORD` when not empty and no `--password-file` is given.
fn password_from_args(a: &RegisterArgs, env_password: Option<String>) -> Option<Secret> {
    match (&a.password, &a.password_file) {
        (Some(p), _) => Some(Secret::new(p.0.clone())),
        (None, None) => env_password.filter(|p| !p.is_empty()).map(Secret::new),
        (None, Some(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use clap::Parser;

    use super::*;
    use crate::cmd::cli::Cli;

    fn from_cli(argv: &[&str]) -> Result<Config, ConfigError> {
        let cli = Cli::try_parse_from(argv).unwrap();
        config(&cli.register, None)
    }

    /// The fields a default run depends on, TLS reduced to what can be compared.
    fn summary(c: &Config) -> String {
        let tls = c
            .tls
            .as_ref()
            .map(|t| (&t.server_name, t.insecure, t.strict, t.has_client_cert));
        format!(
            "{:?} {:?} {} {} {} {} {} {} {:?} {} {:?} {:?} {} {} {:?} {:?} {:?} {:?} {}",
            c.server,
            c.order,
            c.user,
            c.domain,
            c.auth_user,
            c.password.is_some(),
            c.expires,
            c.keep,
            c.timers,
            c.retries,
            c.retry_interval,
            c.retry_max,
            c.sip_port,
            c.tls_port,
            tls,
            c.expect_transport,
            c.max_time,
            c.dns,
            c.server_display(),
        )
    }

    #[test]
    fn defaults_equal_the_cli_defaults() {
        let cli = Cli::try_parse_from(["sipreg", "--user", "x", "h"]).unwrap();
        let mapped = builder("h", &cli.register, None);
        let built = Config::builder("h").user("x");
        assert_eq!(format!("{mapped:?}"), format!("{built:?}"));

        let a = from_cli(&["sipreg", "--user", "x", "h"]).unwrap();
        let b = Config::builder("h").user("x").build().unwrap();
        assert_eq!(summary(&a), summary(&b));
        assert_eq!(b.order, vec![Transport::Tcp, Transport::Udp]);
        assert_eq!(b.expires, 3600);
        assert_eq!(b.timers.t1, Duration::from_millis(500));
        assert_eq!(b.timers.timer_f, Duration::from_secs(32));
        assert_eq!(b.timers.connect, Duration::from_secs(30));
        assert_eq!(b.retries, 0);
        assert_eq!(b.retry_interval, Duration::from_secs(30));
        assert_eq!(b.retry_max, Duration::from_secs(1800));
        assert_eq!((b.sip_port, b.tls_port), (5060, 5061));
        assert!(b.password.is_none() && b.tls.is_none());
    }

    #[test]
    fn setters_match_their_flags() {
        let a = from_cli(&[
            "sipreg",
            "--tls",
            "--tcp",
            "--user",
            "alice",
            "--domain",
            "example.com",
            "--auth-user",
            "a1",
            "--password",
            "pw",
            "--expires",
            "60",
            "--keep",
            "--t1",
            "100ms",
            "--timeout",
            "3s",
            "--connect-timeout",
            "2s",
            "--retries",
            "2",
            "--retry-interval",
            "1s",
            "--retry-max",
            "4s",
            "--tls-port",
            "5071",
            "--tls-server-name",
            "sip.example.com",
            "--insecure",
            "--no-srv",
            "--dns-server",
            "127.0.0.1:5353",
            "-4",
            "--expect-transport",
            "tls",
            "--max-time",
            "5s",
            "10.0.0.1:5070",
        ])
        .unwrap();
        let b = Config::builder("10.0.0.1:5070")
            .tls(true)
            .tcp(true)
            .user("alice")
            .domain("example.com")
            .auth_user("a1")
            .password(Secret::new("pw"))
            .expires(60)
            .keep(true)
            .t1(Duration::from_millis(100))
            .timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_secs(2))
            .retries(2)
            .retry_interval(Duration::from_secs(1))
            .retry_max(Duration::from_secs(4))
            .tls_port(5071)
            .tls_server_name("sip.example.com")
            .insecure(true)
            .no_srv(true)
            .dns_server(SocketAddr::from(([127, 0, 0, 1], 5353)))
            .family(Family::V4)
            .expect_transport(Transport::Tls)
            .max_time(Duration::from_secs(5))
            .build()
            .unwrap();
        assert_eq!(summary(&a), summary(&b));
        assert_eq!(b.password.as_ref().map(Secret::expose), Some("pw"));
    }

    fn password(argv: &[&str], env: Option<&str>) -> Result<Option<String>, String> {
        let cli = Cli::try_parse_from(argv).unwrap();
        config(&cli.register, env.map(str::to_string))
            .map(|c| c.password.map(|p| p.expose().to_string()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn password_sources() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\r\nsecond line\n").unwrap();
        let file = file.to_str().unwrap();
        let flag = ["sipreg", "--password", "from-flag", "h"];
        let from_file = ["sipreg", "--password-file", file, "h"];
        assert_eq!(password(&flag, Some("env")), Ok(Some("from-flag".into())));
        assert_eq!(
            password(&from_file, Some("env")),
            Ok(Some("from-file".into()))
        );
        assert_eq!(
            password(&["sipreg", "h"], Some("env")),
            Ok(Some("env".into()))
        );
        assert_eq!(password(&["sipreg", "h"], Some("")), Ok(None));
        assert_eq!(password(&["sipreg", "h"], None), Ok(None));
        let both = ["sipreg", "--password", "p", "--password-file", file, "h"];
        assert_eq!(
            password(&both, Some("env")),
            Err("give --password or --password-file, not both".into())
        );
    }

    #[test]
    fn udp_and_tls_are_refused_on_the_command_line() {
        let e = from_cli(&["sipreg", "--udp", "--tls", "h"]).unwrap_err();
        assert_eq!(e.to_string(), "unsupported transport set: UDP + TLS");
    }
}
