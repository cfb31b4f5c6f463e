//! With the `tracing` feature: one `DEBUG` event per refused link, with the
//! reason and without the link.
#![cfg(feature = "tracing")]

mod common;

use common::capture::Captured;
use std::task::{Context, Waker};

use http::{Request, Response};
use tower::{Service, ServiceBuilder};
use tower_portal_link::PortalLinkLayer;

/// Runs the layer's `call` for each URI (the event is emitted there) and
/// returns what a subscriber at `level` printed.
fn logged(level: tracing::Level, uris: &[&str]) -> String {
    let captured = Captured::default();
    let _guard = captured.install(level);
    let mut svc = ServiceBuilder::new()
        .layer(PortalLinkLayer::new())
        .service_fn(|_: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(()))
        });
    let mut cx = Context::from_waker(Waker::noop());
    for uri in uris {
        assert!(svc.poll_ready(&mut cx).is_ready());
        drop(svc.call(Request::get(*uri).body(()).unwrap()));
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
    let hostile = "/Subscriptions?crylk=https%3a%2f%2fevilproabono.com%2f";
    assert_eq!(logged(tracing::Level::INFO, &[hostile; 100]), "");
    assert_ne!(logged(tracing::Level::DEBUG, &[hostile]), "");
}
