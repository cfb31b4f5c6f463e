//! Serves the page on 127.0.0.1: `cargo run -p subscriptions`.

use std::net::{Ipv4Addr, SocketAddr};

use subscriptions::{app, Settings};

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
    let settings = Settings::from_env()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let addr = listener.local_addr()?;
    println!("Subscription page listening on http://{addr}");
    println!("Open: http://{addr}/Subscriptions?crylk={GUIDE_CRYLK}");
    println!("Refused: http://{addr}/Subscriptions?crylk=https%3a%2f%2fevilproabono.com%2f");
    println!("In-Site: http://{addr}/Subscriptions?pa_query={IN_SITE_QUERY}");
    axum::serve(listener, app(settings)).await
}
