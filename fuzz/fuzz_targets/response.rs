//! Fuzz target: the tolerant response reader and the digest challenge parser on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipreg::sip::digest::Challenge;
use sipreg::sip::response::Response;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Response::parse(data) {
        let _ = (r.vias(), r.cseq(), r.seconds("expires"), r.contact_expires("127.0.0.1:5060"));
        for v in r.headers_named("www-authenticate") {
            let _ = Challenge::parse(v);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Challenge::parse(s);
    }
});
