//! Shared test helpers: run the real `sipreg` binary, start the scripted test server, make certificates.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;

pub mod baresip;
pub mod http;
pub mod kamailio;
pub mod netns;
mod server;
#[allow(unused_imports)]
pub use server::{
    Background, Behaviour, Canned, Incoming, Options, RefusingPort, Seen, Server, Step, TcpMode,
    refusing_tcp_port,
};

/// What one run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout parsed as the JSON report.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The sipreg binary with a clean environment.
pub fn sipreg() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sipreg"));
    c.env_remove("SIPREG_PASSWORD")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    c
}

/// Runs sipreg with `args` and returns what it did.
pub fn run(args: &[&str]) -> Run {
    run_cmd(sipreg().args(args))
}

/// Runs a prepared command.
pub fn run_cmd(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("the sipreg binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Waits up to `limit` for `ready` to hold, polling every 20 ms: a wait for something to happen, not
/// a sleep that hopes it did. Panics naming `what` when it never holds.
pub fn wait_until(what: &str, limit: std::time::Duration, ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited {limit:?} for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Stops a child that leads its own process group: SIGTERM, then SIGKILL to the group after `grace`.
pub fn stop_group(child: &mut std::process::Child, grace: std::time::Duration) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(std::process::Stdio::null())
        .status();
    let _ = child.wait();
}

/// Sends `signal` (`INT`, `TERM`) to a child process, as a user's Ctrl-C or a service manager would.
pub fn signal(child: &std::process::Child, signal: &str) {
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} failed");
}

/// Waits for a child whose stdout is piped: everything it printed, and its exit code.
pub fn finish(mut child: std::process::Child) -> (String, Option<i32>) {
    use std::io::Read;
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let code = child.wait().expect("the child ends").code();
    (stdout, code)
}

/// Starts the test server as a registrar on loopback.
pub fn registrar(opts: Options) -> Server {
    Server::start(opts).expect("the test server binds loopback ports")
}

/// The outcomes of the attempts in a JSON report, as `transport:outcome`. Also checks that every
/// failed attempt carries a hint, so every failure kind the tests produce is covered.
pub fn attempts(report: &Value) -> Vec<String> {
    let list = report["attempts"].as_array().expect("attempts is an array");
    for a in list {
        if a["outcome"] != "registered" {
            assert!(
                a["hint"].as_str().is_some_and(|h| !h.is_empty()),
                "a failed attempt without a hint: {a}"
            );
        }
    }
    list.iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["transport"].as_str().unwrap_or("?"),
                a["outcome"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// A test PKI in a temp dir: a CA, a server certificate for 127.0.0.1/localhost, a client certificate.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca_pem: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    server_pem: (String, String),
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_key = KeyPair::generate().expect("key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.distinguished_name
            .push(DnType::CommonName, "sipreg test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).expect("CA");
        let server_key = KeyPair::generate().expect("key");
        let mut srv =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("params");
        srv.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let srv_cert = srv
            .signed_by(&server_key, &ca_cert, &ca_key)
            .expect("server cert");
        let client_key = KeyPair::generate().expect("key");
        let mut cli = CertificateParams::new(Vec::<String>::new()).expect("params");
        cli.distinguished_name
            .push(DnType::CommonName, "sipreg device");
        cli.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cli_cert = cli
            .signed_by(&client_key, &ca_cert, &ca_key)
            .expect("client cert");
        let ca_pem = dir.path().join("ca.pem");
        let client_cert = dir.path().join("client.pem");
        let client_key_path = dir.path().join("client.key");
        std::fs::write(&ca_pem, ca_cert.pem()).expect("write");
        std::fs::write(&client_cert, cli_cert.pem()).expect("write");
        std::fs::write(&client_key_path, client_key.serialize_pem()).expect("write");
        Pki {
            server_chain: vec![srv_cert.der().clone()],
            server_key: server_key.serialize_der(),
            server_pem: (srv_cert.pem(), server_key.serialize_pem()),
            dir,
            ca_pem,
            client_cert,
            client_key: client_key_path,
            ca_cert,
            ca_key,
        }
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()))
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// Server-only authentication.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let cfg = rustls::ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), self.key())
            .expect("server config");
        Arc::new(cfg)
    }

    /// Server-only authentication with a certificate for `names`, valid between the two dates
    /// (`(year, month, day)`), signed by this CA.
    pub fn leaf_config(
        &self,
        names: &[&str],
        not_before: (i32, u8, u8),
        not_after: (i32, u8, u8),
    ) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let cert = params
            .signed_by(&key, &self.ca_cert, &self.ca_key)
            .expect("leaf");
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let cfg = rustls::ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der)
            .expect("server config");
        Arc::new(cfg)
    }

    /// Mutual TLS: the client must present a certificate from our CA.
    pub fn mtls_config(&self) -> Arc<rustls::ServerConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_cert.der().clone()).expect("CA");
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Self::provider(),
        )
        .build()
        .expect("verifier");
        let cfg = rustls::ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain.clone(), self.key())
            .expect("server config");
        Arc::new(cfg)
    }

    /// Writes the server certificate and key as PEM files (for servers such as Kamailio).
    pub fn server_pem_files(&self) -> (PathBuf, PathBuf) {
        let cert = self.path("server.pem");
        let key = self.path("server.key");
        std::fs::write(&cert, &self.server_pem.0).expect("write");
        std::fs::write(&key, &self.server_pem.1).expect("write");
        (cert, key)
    }

    /// A path inside the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
