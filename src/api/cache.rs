//! The per-customer cache of links: moka's, bounded, with a lifetime, and
//! one fetch for any number of concurrent lookups.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{ApiError, CustomerLinks, CustomerRef};

/// Successful lookups only: a failure is returned to every lookup that
/// waited on it, and the next lookup fetches again.
#[derive(Clone)]
pub(crate) struct LinkCache {
    cache: moka::future::Cache<CustomerRef, Arc<CustomerLinks>>,
    ttl: Duration,
}

impl LinkCache {
    pub(crate) fn new(capacity: u64, ttl: Duration) -> LinkCache {
        LinkCache {
            cache: moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            ttl,
        }
    }

    /// The cached links, or those `fetch` returns, fetched once for every
    /// concurrent lookup of `reference`.
    pub(crate) async fn get_or_fetch<F>(
        &self,
        reference: CustomerRef,
        fetch: F,
    ) -> Result<Arc<CustomerLinks>, ApiError>
    where
        F: Future<Output = Result<CustomerLinks, ApiError>>,
    {
        self.cache
            .try_get_with(reference, async move { fetch.await.map(Arc::new) })
            .await
            .map_err(|error: Arc<ApiError>| *error)
    }

    pub(crate) async fn insert(&self, reference: CustomerRef, links: Arc<CustomerLinks>) {
        self.cache.insert(reference, links).await;
    }

    pub(crate) async fn invalidate(&self, reference: &CustomerRef) {
        self.cache.invalidate(reference).await;
    }
}

impl fmt::Debug for LinkCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.cache.policy().max_capacity())
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}
