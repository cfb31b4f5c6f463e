//! The API client against a stand-in for ProAbono's API Live: real HTTP
//! over TLS on 127.0.0.1, a certificate made for the test, a client that
//! trusts only it. Every fault is the server's, counted in requests it
//! received.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use test_support::api_live::{ApiLive, Fault, Link, AGENT_KEY, API_KEY, DEMO_CUSTOMER};
use tower_portal_link::api::{
    ApiError, Client, ClientBuilder, Config, InvalidReference, LinkError, NewCustomer,
};
use tower_portal_link::{PortalLinkLayer, Refusal};

/// The client for `api`, with short waits so that tests stay quick.
fn client(api: &ApiLive) -> ClientBuilder {
    let config = Config::new(&api.endpoint(), AGENT_KEY, API_KEY).unwrap();
    Client::builder(config)
        .tls_config(api.tls_config())
        .backoff(Duration::from_millis(10), Duration::from_millis(40))
        .timeout(Duration::from_millis(500))
        .deadline(Duration::from_secs(2))
}

#[tokio::test]
async fn the_demo_customers_links() {
    let api = ApiLive::start().await;
    let client = client(&api).build().unwrap();
    let links = client.customer_links(DEMO_CUSTOMER).await.unwrap();
    assert_eq!(
        links.hosted_home().unwrap().as_str(),
        api.hosted_home(DEMO_CUSTOMER).unwrap()
    );
    assert!(links.target("insite-home").is_ok());
    assert!(links.query("insite-register").is_ok());
    assert!(links.query("insite-collection-offers").is_ok());
    assert_eq!(links.target("insite-register"), Err(LinkError::Missing));
    assert_eq!(
        links.target("hosted-collection-offers"),
        Err(LinkError::Missing)
    );
    let hits = api.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].method, http::Method::GET);
    assert_eq!(hits[0].path, "/v1/Customer");
    assert_eq!(hits[0].reference.as_deref(), Some(DEMO_CUSTOMER));
    assert!(hits[0].authorized);
}

#[tokio::test]
async fn references_are_encoded_and_checked_before_any_request() {
    let api = ApiLive::start().await;
    let client = client(&api).build().unwrap();
    let odd = "jane doe #7 / 100% + é";
    api.add_customer(odd);
    assert!(client.customer_links(odd).await.is_ok());
    assert_eq!(api.hits()[0].reference.as_deref(), Some(odd));
    for bad in ["", "a&ReferenceCustomer=b", "a\nb", "x<y", &"x".repeat(51)] {
        let err = client.customer_links(bad).await.unwrap_err();
        assert!(
            matches!(err, ApiError::InvalidReference(_)),
            "{bad:?}: {err:?}"
        );
        assert!(client.revoke_links(bad).await.is_err());
    }
    assert_eq!(
        NewCustomer::new("a;b").unwrap_err(),
        InvalidReference::ForbiddenCharacter
    );
    assert_eq!(api.count(), 1, "no request for a refused reference");
}

#[tokio::test]
async fn documented_errors_are_typed_and_never_retried() {
    let api = ApiLive::start().await;
    api.add_unaccessible_customer("other-segment");
    let client = client(&api).build().unwrap();
    assert_eq!(
        client.customer_links("nobody").await.unwrap_err(),
        ApiError::UnknownCustomer
    );
    assert_eq!(
        client.customer_links("other-segment").await.unwrap_err(),
        ApiError::WrongSegmentOrEnvironment
    );
    let wrong_keys = Client::builder(Config::new(&api.endpoint(), AGENT_KEY, "wrong").unwrap())
        .tls_config(api.tls_config())
        .build()
        .unwrap();
    assert_eq!(
        wrong_keys.customer_links(DEMO_CUSTOMER).await.unwrap_err(),
        ApiError::Unauthorized
    );
    assert_eq!(api.count(), 3);
    for (status, expected) in [
        (
            400,
            ApiError::UnexpectedStatus {
                status: http::StatusCode::BAD_REQUEST,
            },
        ),
        (
            422,
            ApiError::UnexpectedStatus {
                status: http::StatusCode::UNPROCESSABLE_ENTITY,
            },
        ),
        (
            500,
            ApiError::Unavailable {
                status: Some(http::StatusCode::INTERNAL_SERVER_ERROR),
            },
        ),
        (403, ApiError::WrongSegmentOrEnvironment),
    ] {
        let before = api.count();
        api.fail_next(Fault::Status(status));
        assert_eq!(
            client.customer_links(DEMO_CUSTOMER).await.unwrap_err(),
            expected
        );
        assert_eq!(api.count() - before, 1, "{status} is not retried");
    }
}

