//! The oracle of the properties (`tests/properties.rs`) and of the fuzz
//! target (`fuzz/fuzz_targets/target_from_query.rs`), which includes this
//! file by path: what every accepted link must be, checked with the `url`
//! crate rather than with the code under test.
//!
//! Needs only `tower_portal_link` and `url`. Checks return the first broken
//! rule as text: proptest shrinks on it, libFuzzer crashes on it.
#![allow(dead_code)]

use tower_portal_link::{target_from_query, validate_link, PortalTarget, Refusal};

/// The one domain that `PortalLinkLayer::new()` allows, with its subdomains.
pub const ALLOWED_DOMAIN: &str = "proabono.com";

/// `PortalLinkLayer::new()`'s maximum length of a link, in bytes.
pub const MAX_LINK: usize = 512;

/// The most heap one verdict may hold at once, whatever the input's length:
/// only a link of at most [`MAX_LINK`] bytes is ever decoded and parsed,
/// its host lower-cased and free of punycode, so the URL parser's IDNA
/// never maps or decodes it (it once held 32 times a long upper-case
/// host: the fuzz target's first finding). The bound is 16 times the
/// maximum.
pub const PEAK_BOUND: usize = 16 * MAX_LINK;

macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(format!($($message)+));
        }
    };
}

/// Is `host` (lower-case) `proabono.com` or one of its subdomains?
pub fn host_allowed(host: &str) -> bool {
    host == ALLOWED_DOMAIN
        || host
            .strip_suffix(ALLOWED_DOMAIN)
            .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
}

/// What every accepted target must be: it re-parses to `https`, a host
/// under `proabono.com`, no credentials and the default port; it is the
/// parser's own serialization; and validating it again gives itself.
pub fn check_accepted(target: &PortalTarget) -> Result<(), String> {
    let url = url::Url::parse(target.as_str())
        .map_err(|e| format!("{:?} does not re-parse: {e}", target.as_str()))?;
    ensure!(url.scheme() == "https", "not https: {url}");
    match url.host() {
        Some(url::Host::Domain(host)) => {
            ensure!(host_allowed(host), "host outside the allow-list: {host}");
            ensure!(
                target.host() == host,
                "host {:?}, the parser says {host:?}",
                target.host()
            );
        }
        other => return Err(format!("not a domain host: {other:?} in {url}")),
    }
    ensure!(
        url.username().is_empty() && url.password().is_none(),
        "credentials in {url}"
    );
    ensure!(url.port().is_none(), "an explicit port in {url}");
    ensure!(
        url.port_or_known_default() == Some(443),
        "not port 443: {url}"
    );
    ensure!(
        url.as_str() == target.as_str(),
        "{:?} is not the parser's serialization {:?}",
        target.as_str(),
        url.as_str()
    );
    match validate_link(target.as_str()) {
        Ok(again) => ensure!(
            again.as_str() == target.as_str(),
            "not a fixed point: {:?} then {:?}",
            target.as_str(),
            again.as_str()
        ),
        Err(refusal) => {
            return Err(format!(
                "the canonical link {:?} is refused: {refusal:?}",
                target.as_str()
            ))
        }
    }
    Ok(())
}

/// [`check_accepted`] on a verdict's target, if it has one.
pub fn check_verdict(verdict: &Result<Option<PortalTarget>, Refusal>) -> Result<(), String> {
    match verdict {
        Ok(Some(target)) => check_accepted(target),
        _ => Ok(()),
    }
}

/// `value` with every byte percent-encoded.
pub fn encode_every_byte(value: &str) -> String {
    value.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// A decoded link, and the same link encoded once in `crylk`, get the same
/// verdict, and an accepted one passes [`check_accepted`]: the query path
/// adds nothing and loses nothing.
pub fn check_link(value: &str) -> Result<(), String> {
    let direct = validate_link(value);
    if let Ok(target) = &direct {
        check_accepted(target)?;
    }
    let via_query = target_from_query(&format!("crylk={}", encode_every_byte(value)));
    let direct = direct.map(Some);
    ensure!(
        via_query == direct,
        "{value:?}: {via_query:?} through the query, {direct:?} decoded"
    );
    Ok(())
}
