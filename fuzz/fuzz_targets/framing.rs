//! Fuzz target: stream framing, with the input cut into chunks at positions the input itself chooses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipreg::sip::MAX_MESSAGE;
use sipreg::sip::framing::StreamFramer;

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else { return };
    let step = usize::from(step).max(1);
    let mut f = StreamFramer::new();
    for chunk in rest.chunks(step) {
        f.push(chunk);
        loop {
            match f.next_message() {
                Ok(Some(m)) => assert!(m.len() <= MAX_MESSAGE),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
