//! The customer's links, each read by the layer's rules.

use std::fmt;

use http::HeaderMap;
use serde::Deserialize;

use crate::policy::Policy;
use crate::validate::Accepted;
use crate::{PortalQuery, PortalTarget, Refusal};

/// The rels ProAbono documents for the Customer object's `Links`.
pub mod rel {
    /// The portal's home: the iframe's default `src`.
    pub const HOSTED_HOME: &str = "hosted-home";
    /// The offers grid (hosted pages).
    pub const HOSTED_COLLECTION_OFFERS: &str = "hosted-collection-offers";
    /// The customer's subscriptions (hosted pages).
    pub const HOSTED_COLLECTION_SUBSCRIPTION: &str = "hosted-collection-subscription";
    /// The portal's home on an In-Site account (an `href`).
    pub const INSITE_HOME: &str = "insite-home";
    /// The offers grid on an In-Site account (a `query` for portal.js).
    pub const INSITE_COLLECTION_OFFERS: &str = "insite-collection-offers";
    /// Registration on an In-Site account (a `query` for portal.js).
    pub const INSITE_REGISTER: &str = "insite-register";
}

/// The longest `href` read: a ProAbono link within the layer's maximum,
/// or the business's page carrying one in `crylk`, encoded, fits with room
/// to spare. Longer ones are refused before they are parsed.
pub const MAX_HREF: usize = 4096;

/// The longest rel kept; an entry with a longer or unusual rel is skipped.
const MAX_REL: usize = 64;

/// A customer's links from ProAbono's Customer object, by rel.
///
/// Every `href` was read with the rules and origins of the
/// [`PortalLinkLayer`](crate::PortalLinkLayer) the client was built with,
/// as a `crylk` link is: it comes back as a [`PortalTarget`], never as the
/// raw string. An `href` that is the business's own page carrying `crylk`
/// (or `pa_query`), as ProAbono writes links once "URL of the integrated
/// portal" is set, is read as the e-mailed link would be: what comes back
/// is the ProAbono link inside, never the business's page. Every `query`
/// comes back as a [`PortalQuery`]. A link that fails is not returned:
/// [`LinkError::Refused`] says why.
///
/// `Debug` shows the rels, the links' origins and the refusals, never a
/// link or a query.
#[derive(Clone)]
pub struct CustomerLinks {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    rel: Box<str>,
    /// The `href`, read: a target, or the query a business page carried.
    href: Option<Result<Accepted, Refusal>>,
    query: Option<Result<PortalQuery, Refusal>>,
}

/// Why [`CustomerLinks`] has no link of a kind for a rel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkError {
    /// The customer has no link of this kind for this rel (which rels
    /// appear depends on the account, the segment and the customer).
    Missing,
    /// ProAbono returned one, and it was refused by the layer's rules, or
    /// the rel appears more than once ([`Refusal::Ambiguous`]).
    Refused(Refusal),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Missing => f.write_str("the customer has no such link"),
            LinkError::Refused(refusal) => write!(f, "the customer's link was refused: {refusal}"),
        }
    }
}

impl std::error::Error for LinkError {}

impl CustomerLinks {
    /// The link to frame for `rel`: its `href`, validated.
    ///
    /// # Errors
    ///
    /// [`LinkError::Missing`] when the rel is absent or carries no link to
    /// frame (only a `query`); [`LinkError::Refused`] when the link failed.
    pub fn target(&self, rel: &str) -> Result<&PortalTarget, LinkError> {
        match self.entry(rel)?.href.as_ref() {
            Some(Ok(Accepted::Target(target))) => Ok(target),
            Some(Err(refusal)) => Err(LinkError::Refused(*refusal)),
            Some(Ok(Accepted::Query(_))) | None => Err(LinkError::Missing),
        }
    }

