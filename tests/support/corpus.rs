//! The loader of the adversarial corpus (`tests/corpus.json`), for the
//! corpus test and the browser differential.

use std::collections::HashSet;

use serde::Deserialize;
use tower_portal_link::{PortalTarget, Refusal};

/// Every `Refusal` the default policy can produce, so that codes in the
/// corpus can be checked and turned back into the page's wording.
pub const ALL_REFUSALS: [Refusal; 10] = [
    Refusal::Ambiguous,
    Refusal::Empty,
    Refusal::TooLong { max: 512 },
    Refusal::InvalidUtf8,
    Refusal::ForbiddenCharacter,
    Refusal::SchemeNotAllowed,
    Refusal::MalformedAuthority,
    Refusal::HostNotAllowed,
    Refusal::PortNotAllowed,
    Refusal::ParserMismatch,
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[allow(dead_code)]
    about: String,
    cases: Vec<Raw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: String,
    kind: Kind,
    query: String,
    expect: String,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    source: String,
    note: String,
    #[serde(default)]
    known_failure: bool,
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Hostile,
    Legitimate,
}

/// What the layer must do with a case's query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// A `PortalTarget` whose canonical form is exactly this.
    Accepted(String),
    /// A `Refusal` with this `code()`.
    Refused(&'static str),
    /// Neither: the query carries no `crylk` at all.
    Absent,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub id: String,
    pub kind: Kind,
    pub query: String,
    pub expected: Expected,
    pub source: String,
    pub note: String,
    /// A case the core gets wrong today: reported, not asserted, until fixed.
    pub known_failure: bool,
}

/// The corpus, checked for shape: a malformed entry fails every test that
/// reads it rather than being silently skipped.
pub fn load() -> Vec<Case> {
    let file: File =
        serde_json::from_str(include_str!("../corpus.json")).expect("tests/corpus.json parses");
    let mut ids = HashSet::new();
    file.cases
        .into_iter()
        .map(|raw| {
            assert!(ids.insert(raw.id.clone()), "duplicate id {}", raw.id);
            let expected = match (raw.expect.as_str(), raw.link, raw.refusal) {
                ("accepted", Some(link), None) => Expected::Accepted(link),
                ("refused", None, Some(code)) => Expected::Refused(
                    ALL_REFUSALS
                        .iter()
                        .map(Refusal::code)
                        .find(|c| *c == code)
                        .unwrap_or_else(|| panic!("{}: unknown refusal code {code:?}", raw.id)),
                ),
                ("absent", None, None) => Expected::Absent,
                (other, ..) => panic!("{}: inconsistent expectation {other:?}", raw.id),
            };
            assert!(!raw.source.trim().is_empty(), "{}: no source", raw.id);
            Case {
                id: raw.id,
                kind: raw.kind,
                query: raw.query,
                expected,
                source: raw.source,
                note: raw.note,
                known_failure: raw.known_failure,
            }
        })
        .collect()
}

/// The verdict in the corpus's terms.
pub fn verdict(result: &Result<Option<PortalTarget>, Refusal>) -> Expected {
    match result {
        Ok(Some(target)) => Expected::Accepted(target.as_str().to_owned()),
        Ok(None) => Expected::Absent,
        Err(refusal) => Expected::Refused(refusal.code()),
    }
}

/// The refusal whose `code()` is `code`, for its `Display` wording.
pub fn refusal_for(code: &str) -> Refusal {
    *ALL_REFUSALS
        .iter()
        .find(|r| r.code() == code)
        .unwrap_or_else(|| panic!("unknown refusal code {code:?}"))
}

/// Every value of `crylk` in `query`, decoded once as a form parser does.
pub fn decoded_values(query: &str) -> Vec<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "crylk")
        .map(|(_, value)| value.into_owned())
        .collect()
}
