//! The command line: the phone's transport flags, the server, and the knobs of spec §1, §5 and §7.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Exit codes, as documented in the README and in `--help` (the table lives in [`sipreg::exit`]).
pub const EXIT_CODES: &str = sipreg::exit::TABLE;

/// What `--version` prints after the name: the package version and, when the build knew it, the commit
/// (`0.1.0 (abc123def456)`; set by build.rs).
pub const VERSION: &str = env!("SIPREG_VERSION");

/// Register at a SIP registrar the way a desk phone does, over UDP, TCP or TLS with the phone's
/// fallback rules, and report which transport registered, how long each attempt took and why each
/// failed attempt failed.
#[derive(Debug, Parser)]
#[command(
    name = "sipreg",
    version = VERSION,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// A subcommand; without one, sipreg registers at SERVER.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// What to register and how.
    #[command(flatten)]
    pub register: RegisterArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a registrar on loopback (TCP refused, UDP answering) and register at it with the phone's
    /// default flags: shows a TCP to UDP fallback with nothing else installed.
    Demo {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print where the phone would go: the ordered candidates (transport, target, port, address) from
    /// NAPTR, SRV and A/AAAA, without sending any SIP.
    Resolve(Box<RegisterArgs>),
    /// Stay registered like the phone: refresh before the granted lifetime runs out, keep-alives,
    /// answers to the network, recovery with the phone's fallback, until --duration or a signal;
    /// then remove the binding and print a summary.
    Watch(Box<WatchArgs>),
    /// Serve Prometheus probes: `GET /probe?target=HOST[:PORT]&module=NAME` runs one registration
    /// with the module's flags and answers with `probe_*` metrics (as blackbox_exporter);
    /// `/metrics` has the exporter's own metrics.
    Exporter(ExporterArgs),
    /// Register many accounts at once, as every phone of a building does after a power cut, and
    /// measure the registrar: rates, latency percentiles, outcomes; every binding removed at the end.
    Storm(Box<StormArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(hide = true)]
    Man,
}

/// When to colour the human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set or TERM=dumb.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// A transport named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportArg {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS.
    Tls,
    /// WebSocket.
    Ws,
    /// Secure WebSocket.
    Wss,
}

impl From<TransportArg> for sipreg::model::Transport {
    fn from(t: TransportArg) -> Self {
        match t {
            TransportArg::Udp => Self::Udp,
            TransportArg::Tcp => Self::Tcp,
            TransportArg::Tls => Self::Tls,
            TransportArg::Ws => Self::Ws,
            TransportArg::Wss => Self::Wss,
        }
    }
}

/// The registration flags.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)]
pub struct RegisterArgs {
    /// Registrar: host, host:port, [v6], [v6]:port, sip:host[:port] or sips:host[:port].
    #[arg(value_name = "SERVER", required = true)]
    pub server: Option<String>,

