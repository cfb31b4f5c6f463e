//! The validated link handed to handlers.

use std::fmt;

use url::Url;

/// A validated portal link: the request extension that
/// [`PortalLink`](crate::PortalLink) inserts when the request carries a link
/// that passes every rule.
///
/// Its string form is the canonical WHATWG serialization of the link (what
/// the `url` crate and browsers print), never the raw input: use it as the
/// iframe `src`. It is a **bearer secret** (it opens a customer's billing
/// data), so [`Debug`] shows only the scheme and host; [`Display`](std::fmt::Display) and
/// [`as_str`](Self::as_str) give the whole link, for the page and nothing
/// else. Escape it for the context you write it into (an HTML attribute, a
/// JSON string).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PortalTarget {
    url: Url,
}

impl PortalTarget {
    /// Only validation builds one.
    pub(crate) fn new(url: Url) -> Self {
        PortalTarget { url }
    }

    /// The canonical link, for the iframe `src`.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The parsed link.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The host, lower-case, e.g. `mon-app.via.proabono.com`.
    pub fn host(&self) -> &str {
        // Validation only accepts links with a domain host.
        self.url.host_str().unwrap_or_default()
    }

    /// The parsed link, by value.
    pub fn into_url(self) -> Url {
        self.url
    }
}

impl AsRef<str> for PortalTarget {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<PortalTarget> for Url {
    fn from(target: PortalTarget) -> Url {
        target.url
    }
}

impl fmt::Display for PortalTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PortalTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The path, query and fragment carry the customer's token.
        f.debug_struct("PortalTarget")
            .field("scheme", &self.url.scheme())
            .field("host", &self.host())
            .field("port", &self.url.port())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret_parts() {
        let t = PortalTarget::new(
            Url::parse("https://mon-app.via.proabono.com/subscribe-offer/SECRET?q=SECRET2#SECRET3")
                .unwrap(),
        );
        let dbg = format!("{t:?} {t:#?}");
        assert!(!dbg.contains("SECRET"), "{dbg}");
        assert!(!dbg.contains("subscribe-offer"), "{dbg}");
        assert!(dbg.contains("mon-app.via.proabono.com"), "{dbg}");
        assert_eq!(
            t.to_string(),
            "https://mon-app.via.proabono.com/subscribe-offer/SECRET?q=SECRET2#SECRET3"
        );
        assert_eq!(t.host(), "mon-app.via.proabono.com");
    }

    #[test]
    fn is_send_sync_static() {
        fn assert<T: Clone + Send + Sync + 'static>() {}
        assert::<PortalTarget>();
    }
}