#[tokio::test]
async fn retries_429_502_503_504_and_resets_then_succeeds() {
    let api = ApiLive::start().await;
    let client = client(&api).max_retries(5).build().unwrap();
    for fault in [
        Fault::RetryAfter(0),
        Fault::Status(502),
        Fault::Status(503),
        Fault::Status(504),
        Fault::Reset,
    ] {
        api.fail_next(fault);
    }
    assert!(client.customer_links(DEMO_CUSTOMER).await.is_ok());
    assert_eq!(api.count(), 6);
}

#[tokio::test]
async fn retries_stop_at_the_limit() {
    let api = ApiLive::start().await;
    let client = client(&api).max_retries(2).build().unwrap();
    api.fail_always(Some(Fault::Status(503)));
    assert_eq!(
        client.customer_links(DEMO_CUSTOMER).await.unwrap_err(),
        ApiError::Unavailable {
            status: Some(http::StatusCode::SERVICE_UNAVAILABLE)
        }
    );
    assert_eq!(api.count(), 3, "the first attempt and two retries");

    api.fail_always(Some(Fault::Reset));
    assert_eq!(
        client.customer_links(DEMO_CUSTOMER).await.unwrap_err(),
        ApiError::Unavailable { status: None }
    );
    assert_eq!(api.count(), 6);

    let never = client_no_retry(&api);
    api.fail_always(Some(Fault::Status(502)));
    assert!(never.customer_links(DEMO_CUSTOMER).await.is_err());
    assert_eq!(api.count(), 7);
}

