//! Widening `Content-Security-Policy` headers by the portal's sources.
//!
//! The parsing follows CSP Level 3 ("parse a serialized CSP list"): a header
//! value is a list of policies separated by `,`, a policy a list of
//! directives separated by `;`, a directive a name (ASCII
//! case-insensitive) followed by source expressions separated by ASCII
//! whitespace. Only the first directive of a given name counts.

use std::borrow::Cow;

use http::header::{Entry, CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::source::starts_with_ignore_case;

/// What to add to each policy of one response.
#[derive(Clone, Copy, Debug)]
pub(super) struct Additions<'a> {
    pub(super) frame: &'a [Box<str>],
    pub(super) script: &'a [Box<str>],
    /// The response's nonce or hash source, if it has one.
    pub(super) inline: Option<&'a str>,
}

/// Widens every `Content-Security-Policy` field of `headers` (and every
/// `Content-Security-Policy-Report-Only` field, with `report_only`); then,
/// with `restrict_frames`, appends the helper's own frame policy.
pub(super) fn apply(
    headers: &mut HeaderMap,
    add: Additions<'_>,
    restrict_frames: bool,
    report_only: bool,
) {
    widen_fields(headers, CONTENT_SECURITY_POLICY, add);
    // A report-only policy the application did not set would report to
    // nowhere: only ones that exist are widened.
    if report_only {
        widen_fields(headers, CONTENT_SECURITY_POLICY_REPORT_ONLY, add);
    }
    if restrict_frames {
        // A policy of its own, beside the page's: a browser enforces every
        // policy, so this one restricts frames whatever the others say
        // (none, stricter, weaker, unreadable), and cannot widen anything.
        let own = frame_policy(add.frame);
        if let Ok(own) = HeaderValue::try_from(own) {
            let present = headers
                .get_all(CONTENT_SECURITY_POLICY)
                .iter()
                .any(|v| *v == own);
            if !present {
                headers.append(CONTENT_SECURITY_POLICY, own);
            }
        }
    }
}

/// `frame-src` with `sources`, or `frame-src 'none'` without any.
pub(super) fn frame_policy(sources: &[Box<str>]) -> String {
    if sources.is_empty() {
        "frame-src 'none'".to_owned()
    } else {
        let list: Vec<&str> = sources.iter().map(|s| &**s).collect();
        format!("frame-src {}", list.join(" "))
    }
}

/// Widens each field named `name` in place, keeping their order.
fn widen_fields(headers: &mut HeaderMap, name: HeaderName, add: Additions<'_>) {
    // `entry` reserves room for an insertion: ask first.
    if !headers.contains_key(&name) {
        return;
    }
    let Entry::Occupied(mut fields) = headers.entry(name) else {
        return;
    };
    for value in fields.iter_mut() {
        // A value that is not visible ASCII is not one this code can edit
        // without guessing how a browser decodes it: it stays as it is,
        // which can only block the portal, never widen anything else.
        let Ok(text) = value.to_str() else { continue };
        if let Some(widened) = widen_list(text, add) {
            if let Ok(widened) = HeaderValue::try_from(widened) {
                *value = widened;
            }
        }
    }
}

/// Widens each policy of one header value; `None` when none changes.
pub(super) fn widen_list(value: &str, add: Additions<'_>) -> Option<String> {
    let mut changed = false;
    let policies: Vec<Cow<'_, str>> = value
        .split(',')
        .map(|policy| match widen_policy(policy, add) {
            Some(widened) => {
                changed = true;
                Cow::Owned(widened)
            }
            None => Cow::Borrowed(policy),
        })
        .collect();
    changed.then(|| policies.join(","))
}

fn is_ascii_whitespace(c: char) -> bool {
    c.is_ascii_whitespace()
}

fn directive_name(directive: &str) -> &str {
    directive
        .split_ascii_whitespace()
        .next()
        .unwrap_or_default()
}

fn sources(directive: &str) -> Vec<&str> {
    directive.split_ascii_whitespace().skip(1).collect()
}

/// One policy, its directives as written.
struct Policy<'a> {
    directives: Vec<&'a str>,
    replaced: Vec<Option<String>>,
    appended: Vec<String>,
}

impl<'a> Policy<'a> {
    fn parse(policy: &'a str) -> Self {
        let directives: Vec<&str> = policy.split(';').collect();
        let replaced = vec![None; directives.len()];
        Policy {
            directives,
            replaced,
            appended: Vec::new(),
        }
    }

    /// The first directive called `name`: the only one a browser reads.
    fn find(&self, name: &str) -> Option<usize> {
        self.directives
            .iter()
            .position(|d| directive_name(d).eq_ignore_ascii_case(name))
    }

