//! Servers with only legacy TLS (`openssl s_server` with TLS_RSA_WITH_AES_128_CBC_SHA, TLS 1.2 or 1.0), and strange answers to the legacy TLS probe.
//!
//! `tests/run.sh` installs openssl; under `CI=true` a missing openssl fails the run instead of skipping
//! these tests. Every server listens on 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;

/// The openssl command, or None (skip) when it is not installed outside CI.
fn openssl() -> Option<PathBuf> {
    let found = ["/usr/bin/openssl", "/usr/local/bin/openssl"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "openssl is not installed: tests/run.sh installs it (apt-get install openssl)"
        );
        eprintln!("SKIP: openssl is not installed; run tests/run.sh to install it");
    }
    found
}

/// An RSA server certificate for localhost and 127.0.0.1, as PEM files in `dir`. The RSA key comes from
/// `openssl genpkey` (rcgen with ring cannot generate RSA keys); rcgen makes the self-signed certificate.
/// The test PKI's ECDSA certificate cannot serve TLS_RSA_* suites.
fn rsa_pem_files(openssl: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("rsa.key");
    let status = Command::new(openssl)
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl genpkey failed");
    let pem = std::fs::read_to_string(&key).expect("key");
    let pair = rcgen::KeyPair::from_pem(&pem).expect("a PKCS#8 RSA key");
    let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("params");
    let cert = params.self_signed(&pair).expect("certificate");
    let cert_path = dir.join("rsa.pem");
    std::fs::write(&cert_path, cert.pem()).expect("write");
    (cert_path, key)
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// An `openssl s_server` child, killed on drop.
struct SServer {
    child: Child,
    port: u16,
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SServer {
    /// Starts `openssl s_server` with `args` on a free port of 127.0.0.1 (three tries) and waits until
    /// it accepts connections.
    fn start(openssl: &Path, cert: &Path, key: &Path, args: &[&str]) -> SServer {
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(openssl)
                .arg("s_server")
                .args(["-accept", &format!("127.0.0.1:{port}"), "-quiet", "-cert"])
                .arg(cert)
                .arg("-key")
                .arg(key)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl s_server starts");
            let mut server = SServer { child, port };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if matches!(server.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return server;
                }
                thread::sleep(Duration::from_millis(50));
            }
            let _ = server.child.kill();
        }
        panic!("openssl s_server {args:?} did not start in three tries");
    }

    /// True when openssl's own client completes a handshake with `args` (the installed OpenSSL may
    /// refuse TLS 1.0 altogether).
    fn accepts(&self, openssl: &Path, args: &[&str]) -> bool {
        let out = Command::new(openssl)
            .arg("s_client")
            .args(["-connect", &format!("127.0.0.1:{}", self.port)])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("openssl s_client runs");
        let text = String::from_utf8_lossy(&out.stdout);
        text.contains("Cipher is AES128-SHA")
    }
}