fn client_no_retry(api: &ApiLive) -> Client {
    client(api).max_retries(0).build().unwrap()
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_the_cap() {
    let api = ApiLive::start().await;
    let client = client(&api)
        .retry_after_cap(Duration::from_secs(2))
        .deadline(Duration::from_secs(4))
        .build()
        .unwrap();
    api.fail_next(Fault::RetryAfter(1));
    let start = Instant::now();
    assert!(client.customer_links(DEMO_CUSTOMER).await.is_ok());
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(api.count(), 2);

    // Longer than the cap: the caller hears it at once.
    api.fail_next(Fault::RetryAfter(30));
    let start = Instant::now();
    assert_eq!(
        client.customer_links("cust-43").await.unwrap_err(),
        ApiError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(api.count(), 3);

    // Within the cap but past the deadline: no wait that cannot succeed.
    let short = client_with_deadline(&api, Duration::from_millis(800));
    api.fail_next(Fault::UnavailableRetryAfter(1));
    let start = Instant::now();
    assert_eq!(
        short.customer_links(DEMO_CUSTOMER).await.unwrap_err(),
        ApiError::Unavailable {
            status: Some(http::StatusCode::SERVICE_UNAVAILABLE)
        }
    );
    assert!(start.elapsed() < Duration::from_millis(800));
    assert_eq!(api.count(), 4);
}

fn client_with_deadline(api: &ApiLive, deadline: Duration) -> Client {
    client(api)
        .timeout(deadline / 2)
        .deadline(deadline)
        .retry_after_cap(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_not_retried() {
    let api = ApiLive::start().await;
    let client = client(&api)
        .timeout(Duration::from_millis(200))
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    for fault in [
        Fault::Slow(Duration::from_secs(3)),
        Fault::SlowBody(Duration::from_secs(3)),
    ] {
        let before = api.count();
        api.fail_next(fault);
        let start = Instant::now();
        assert_eq!(
            client.customer_links(DEMO_CUSTOMER).await.unwrap_err(),
            ApiError::TimedOut
        );
        assert!(
            start.elapsed() < Duration::from_millis(200 + 300),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(api.count() - before, 1);
    }
}

#[tokio::test]
async fn the_deadline_bounds_every_retry() {
    let api = ApiLive::start().await;
    let client = client(&api)
        .timeout(Duration::from_millis(150))
        .deadline(Duration::from_millis(400))
        .max_retries(100)
        .backoff(Duration::from_millis(50), Duration::from_millis(100))
        .build()
        .unwrap();
    api.fail_always(Some(Fault::Status(503)));
    let start = Instant::now();
    assert!(client
        .customer_links(DEMO_CUSTOMER)
        .await
        .unwrap_err()
        .is_transient());
    assert!(
        start.elapsed() < Duration::from_millis(400 + 300),
        "{:?}",
        start.elapsed()
    );
    assert!(api.count() >= 2, "retried within the deadline");
    assert!(api.count() < 100);
}

#[tokio::test]
async fn malformed_and_oversized_answers() {
    let api = ApiLive::start().await;
    let client = client(&api).max_response_bytes(64 * 1024).build().unwrap();
    for (fault, expected) in [
        (Fault::MalformedJson, ApiError::MalformedResponse),
        (Fault::Raw(200, "[]".into()), ApiError::MalformedResponse),
        (
            Fault::Raw(200, r#"{"Links": [{"rel": 5}]}"#.into()),
            ApiError::MalformedResponse,
        ),
        (
            Fault::Raw(200, "{\"Links\": [".repeat(5_000)),
            ApiError::MalformedResponse,
        ),
        (Fault::Raw(200, many_links(65)), ApiError::MalformedResponse),
        (
            Fault::Oversized(1 << 20),
            ApiError::ResponseTooLarge { max: 64 * 1024 },
        ),
        (
            Fault::OversizedChunked(1 << 20),
            ApiError::ResponseTooLarge { max: 64 * 1024 },
        ),
    ] {
        let before = api.count();
        api.fail_next(fault);
        assert_eq!(
            client.customer_links(DEMO_CUSTOMER).await.unwrap_err(),
            expected
        );
        assert_eq!(api.count() - before, 1, "{expected:?} is not retried");
    }
    api.fail_next(Fault::Raw(200, many_links(64)));
    let links = client.customer_links(DEMO_CUSTOMER).await.unwrap();
    assert_eq!(links.rels().count(), 64);
    client.invalidate(DEMO_CUSTOMER).await;
    // A customer without links is a customer, not a malformed answer.
    api.fail_next(Fault::Raw(
        200,
        r#"{"ReferenceCustomer": "cust-42", "Links": null}"#.into(),
    ));
    let links = client.customer_links(DEMO_CUSTOMER).await.unwrap();
    assert_eq!(links.hosted_home(), Err(LinkError::Missing));
}

/// A Customer object with `n` links of distinct rels.
fn many_links(n: usize) -> String {
    let links: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"rel": "r{i}", "href": "https://demo-eur.proabono.com/portal-auth/t{i}"}}"#
            )
        })
        .collect();
    format!(r#"{{"Links": [{}]}}"#, links.join(","))
}

#[tokio::test]
async fn every_link_is_read_by_the_layers_rules() {
    let api = ApiLive::start().await;
    let guide = test_support::GUIDE_LINK;
    api.set_links(
        "mixed",
        vec![
            Link::href("hosted-home", "https://evil.example/portal-auth/abc"),
            Link::href(
                "hosted-collection-offers",
                "https://evilproabono.com/offers/abc",
            ),
            Link::href(
                "hosted-collection-subscription",
                &format!(
                    "https://mon-app.com/Subscriptions?crylk={}",
                    test_support::GUIDE_CRYLK
                ),
            ),
            Link::href("insite-home", "https://mon-app.com/Subscriptions"),
            Link::query("insite-register", "\"</script><script>alert(1)</script>"),
            Link::href("insite-collection-offers", "javascript:alert(1)"),
        ],
    );
    api.set_links(
        "in-site-only",
        vec![Link::query("insite-register", test_support::IN_SITE_QUERY)],
    );
    let default = client(&api).build().unwrap();
    let links = default.customer_links("mixed").await.unwrap();
    assert_eq!(
        links.hosted_home(),
        Err(LinkError::Refused(Refusal::HostNotAllowed))
    );
    assert_eq!(
        links.target("hosted-collection-offers"),
        Err(LinkError::Refused(Refusal::HostNotAllowed))
    );
    // The business's page carrying the link: the link, as from the e-mail.
    assert_eq!(
        links
            .target("hosted-collection-subscription")
            .unwrap()
            .as_str(),
        guide
    );
    // Never the business's own page.
    assert_eq!(
        links.target("insite-home"),
        Err(LinkError::Refused(Refusal::HostNotAllowed))
    );
    assert_eq!(
        links.query("insite-register"),
        Err(LinkError::Refused(Refusal::ForbiddenCharacter))
    );
    assert_eq!(
        links.target("insite-collection-offers"),
        Err(LinkError::Refused(Refusal::SchemeNotAllowed))
    );

    let links = default.customer_links("in-site-only").await.unwrap();
    assert_eq!(links.hosted_home(), Err(LinkError::Missing));
    assert_eq!(
        links.query("insite-register").unwrap().as_str(),
        test_support::IN_SITE_QUERY
    );

    // The same origins as the layer's `crylk`: narrowed, they refuse the
    // segment's links too.
    let layer = PortalLinkLayer::new().allowed_origins(["https://mon-app.via.proabono.com"]);
    let narrow = client(&api).links_policy(&layer).build().unwrap();
    let links = narrow.customer_links(DEMO_CUSTOMER).await.unwrap();
    assert_eq!(
        links.hosted_home(),
        Err(LinkError::Refused(Refusal::HostNotAllowed))
    );
}

#[tokio::test]
async fn one_api_call_for_a_thousand_concurrent_lookups() {
    let api = ApiLive::start().await;
    let client = client(&api).build().unwrap();
    api.fail_next(Fault::Slow(Duration::from_millis(200)));
    let lookups: Vec<_> = (0..1000)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.customer_links(DEMO_CUSTOMER).await })
        })
        .collect();
    let mut homes = std::collections::HashSet::new();
    for lookup in lookups {
        let links = lookup.await.unwrap().unwrap();
        homes.insert(links.hosted_home().unwrap().as_str().to_owned());
    }
    assert_eq!(homes.len(), 1);
    assert_eq!(api.count(), 1);
}

