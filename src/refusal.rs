//! Why a link that is present was refused.

use std::fmt;

/// Why a portal link that is present in the request was refused.
///
/// Inserted as a request extension by [`PortalLink`](crate::PortalLink) (in the
/// default [`Forward`](crate::Forward) mode) so that
/// handlers and logs can tell "no link" (neither [`PortalTarget`] nor
/// `Refusal` is present) from "a link that was refused" (only `Refusal` is
/// present). A refused link never yields a [`PortalTarget`].
///
/// The variants follow the validation rules of the crate documentation, in
/// the order they are checked. A `Refusal` never carries any part of the link
/// itself: links are bearer secrets, and a `Refusal` is meant to be logged.
///
/// [`PortalTarget`]: crate::PortalTarget
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// Rule 1: the parameter appears more than once, or the request carries
    /// both a link and an In-Site query, so two readers could disagree on
    /// which one counts.
    Ambiguous,
    /// Rule 2: the parameter is present but its value is empty (also for a
    /// [`PortalQuery`](crate::PortalQuery)).
    Empty,
    /// Rule 2: the decoded value, or the canonical link it serializes to,
    /// is longer than the configured maximum (also for a
    /// [`PortalQuery`](crate::PortalQuery)).
    TooLong {
        /// The configured maximum, in bytes.
        max: usize,
    },
    /// Rule 2: the decoded value is not valid UTF-8 (also for a
    /// [`PortalQuery`](crate::PortalQuery)).
    InvalidUtf8,
    /// Rule 2: the decoded link is not a valid URL string: a character that
    /// is not a URL code point (a control character, whitespace, including
    /// a `+` in the raw query, which decodes to a space, a backslash,
    /// `` "<>[]^`{|} ``), a `%` that starts no escape, or a second `#`; for a
    /// [`PortalQuery`](crate::PortalQuery), a character other than an ASCII
    /// letter, digit, `-` or `_`.
    ForbiddenCharacter,
    /// Rule 2: the link's path has more segments than the maximum (8):
    /// more `/`s before its query and fragment than `scheme://` and eight
    /// segments take.
    TooManySegments {
        /// The maximum number of path segments.
        max: usize,
    },
    /// Rule 3: the link does not start with `https://` or `http://`, or no
    /// allowed origin has its scheme.
    SchemeNotAllowed,
    /// Rule 4: the authority is not plain `host[:port]` made of ASCII
    /// letters, digits, `-` and `.`, or the host has an empty label, a
    /// trailing dot, a label over 63 bytes or more than 253 bytes in all.
    MalformedAuthority,
    /// Rule 5: no allowed origin of the link's scheme has its host, exactly
    /// or, for a `*.` origin, as a subdomain without punycode labels.
    HostNotAllowed,
    /// Rule 6: the origins that have the link's scheme and host have
    /// another port.
    PortNotAllowed,
    /// Rule 7: the WHATWG URL parser does not read the link the way the
    /// checks above did (another scheme or host, credentials, or no parse).
    /// A backstop: under the origins the configuration accepts, rules 2 to
    /// 6 refuse first whatever it would catch.
    ParserMismatch,
}

impl Refusal {
    /// A short, stable, machine-readable code for metrics and structured
    /// logs, such as `"host_not_allowed"`.
    pub const fn code(&self) -> &'static str {
        match self {
            Refusal::Ambiguous => "ambiguous",
            Refusal::Empty => "empty",
            Refusal::TooLong { .. } => "too_long",
            Refusal::InvalidUtf8 => "invalid_utf8",
            Refusal::ForbiddenCharacter => "forbidden_character",
            Refusal::TooManySegments { .. } => "too_many_segments",
            Refusal::SchemeNotAllowed => "scheme_not_allowed",
            Refusal::MalformedAuthority => "malformed_authority",
            Refusal::HostNotAllowed => "host_not_allowed",
            Refusal::PortNotAllowed => "port_not_allowed",
            Refusal::ParserMismatch => "parser_mismatch",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Ambiguous => {
                f.write_str("the portal link or query appears more than once, or both are present")
            }
            Refusal::Empty => f.write_str("the portal link or query is empty"),
            Refusal::TooLong { max } => {
                write!(f, "the portal link or query is longer than {max} bytes")
            }
            Refusal::InvalidUtf8 => f.write_str("the portal link or query is not valid UTF-8"),
            Refusal::ForbiddenCharacter => {
                f.write_str("the portal link or query contains a character it may not contain")
            }
            Refusal::TooManySegments { max } => {
                write!(f, "the portal link's path has more than {max} segments")
            }
            Refusal::SchemeNotAllowed => {
                f.write_str("the portal link's scheme is not one an allowed origin has")
            }
            Refusal::MalformedAuthority => f.write_str(
                "the portal link's host and port are not a plain ASCII host name and port",
            ),
            Refusal::HostNotAllowed => f.write_str("the portal link's host is not allowed"),
            Refusal::PortNotAllowed => f.write_str("the portal link's port is not allowed"),
            Refusal::ParserMismatch => {
                f.write_str("the portal link does not parse as the URL it appears to be")
            }
        }
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_code_never_empty() {
        for r in [
            Refusal::Ambiguous,
            Refusal::Empty,
            Refusal::TooLong { max: 7 },
            Refusal::InvalidUtf8,
            Refusal::ForbiddenCharacter,
            Refusal::TooManySegments { max: 8 },
            Refusal::SchemeNotAllowed,
            Refusal::MalformedAuthority,
            Refusal::HostNotAllowed,
            Refusal::PortNotAllowed,
            Refusal::ParserMismatch,
        ] {
            assert!(!r.to_string().is_empty());
            assert!(r
                .code()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        }
        assert_eq!(
            Refusal::TooLong { max: 7 }.to_string(),
            "the portal link or query is longer than 7 bytes"
        );
    }
}