    /// Adds `add` (and `inline`, unless the list already allows every
    /// inline script) to the directive `name`. When the policy lacks it,
    /// the first of `fallbacks` it has is what governs those requests
    /// today: `name` is created as a copy of it, plus the additions, and
    /// the fallback's index is returned. With neither, the policy does not
    /// restrict those requests and is left as it is.
    fn widen(
        &mut self,
        name: &str,
        fallbacks: &[&str],
        add: &[Box<str>],
        inline: Option<&str>,
    ) -> Option<usize> {
        if let Some(i) = self.find(name) {
            let directive = self.directives[i];
            if let Some(list) = widened(&sources(directive), add, inline) {
                let indent = &directive[..directive.len() - directive.trim_start().len()];
                let written = directive_name(directive);
                self.replaced[i] = Some(format!("{indent}{written} {list}"));
            }
        } else if let Some(j) = fallbacks.iter().find_map(|f| self.find(f)) {
            if let Some(list) = widened(&sources(self.directives[j]), add, inline) {
                self.appended.push(format!("{name} {list}"));
                return Some(j);
            }
        }
        None
    }

    /// `None` when nothing was added.
    fn finish(self) -> Option<String> {
        if self.appended.is_empty() && self.replaced.iter().all(Option::is_none) {
            return None;
        }
        let mut out = String::new();
        for (i, (directive, replaced)) in self.directives.iter().zip(&self.replaced).enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(replaced.as_deref().unwrap_or(directive));
        }
        if !self.appended.is_empty() {
            // Trailing empty directives and whitespace go, so the new
            // directive follows the last real one.
            out.truncate(
                out.trim_end_matches(|c| c == ';' || is_ascii_whitespace(c))
                    .len(),
            );
            for directive in self.appended {
                if !out.trim_start_matches(is_ascii_whitespace).is_empty() {
                    out.push_str("; ");
                }
                out.push_str(&directive);
            }
        }
        Some(out)
    }
}

/// Widens one policy; `None` when it already allows everything to add.
fn widen_policy(policy: &str, add: Additions<'_>) -> Option<String> {
    let mut policy = Policy::parse(policy);
    if !add.frame.is_empty() {
        // Frames: `frame-src`, else `child-src`, else `default-src`.
        policy.widen("frame-src", &["child-src", "default-src"], add.frame, None);
    }
    if !add.script.is_empty() || add.inline.is_some() {
        // `script-src` governs scripts (`default-src` when it is absent);
        // `script-src-elem`, when present, governs `<script>` elements in
        // the browsers that know it, and `script-src` in the others.
        let created = policy.widen("script-src", &["default-src"], add.script, add.inline);
        if let Some(default) = created {
            // Workers fall back on `worker-src`, `child-src`, `script-src`,
            // then `default-src`: with neither of the first two, the new
            // `script-src` would govern them too. They keep what
            // `default-src` allowed.
            if policy.find("worker-src").is_none() && policy.find("child-src").is_none() {
                let kept = sources(policy.directives[default]);
                let list = if kept.is_empty() {
                    "'none'".to_owned()
                } else {
                    kept.join(" ")
                };
                policy.appended.push(format!("worker-src {list}"));
            }
        }
        policy.widen("script-src-elem", &[], add.script, add.inline);
    }
    policy.finish()
}

/// The source list `existing` plus every source of `add` (and `inline`) it
/// lacks, without `'none'`; `None` when it lacks none.
fn widened(existing: &[&str], add: &[Box<str>], inline: Option<&str>) -> Option<String> {
    let inline = inline.filter(|_| !allows_all_inline(existing));
    let missing: Vec<&str> = add
        .iter()
        .map(|s| &**s)
        .chain(inline)
        .filter(|s| !existing.iter().any(|e| same_source(e, s)))
        .collect();
    if missing.is_empty() {
        return None;
    }
    // `'none'` (or an empty list) matches nothing, and is ignored next to
    // other sources: the list becomes the additions.
    let kept = existing
        .iter()
        .copied()
        .filter(|s| !s.eq_ignore_ascii_case("'none'"));
    let list: Vec<&str> = kept.chain(missing).collect();
    Some(list.join(" "))
}

/// CSP3's "does a source list allow all inline behavior": `'unsafe-inline'`
/// counts only in a list with no nonce, no hash and no `'strict-dynamic'`.
/// Adding a nonce or hash to such a list would switch `'unsafe-inline'`
/// off and block the page's other inline scripts.
fn allows_all_inline(list: &[&str]) -> bool {
    let mut unsafe_inline = false;
    for source in list {
        if is_nonce_or_hash(source) || source.eq_ignore_ascii_case("'strict-dynamic'") {
            return false;
        }
        unsafe_inline |= source.eq_ignore_ascii_case("'unsafe-inline'");
    }
    unsafe_inline
}

