//! Customer references, checked before any request.

use std::fmt;

/// A customer reference ProAbono accepts (`ReferenceCustomer`): checked
/// before any request, so a reference that breaks ProAbono's rules never
/// reaches the API, nor a cache key.
///
/// ProAbono's rules: at most 50 characters and none of `< > ; " = ? &`.
/// This type also refuses an empty reference, control characters, line
/// separators, zero-width and bidirectional controls (a reference is
/// written into logs and back-office screens), and leading or trailing
/// whitespace (a reference read from a form or a file with a
/// stray space or newline would name another customer).
///
/// ```
/// use tower_portal_link::api::{CustomerRef, InvalidReference};
///
/// assert!(CustomerRef::new("cust-42").is_ok());
/// assert_eq!(CustomerRef::new("a&b").unwrap_err(), InvalidReference::ForbiddenCharacter);
/// assert_eq!(CustomerRef::new(&"x".repeat(51)).unwrap_err(), InvalidReference::TooLong);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CustomerRef(Box<str>);

impl CustomerRef {
    /// The longest reference ProAbono accepts, in characters.
    pub const MAX_CHARS: usize = 50;

    /// Checks `reference` against ProAbono's rules.
    ///
    /// # Errors
    ///
    /// [`InvalidReference`] says which rule it breaks.
    pub fn new(reference: &str) -> Result<CustomerRef, InvalidReference> {
        if reference.is_empty() {
            return Err(InvalidReference::Empty);
        }
        // Bytes bound characters: a long value is refused before it is read.
        if reference.len() > 4 * Self::MAX_CHARS || reference.chars().count() > Self::MAX_CHARS {
            return Err(InvalidReference::TooLong);
        }
        if reference.chars().any(|c| {
            c.is_control() || invisible(c) || matches!(c, '<' | '>' | ';' | '"' | '=' | '?' | '&')
        }) {
            return Err(InvalidReference::ForbiddenCharacter);
        }
        if reference.trim() != reference {
            return Err(InvalidReference::Whitespace);
        }
        Ok(CustomerRef(reference.into()))
    }

    /// The reference.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that change how the text around them reads without showing:
/// line and paragraph separators, zero-width and bidirectional controls.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
    )
}

impl AsRef<str> for CustomerRef {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CustomerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A reference is no secret, but it names a customer: it stays out
        // of logs unless the application writes it itself.
        f.write_str("CustomerRef(<redacted>)")
    }
}

impl std::str::FromStr for CustomerRef {
    type Err = InvalidReference;

    fn from_str(reference: &str) -> Result<CustomerRef, InvalidReference> {
        CustomerRef::new(reference)
    }
}

/// Why a customer reference was refused. It never carries the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidReference {
    /// The reference is empty.
    Empty,
    /// The reference has more than [`CustomerRef::MAX_CHARS`] characters.
    TooLong,
    /// The reference holds one of `< > ; " = ? &`, a control character, a
    /// line separator, or a zero-width or bidirectional control.
    ForbiddenCharacter,
    /// The reference starts or ends with whitespace.
    Whitespace,
}

impl fmt::Display for InvalidReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidReference::Empty => "the customer reference is empty",
            InvalidReference::TooLong => "the customer reference is longer than 50 characters",
            InvalidReference::ForbiddenCharacter => {
                "the customer reference holds one of < > ; \" = ? & or a control character"
            }
            InvalidReference::Whitespace => "the customer reference starts or ends with whitespace",
        })
    }
}

impl std::error::Error for InvalidReference {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proabono_rules() {
        assert!(CustomerRef::new("cust-42").is_ok());
        assert!(CustomerRef::new("john doe #7 / 100% é").is_ok());
        assert!(CustomerRef::new(&"é".repeat(50)).is_ok());
        assert_eq!(CustomerRef::new(""), Err(InvalidReference::Empty));
        assert_eq!(
            CustomerRef::new(&"x".repeat(51)),
            Err(InvalidReference::TooLong)
        );
        assert_eq!(
            CustomerRef::new(&"é".repeat(51)),
            Err(InvalidReference::TooLong)
        );
        assert_eq!(
            CustomerRef::new(&"x".repeat(1 << 20)),
            Err(InvalidReference::TooLong)
        );
        for c in [
            '<', '>', ';', '"', '=', '?', '&', '\n', '\r', '\0', '\t', '\u{7f}', '\u{85}',
        ] {
            assert_eq!(
                CustomerRef::new(&format!("a{c}b")),
                Err(InvalidReference::ForbiddenCharacter),
                "{c:?}"
            );
        }
        assert_eq!(CustomerRef::new(" a"), Err(InvalidReference::Whitespace));
        assert_eq!(
            CustomerRef::new("a\u{a0}"),
            Err(InvalidReference::Whitespace)
        );
    }

    #[test]
    fn debug_and_errors_never_carry_it() {
        let r = CustomerRef::new("cust-42").unwrap();
        assert!(!format!("{r:?}").contains("cust-42"));
    }
}