#[tokio::test]
async fn a_failure_is_shared_by_waiting_lookups_but_not_cached() {
    let api = ApiLive::start().await;
    let client = client(&api).max_retries(0).build().unwrap();
    api.fail_always(Some(Fault::Status(500)));
    let lookups: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.customer_links(DEMO_CUSTOMER).await })
        })
        .collect();
    for lookup in lookups {
        let _ = lookup.await.unwrap();
    }
    let failed = api.count();
    assert!(failed <= 2, "{failed}");
    api.fail_always(None);
    assert!(client.customer_links(DEMO_CUSTOMER).await.is_ok());
    assert_eq!(api.count(), failed + 1, "the failure was not cached");
    assert!(client.customer_links(DEMO_CUSTOMER).await.is_ok());
    assert_eq!(api.count(), failed + 1, "the success was");
}

#[tokio::test]
async fn cached_links_expire() {
    let api = ApiLive::start().await;
    let client = client(&api)
        .cache_ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    client.customer_links(DEMO_CUSTOMER).await.unwrap();
    client.customer_links(DEMO_CUSTOMER).await.unwrap();
    assert_eq!(api.count(), 1);
    tokio::time::sleep(Duration::from_millis(450)).await;
    client.customer_links(DEMO_CUSTOMER).await.unwrap();
    assert_eq!(api.count(), 2);
}

