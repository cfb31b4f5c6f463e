//! ProAbono's In-Site installation: the `ProAbonoPortal.open({...})` call
//! that portal.js runs, rendered on the server and escaped for a `<script>`.

use std::fmt::{self, Write as _};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::portal_query::PortalQuery;

type HmacSha256 = Hmac<Sha256>;

/// The business's In-Site configuration: its `business_id`, its
/// `segment_ref`, and the portal secret that signs customer references.
///
/// ProAbono's In-Site installation renders the hosted pages inside the
/// business's own page: the page loads
/// `<script src="https://portal.proabono.com/Get/portal.js">`, holds a
/// `<div id="proabono_portal">`, and calls
/// `ProAbonoPortal.open({business_id, segment_ref, customer_ref, customer_lang, query, hash})`.
/// [`open`](Self::open) and [`open_for`](Self::open_for) build that call for
/// one render; [`PortalOpen`] writes it out.
///
/// `customer_ref` travels through the browser, so ProAbono only trusts it
/// with its `hash`: HMAC-SHA256 with the portal secret as the key and the
/// customer reference, exactly as passed, as the message, in lowercase hex
/// (ProAbono's In-Site documentation, "The security hash"). The only way to
/// give a [`PortalOpen`] a customer reference is
/// [`open_for`](Self::open_for), which computes that hash then and there:
/// a reference is never rendered without it, nor with a hash from anywhere
/// else. Take the reference from the session, never from the request.
///
/// The secret is kept only as the keyed HMAC state, and [`Debug`] prints
/// neither.
///
/// ```
/// use tower_portal_link::{InSite, PortalQuery};
///
/// # let secret = "pa-portal-secret-0123";
/// // The secret comes from configuration, e.g. `PROABONO_PORTAL_SECRET`.
/// let in_site = InSite::new(42, "demo-eur", secret)?;
///
/// // Per render, for the signed-in user.
/// let query = PortalQuery::parse("OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y")?;
/// let call = in_site
///     .open_for("cust-42")?
///     .customer_lang("en")
///     .query(&query)
///     .to_script();
/// assert_eq!(
///     call,
///     r#"ProAbonoPortal.open({"business_id":42,"segment_ref":"demo-eur","customer_ref":"cust-42","customer_lang":"en","query":"OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y","hash":"3f465d005bd2f1f28885a2bffc40386da85bc87f4c7c6a9c0f337b895e190e3c"});"#,
/// );
///
/// // The anonymous pricing table: no customer, so no hash.
/// assert_eq!(
///     in_site.open().to_json(),
///     r#"{"business_id":42,"segment_ref":"demo-eur"}"#,
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "in-site")))]
#[derive(Clone)]
pub struct InSite {
    business_id: u32,
    segment_ref: Box<str>,
    /// Keyed with the portal secret; cloned for each hash.
    mac: HmacSha256,
}

impl InSite {
    /// The configuration for `business_id` (the numeric identifier of the
    /// environment, which differs between sandbox and production),
    /// `segment_ref` and the portal secret (*Integration → Installation →
    /// In-Site → Portal* in ProAbono's back office).
    ///
    /// An empty `segment_ref` or an empty secret is refused: with an empty
    /// secret, anyone could compute every customer's hash.
    pub fn new(
        business_id: u32,
        segment_ref: impl Into<String>,
        portal_secret: impl AsRef<[u8]>,
    ) -> Result<InSite, InSiteError> {
        let segment_ref = segment_ref.into();
        if segment_ref.is_empty() {
            return Err(InSiteError::EmptySegmentRef);
        }
        let secret = portal_secret.as_ref();
        if secret.is_empty() {
            return Err(InSiteError::EmptySecret);
        }
        let mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts a key of any length");
        Ok(InSite {
            business_id,
            segment_ref: segment_ref.into_boxed_str(),
            mac,
        })
    }