    /// The In-Site query for `rel`: its `query`, or the `pa_query` its
    /// `href` carried, validated.
    ///
    /// # Errors
    ///
    /// As [`target`](Self::target).
    pub fn query(&self, rel: &str) -> Result<&PortalQuery, LinkError> {
        let entry = self.entry(rel)?;
        match (entry.query.as_ref(), entry.href.as_ref()) {
            (Some(Ok(query)), _) | (None, Some(Ok(Accepted::Query(query)))) => Ok(query),
            (Some(Err(refusal)), _) => Err(LinkError::Refused(*refusal)),
            _ => Err(LinkError::Missing),
        }
    }

    /// [`target`](Self::target) for `hosted-home`: the portal's home, the
    /// page's fallback when the request carries no valid link.
    ///
    /// # Errors
    ///
    /// As [`target`](Self::target).
    pub fn hosted_home(&self) -> Result<&PortalTarget, LinkError> {
        self.target(rel::HOSTED_HOME)
    }

    /// The rels the customer's `Links` held, in order, each once.
    pub fn rels(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|e| &*e.rel)
    }

    fn entry(&self, rel: &str) -> Result<&Entry, LinkError> {
        self.entries
            .iter()
            .find(|e| *e.rel == *rel)
            .ok_or(LinkError::Missing)
    }

    /// Reads the `Links` of a Customer object with `policy`.
    pub(crate) fn read(policy: &Policy, links: Vec<RawLink>) -> CustomerLinks {
        let mut entries: Vec<Entry> = Vec::new();
        for RawLink { rel, href, query } in links {
            let Some(rel) = rel.filter(|r| plausible_rel(r)) else {
                continue;
            };
            if let Some(seen) = entries.iter_mut().find(|e| *e.rel == *rel) {
                // Two entries for one rel: the page must not pick one.
                seen.href = Some(Err(Refusal::Ambiguous));
                seen.query = Some(Err(Refusal::Ambiguous));
                continue;
            }
            entries.push(Entry {
                rel: rel.into_boxed_str(),
                href: href.map(|href| read_href(policy, &href)),
                query: query.map(|query| PortalQuery::parse(&query)),
            });
        }
        CustomerLinks { entries }
    }
}

impl fmt::Debug for CustomerLinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for entry in &self.entries {
            // `PortalTarget`'s `Debug` is its origin, `PortalQuery`'s
            // nothing of the token, `Refusal`'s a reason.
            map.entry(&entry.rel, &(&entry.href, &entry.query));
        }
        map.finish()
    }
}

/// One entry of a Customer object's `Links`, as the JSON parser hands it.
#[derive(Deserialize)]
pub(crate) struct RawLink {
    #[serde(alias = "Rel")]
    rel: Option<String>,
    #[serde(alias = "Href")]
    href: Option<String>,
    #[serde(alias = "Query")]
    query: Option<String>,
}

