//! With the `tracing` feature: one `DEBUG` event per refused link, with the
//! reason and without the link.
#![cfg(feature = "tracing")]

mod support;

use http::Request;
use support::capture::Captured;
use support::{poll_once, Bare, EVIL_CRYLK};
use tower::Layer;
use tower_portal_link::PortalLinkLayer;

/// Sends each URI through the layer and returns what a subscriber at
/// `level` printed.
fn logged(level: tracing::Level, uris: &[&str]) -> String {
    let captured = Captured::default();
    let _guard = captured.install(level);
    let mut svc = PortalLinkLayer::new().layer(Bare);
    for uri in uris {
        let Ok(_) = poll_once(&mut svc, Request::get(*uri).body(()).unwrap());
    }
    captured.text()
}

#[test]
fn one_event_per_refused_link_without_the_link() {
    let uris = [
        "/Subscriptions?crylk=https%3a%2f%2fevilproabono.com%2fSECRET-TOKEN",
        "/Subscriptions?crylk=https%3a%2f%2fmon-app.via.proabono.com%3a8443%2fSECRET-TOKEN",
        "/Subscriptions?crylk=https%3a%2f%2fmon-app.via.proabono.com%2fSECRET-TOKEN",
        "/Subscriptions?page=2",
    ];
    let out = logged(tracing::Level::DEBUG, &uris);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].contains("DEBUG"), "{out}");
    assert!(lines[0].contains("host_not_allowed"), "{out}");
    assert!(lines[1].contains("port_not_allowed"), "{out}");
    for secret in ["SECRET", "evilproabono", "mon-app", "8443", "https"] {
        assert!(!out.contains(secret), "{secret:?} leaked into {out}");
    }
}

#[test]
fn refusals_stay_out_of_logs_at_info() {
    // Clients choose what they send: at the default `INFO` level, no client
    // can fill a service's logs with refusals.
    let hostile = format!("/Subscriptions?crylk={EVIL_CRYLK}");
    assert_eq!(logged(tracing::Level::INFO, &[hostile.as_str(); 100]), "");
    assert_ne!(logged(tracing::Level::DEBUG, &[hostile.as_str()]), "");
}