    /// The call without a customer: ProAbono's anonymous mode (the public
    /// pricing table, or an anonymous `query`).
    pub fn open(&self) -> PortalOpen<'_> {
        PortalOpen {
            in_site: self,
            customer: None,
            customer_lang: None,
            query: None,
        }
    }

    /// The call for the customer `customer_ref`, with its hash computed from
    /// the portal secret.
    ///
    /// The reference is hashed and rendered exactly as given: no trimming,
    /// no case or Unicode normalization, UTF-8 bytes. An empty reference is
    /// refused: it names no user, and every session that lost its user would
    /// share it.
    pub fn open_for<'a>(&'a self, customer_ref: &'a str) -> Result<PortalOpen<'a>, InSiteError> {
        if customer_ref.is_empty() {
            return Err(InSiteError::EmptyCustomerRef);
        }
        let mut open = self.open();
        open.customer = Some(Customer {
            reference: customer_ref,
            hash: self.hash(customer_ref),
        });
        Ok(open)
    }

    /// HMAC-SHA256 of the message under the portal secret.
    fn hash(&self, customer_ref: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(customer_ref.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for InSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InSite")
            .field("business_id", &self.business_id)
            .field("segment_ref", &self.segment_ref)
            .field("portal_secret", &format_args!("<redacted>"))
            .finish()
    }
}

/// One `ProAbonoPortal.open({...})` call, built by [`InSite::open`] or
/// [`InSite::open_for`], for one render.
///
/// [`to_script`](Self::to_script) writes the call and
/// [`to_json`](Self::to_json) its options object, with the options in
/// ProAbono's order and absent ones left out. Every string is a JSON string
/// in which `<`, `>`, `&`, U+2028 and U+2029 are also written as `\u` escapes,
/// so nothing in a value can end the `<script>` element (`</script>`), open
/// an HTML comment (`<!--`) or end a JavaScript string: the output can be
/// written as is between `<script>` and `</script>`, and it is valid JSON.
/// It is not meant for an HTML attribute.
///
/// What it renders is a credential: a customer reference with its hash opens
/// that customer's portal for as long as the portal secret stays the same.
/// Render it for the signed-in user only, serve the page with
/// `Cache-Control: no-store`, never cache the output across users, and keep
/// it out of logs; [`Debug`] prints neither the reference, the hash nor the
/// query. Its text changes with every customer and query, so allow the
/// inline script per response: a nonce, or the hash of exactly that text
/// (`InlineScript::sha256`, as the repository's example page does), never a
/// hash fixed in a policy.
#[cfg_attr(docsrs, doc(cfg(feature = "in-site")))]
#[derive(Clone)]
pub struct PortalOpen<'a> {
    in_site: &'a InSite,
    customer: Option<Customer<'a>>,
    customer_lang: Option<&'a str>,
    query: Option<&'a PortalQuery>,
}

#[derive(Clone)]
struct Customer<'a> {
    reference: &'a str,
    hash: [u8; 32],
}

impl<'a> PortalOpen<'a> {
    /// The customer's language (ISO 639, e.g. `"en"`). ProAbono saves it onto
    /// the Customer on every open, overwriting what was there.
    pub fn customer_lang(mut self, customer_lang: &'a str) -> Self {
        self.customer_lang = Some(customer_lang);
        self
    }

    /// The encrypted query that opens a given page or workflow: a `pa_query`
    /// the layer validated, or a `Links` query
    /// ([`PortalQuery::parse`]).
    pub fn query(mut self, query: &'a PortalQuery) -> Self {
        self.query = Some(query);
        self
    }

    /// The options object, as JSON that is also safe inside `<script>`:
    /// `{"business_id":42,"segment_ref":"demo-eur",...}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.capacity());
        self.write_json(&mut out);
        out
    }

    /// The call, for a `<script>` element:
    /// `ProAbonoPortal.open({"business_id":42,...});`.
    pub fn to_script(&self) -> String {
        const OPEN: &str = "ProAbonoPortal.open(";
        const CLOSE: &str = ");";
        let mut out = String::with_capacity(OPEN.len() + self.capacity() + CLOSE.len());
        out.push_str(OPEN);
        self.write_json(&mut out);
        out.push_str(CLOSE);
        out
    }

    fn write_json(&self, out: &mut String) {
        // Infallible: writing to a String.
        let _ = write!(out, "{{\"business_id\":{}", self.in_site.business_id);
        push_field(out, "segment_ref", &self.in_site.segment_ref);
        if let Some(customer) = &self.customer {
            push_field(out, "customer_ref", customer.reference);
        }
        if let Some(lang) = self.customer_lang {
            push_field(out, "customer_lang", lang);
        }
        if let Some(query) = self.query {
            push_field(out, "query", query.as_str());
        }
        if let Some(customer) = &self.customer {
            let mut hex = [0u8; 64];
            let hash = base16ct::lower::encode_str(&customer.hash, &mut hex)
                .expect("64 bytes hold the hex of 32");
            push_field(out, "hash", hash);
        }
        out.push('}');
    }

    /// Enough for the output unless a value needs escapes.
    fn capacity(&self) -> usize {
        let field = |value: Option<&str>| value.map_or(0, |v| v.len() + 20);
        32 + self.in_site.segment_ref.len()
            + field(self.customer.as_ref().map(|c| c.reference))
            + field(self.customer_lang)
            + field(self.query.map(PortalQuery::as_str))
            + self.customer.as_ref().map_or(0, |_| 64 + 10)
    }
}

