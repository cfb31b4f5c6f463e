use axum::extract::{Request, State};
use axum::{response::Html, routing::get, Router, ServiceExt};
use tower::Layer;
use tower_portal_link::api::{Client, Config};
use tower_portal_link::{PortalLinkLayer, PortalTarget};

async fn page(State(api): State<Client>, link: Option<PortalTarget>) -> Html<String> {
    // The e-mailed link when the layer accepted it, else the signed-in
    // customer's `hosted-home` (its reference comes from your session).
    let src = match link {
        Some(link) => Some(link),
        None => hosted_home(&api, "cust-42").await,
    };
    // ProAbono down or slow, or no such link: the page still renders.
    let Some(src) = src else {
        return Html("<p>Subscriptions are unavailable; try again soon.</p>".into());
    };
    // A canonical URL, not HTML: escape it for the attribute.
    let src = src.as_str().replace('&', "&amp;").replace('"', "&quot;");
    Html(format!(r#"<iframe src="{src}" height="700"></iframe>"#))
}

async fn hosted_home(api: &Client, customer: &str) -> Option<PortalTarget> {
    let links = api.customer_links(customer).await.ok()?;
    links.hosted_home().ok().cloned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let layer = PortalLinkLayer::new();
    let config = Config::from_env()?;
    let api = Client::builder(config).links_policy(&layer).build()?;
    let router = Router::new().route("/Subscriptions", get(page));
    // Outermost, around the whole router: nothing inside sees the link.
    let app = layer.layer(router.with_state(api));
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await?;
    Ok(())
}
