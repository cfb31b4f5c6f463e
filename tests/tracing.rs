//! With the `tracing` feature: one event per refused link, with the reason
//! and without the link.
#![cfg(feature = "tracing")]

mod common;

use common::capture::Captured;
use http::{Request, Response};
use tower::{Service, ServiceBuilder};
use tower_portal_link::PortalLinkLayer;

/// Runs the layer's `call` for each URI (the event is emitted there) and
/// returns what a subscriber printed.
fn logged(uris: &[&str]) -> String {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::TRACE);
    let mut svc = ServiceBuilder::new()
        .layer(PortalLinkLayer::new())
        .service_fn(|_: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(()))
        });
    for uri in uris {
        drop(svc.call(Request::get(*uri).body(()).unwrap()));
    }
    captured.text()
}

#[test]
fn one_event_per_refused_link_without_the_link() {
    let out = logged(&[
        "/Subscriptions?crylk=https%3a%2f%2fevilproabono.com%2fSECRET-TOKEN",
        "/Subscriptions?crylk=https%3a%2f%2fmon-app.via.proabono.com%3a8443%2fSECRET-TOKEN",
        "/Subscriptions?crylk=https%3a%2f%2fmon-app.via.proabono.com%2fSECRET-TOKEN",
        "/Subscriptions?page=2",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].contains("WARN"), "{out}");
    assert!(lines[0].contains("host_not_allowed"), "{out}");
    assert!(lines[1].contains("port_not_allowed"), "{out}");
    for secret in ["SECRET", "evilproabono", "mon-app", "8443", "https"] {
        assert!(!out.contains(secret), "{secret:?} leaked into {out}");
    }
}
