//! What went wrong with a call the coordinator never answered, named by its real cause.
//! A failed connection reaches the CLI as a gRPC status whose chain of sources holds the
//! transport's error: an `io::Error` (refused, reset, closed), a TLS alert, an HTTP/2
//! protocol error. Blaming every one of them on TLS ("did not answer in plain HTTP/2; if
//! it serves TLS, use https://") sent operators after certificates when their coordinator
//! was simply down (killed under a `kubectl port-forward`, which accepts and then closes)
//! or when their token was too large for the server's headers. Here each cause is told
//! apart, by the `io::ErrorKind` where there is one and by the transport's words where
//! there is none.

use std::io::ErrorKind;

/// Why a call got no answer from a coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Nothing listens there (connection refused).
    Refused,
    /// The connection was closed or reset without an answer: the coordinator stopped (or
    /// restarts), or something between accepted and dropped it.
    Closed,
    /// Connecting took too long: a firewall, a wrong host, a network partition.
    TimedOut,
    /// The host name does not resolve.
    UnknownHost,
    /// An `http://` client met a TLS server (TLS records read as HTTP/2 frames).
    ServesTls,
    /// An `https://` client met a plain server (its bytes read as a TLS record).
    ServesPlain,
    /// The coordinator's certificate is not trusted, or not for this name.
    Certificate,
    /// The server refused the call's headers as too large (an oversized token).
    HeadersTooLarge,
}

/// The cause of a failed call whose `detail` (its message and sources on one line) and
/// sources are given, if it is a connection's failure at all.
pub fn cause(detail: &str, status: &tonic::Status) -> Option<Cause> {
    let io = io_kinds(status);
    let has = |kinds: &[ErrorKind]| io.iter().any(|k| kinds.contains(k));
    let says = |words: &[&str]| words.iter().any(|w| detail.contains(w));
    Some(if has(&[ErrorKind::ConnectionRefused]) {
        Cause::Refused
    } else if says(&["invalid peer certificate"]) {
        Cause::Certificate
    } else if says(&["InvalidContentType", "corrupt message"]) {
        Cause::ServesPlain
    } else if says(&["header_list_way_too_large", "HTTP status code 431"]) {
        Cause::HeadersTooLarge
    } else if says(&["frame with invalid size", "invalid HTTP version"]) {
        Cause::ServesTls
    } else if has(&[ErrorKind::TimedOut]) || says(&["timed out", "deadline has elapsed"]) {
        Cause::TimedOut
    } else if says(&["dns error", "failed to lookup address"]) {
        Cause::UnknownHost
    } else if has(&[
        ErrorKind::ConnectionReset,
        ErrorKind::ConnectionAborted,
        ErrorKind::BrokenPipe,
        ErrorKind::UnexpectedEof,
        ErrorKind::NotConnected,
    ]) || says(&[
        "connection closed",
        "broken pipe",
        "connection reset",
        "handshake eof",
        "operation was canceled",
        "error reading a body from connection",
    ]) {
        Cause::Closed
    } else {
        return None;
    })
}

/// The kinds of every `io::Error` in `status`'s chain of sources.
fn io_kinds(status: &tonic::Status) -> Vec<ErrorKind> {
    let mut kinds = Vec::new();
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            kinds.push(io.kind());
        }
        source = e.source();
    }
    kinds
}

