//! Shared by the integration tests: a handler that reports what the layer
//! handed it, and the guide's example link.
#![allow(dead_code)]

use std::convert::Infallible;

use http::{Request, Response};
use tower::{Service, ServiceExt};
use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};

/// The `crylk` value of ProAbono's guide, as it stands in the query.
pub const GUIDE_CRYLK: &str =
    "https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";
/// What the layer must hand on for it.
pub const GUIDE_LINK: &str =
    "https://mon-app.via.proabono.com/subscribe-offer/0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

/// What a handler behind the layer saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub target: Option<PortalTarget>,
    pub refusal: Option<Refusal>,
}

/// Sends `GET /Subscriptions?{query}` through `layer` in front of a handler
/// that returns the extensions it found.
pub async fn through(layer: &PortalLinkLayer, query: &str) -> Seen {
    let svc = tower::ServiceBuilder::new()
        .layer(layer.clone())
        .service_fn(|req: Request<()>| async move {
            let seen = Seen {
                target: req.extensions().get::<PortalTarget>().cloned(),
                refusal: req.extensions().get::<Refusal>().copied(),
            };
            Ok::<_, Infallible>(Response::new(Some(seen)))
        });
    let uri = format!("/Subscriptions?{query}");
    let req = Request::get(uri.as_str()).body(()).expect("test URI");
    let mut svc = svc;
    let res = svc.ready().await.unwrap().call(req).await.unwrap();
    res.into_body().expect("handler ran")
}