    /// Enable UDP (no transport flag means the phone's default, UDP + TCP).
    #[arg(long, help_heading = "Transports")]
    pub udp: bool,
    /// Enable TCP.
    #[arg(long, help_heading = "Transports")]
    pub tcp: bool,
    /// Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it).
    #[arg(long, help_heading = "Transports")]
    pub tls: bool,
    /// SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with
    /// --udp, --tcp or --tls.
    #[arg(long, help_heading = "Transports")]
    pub ws: bool,
    /// SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first.
    #[arg(long, help_heading = "Transports")]
    pub wss: bool,
    /// The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own).
    #[arg(
        long,
        default_value = "/",
        value_name = "PATH",
        help_heading = "Transports"
    )]
    pub ws_path: String,

    /// User part of the address of record sip:USER@DOMAIN.
    #[arg(long, default_value = "sipreg", help_heading = "Account")]
    pub user: String,
    /// Domain of the address of record and Request-URI [default: the SERVER host].
    #[arg(long, help_heading = "Account")]
    pub domain: Option<String>,
    /// Digest user name [default: --user].
    #[arg(long, help_heading = "Account")]
    pub auth_user: Option<String>,
    /// Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or
    /// --password-file.
    #[arg(long, value_parser = |s: &str| Ok::<_, std::convert::Infallible>(PasswordArg(s.to_string())), help_heading = "Account")]
    pub password: Option<PasswordArg>,
    /// Read the digest password from the first line of this file.
    #[arg(long, value_name = "PATH", help_heading = "Account")]
    pub password_file: Option<PathBuf>,
    /// Requested registration lifetime in seconds.
    #[arg(
        long,
        default_value_t = 3600,
        allow_hyphen_values = true,
        value_name = "SECONDS",
        help_heading = "Account"
    )]
    pub expires: u32,
    /// Keep the binding after a successful registration (by default sipreg removes its own contact).
    #[arg(long, help_heading = "Account")]
    pub keep: bool,
    /// After registering, send an OPTIONS to our own AOR through the registrar and report whether
    /// it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it
    /// every INTERVAL (`--check-inbound=2m`; 1m when no interval is given).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "1m", value_parser = duration, value_name = "INTERVAL", help_heading = "CI")]
    pub check_inbound: Option<Duration>,

    /// Give up a TCP or TLS connect after this long (the phone's "approximately thirty seconds").
    #[arg(long, default_value = "30s", value_parser = duration, allow_hyphen_values = true, value_name = "DURATION", help_heading = "Timers")]
    pub connect_timeout: Duration,
    /// Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s].
    #[arg(long, value_parser = duration, allow_hyphen_values = true, value_name = "DURATION", help_heading = "Timers")]
    pub timeout: Option<Duration>,
    /// RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F.
    #[arg(long, default_value = "500ms", value_parser = duration, allow_hyphen_values = true, value_name = "DURATION", help_heading = "Timers")]
    pub t1: Duration,
    /// Run up to this many more cycles after a failed one.
    #[arg(
        long,
        default_value_t = 0,
        allow_hyphen_values = true,
        value_name = "N",
        help_heading = "Timers"
    )]
    pub retries: u32,
    /// Wait before the next cycle; doubles per failed cycle (the phone's Register Retry).
    #[arg(long, default_value = "30s", value_parser = duration, allow_hyphen_values = true, value_name = "DURATION", help_heading = "Timers")]
    pub retry_interval: Duration,
    /// Longest wait between cycles (the phone's Register Max Retry).
    #[arg(long, default_value = "30m", value_parser = duration, allow_hyphen_values = true, value_name = "DURATION", help_heading = "Timers")]
    pub retry_max: Duration,

    /// TLS port when TLS is one of several transports.
    #[arg(long, default_value_t = 5061, allow_hyphen_values = true, value_parser = clap::value_parser!(u16).range(1..), value_name = "PORT", help_heading = "TLS")]
    pub tls_port: u16,
    /// Trust only the CA certificates in this PEM file instead of the bundled public roots.
    #[arg(long, value_name = "PEM", help_heading = "TLS")]
    pub ca_file: Option<PathBuf>,
    /// Device certificate (PEM chain), sent only when the server asks for one.
    #[arg(long, value_name = "PEM", requires = "key", help_heading = "TLS")]
    pub cert: Option<PathBuf>,
    /// Private key of the device certificate (PEM).
    #[arg(long, value_name = "PEM", requires = "cert", help_heading = "TLS")]
    pub key: Option<PathBuf>,
    /// Verify the server certificate against this name instead of the SERVER host.
    #[arg(long, value_name = "NAME", help_heading = "TLS")]
    pub tls_server_name: Option<String>,
    /// Do not verify the server certificate (shown loudly in every output).
    #[arg(long, conflicts_with = "strict_tls", help_heading = "TLS")]
    pub insecure: bool,
    /// A server certificate that fails verification ends the cycle instead of falling back to TCP.
    #[arg(long, help_heading = "TLS")]
    pub strict_tls: bool,

    /// Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports.
    #[arg(long, help_heading = "DNS")]
    pub no_srv: bool,
    /// Ask this DNS server (ADDR:PORT) instead of the system's resolver.
    #[arg(long, value_name = "ADDR:PORT", help_heading = "DNS")]
    pub dns_server: Option<std::net::SocketAddr>,
    /// Use IPv4 only.
    #[arg(
        short = '4',
        long = "ipv4",
        conflicts_with = "ipv6",
        help_heading = "DNS"
    )]
    pub ipv4: bool,
    /// Use IPv6 only.
    #[arg(short = '6', long = "ipv6", help_heading = "DNS")]
    pub ipv6: bool,

    /// Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK,
    /// 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too).
    #[arg(long, conflicts_with = "json", help_heading = "Monitoring")]
    pub nagios: bool,
    /// --nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5,
    /// 1:5, @1:5).
    #[arg(short, long, value_parser = nagios_range, value_name = "RANGE", allow_hyphen_values = true, help_heading = "Monitoring")]
    pub warning: Option<sipreg::threshold::Range>,
    /// --nagios: CRITICAL when the registration time (seconds) is outside this range.
    #[arg(short, long, value_parser = nagios_range, value_name = "RANGE", allow_hyphen_values = true, help_heading = "Monitoring")]
    pub critical: Option<sipreg::threshold::Range>,

    /// Print the report as one JSON document.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark;
    /// messages carried in TLS or WebSocket are written in clear, marked in their packet comment.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub pcap: Option<std::path::PathBuf>,
    /// `--hep`, `--hep-id`, `--hep-key`.
    #[command(flatten)]
    pub hep: HepArgs,
    /// Narrate on stderr; -vv adds the SIP messages.
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "quiet", help_heading = "Output")]
    pub verbose: u8,
    /// Print only the verdict line.
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,
    /// Colour the human output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN", help_heading = "Output")]
    pub color: ColorChoice,

    /// Exit 5 unless the registration went over this transport (for example after an unexpected
    /// fallback).
    #[arg(long, value_enum, value_name = "TRANSPORT", help_heading = "CI")]
    pub expect_transport: Option<TransportArg>,
    /// Exit 5 when the registration took longer than this.
    #[arg(long, value_parser = duration, allow_hyphen_values = true, value_name = "DURATION", help_heading = "CI")]
    pub max_time: Option<Duration>,
    /// Register this many times, one line per run, then a summary; exit 0 only if every run registered.
    #[arg(long, default_value_t = 1, allow_hyphen_values = true, value_parser = clap::value_parser!(u32).range(1..), value_name = "N", help_heading = "CI")]
    pub count: u32,
    /// Wait between runs of --count.
    #[arg(long, default_value = "1s", value_parser = duration, allow_hyphen_values = true, value_name = "DURATION", help_heading = "CI")]
    pub interval: Duration,
}

