//! Where the API is and the keys that open it, checked at construction.

use std::fmt;

use url::Url;

use super::secret::Secret;

/// The environment variable of the API Live endpoint
/// (`https://api-{IdBusiness}.proabono.com`).
pub const ENV_ENDPOINT: &str = "PROABONO_API_ENDPOINT";
/// The environment variable of the agent key (the Basic user name).
pub const ENV_AGENT_KEY: &str = "PROABONO_AGENT_KEY";
/// The environment variable of the API key (the Basic password).
pub const ENV_API_KEY: &str = "PROABONO_API_KEY";

/// The endpoint and keys of ProAbono's API Live, checked when built: an
/// `https` endpoint (plain `http` only through [`Config::plain_http`], for a
/// local test server), and keys that can be sent in a Basic `Authorization`
/// header.
///
/// `Debug` shows the endpoint and never the keys.
///
/// ```
/// use tower_portal_link::api::{Config, ConfigError};
///
/// let config = Config::new("https://api-42.proabono.com", "agent", "key").unwrap();
/// assert_eq!(config.endpoint(), "https://api-42.proabono.com/");
/// assert!(!format!("{config:?}").contains("key\""));
///
/// assert_eq!(
///     Config::new("http://api-42.proabono.com", "agent", "key").unwrap_err(),
///     ConfigError::InsecureEndpoint,
/// );
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) endpoint: Url,
    pub(crate) agent_key: Secret,
    pub(crate) api_key: Secret,
}

impl Config {
    /// An `https` endpoint and its keys.
    ///
    /// # Errors
    ///
    /// When the endpoint is not an absolute `https` URL without credentials,
    /// query or fragment, or a key is empty or not visible ASCII (the agent
    /// key without `:`).
    pub fn new(endpoint: &str, agent_key: &str, api_key: &str) -> Result<Config, ConfigError> {
        Config::build(endpoint, agent_key, api_key, false)
    }

    /// As [`new`](Self::new), and a plain `http` endpoint is accepted too:
    /// for a local test server, never for ProAbono (the keys would travel
    /// in clear).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), but `http` is allowed.
    pub fn plain_http(
        endpoint: &str,
        agent_key: &str,
        api_key: &str,
    ) -> Result<Config, ConfigError> {
        Config::build(endpoint, agent_key, api_key, true)
    }

    /// From `PROABONO_API_ENDPOINT`, `PROABONO_AGENT_KEY` and
    /// `PROABONO_API_KEY`, checked as [`new`](Self::new) checks them
    /// (`https` only).
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingVariable`] when one is unset or not Unicode,
    /// otherwise as [`new`](Self::new).
    pub fn from_env() -> Result<Config, ConfigError> {
        let var = |name: &'static str| {
            std::env::var(name).map_err(|_| ConfigError::MissingVariable(name))
        };
        let endpoint = var(ENV_ENDPOINT)?;
        let agent_key = var(ENV_AGENT_KEY)?;
        let api_key = var(ENV_API_KEY)?;
        Config::new(&endpoint, &agent_key, &api_key)
    }

    fn build(
        endpoint: &str,
        agent_key: &str,
        api_key: &str,
        allow_http: bool,
    ) -> Result<Config, ConfigError> {
        let endpoint = Url::parse(endpoint).map_err(|_| ConfigError::InvalidEndpoint)?;
        match endpoint.scheme() {
            "https" => {}
            "http" if allow_http => {}
            "http" => return Err(ConfigError::InsecureEndpoint),
            _ => return Err(ConfigError::InvalidEndpoint),
        }
        if endpoint.host().is_none()
            || !endpoint.username().is_empty()
            || endpoint.password().is_some()
            || endpoint.query().is_some()
            || endpoint.fragment().is_some()
        {
            return Err(ConfigError::InvalidEndpoint);
        }
        // Visible ASCII: what a header value holds as it is; a trailing
        // newline pasted from a shell is the classic invalid key.
        let visible = |key: &str| !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic());
        if !visible(agent_key) || agent_key.contains(':') {
            return Err(ConfigError::InvalidAgentKey);
        }
        if !visible(api_key) {
            return Err(ConfigError::InvalidApiKey);
        }
        Ok(Config {
            endpoint,
            agent_key: Secret::new(agent_key),
            api_key: Secret::new(api_key),
        })
    }

    /// The endpoint, as parsed.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// `scheme://host:port/path` of an API path, the endpoint's own path
    /// kept as a prefix.
    pub(crate) fn url(&self, path: &str) -> String {
        let base = self.endpoint.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("endpoint", &self.endpoint.as_str())
            .field("agent_key", &self.agent_key)
            .field("api_key", &self.api_key)
            .finish()
    }
}