#[tokio::test]
async fn invalidation_and_revocation() {
    let api = ApiLive::start().await;
    let client = client(&api).build().unwrap();
    let old = client.customer_links(DEMO_CUSTOMER).await.unwrap();
    client.invalidate(DEMO_CUSTOMER).await;
    client.customer_links(DEMO_CUSTOMER).await.unwrap();
    assert_eq!(api.count(), 2);

    client.revoke_links(DEMO_CUSTOMER).await.unwrap();
    let hits = api.hits();
    assert_eq!(hits[2].method, http::Method::POST);
    assert_eq!(hits[2].path, "/v1/Customer/LinksRevokation");
    assert_eq!(hits[2].reference.as_deref(), Some(DEMO_CUSTOMER));
    let new = client.customer_links(DEMO_CUSTOMER).await.unwrap();
    assert_eq!(api.count(), 4, "revocation dropped the cached links");
    assert_ne!(new.hosted_home().unwrap(), old.hosted_home().unwrap());
    assert_eq!(
        new.hosted_home().unwrap().as_str(),
        api.hosted_home(DEMO_CUSTOMER).unwrap()
    );
    assert_eq!(
        client.revoke_links("nobody").await.unwrap_err(),
        ApiError::UnknownCustomer
    );
}

/// The module docs: a failed revocation still drops the cached links, so
/// the page never serves, from the cache, links a retried revocation may
/// have revoked.
#[tokio::test]
async fn a_failed_revocation_drops_the_cached_links_too() {
    let api = ApiLive::start().await;
    let client = client(&api).build().unwrap();
    client.customer_links(DEMO_CUSTOMER).await.unwrap();
    api.fail_always(Some(Fault::Status(500)));
    assert!(client.revoke_links(DEMO_CUSTOMER).await.is_err());
    api.fail_always(None);
    let before = api.count();
    client.customer_links(DEMO_CUSTOMER).await.unwrap();
    assert_eq!(api.count(), before + 1, "the lookup called the API again");
}

#[tokio::test]
async fn upsert_creates_the_customer_and_caches_its_links() {
    let api = ApiLive::start().await;
    let client = client(&api).build().unwrap();
    let customer = NewCustomer::new("new-7")
        .unwrap()
        .name("Jane")
        .email("jane@example.com")
        .language("en");
    let links = client.upsert_customer(&customer).await.unwrap();
    assert_eq!(
        links.hosted_home().unwrap().as_str(),
        api.hosted_home("new-7").unwrap()
    );
    let hits = api.hits();
    assert_eq!(
        (hits[0].method.as_str(), hits[0].path.as_str()),
        ("POST", "/v1/Customer")
    );
    assert_eq!(hits[0].reference.as_deref(), Some("new-7"));
    let again = client.customer_links("new-7").await.unwrap();
    assert!(Arc::ptr_eq(&links, &again));
    assert_eq!(api.count(), 1);
    assert!(!format!("{customer:?}").contains("jane"));
}

#[tokio::test]
async fn the_client_trusts_only_what_it_is_told() {
    let api = ApiLive::start().await;
    // The platform's roots do not hold the stand-in's certificate.
    let config = Config::new(&api.endpoint(), AGENT_KEY, API_KEY).unwrap();
    if let Ok(platform) = Client::builder(config).max_retries(0).build() {
        assert_eq!(
            platform.customer_links(DEMO_CUSTOMER).await.unwrap_err(),
            ApiError::Unavailable { status: None }
        );
    }
    // Plain http needs saying so, and then meets a TLS server.
    let http = api.endpoint().replace("https", "http");
    assert!(Config::new(&http, AGENT_KEY, API_KEY).is_err());
    assert!(Config::plain_http(&http, AGENT_KEY, API_KEY).is_ok());
}

#[tokio::test]
async fn settings_are_checked() {
    let api = ApiLive::start().await;
    assert!(client(&api).timeout(Duration::ZERO).build().is_err());
    assert!(client(&api)
        .timeout(Duration::from_secs(9))
        .build()
        .is_err());
    assert!(client(&api).concurrency_limit(0).build().is_err());
    assert!(client(&api).max_response_bytes(0).build().is_err());
    assert!(client(&api)
        .backoff(Duration::from_secs(2), Duration::from_secs(1))
        .build()
        .is_err());
}