/// `--password`, whose Debug output never shows the value.
#[derive(Clone)]
pub struct PasswordArg(pub String);

impl std::fmt::Debug for PasswordArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordArg(<redacted>)")
    }
}

/// Parses a human duration such as `300ms`, `30s` or `1m 30s`.
/// The flags of `sipreg watch`: the one-shot flags and how to hold the binding.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// With --pcap FILE: keep only the packets of the last DURATION, and write them to FILE-1,
    /// FILE-2… when the registration is lost, a refresh fails or an inbound check fails.
    #[arg(long, value_parser = duration, value_name = "DURATION", requires = "pcap", help_heading = "Watch")]
    pub pcap_ring: Option<Duration>,
    /// Keep-alive interval (the phone's CONN_KEEP_ALIVE); 0 turns keep-alives off. A Flow-Timer
    /// from the registrar overrides it.
    #[arg(long, default_value = "30s", value_parser = duration, value_name = "DURATION", help_heading = "Watch")]
    pub keepalive: Duration,
    /// When to refresh: a share of the granted lifetime (`90%`, as baresip and linphone) or a time
    /// before it runs out (`5s`, as pjsip; never before half of it).
    #[arg(long, default_value = "90%", value_parser = refresh_policy, value_name = "PCT%|DURATION", help_heading = "Watch")]
    pub refresh: sipreg::ua::binding::RefreshPolicy,
    /// Watch this long, then remove the binding and print the summary; without it, until SIGINT or
    /// SIGTERM.
    #[arg(long, value_parser = duration, value_name = "DURATION", help_heading = "Watch")]
    pub duration: Option<Duration>,
    /// Serve `/metrics` for the registration being held on this address (Prometheus text format:
    /// sipreg_registered, drops, refreshes, keep-alive RTT, …).
    #[arg(long, value_name = "ADDR:PORT", help_heading = "Watch")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// What to register and how.
    #[command(flatten)]
    pub register: RegisterArgs,
}

/// The flags of `sipreg exporter`.
#[derive(Debug, Args)]
pub struct ExporterArgs {
    /// Address to serve HTTP on (port 0 picks a free one; the address is printed on stderr).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// The modules: a TOML file of `[modules.NAME]` tables with the one-shot flags (see docs/monitoring.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Probes run at once; more wait for a slot until their scrape deadline (then 503).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..), value_name = "N")]
    pub max_concurrent: u16,
    /// A probe ends this long before Prometheus's scrape timeout
    /// (X-Prometheus-Scrape-Timeout-Seconds), as blackbox_exporter's --timeout-offset.
    #[arg(long, default_value = "500ms", value_parser = duration, value_name = "DURATION")]
    pub timeout_offset: Duration,
    /// Check the config file, print its modules and exit (0 valid, 2 not).
    #[arg(long)]
    pub check_config: bool,
    /// Log one line per probe on stderr (module, target, result, time); -vv adds the SIP narration.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Every probe's SIP messages to a Homer collector (`--hep`, `--hep-id`, `--hep-key`).
    #[command(flatten)]
    pub hep: HepArgs,
}

/// `--hep ADDR:PORT` and its labels: the one-shot command's, watch's and the exporter's.
#[derive(Debug, Args)]
pub struct HepArgs {
    /// Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP,
    /// those carried in TLS or WebSocket in clear.
    #[arg(long, value_name = "ADDR:PORT", help_heading = "Output")]
    pub hep: Option<std::net::SocketAddr>,
    /// The capture agent id in the HEP packets.
    #[arg(
        long,
        default_value_t = 2001,
        value_name = "N",
        help_heading = "Output"
    )]
    pub hep_id: u32,
    /// The collector's authentication key (HEP chunk 14).
    #[arg(long, value_name = "KEY", help_heading = "Output")]
    pub hep_key: Option<String>,
}

