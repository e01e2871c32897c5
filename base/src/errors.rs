//! Errors on one line for messages that wrap another error: the error and its causes, each
//! cause once (clients often repeat a cause's text in their own message).

/// `e` and its `source()` chain, joined with `: `; a cause whose text is already there is left out.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        next = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    /// A message with an optional cause.
    #[derive(Debug)]
    struct Wrap(&'static str, Option<std::io::Error>);

    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_ref().map(|e| e as _)
        }
    }

    #[test]
    fn causes_follow_once() {
        let inner = std::io::Error::other("operation timed out");
        let middle = std::io::Error::other(Wrap("error sending request", Some(inner)));
        assert_eq!(
            super::chain(&Wrap("sending", Some(middle))),
            "sending: error sending request: operation timed out"
        );
        let repeated = std::io::Error::other("timed out");
        assert_eq!(
            super::chain(&Wrap("request timed out", Some(repeated))),
            "request timed out"
        );
    }
}
