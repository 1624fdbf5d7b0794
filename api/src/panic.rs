//! A panic's message as text: the worker reports a run whose training thread or slot
//! process panicked with it, and the coordinator's writer logs and answers a write that
//! panicked with it.

/// The text of a panic's payload (`panic!` with a literal gives a `&str`, with a format a
/// `String`; anything else has no text).
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_payloads_of_panic_read_as_their_text() {
        let literal = std::panic::catch_unwind(|| panic!("a literal")).unwrap_err();
        let formatted = std::panic::catch_unwind(|| panic!("step {}", 7)).unwrap_err();
        let other = std::panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(panic_text(literal.as_ref()), "a literal");
        assert_eq!(panic_text(formatted.as_ref()), "step 7");
        assert_eq!(panic_text(other.as_ref()), "a panic without a message");
    }
}
