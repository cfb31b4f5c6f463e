//! With the `tracing` feature: one event per refused link, with the reason
//! and without the link.
#![cfg(feature = "tracing")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use tower::{Service, ServiceBuilder};
use tower_portal_link::PortalLinkLayer;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs the layer's `call` for each URI (the event is emitted there) and
/// returns what a subscriber printed.
fn logged(uris: &[&str]) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut svc = ServiceBuilder::new()
            .layer(PortalLinkLayer::new())
            .service_fn(|_: Request<()>| async {
                Ok::<_, std::convert::Infallible>(Response::new(()))
            });
        for uri in uris {
            drop(svc.call(Request::get(*uri).body(()).unwrap()));
        }
    });
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
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
