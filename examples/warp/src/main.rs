//! Runs the example: `cargo run -p example-warp`.

use std::net::Ipv4Addr;

use tokio::net::TcpListener;

const GUIDE_CRYLK: &str =
    "https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

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
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    println!("warp + PortalLinkLayer listening on http://{addr}");
    println!("Try: curl -i 'http://{addr}/Subscriptions?crylk={GUIDE_CRYLK}'");
    println!(
        "Refused: curl -i 'http://{addr}/Subscriptions?crylk=https%3a%2f%2fevilproabono.com%2f'"
    );
    example_warp::serve(listener).await
}