#[tokio::test]
async fn the_concurrency_limit_queues_calls_within_their_deadline() {
    let api = ApiLive::start().await;
    let client = client(&api)
        .concurrency_limit(2)
        .timeout(Duration::from_millis(900))
        .deadline(Duration::from_millis(1000))
        .build()
        .unwrap();
    api.fail_always(Some(Fault::Slow(Duration::from_millis(300))));
    let start = Instant::now();
    let lookups: Vec<_> = (0..10)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.customer_links(&format!("c-{i}")).await })
        })
        .collect();
    let mut timed_out = 0;
    for lookup in lookups {
        if matches!(lookup.await.unwrap(), Err(ApiError::TimedOut)) {
            timed_out += 1;
        }
    }
    // Two at a time, 300 ms each: three rounds fit in the deadline, and the
    // calls still waiting for a slot or in the fourth round end there.
    assert!(start.elapsed() < Duration::from_millis(1000 + 300));
    assert!(timed_out >= 2, "{timed_out}");
    assert!(api.count() <= 8, "at most two at a time: {}", api.count());
}

/// Keys, links and queries never reach `Debug`, errors or the logs.
#[cfg(feature = "tracing")]
#[tokio::test]
async fn secrets_stay_out_of_debug_errors_and_logs() {
    use base64::Engine as _;
    let captured = support::capture::Captured::default();
    let _guard = captured.install(tracing::Level::TRACE);

    let api = ApiLive::start().await;
    let client = client(&api).build().unwrap();
    let links = client.customer_links(DEMO_CUSTOMER).await.unwrap();
    let home = links.hosted_home().unwrap().as_str().to_owned();
    let token = home.rsplit('/').next().unwrap().to_owned();
    let query = links.query("insite-register").unwrap().as_str().to_owned();
    let mut shown = vec![format!("{client:?}"), format!("{links:?}")];
    api.fail_next(Fault::Status(503));
    api.fail_next(Fault::Reset);
    client.invalidate(DEMO_CUSTOMER).await;
    client.customer_links(DEMO_CUSTOMER).await.unwrap();
    for fault in [
        Fault::Status(401),
        Fault::MalformedJson,
        Fault::Oversized(1 << 20),
    ] {
        api.fail_next(fault);
        client.invalidate(DEMO_CUSTOMER).await;
        let err = client.customer_links(DEMO_CUSTOMER).await.unwrap_err();
        shown.push(format!("{err:?} {err}"));
    }
    let config = Config::new(&api.endpoint(), AGENT_KEY, API_KEY).unwrap();
    shown.push(format!("{config:?}"));

    let logs = captured.text();
    assert!(
        logs.contains("ProAbono API call"),
        "the client logged: {logs}"
    );
    assert!(logs.contains("retrying"), "{logs}");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{AGENT_KEY}:{API_KEY}"));
    for secret in [
        AGENT_KEY,
        API_KEY,
        &basic,
        &home,
        &token,
        &query,
        DEMO_CUSTOMER,
    ] {
        assert!(
            !logs.contains(secret),
            "{secret:?} leaked into the logs: {logs}"
        );
        for text in &shown {
            assert!(!text.contains(secret), "{secret:?} leaked into {text}");
        }
    }
}

