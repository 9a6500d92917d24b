//! Property tests: the response reader and the stream framer never panic and never read past their
//! limits, on arbitrary bytes and on mutated real responses.

use proptest::prelude::*;
use sipreg::sip::MAX_MESSAGE;
use sipreg::sip::digest::Challenge;
use sipreg::sip::framing::{FramingError, StreamFramer};
use sipreg::sip::response::Response;

const REAL: &[&str] = &[
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.5:40000;branch=z9hG4bKabc;rport=40001;received=192.0.2.9\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>;tag=2\r\nCall-ID: x\r\nCSeq: 2 REGISTER\r\nContact: <sip:alice@10.0.0.5:40000>;expires=3599\r\nServer: kamailio (5.6.3)\r\nContent-Length: 0\r\n\r\n",
    "SIP/2.0 401 Unauthorized\r\nv: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK1\r\ni: c\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth,auth-int\", algorithm=SHA-256\r\nl: 0\r\n\r\n",
    "SIP/2.0 423 Interval Too Brief\nMin-Expires : 60\nm: <sip:u@h:1>\n ;expires=5\nContent-Length: 4\n\nbody",
];

fn mutate(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut out = base.to_vec();
    for &(pos, op, byte) in edits {
        if out.is_empty() {
            out.push(byte);
            continue;
        }
        let i = pos % out.len();
        match op % 4 {
            0 => out[i] = byte,
            1 => out.insert(i, byte),
            2 => {
                out.remove(i);
            }
            _ => {
                let tail = out[i..].to_vec();
                out.extend_from_slice(&tail[..tail.len().min(64)]);
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn response_parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Response::parse(&bytes);
    }

    #[test]
    fn response_parser_never_panics_on_mutated_responses(
        which in 0..REAL.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..12),
    ) {
        let bytes = mutate(REAL[which].as_bytes(), &edits);
        if let Ok(r) = Response::parse(&bytes) {
            // Every accessor copes with whatever was parsed.
            let _ = (r.vias(), r.cseq(), r.seconds("expires"), r.contact_expires("10.0.0.5:40000"));
            for v in r.headers_named("www-authenticate") {
                let _ = Challenge::parse(v);
            }
        }
    }

    #[test]
    fn framer_never_panics_and_stays_within_the_limit(
        chunks in proptest::collection::vec(
            prop_oneof![
                // Small chunks rich in the bytes framing looks at.
                proptest::collection::vec(
                    prop_oneof![Just(b'\r'), Just(b'\n'), Just(b':'), Just(b'l'), any::<u8>()],
                    0..256,
                ),
                Just(b"Content-Length: 12\r\n".to_vec()),
                Just(b"l: 99999999999999999999\r\n".to_vec()),
                Just(b"SIP/2.0 200 OK\r\n".to_vec()),
                // Large runs of one byte, cheap to generate, to reach the size limits.
                (any::<u8>(), 0..20_000usize).prop_map(|(b, n)| vec![b; n]),
            ],
            0..60,
        ),
    ) {
        let mut f = StreamFramer::new();
        for chunk in chunks {
            f.push(&chunk);
            loop {
                match f.next_message() {
                    Ok(Some(m)) => prop_assert!(m.len() <= MAX_MESSAGE),
                    Ok(None) => {
                        prop_assert!(f.buffered() <= MAX_MESSAGE + 20_000, "held {} bytes", f.buffered());
                        break;
                    }
                    Err(FramingError::TooLarge | FramingError::TooManyHeaders | FramingError::BadContentLength(_)) => return Ok(()),
                }
            }
        }
    }

    #[test]
    fn framer_splits_real_responses_however_they_arrive(
        which in 0..REAL.len(),
        cuts in proptest::collection::vec(1usize..64, 1..40),
    ) {
        let stream: Vec<u8> = [b"\r\n\r\n".as_slice(), REAL[which].as_bytes(), REAL[0].as_bytes()].concat();
        let mut f = StreamFramer::new();
        let mut got = Vec::new();
        let mut pos = 0;
        for cut in cuts.iter().cycle() {
            if pos >= stream.len() { break; }
            let end = (pos + cut).min(stream.len());
            f.push(&stream[pos..end]);
            pos = end;
            while let Ok(Some(m)) = f.next_message() {
                got.push(m);
            }
        }
        prop_assert_eq!(got.len(), 2);
        prop_assert_eq!(&got[1][..], REAL[0].as_bytes());
    }

    #[test]
    fn challenge_parser_never_panics(s in "\\PC{0,300}") {
        let _ = Challenge::parse(&s);
        let _ = Challenge::parse(&format!("Digest {s}"));
    }
}
