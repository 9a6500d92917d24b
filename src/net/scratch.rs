//! One receive buffer per thread, lent for a single non-blocking read, so that flows hold none.
//!
//! A storm holds ten thousand flows at once; a buffer of the largest message (64 KiB) in each, or an
//! 8 KiB array in each waiting future, is memory that is paged in and thrown away for nothing. A read
//! borrows this buffer inside one poll (never across an `.await`) and copies out what arrived.

use std::cell::RefCell;

use crate::sip::MAX_MESSAGE;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `read` on this thread's buffer of `MAX_MESSAGE + 1` bytes (one more than the largest
/// message, so an oversized datagram shows as such). `read` must not call `with_scratch` again.
pub fn with_scratch<T>(read: impl FnOnce(&mut [u8]) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < MAX_MESSAGE + 1 {
                buf.resize(MAX_MESSAGE + 1, 0);
            }
            read(&mut buf)
        }
        // Re-entered (not done by this crate): a buffer of its own rather than a panic.
        Err(_) => read(&mut vec![0; MAX_MESSAGE + 1]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lends_a_buffer_one_longer_than_the_largest_message() {
        assert_eq!(with_scratch(|b| b.len()), MAX_MESSAGE + 1);
    }

    #[test]
    fn a_nested_borrow_gets_a_buffer_of_its_own() {
        let lens = with_scratch(|outer| {
            outer[0] = 7;
            let inner = with_scratch(|inner| (inner.len(), inner[0]));
            (outer[0], inner)
        });
        assert_eq!(lens, (7, (MAX_MESSAGE + 1, 0)));
    }
}