/// ProAbono's rels are short lower-case words and dashes; anything else is
/// no rel a page asks for.
fn plausible_rel(rel: &str) -> bool {
    !rel.is_empty()
        && rel.len() <= MAX_REL
        && rel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// An `href` of the API, read by `policy`: the business's page carrying a
/// link or an In-Site query is read as the e-mailed link would be; any
/// other `href` must itself be a link the policy accepts.
pub(crate) fn read_href(policy: &Policy, href: &str) -> Result<Accepted, Refusal> {
    if href.len() > MAX_HREF {
        return Err(Refusal::TooLong { max: MAX_HREF });
    }
    let query = href
        .split_once('?')
        .map(|(_, rest)| rest.split_once('#').map_or(rest, |(query, _)| query));
    if let Some(query) = query.filter(|q| policy.first_named(q).is_some()) {
        // The business's page: only its query counts, and only what the
        // layer accepts in it is returned, never the page itself.
        let scheme = href.get(..8).unwrap_or(href).to_ascii_lowercase();
        if !(scheme.starts_with("https://") || scheme.starts_with("http://")) {
            return Err(Refusal::SchemeNotAllowed);
        }
        let verdict = policy.verdict(Some(query), 0, &HeaderMap::new(), None);
        if let Some(accepted) = verdict.result? {
            return Ok(accepted);
        }
    }
    policy.validate_decoded(href).map(Accepted::Target)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str =
        "https://demo-eur.proabono.com/portal-auth/0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

    fn raw(rel: &str, href: Option<&str>, query: Option<&str>) -> RawLink {
        RawLink {
            rel: Some(rel.to_owned()),
            href: href.map(str::to_owned),
            query: query.map(str::to_owned),
        }
    }

    #[test]
    fn hrefs_are_read_as_crylk_links() {
        let p = &Policy::PROABONO;
        let target = |href: &str| match read_href(p, href) {
            Ok(Accepted::Target(t)) => Ok(t.as_str().to_owned()),
            Ok(Accepted::Query(_)) => Ok("query".to_owned()),
            Err(r) => Err(r),
        };
        assert_eq!(target(HOME).unwrap(), HOME);
        // The business's page carrying the link: the link inside.
        let page = "https://mon-app.com/Subscriptions?crylk=https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9";
        assert_eq!(
            target(page).unwrap(),
            "https://mon-app.via.proabono.com/subscribe-offer/0p9i35O1V9"
        );
        assert_eq!(
            target("https://mon-app.com/Subscriptions?pa_query=OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y").unwrap(),
            "query"
        );
        // Never the business's own page, nor a look-alike inside it.
        assert_eq!(
            target("https://mon-app.com/Subscriptions"),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(
            target("https://mon-app.com/S?crylk=https%3a%2f%2fevilproabono.com%2f"),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(
            target("https://mon-app.com/S?crylk=a&crylk=b"),
            Err(Refusal::Ambiguous)
        );
        assert_eq!(
            target("javascript:alert(1)//?crylk=https%3a%2f%2fdemo-eur.proabono.com%2f"),
            Err(Refusal::SchemeNotAllowed)
        );
        assert_eq!(
            target("https://evilproabono.com/"),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(target(""), Err(Refusal::Empty));
        assert_eq!(
            target(&format!("https://a.proabono.com/{}", "a".repeat(MAX_HREF))),
            Err(Refusal::TooLong { max: MAX_HREF })
        );
    }

    #[test]
    fn links_by_rel() {
        let links = CustomerLinks::read(
            &Policy::PROABONO,
            vec![
                raw("hosted-home", Some(HOME), None),
                raw(
                    "insite-register",
                    None,
                    Some("OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y"),
                ),
                raw("insite-collection-offers", None, Some("\"</script>")),
                raw(
                    "hosted-collection-offers",
                    Some("https://evil.example/"),
                    None,
                ),
                raw("dup", Some(HOME), None),
                raw("dup", Some(HOME), None),
                raw("bad rel <", Some(HOME), None),
            ],
        );
        assert_eq!(links.hosted_home().unwrap().as_str(), HOME);
        assert_eq!(links.query("hosted-home"), Err(LinkError::Missing));
        assert!(links.query("insite-register").is_ok());
        assert_eq!(links.target("insite-register"), Err(LinkError::Missing));
        assert_eq!(
            links.query("insite-collection-offers"),
            Err(LinkError::Refused(Refusal::ForbiddenCharacter))
        );
        assert_eq!(
            links.target("hosted-collection-offers"),
            Err(LinkError::Refused(Refusal::HostNotAllowed))
        );
        assert_eq!(
            links.target("dup"),
            Err(LinkError::Refused(Refusal::Ambiguous))
        );
        assert_eq!(links.target("nope"), Err(LinkError::Missing));
        assert_eq!(links.rels().count(), 5);
        let debug = format!("{links:?}");
        assert!(
            !debug.contains("0p9i35O1V9") && !debug.contains("OBmj2"),
            "{debug}"
        );
        assert!(!debug.contains("evil.example/"), "{debug}");
    }
}