impl fmt::Debug for PortalOpen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = format_args!("<redacted>");
        f.debug_struct("PortalOpen")
            .field("business_id", &self.in_site.business_id)
            .field("segment_ref", &self.in_site.segment_ref)
            .field("customer_ref", &self.customer.as_ref().map(|_| &redacted))
            .field("customer_lang", &self.customer_lang)
            .field("query", &self.query)
            .field("hash", &self.customer.as_ref().map(|_| &redacted))
            .finish()
    }
}

/// `,"name":"value"`, the value escaped by [`push_script_string`].
fn push_field(out: &mut String, name: &str, value: &str) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
    push_script_string(out, value);
}

/// A JSON string that is also inert in a `<script>` element.
///
/// JSON requires escaping `"`, `\` and U+0000 to U+001F. On top of that:
/// `<` and `>` (so no `</script>`, `<!--` or `-->` can appear), `&` (for
/// XHTML pages), and U+2028 and U+2029, which end a line in JavaScript
/// before ES2019. serde_json has no option for these, so this is the one
/// pass that does both.
fn push_script_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Why [`InSite::new`] or [`InSite::open_for`] refused its input.
#[cfg_attr(docsrs, doc(cfg(feature = "in-site")))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InSiteError {
    /// The portal secret is empty.
    EmptySecret,
    /// The segment reference is empty.
    EmptySegmentRef,
    /// The customer reference is empty.
    EmptyCustomerRef,
}

impl fmt::Display for InSiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InSiteError::EmptySecret => "the ProAbono portal secret is empty",
            InSiteError::EmptySegmentRef => "the ProAbono segment reference is empty",
            InSiteError::EmptyCustomerRef => "the ProAbono customer reference is empty",
        })
    }
}