/// Runs sipreg over TLS only against `port`, checks the outcome, exit code and run time, and returns
/// the attempt's reason and hint and the human output.
fn run_against(ca: &Path, port: u16) -> (String, String, String) {
    let server = format!("127.0.0.1:{port}");
    let ca = ca.to_str().expect("utf-8 path");
    let started = Instant::now();
    let out = run(&["--json", "--tls", "--ca-file", ca, &server]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let j = out.json();
    assert_eq!(attempts(&j), ["tls:tls_failed"]);
    let a = &j["attempts"][0];
    let reason = a["reason"].as_str().expect("reason").to_string();
    let hint = a["hint"].as_str().expect("hint").to_string();
    let human = run(&["--tls", "--ca-file", ca, &server]);
    assert_eq!(human.code, 3);
    (reason, hint, human.stdout)
}

#[test]
fn tls12_with_only_rsa_key_exchange_and_cbc() {
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = rsa_pem_files(&openssl, dir.path());
    let s = SServer::start(&openssl, &cert, &key, &["-cipher", "AES128-SHA", "-tls1_2"]);
    let (reason, hint, human) = run_against(&cert, s.port);
    assert!(
        reason.starts_with("server sent TLS alert HandshakeFailure")
            && reason.contains("the server picks TLS 1.2 with TLS_RSA_WITH_AES_128_CBC_SHA")
            && reason.contains("RSA key exchange, no forward secrecy; CBC mode")
            && reason.contains("which a phone may accept and sipreg (rustls) refuses"),
        "{reason}"
    );
    assert!(
        hint.contains("a phone that supports it would register over TLS, sipreg cannot")
            && hint.contains("add ECDHE key exchange and AES-GCM suites"),
        "{hint}"
    );
    assert!(human.contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "{human}");
    eprintln!("{human}");
}

#[test]
fn tls10_only() {
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = rsa_pem_files(&openssl, dir.path());
    let cipher = "AES128-SHA:@SECLEVEL=0";
    let s = SServer::start(&openssl, &cert, &key, &["-cipher", cipher, "-tls1"]);
    if !s.accepts(&openssl, &["-tls1", "-cipher", cipher]) {
        eprintln!("SKIP: this OpenSSL does not serve TLS 1.0 even at SECLEVEL=0");
        return;
    }
    let (reason, hint, human) = run_against(&cert, s.port);
    assert!(
        reason.starts_with("server sent TLS alert ProtocolVersion")
            && reason.contains("the server picks TLS 1.0 with TLS_RSA_WITH_AES_128_CBC_SHA")
            && reason.contains("older than TLS 1.2"),
        "{reason}"
    );
    assert!(
        hint.contains("TLS 1.0 with TLS_RSA_WITH_AES_128_CBC_SHA")
            && hint.contains("a phone that supports it would register over TLS, sipreg cannot")
            && hint.contains("enable TLS 1.2 with ECDHE key exchange and AES-GCM suites"),
        "{hint}"
    );
    assert!(
        human.contains("TLS 1.0 with TLS_RSA_WITH_AES_128_CBC_SHA"),
        "{human}"
    );
    eprintln!("{human}");
}

/// One TLS record from `stream`, read whole.
fn read_record(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut record = vec![0; 5];
    stream.read_exact(&mut record).expect("record header");
    let len = usize::from(u16::from_be_bytes([record[3], record[4]]));
    record.resize(5 + len, 0);
    stream.read_exact(&mut record[5..]).expect("record body");
    record
}

/// A server that closes the handshake connection at once, then answers the probe's connection with
/// `answer` (or keeps it open and silent when `answer` is None), and returns what the probe sent.
fn closing_server(answer: Option<Vec<u8>>) -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = thread::spawn(move || {
        let (mut first, _) = listener.accept().expect("handshake connection");
        // Read the whole ClientHello first, so that the close is a FIN rather than a reset.
        read_record(&mut first);
        drop(first);
        let (mut probe, _) = listener.accept().expect("probe connection");
        let hello = read_record(&mut probe);
        match answer {
            Some(bytes) => {
                let _ = probe.write_all(&bytes);
                // The probe sends nothing after the ClientHello: the next read sees its close.
                let mut rest = Vec::new();
                let _ = probe.read_to_end(&mut rest);
                assert!(rest.is_empty(), "the probe sent more: {rest:?}");
            }
            None => thread::sleep(Duration::from_secs(4)),
        }
        hello
    });
    (addr, handle)
}

#[test]
fn strange_answers_to_the_probe_keep_the_original_reason() {
    let rustls_suite = {
        // A ServerHello picking TLS 1.2 with TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, which rustls has.
        let mut body = vec![3, 3];
        body.extend_from_slice(&[1; 32]);
        body.push(0);
        body.extend_from_slice(&[0xC0, 0x2F, 0]);
        let mut rec = vec![22, 3, 3, 0, u8::try_from(body.len() + 4).unwrap(), 2, 0, 0];
        rec.push(u8::try_from(body.len()).unwrap());
        rec.extend_from_slice(&body);
        rec
    };
    let answers: [(&str, Option<Vec<u8>>); 5] = [
        ("garbage", Some(b"SIP/2.0 400 Bad Request\r\n\r\n".to_vec())),
        (
            "truncated hello",
            Some(vec![22, 3, 3, 0, 80, 2, 0, 0, 76, 3]),
        ),
        ("an alert", Some(vec![21, 3, 3, 0, 2, 2, 40])),
        ("a suite rustls has", Some(rustls_suite)),
        ("silence", None),
    ];
    for (what, answer) in answers {
        let (addr, server) = closing_server(answer);
        let started = Instant::now();
        let out = run(&["--json", "--tls", "--insecure", &addr.to_string()]);
        let took = started.elapsed();
        assert_eq!(out.code, 3, "{what}: {}\n{}", out.stdout, out.stderr);
        let j = out.json();
        assert_eq!(attempts(&j), ["tls:tls_failed"], "{what}");
        assert_eq!(
            j["attempts"][0]["reason"], "the server closed the connection during the TLS handshake",
            "{what}"
        );
        assert!(took < Duration::from_secs(5), "{what}: took {took:?}");
        let hello = server.join().expect("the server thread");
        assert_eq!(
            &hello[..3],
            &[22, 3, 1],
            "{what}: a TLS 1.0 handshake record"
        );
        assert!(
            !hello.windows(9).any(|w| w == b"127.0.0.1"),
            "{what}: no SNI for an IP address"
        );
    }
}