impl Cause {
    /// The one-line message for a call to `url` that failed with `detail`.
    pub fn message(self, url: &str, detail: &str) -> String {
        match self {
            Cause::Refused => format!(
                "cannot reach the coordinator at {url}: nothing listens there (connection \
                 refused); is `gptsweep coordinator` running there?"
            ),
            Cause::Closed => format!(
                "the coordinator at {url} closed the connection without answering ({detail}); \
                 it has stopped or is restarting: try again, or check that it runs"
            ),
            Cause::TimedOut => format!(
                "cannot reach the coordinator at {url}: connecting timed out ({detail}); check \
                 the host, the port and any firewall between"
            ),
            Cause::UnknownHost => format!(
                "cannot reach the coordinator at {url}: the host name does not resolve ({detail})"
            ),
            Cause::ServesTls => format!(
                "the coordinator at {url} did not answer in plain HTTP/2 ({detail}); it serves \
                 TLS: use https:// (and --tls-ca for a private CA)"
            ),
            Cause::ServesPlain => {
                format!("the coordinator at {url} does not serve TLS ({detail}); use http://")
            }
            Cause::Certificate => format!(
                "the coordinator at {url} presented a certificate this client does not accept \
                 ({}); give --tls-ca with the CA that signed it (the certificate itself if \
                 self-signed) and use a host name the certificate lists",
                short_certificate_error(detail)
            ),
            Cause::HeadersTooLarge => format!(
                "the coordinator at {url} refused the call's headers as too large: is the token \
                 (GPTSWEEP_TOKEN, --token-file) one of its tokens?"
            ),
        }
    }

    /// The gRPC code the failure counts as: a coordinator that is down or went away is
    /// UNAVAILABLE (`unreachable`, exit 1, and `status --watch` waits for it); headers too
    /// large are the caller's input (exit 2); the rest keep the transport's code.
    pub fn code(self, transport: tonic::Code) -> tonic::Code {
        match self {
            Cause::Refused | Cause::Closed | Cause::TimedOut | Cause::UnknownHost => {
                tonic::Code::Unavailable
            }
            Cause::HeadersTooLarge => tonic::Code::InvalidArgument,
            Cause::ServesTls | Cause::ServesPlain | Cause::Certificate => transport,
        }
    }
}

/// The reason a certificate was refused, without the structure rustls prints after it
/// (`UnsupportedSignatureAlgorithmForPublicKeyContext { signature_algorithm_id: [6, 8,
/// ...] }` becomes its name).
fn short_certificate_error(detail: &str) -> String {
    let reason = detail
        .split_once("invalid peer certificate: ")
        .map_or(detail, |(_, rest)| rest);
    let end = reason.find([' ', ':', '{']).unwrap_or(reason.len());
    format!("invalid peer certificate: {}", &reason[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_with(source: std::io::Error) -> tonic::Status {
        tonic::Status::from_error(Box::new(source))
    }

    #[test]
    fn each_cause_is_told_apart() {
        let refused = status_with(ErrorKind::ConnectionRefused.into());
        assert_eq!(cause("tcp connect error", &refused), Some(Cause::Refused));
        let plain = tonic::Status::unknown("");
        let cases = [
            (
                "operation was canceled: transport error: connection closed",
                Cause::Closed,
            ),
            (
                "transport error: connection error: stream closed because of a broken pipe",
                Cause::Closed,
            ),
            ("tls handshake eof: transport error", Cause::Closed),
            (
                "h2 protocol error: http2 error: transport error: connection error detected: frame with invalid size",
                Cause::ServesTls,
            ),
            (
                "received corrupt message of type InvalidContentType: transport error",
                Cause::ServesPlain,
            ),
            (
                "h2 protocol error: connection error received: detected excessive load generating behavior (b\"header_list_way_too_large\")",
                Cause::HeadersTooLarge,
            ),
            (
                "grpc-status header missing, mapped from HTTP status code 431",
                Cause::HeadersTooLarge,
            ),
            (
                "invalid peer certificate: UnknownIssuer: transport error",
                Cause::Certificate,
            ),
        ];
        for (detail, want) in cases {
            assert_eq!(cause(detail, &plain), Some(want), "{detail}");
        }
        assert_eq!(cause("sweep nope not found", &plain), None);
    }

    #[test]
    fn a_certificate_error_is_named_not_dumped() {
        let detail = "invalid peer certificate: UnsupportedSignatureAlgorithmForPublicKeyContext { signature_algorithm_id: [6, 8] }: transport error";
        let message = Cause::Certificate.message("https://h:1", detail);
        assert!(
            message.contains(
                "(invalid peer certificate: UnsupportedSignatureAlgorithmForPublicKeyContext)"
            ),
            "{message}"
        );
        assert!(
            !message.contains('{') && !message.contains("[6"),
            "{message}"
        );
    }
}
