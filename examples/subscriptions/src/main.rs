//! Serves the page on 127.0.0.1: `cargo run -p subscriptions`.

use std::net::{Ipv4Addr, SocketAddr};

use subscriptions::{app, ApiChoice, ApiSettings, Settings};
use test_support::api_live::{ApiLive, AGENT_KEY, API_KEY};
use tower_portal_link::api::Config;

const GUIDE_CRYLK: &str =
    "https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";
/// A query of ProAbono's In-Site documentation.
const IN_SITE_QUERY: &str = "OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "PORT is not a port number",
            )
        })?,
        Err(_) => 3000,
    };
    let invalid = |e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
    };
    let mut settings = Settings::from_env().map_err(|e| invalid(&e))?;
    // Kept until the page stops: the stand-in serves while it lives.
    let mut stand_in = None;
    settings.api = match Settings::api_from_env().map_err(|e| invalid(&e))? {
        ApiChoice::Off => None,
        ApiChoice::Live(api) => Some(*api),
        ApiChoice::StandIn(customer) => {
            let api = ApiLive::start().await;
            api.add_customer(customer.as_str());
            let config =
                Config::new(&api.endpoint(), AGENT_KEY, API_KEY).map_err(|e| invalid(&e))?;
            let settings = ApiSettings {
                config,
                tls: Some(api.tls_config()),
                source: format!("the local stand-in for API Live at {}", api.endpoint()),
                customer,
            };
            stand_in = Some(api);
            Some(settings)
        }
    };
    let api_line = match &settings.api {
        Some(api) => format!(
            "Customer links: {}, for customer {}",
            api.source,
            api.customer.as_str()
        ),
        None => "Customer links: none (PROABONO_API=off)".to_owned(),
    };

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let addr = listener.local_addr()?;
    println!("Subscription page listening on http://{addr}");
    println!("Open: http://{addr}/Subscriptions?crylk={GUIDE_CRYLK}");
    println!("Refused: http://{addr}/Subscriptions?crylk=https%3a%2f%2fevilproabono.com%2f");
    println!("In-Site: http://{addr}/Subscriptions?pa_query={IN_SITE_QUERY}");
    println!("{api_line}");
    let served = axum::serve(listener, app(settings)).await;
    drop(stand_in);
    served
}