/// Why a [`Config`] or a [`Client`](super::Client) could not be built. It
/// never carries a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable is unset or not Unicode.
    MissingVariable(&'static str),
    /// The endpoint is not an absolute URL with a host, or it carries
    /// credentials, a query or a fragment.
    InvalidEndpoint,
    /// The endpoint is plain `http` and [`Config::plain_http`] was not used.
    InsecureEndpoint,
    /// The agent key is empty, not visible ASCII, or holds a `:`.
    InvalidAgentKey,
    /// The API key is empty or not visible ASCII.
    InvalidApiKey,
    /// The platform's root certificates could not be loaded.
    NoRootCertificates,
    /// A duration or a bound of the [`ClientBuilder`](super::ClientBuilder)
    /// is zero, or a minimum exceeds its maximum.
    InvalidSetting(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingVariable(name) => write!(f, "{name} is not set"),
            ConfigError::InvalidEndpoint => f.write_str(
                "the ProAbono API endpoint is not an absolute URL with a host and no credentials, query or fragment",
            ),
            ConfigError::InsecureEndpoint => {
                f.write_str("the ProAbono API endpoint is not https")
            }
            ConfigError::InvalidAgentKey => {
                f.write_str("the ProAbono agent key is empty, not visible ASCII, or holds a ':'")
            }
            ConfigError::InvalidApiKey => {
                f.write_str("the ProAbono API key is empty or not visible ASCII")
            }
            ConfigError::NoRootCertificates => {
                f.write_str("the platform's root certificates could not be loaded")
            }
            ConfigError::InvalidSetting(what) => write!(f, "invalid client setting: {what}"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let ok = |e| Config::new(e, "a", "k").map(|c| c.endpoint().to_owned());
        assert_eq!(
            ok("https://api-42.proabono.com").unwrap(),
            "https://api-42.proabono.com/"
        );
        assert_eq!(
            ok("HTTPS://API-42.proabono.com/").unwrap(),
            "https://api-42.proabono.com/"
        );
        assert_eq!(
            ok("http://api-42.proabono.com"),
            Err(ConfigError::InsecureEndpoint)
        );
        for bad in [
            "",
            "api-42.proabono.com",
            "ftp://api-42.proabono.com",
            "https://u:p@api-42.proabono.com",
            "https://api-42.proabono.com/?x=1",
            "https://api-42.proabono.com/#f",
            "file:///etc/passwd",
        ] {
            assert_eq!(ok(bad), Err(ConfigError::InvalidEndpoint), "{bad}");
        }
        assert!(Config::plain_http("http://127.0.0.1:8080", "a", "k").is_ok());
        let c = Config::new("https://proxy.example/pa/", "a", "k").unwrap();
        assert_eq!(
            c.url("/v1/Customer"),
            "https://proxy.example/pa/v1/Customer"
        );
    }

    #[test]
    fn keys() {
        let e = "https://api-42.proabono.com";
        assert_eq!(
            Config::new(e, "", "k").unwrap_err(),
            ConfigError::InvalidAgentKey
        );
        assert_eq!(
            Config::new(e, "a:b", "k").unwrap_err(),
            ConfigError::InvalidAgentKey
        );
        assert_eq!(
            Config::new(e, "a\n", "k").unwrap_err(),
            ConfigError::InvalidAgentKey
        );
        assert_eq!(
            Config::new(e, "a", "k ").unwrap_err(),
            ConfigError::InvalidApiKey
        );
        assert_eq!(
            Config::new(e, "a", "").unwrap_err(),
            ConfigError::InvalidApiKey
        );
        assert_eq!(
            Config::new(e, "a", "ké").unwrap_err(),
            ConfigError::InvalidApiKey
        );
        let debug = format!(
            "{:?}",
            Config::new(e, "agent-secret", "api-secret").unwrap()
        );
        assert!(
            !debug.contains("agent-secret") && !debug.contains("api-secret"),
            "{debug}"
        );
    }
}