impl std::error::Error for InSiteError {}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;
    use serde_json::{json, Value};

    const SECRET: &str = "pa-portal-secret-0123";
    const QUERY: &str = "OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y";

    fn in_site(secret: impl AsRef<[u8]>) -> InSite {
        InSite::new(42, "demo-eur", secret).unwrap()
    }

    fn options(open: &PortalOpen<'_>) -> Value {
        serde_json::from_str(&open.to_json()).expect("valid JSON")
    }

    fn hash_of(secret: impl AsRef<[u8]>, customer_ref: &str) -> String {
        let open = in_site(secret);
        let open = open.open_for(customer_ref).unwrap();
        options(&open)["hash"].as_str().unwrap().to_owned()
    }

    /// HMAC-SHA256 vectors computed outside this crate, with Python's
    /// standard library:
    ///
    /// ```text
    /// python3 -c 'import hmac, hashlib; print(hmac.new(KEY, MSG, hashlib.sha256).hexdigest())'
    /// ```
    ///
    /// KEY and MSG as the UTF-8 bytes of the strings below. The non-ASCII
    /// and 100-byte-key ones were checked again with Node's
    /// `crypto.createHmac("sha256", key).update(msg).digest("hex")`.
    const VECTORS: [(&[u8], &str, &str); 8] = [
        (
            b"secret",
            "ref",
            "767b58dcd544afadab17da1457dba6164d0c964c0d180f180495400d28b55556",
        ),
        (
            SECRET.as_bytes(),
            "cust-42",
            "3f465d005bd2f1f28885a2bffc40386da85bc87f4c7c6a9c0f337b895e190e3c",
        ),
        // Exactly as passed: a trailing space is part of the message.
        (
            SECRET.as_bytes(),
            "cust-42 ",
            "d0d7c3f8698fc20d3b73fecd37bfa972b093f3494995503cb67dc25c3da06391",
        ),
        // Non-ASCII: the message is the UTF-8 bytes.
        (
            SECRET.as_bytes(),
            "client-é-日本-🦀",
            "af2afbe58335033fed223a0123de80f83b2cf5cc7b6dac4edd5e952cb2cd3c9d",
        ),
        // The shortest reference that is not refused.
        (
            SECRET.as_bytes(),
            " ",
            "3958849e4a3ee1b34be0029714d6d6b647b3bc956cd4a5b2f2a16669695167a7",
        ),
        // Non-ASCII key.
        (
            "clé-secrète".as_bytes(),
            "cust-42",
            "4efa6bd30d61f123c71d953465fc6317dffb4afe3a1663e2e705a587e9753878",
        ),
        // A key longer than SHA-256's 64-byte block is hashed first.
        (
            &[b'k'; 100],
            "cust-42",
            "ef959780669f356c37c2e5e9e6ed9827500ebc9440d74c2d09a6e5644e4502a9",
        ),
        // Hashed as is, escaped only when rendered.
        (
            SECRET.as_bytes(),
            "</script><script>alert(1)</script>",
            "14b9a2aa89b12b5c2af3e0e679964a5d16b4a3866ccc3a69294ea4f155e30112",
        ),
    ];

    #[test]
    fn hash_matches_independent_vectors() {
        for (key, customer_ref, expected) in VECTORS {
            assert_eq!(hash_of(key, customer_ref), expected, "{customer_ref:?}");
        }
    }

    #[test]
    fn hash_of_the_empty_message() {
        // Python, as above, with MSG = b"": the construction itself, though
        // `open_for` refuses an empty reference.
        let hash = in_site(SECRET).hash("");
        let mut hex = [0u8; 64];
        assert_eq!(
            base16ct::lower::encode_str(&hash, &mut hex).unwrap(),
            "0ea27bdec02633c55cedf623f302e18a3cdd98cbcdcff09adbe3d7a0f0efe9cf"
        );
    }

    #[test]
    fn hash_is_per_render_and_per_customer() {
        let site = in_site(SECRET);
        let a = site.open_for("cust-42").unwrap();
        let b = site.open_for("cust-43").unwrap();
        assert_ne!(options(&a)["hash"], options(&b)["hash"]);
        // The keyed state is cloned, never consumed: the same hash again.
        assert_eq!(
            options(&site.open_for("cust-42").unwrap())["hash"],
            options(&a)["hash"]
        );
        assert_ne!(
            hash_of("other-secret", "cust-42"),
            hash_of(SECRET, "cust-42")
        );
    }

    #[test]
    fn full_call() {
        let site = in_site(SECRET);
        let query = PortalQuery::parse(QUERY).unwrap();
        let open = site
            .open_for("cust-42")
            .unwrap()
            .customer_lang("en")
            .query(&query);
        assert_eq!(
            options(&open),
            json!({
                "business_id": 42,
                "segment_ref": "demo-eur",
                "customer_ref": "cust-42",
                "customer_lang": "en",
                "query": QUERY,
                "hash": "3f465d005bd2f1f28885a2bffc40386da85bc87f4c7c6a9c0f337b895e190e3c",
            })
        );
        assert_eq!(
            open.to_script(),
            format!("ProAbonoPortal.open({});", open.to_json())
        );
        // ProAbono's order.
        let json = open.to_json();
        let at = |k: &str| json.find(&format!("\"{k}\":")).unwrap();
        let order = [
            "business_id",
            "segment_ref",
            "customer_ref",
            "customer_lang",
            "query",
            "hash",
        ];
        assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{json}");
    }

    #[test]
    fn absent_options_are_left_out() {
        let site = in_site(SECRET);
        assert_eq!(
            site.open().to_json(),
            r#"{"business_id":42,"segment_ref":"demo-eur"}"#
        );
        let query = PortalQuery::parse(QUERY).unwrap();
        // Anonymous with a query: no customer, so no hash either.
        assert_eq!(
            options(&site.open().query(&query)),
            json!({"business_id": 42, "segment_ref": "demo-eur", "query": QUERY})
        );
        let with_customer = options(&site.open_for("cust-42").unwrap());
        assert_eq!(with_customer.as_object().unwrap().len(), 4);
        assert!(with_customer["hash"].is_string());
    }

    #[test]
    fn empty_inputs_are_refused() {
        assert_eq!(
            InSite::new(42, "demo-eur", "").unwrap_err(),
            InSiteError::EmptySecret
        );
        assert_eq!(
            InSite::new(42, "demo-eur", Vec::<u8>::new()).unwrap_err(),
            InSiteError::EmptySecret
        );
        assert_eq!(
            InSite::new(42, "", SECRET).unwrap_err(),
            InSiteError::EmptySegmentRef
        );
        assert_eq!(
            in_site(SECRET).open_for("").unwrap_err(),
            InSiteError::EmptyCustomerRef
        );
        for e in [
            InSiteError::EmptySecret,
            InSiteError::EmptySegmentRef,
            InSiteError::EmptyCustomerRef,
        ] {
            assert!(!e.to_string().is_empty());
        }
    }

    const HOSTILE: [&str; 14] = [
        "</script><script>alert(1)</script>",
        "</SCRIPT >",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "\"});alert(1);({\"",
        "\\\"",
        "\u{2028}\u{2029}",
        "a&amp;b&lt;",
        "\0\u{1}\n\r\t\u{1b}\u{7f}\u{85}",
        "${alert(1)}`",
        "'",
        "é日本🦀\u{feff}",
    ];

    #[test]
    fn hostile_values_stay_strings() {
        for hostile in HOSTILE {
            let site = InSite::new(7, hostile, SECRET).unwrap();
            let open = site.open_for(hostile).unwrap().customer_lang(hostile);
            let json = open.to_json();
            assert_script_safe(&json);
            let value = options(&open);
            assert_eq!(value["segment_ref"], hostile);
            assert_eq!(value["customer_ref"], hostile);
            assert_eq!(value["customer_lang"], hostile);
            // The hash of the reference as passed, not as escaped.
            assert_eq!(value["hash"], hash_of(SECRET, hostile));
        }
        let open = in_site(SECRET);
        let open = open.open_for(HOSTILE[0]).unwrap();
        assert_eq!(
            options(&open)["hash"],
            "14b9a2aa89b12b5c2af3e0e679964a5d16b4a3866ccc3a69294ea4f155e30112"
        );
    }

    #[test]
    fn escapes() {
        let mut out = String::new();
        push_script_string(&mut out, "</script>&\u{2028}\u{2029}\"\\\u{1}\u{1f} é");
        assert_eq!(
            out,
            r#""\u003c/script\u003e\u0026\u2028\u2029\"\\\u0001\u001f é""#
        );
    }

    /// No character of the output can end the script element, open a
    /// comment, or end a line in pre-ES2019 JavaScript.
    fn assert_script_safe(output: &str) {
        for c in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
            assert!(!output.contains(c), "{c:?} in {output}");
        }
        assert!(!output.chars().any(|c| c < ' '), "control in {output}");
    }

    proptest! {
        #[test]
        fn any_value_round_trips_and_stays_inert(
            segment_ref in any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
            customer_ref in any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
            lang in any::<String>(),
        ) {
            let site = InSite::new(1, segment_ref.clone(), SECRET).unwrap();
            let open = site.open_for(&customer_ref).unwrap().customer_lang(&lang);
            let script = open.to_script();
            assert_script_safe(&script);
            let json = script
                .strip_prefix("ProAbonoPortal.open(")
                .and_then(|s| s.strip_suffix(");"))
                .unwrap();
            let value: Value = serde_json::from_str(json).unwrap();
            prop_assert_eq!(&value["segment_ref"], &Value::from(segment_ref));
            prop_assert_eq!(&value["customer_ref"], &Value::from(customer_ref.clone()));
            prop_assert_eq!(&value["customer_lang"], &Value::from(lang));
            let hash = value["hash"].as_str().unwrap();
            prop_assert_eq!(hash.len(), 64);
            prop_assert!(hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
    }

    #[test]
    fn debug_is_redacted() {
        let site = in_site("SUPERSECRETKEY");
        let dbg = format!("{site:?} {site:#?}");
        assert!(!dbg.contains("SUPERSECRETKEY"), "{dbg}");
        assert!(dbg.contains("demo-eur"), "{dbg}");

        let query = PortalQuery::parse(QUERY).unwrap();
        let open = site
            .open_for("cust-PRIVATE")
            .unwrap()
            .customer_lang("en")
            .query(&query);
        let hash = options(&open)["hash"].as_str().unwrap().to_owned();
        let dbg = format!("{open:?} {open:#?}");
        for secret in ["cust-PRIVATE", &hash[..8], &QUERY[..8], "SUPERSECRETKEY"] {
            assert!(!dbg.contains(secret), "{secret} in {dbg}");
        }
        assert!(dbg.contains("\"en\""), "{dbg}");
    }

    #[test]
    fn thread_safety() {
        fn assert<T: Clone + Send + Sync + 'static>() {}
        assert::<InSite>();
        assert::<InSiteError>();
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PortalOpen<'static>>();
    }
}