fn is_nonce_or_hash(source: &str) -> bool {
    ["'nonce-", "'sha256-", "'sha384-", "'sha512-"]
        .iter()
        .any(|p| starts_with_ignore_case(source, p))
}

/// Whether two source expressions are the same, as far as a browser is
/// concerned: keywords, schemes and hosts ignore ASCII case; the value of a
/// nonce or hash and a path do not. Anything unsure counts as different: a
/// duplicate source is harmless, a missing one blocks the portal.
fn same_source(a: &str, b: &str) -> bool {
    let split = |s: &str| -> usize {
        if s.starts_with('\'') {
            return if is_nonce_or_hash(s) {
                s.find('-').map_or(s.len(), |i| i + 1)
            } else {
                s.len()
            };
        }
        let authority = s.find("://").map_or(0, |i| i + 3);
        s[authority..].find('/').map_or(s.len(), |i| authority + i)
    };
    let (i, j) = (split(a), split(b));
    a[..i].eq_ignore_ascii_case(&b[..j]) && a[i..] == b[j..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(sources: &[&str]) -> Vec<Box<str>> {
        sources.iter().map(|s| Box::from(*s)).collect()
    }

    const PORTAL: &[&str] = &["https://proabono.com", "https://*.proabono.com"];

    fn frames(value: &str) -> Option<String> {
        let frame = boxed(PORTAL);
        widen_list(
            value,
            Additions {
                frame: &frame,
                script: &[],
                inline: None,
            },
        )
    }

    fn scripts(value: &str, inline: Option<&str>) -> Option<String> {
        let script = boxed(&["https://portal.proabono.com"]);
        widen_list(
            value,
            Additions {
                frame: &[],
                script: &script,
                inline,
            },
        )
    }

    #[test]
    fn appends_the_directive_when_missing() {
        assert_eq!(
            frames("img-src 'self'").as_deref(),
            None,
            "a policy that does not restrict frames already allows the portal",
        );
        assert_eq!(
            frames("default-src 'self'; img-src *").as_deref(),
            Some("default-src 'self'; img-src *; frame-src 'self' https://proabono.com https://*.proabono.com"),
        );
        assert_eq!(
            frames("default-src 'self' ;; ").as_deref(),
            Some(
                "default-src 'self'; frame-src 'self' https://proabono.com https://*.proabono.com"
            ),
        );
    }

    #[test]
    fn child_src_governs_frames_before_default_src() {
        assert_eq!(
            frames("default-src 'none'; child-src https://www.youtube.com").as_deref(),
            Some("default-src 'none'; child-src https://www.youtube.com; frame-src https://www.youtube.com https://proabono.com https://*.proabono.com"),
        );
        assert_eq!(
            frames("default-src 'none'").as_deref(),
            Some("default-src 'none'; frame-src https://proabono.com https://*.proabono.com"),
        );
    }

    #[test]
    fn adds_missing_sources_to_the_directive() {
        assert_eq!(
            frames("frame-src https://www.youtube.com; img-src *").as_deref(),
            Some("frame-src https://www.youtube.com https://proabono.com https://*.proabono.com; img-src *"),
        );
        assert_eq!(
            frames("  Frame-Src\thttps://PROABONO.com; img-src *").as_deref(),
            Some("  Frame-Src https://PROABONO.com https://*.proabono.com; img-src *"),
            "names and hosts ignore case; the directive keeps its place and spelling",
        );
        assert_eq!(
            frames("frame-src https://*.proabono.com https://proabono.com"),
            None
        );
    }

    #[test]
    fn none_and_empty_lists_become_the_additions() {
        for policy in [
            "frame-src 'none'",
            "frame-src 'NONE'",
            "frame-src",
            "frame-src   ",
        ] {
            assert_eq!(
                frames(policy).as_deref(),
                Some("frame-src https://proabono.com https://*.proabono.com"),
                "{policy:?}",
            );
        }
    }

    #[test]
    fn only_the_first_of_duplicate_directives_counts() {
        assert_eq!(
            frames("frame-src 'self'; frame-src 'none'").as_deref(),
            Some("frame-src 'self' https://proabono.com https://*.proabono.com; frame-src 'none'"),
        );
    }

    #[test]
    fn each_policy_of_a_list_is_widened() {
        assert_eq!(
            frames("frame-src 'self', default-src 'none', img-src *").as_deref(),
            Some("frame-src 'self' https://proabono.com https://*.proabono.com, default-src 'none'; frame-src https://proabono.com https://*.proabono.com, img-src *"),
        );
    }

    #[test]
    fn scripts_get_the_host_and_the_inline_source() {
        assert_eq!(
            scripts("script-src 'self'", Some("'nonce-abc'")).as_deref(),
            Some("script-src 'self' https://portal.proabono.com 'nonce-abc'"),
        );
        assert_eq!(
            scripts("default-src 'self'", Some("'sha256-xyz='")).as_deref(),
            Some("default-src 'self'; script-src 'self' https://portal.proabono.com 'sha256-xyz='; worker-src 'self'"),
        );
        assert_eq!(
            scripts("script-src 'self'; script-src-elem 'self'", None).as_deref(),
            Some("script-src 'self' https://portal.proabono.com; script-src-elem 'self' https://portal.proabono.com"),
        );
        assert_eq!(
            scripts("script-src-elem 'none'", Some("'nonce-abc'")).as_deref(),
            Some("script-src-elem https://portal.proabono.com 'nonce-abc'"),
        );
        assert_eq!(scripts("img-src 'self'", Some("'nonce-abc'")), None);
    }

    #[test]
    fn unsafe_inline_is_not_switched_off() {
        assert_eq!(
            scripts("script-src 'self' 'unsafe-inline'", Some("'nonce-abc'")).as_deref(),
            Some("script-src 'self' 'unsafe-inline' https://portal.proabono.com"),
        );
        // Already off: the nonce is what lets the script run.
        for list in [
            "'unsafe-inline' 'nonce-old'",
            "'unsafe-inline' 'strict-dynamic'",
        ] {
            assert_eq!(
                scripts(&format!("script-src {list}"), Some("'nonce-abc'")).as_deref(),
                Some(&*format!(
                    "script-src {list} https://portal.proabono.com 'nonce-abc'"
                )),
            );
        }
    }

    #[test]
    fn nonce_and_hash_values_are_case_sensitive() {
        assert!(same_source("'NONCE-abc'", "'nonce-abc'"));
        assert!(!same_source("'nonce-ABC'", "'nonce-abc'"));
        assert!(!same_source("'sha256-ABC='", "'sha256-abc='"));
        assert!(same_source("'Self'", "'self'"));
        assert!(same_source(
            "HTTPS://Portal.ProAbono.com/Get/",
            "https://portal.proabono.com/Get/"
        ));
        assert!(!same_source(
            "https://portal.proabono.com/get/",
            "https://portal.proabono.com/Get/"
        ));
        assert!(!same_source("https://a.com", "https://a.com/"));
    }

    #[test]
    fn frame_policy_is_the_sources_or_none() {
        assert_eq!(
            frame_policy(&boxed(PORTAL)),
            "frame-src https://proabono.com https://*.proabono.com"
        );
        assert_eq!(frame_policy(&[]), "frame-src 'none'");
    }

    #[test]
    fn workers_keep_what_default_src_allowed() {
        assert_eq!(
            scripts("default-src 'self' blob:", None).as_deref(),
            Some("default-src 'self' blob:; script-src 'self' blob: https://portal.proabono.com; worker-src 'self' blob:"),
        );
        assert_eq!(
            scripts("default-src", None).as_deref(),
            Some("default-src; script-src https://portal.proabono.com; worker-src 'none'"),
        );
        // Another directive governs workers already.
        for other in ["worker-src 'self'", "child-src 'self'", "WORKER-SRC"] {
            assert_eq!(
                scripts(&format!("default-src 'self'; {other}"), None),
                Some(format!(
                    "default-src 'self'; {other}; script-src 'self' https://portal.proabono.com"
                )),
            );
        }
        // An existing `script-src` is widened in place: nothing is pinned.
        assert_eq!(
            scripts("default-src 'self'; script-src 'self'", None).as_deref(),
            Some("default-src 'self'; script-src 'self' https://portal.proabono.com"),
        );
    }

    #[test]
    fn header_fields_are_widened_in_place() {
        let frame = boxed(PORTAL);
        let add = Additions {
            frame: &frame,
            script: &[],
            inline: None,
        };
        let mut headers = HeaderMap::new();
        headers.append(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-src 'self'"),
        );
        headers.append(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_bytes(b"frame-src \xe9").unwrap(),
        );
        headers.append(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("img-src 'self'"),
        );
        headers.append(
            CONTENT_SECURITY_POLICY_REPORT_ONLY,
            HeaderValue::from_static("frame-src 'none'"),
        );
        apply(&mut headers, add, false, false);
        let values: Vec<&[u8]> = headers
            .get_all(CONTENT_SECURITY_POLICY)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        assert_eq!(
            values,
            [
                &b"frame-src 'self' https://proabono.com https://*.proabono.com"[..],
                b"frame-src \xe9",
                b"img-src 'self'",
            ]
        );
        assert_eq!(
            headers[CONTENT_SECURITY_POLICY_REPORT_ONLY],
            "frame-src 'none'"
        );
    }
}
