//! `sipreg resolve`: the candidates of RFC 3263, without sending any SIP.

use std::process::ExitCode;

use sipreg::exit;
use sipreg::net::resolve::Resolver;
use sipreg::render;

use super::cli::RegisterArgs;
use super::{print, usage_error};

/// `sipreg resolve`: the ordered candidates, without sending any SIP. Exit 0 when at least one
/// candidate has an address, 3 when none has, 2 on a usage error.
pub fn resolve(rt: &tokio::runtime::Runtime, args: &RegisterArgs) -> ExitCode {
    if args.pcap.is_some() || args.hep.hep.is_some() {
        return usage_error(
            "--pcap and --hep do not apply to resolve: it sends no SIP",
            args.json,
        );
    }
    let config = match super::flags::config(args, None) {
        Ok(c) => c,
        Err(e) => return usage_error(&e.to_string(), args.json),
    };
    let resolver = Resolver::new(config.dns.clone());
    let list = rt.block_on(sipreg::net::resolve::candidates(
        &config.target(),
        &resolver,
    ));
    let server = config.server_display();
    if args.json {
        print(&render::candidates_json(&server, &list));
    } else {
        print(&render::candidates_text(&server, &config.order, &list));
    }
    if list.iter().any(|c| c.addr.is_ok()) {
        ExitCode::from(exit::OK)
    } else {
        ExitCode::from(exit::UNREACHABLE)
    }
}
