//! Runs the example: `cargo run -p example-tonic-web`.

use std::net::Ipv4Addr;

use example_tonic_web::{serve, GET_LINK, PORTAL_LINK_HEADER};
use tokio::net::TcpListener;

const GUIDE_CRYLK: &str =
    "https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|_| "PORT is not a port number")?,
        Err(_) => 3000,
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    println!("tonic + tonic-web + PortalLinkLayer listening on http://{addr} (gRPC and gRPC-web)");
    // A gRPC-web call by hand: a 5-byte frame header (uncompressed, length
    // 0) for the empty `GetLinkRequest`; `od` shows the binary answer.
    let call = "printf '\\000\\000\\000\\000\\000' | curl -s --http1.1 -X POST \
                -H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1' --data-binary @-";
    println!("Try, with the link in the header:");
    println!("  {call} -H '{PORTAL_LINK_HEADER}: {GUIDE_CRYLK}' 'http://{addr}{GET_LINK}' | od -c");
    println!("or in the query:");
    println!("  {call} 'http://{addr}{GET_LINK}?crylk={GUIDE_CRYLK}' | od -c");
    serve(listener).await?;
    Ok(())
}
