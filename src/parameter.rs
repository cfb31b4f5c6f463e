//! Checking the parameter names given to the builder.

use std::fmt;

/// A parameter name that [`PortalLinkLayer`](crate::PortalLinkLayer)'s
/// [`try_link_parameter`](crate::PortalLinkLayer::try_link_parameter) or
/// [`try_in_site_parameter`](crate::PortalLinkLayer::try_in_site_parameter)
/// refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidParameter {
    name: String,
    kind: InvalidParameterKind,
}

/// What is wrong with an [`InvalidParameter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidParameterKind {
    /// Empty, or not printable ASCII without spaces. (Such a name keeps
    /// the layer's byte comparison exactly what a form parser concludes.)
    Malformed,
    /// The link's parameter and the In-Site query's would have the same
    /// name: every link would then be read as both.
    SameAsOther,
}

impl InvalidParameter {
    /// The name as it was given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What is wrong with it.
    pub fn kind(&self) -> InvalidParameterKind {
        self.kind
    }
}

impl fmt::Display for InvalidParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            InvalidParameterKind::Malformed => {
                "it must be non-empty printable ASCII without spaces"
            }
            InvalidParameterKind::SameAsOther => {
                "the link and the In-Site query need two different parameter names"
            }
        };
        write!(f, "invalid parameter name {:?}: {why}", self.name)
    }
}

impl std::error::Error for InvalidParameter {}

/// Checks a parameter name given to a builder method, against the name of
/// the other parameter.
pub(crate) fn check_name(name: &str, other: &str) -> Result<String, InvalidParameter> {
    let fail = |kind| {
        Err(InvalidParameter {
            name: name.to_owned(),
            kind,
        })
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return fail(InvalidParameterKind::Malformed);
    }
    if name == other {
        return fail(InvalidParameterKind::SameAsOther);
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name("pa_link", "crylk").unwrap(), "pa_link");
        for bad in ["", "a b", "crylk\n", "é", "\t"] {
            let error = check_name(bad, "crylk").unwrap_err();
            assert_eq!(error.kind(), InvalidParameterKind::Malformed, "{bad:?}");
            assert_eq!(error.name(), bad);
        }
        let error = check_name("crylk", "crylk").unwrap_err();
        assert_eq!(error.kind(), InvalidParameterKind::SameAsOther);
        assert!(error.to_string().contains("\"crylk\""), "{error}");
    }
}
