use axum::{extract::Request, response::Html, routing::get, Router, ServiceExt};
use tower::Layer;
use tower_portal_link::{PortalLinkLayer, PortalTarget};

/// The `hosted-home` link of ProAbono's Customer object.
const HOSTED_HOME: &str = "https://demo-eur.proabono.com/portal-anon";

async fn subscriptions(target: Option<PortalTarget>) -> Html<String> {
    // `None` when `crylk` is absent or refused: fall back to `hosted-home`.
    let src = target.as_ref().map_or(HOSTED_HOME, PortalTarget::as_str);
    // A canonical URL, not HTML: escape it for the attribute.
    let src = src.replace('&', "&amp;").replace('"', "&quot;");
    Html(format!(r#"<iframe src="{src}" height="700"></iframe>"#))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let router = Router::new().route("/Subscriptions", get(subscriptions));
    // Outermost, around the whole router: nothing inside sees the link.
    let app = PortalLinkLayer::new().layer(router);
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // A layer around a `Router` is a plain service: axum serves it through
    // `into_make_service`, named with its request type as axum's docs do.
    axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
}