/// A transport of the user's own (here a recording `service_fn`) takes the
/// place of hyper-util's, and sees the `Authorization` header marked
/// sensitive.
#[tokio::test]
async fn a_transport_of_ones_own() {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use std::sync::Mutex;
    use tower_portal_link::api::ApiRequest;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let transport = tower::service_fn(move |req: ApiRequest| {
        let auth = &req.headers()[http::header::AUTHORIZATION];
        record
            .lock()
            .unwrap()
            .push((auth.is_sensitive(), req.uri().to_string()));
        async {
            let body = r#"{"Links": [{"rel": "hosted-home", "href": "https://demo-eur.proabono.com/portal-anon"}]}"#;
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(body))))
        }
    });
    let config = Config::new("https://api-42.proabono.com", "agent", "key").unwrap();
    let client = Client::builder(config)
        .transport(transport)
        .build()
        .unwrap();
    let links = client.customer_links("jane doe&co?").await;
    assert!(matches!(links, Err(ApiError::InvalidReference(_))));
    let links = client.customer_links("jane doe/7").await.unwrap();
    assert_eq!(
        links.hosted_home().unwrap().as_str(),
        "https://demo-eur.proabono.com/portal-anon"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [(
            true,
            "https://api-42.proabono.com/v1/Customer?ReferenceCustomer=jane%20doe%2F7".to_owned()
        )]
    );
}

/// An outage of the API: every page view is still served, within the
/// client's deadline and a small margin, and never with a `5xx`.
#[cfg(feature = "axum")]
#[tokio::test]
async fn an_outage_never_breaks_the_page() {
    use std::collections::HashMap;

    use axum::extract::{Query, Request, State};
    use axum::response::Html;
    use axum::routing::get;
    use axum::{Router, ServiceExt};
    use tower::Layer;
    use tower_portal_link::PortalTarget;

    async fn page(
        State(api): State<Client>,
        Query(params): Query<HashMap<String, String>>,
        target: Option<PortalTarget>,
    ) -> Html<String> {
        // The test's stand-in for a session.
        let customer = params.get("as").map_or("cust-42", String::as_str);
        let src = match target {
            Some(target) => target.as_str().to_owned(),
            None => match api.customer_links(customer).await {
                Ok(links) => match links.hosted_home() {
                    Ok(home) => home.as_str().to_owned(),
                    Err(_) => return Html("<p>No portal for this account.</p>".into()),
                },
                Err(_) => return Html("<p>The portal is unavailable.</p>".into()),
            },
        };
        Html(format!(
            r#"<iframe src="{}"></iframe>"#,
            src.replace('&', "&amp;")
        ))
    }

    let api = ApiLive::start().await;
    let deadline = Duration::from_millis(400);
    let client = client(&api)
        .timeout(Duration::from_millis(200))
        .deadline(deadline)
        .build()
        .unwrap();
    let router = Router::new()
        .route("/Subscriptions", get(page))
        .with_state(client);
    let app = PortalLinkLayer::new().layer(router);
    let addr = test_support::serve_on_loopback(|listener| async move {
        axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
    })
    .await;

    let res = test_support::get(addr, "/Subscriptions").await;
    assert!(test_support::text(&res).contains(&api.hosted_home(DEMO_CUSTOMER).unwrap()));

    let margin = Duration::from_millis(500);
    for (i, fault) in [
        Fault::Slow(Duration::from_secs(10)),
        Fault::SlowBody(Duration::from_secs(10)),
        Fault::Reset,
        Fault::Status(503),
        Fault::RetryAfter(120),
        Fault::Status(500),
        Fault::MalformedJson,
    ]
    .into_iter()
    .enumerate()
    {
        api.fail_always(Some(fault.clone()));
        let start = Instant::now();
        let views: Vec<_> = (0..20)
            .map(|n| {
                let uri = format!("/Subscriptions?as=c-{i}-{n}");
                tokio::spawn(async move { test_support::get(addr, &uri).await })
            })
            .collect();
        for view in views {
            let res = view.await.unwrap();
            assert_eq!(res.status(), 200, "{fault:?}");
            assert!(
                test_support::text(&res).contains("unavailable"),
                "{fault:?}"
            );
        }
        assert!(
            start.elapsed() < deadline + margin,
            "{fault:?}: {:?}",
            start.elapsed()
        );
        // The e-mailed link needs no API.
        let guide = format!(
            "/Subscriptions?crylk={}&as=c-{i}",
            test_support::GUIDE_CRYLK
        );
        let res = test_support::get(addr, &guide).await;
        assert!(test_support::text(&res).contains(test_support::GUIDE_LINK));
    }
}