impl HepArgs {
    /// The collector and the labels, when `--hep` is given.
    #[must_use]
    pub fn target(&self) -> Option<sipreg::capture::hep::HepTarget> {
        self.hep.map(|addr| sipreg::capture::hep::HepTarget {
            addr,
            id: self.hep_id,
            key: self.hep_key.clone(),
        })
    }
}

/// Where a storm's requests leave from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SocketArg {
    /// A UDP socket or TCP/TLS connection per account, as real phones have.
    PerAccount,
    /// One UDP socket or TCP connection for all accounts: the registrar's raw ceiling.
    Shared,
}

/// The flags of `sipreg storm`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct StormArgs {
    /// `sipreg storm merge`: combine the JSON results of shards.
    #[command(subcommand)]
    pub command: Option<StormCommand>,
    /// The accounts: CSV with a header, columns user,password and optionally auth_user,domain.
    #[arg(long, value_name = "FILE.csv", required = true, help_heading = "Storm")]
    pub accounts: Option<PathBuf>,
    /// Registrations started per second [default: all at once, within --concurrency].
    #[arg(long, value_parser = rate, value_name = "N", help_heading = "Storm")]
    pub rate: Option<f64>,
    /// Start the accounts in groups of N at once, the groups --rate apart (a switch's worth of phones
    /// coming back together) [default: 1, one by one].
    #[arg(long, requires = "rate", value_parser = clap::value_parser!(u32).range(1..=1_000_000), value_name = "N", help_heading = "Storm")]
    pub burst: Option<u32>,
    /// Registrations under way at once.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000), value_name = "N", help_heading = "Storm")]
    pub concurrency: u32,
    /// Hold the bindings this long from the start, refreshing them as the phone does; then remove them.
    #[arg(long, value_parser = duration, value_name = "DURATION", help_heading = "Storm")]
    pub duration: Option<Duration>,
    /// A socket or connection per account (as real phones), or one shared by all.
    #[arg(long, value_enum, default_value_t = SocketArg::PerAccount, value_name = "MODE", help_heading = "Storm")]
    pub socket: SocketArg,
    /// Threads [default: one per core, half of them for a registrar on loopback; 1 with --socket
    /// shared]; each runs its share of the accounts (a shared socket: a runtime of N workers); 1 runs
    /// the storm on a single thread.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024), value_name = "N", help_heading = "Storm")]
    pub threads: Option<u16>,
    /// Take every N-th account, starting at K (0 ≤ K < N): N copies share one storm.
    #[arg(long, value_parser = shard, value_name = "K/N", help_heading = "Storm")]
    pub shard: Option<sipreg::storm::Shard>,
    /// The server and the one-shot flags.
    #[command(flatten)]
    pub register: RegisterArgs,
}

/// `sipreg storm` subcommands.
#[derive(Debug, Subcommand)]
pub enum StormCommand {
    /// Merge the `--json` results of shards into one: counts added, histograms merged exactly.
    Merge {
        /// The JSON results of `sipreg storm --json --shard K/N`.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print the merged result as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 10_000_000.0 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a rate between 0 and 10000000 per second"
        )),
    }
}

fn shard(s: &str) -> Result<sipreg::storm::Shard, String> {
    sipreg::storm::Shard::parse(s)
}

/// `90%` or a duration such as `5s`.
fn refresh_policy(s: &str) -> Result<sipreg::ua::binding::RefreshPolicy, String> {
    use sipreg::ua::binding::RefreshPolicy;
    let s = s.trim();
    if let Some(pct) = s.strip_suffix('%') {
        return match pct.trim().parse::<f64>() {
            Ok(p) if p > 0.0 && p < 100.0 => Ok(RefreshPolicy::Fraction(p / 100.0)),
            _ => Err(format!(
                "{s:?} is not a share between 0 % and 100 % (example: 90%)"
            )),
        };
    }
    duration(s).map(RefreshPolicy::Before)
}

fn nagios_range(s: &str) -> Result<sipreg::threshold::Range, String> {
    sipreg::threshold::Range::parse(s)
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("{e} (examples: 300ms, 30s, 1m 30s)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse_with_humantime() {
        let cli =
            Cli::try_parse_from(["sipreg", "--t1", "50ms", "--retry-interval", "1m 30s", "h"])
                .unwrap();
        assert_eq!(cli.register.t1, Duration::from_millis(50));
        assert_eq!(cli.register.retry_interval, Duration::from_secs(90));
        assert!(Cli::try_parse_from(["sipreg", "--t1", "-5s", "h"]).is_err());
    }
}
