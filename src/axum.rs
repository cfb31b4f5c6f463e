//! axum integration (feature `axum`): `PortalTarget` and `PortalQuery` as
//! extractors.

use std::convert::Infallible;
use std::fmt;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::on_refused::{bad_request, rejection_text};
use crate::{PortalQuery, PortalTarget, Refusal};

/// Rejection of the [`PortalTarget`] and [`PortalQuery`] extractors: the
/// request carries no valid portal link (or In-Site query). Answers
/// `400 Bad Request` with a short plain-text reason (never the link): the
/// same response as [`BadRequest`](crate::BadRequest)'s.
///
/// Only with the `axum` feature. Handlers that fall back to `hosted-home`
/// take `Option<PortalTarget>` (or `Option<PortalQuery>`) instead, which
/// never rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PortalRejection {
    /// The request has no portal link or query of the kind asked for (or
    /// `PortalLinkLayer` is not in front of the handler).
    Missing,
    /// The link is present but refused.
    Refused(Refusal),
}

impl PortalRejection {
    fn refusal(&self) -> Option<Refusal> {
        match self {
            PortalRejection::Missing => None,
            PortalRejection::Refused(refusal) => Some(*refusal),
        }
    }
}

impl fmt::Display for PortalRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&rejection_text(self.refusal()))
    }
}

impl std::error::Error for PortalRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PortalRejection::Missing => None,
            PortalRejection::Refused(refusal) => Some(refusal),
        }
    }
}

impl IntoResponse for PortalRejection {
    /// The same response as [`BadRequest`](crate::BadRequest)'s.
    fn into_response(self) -> Response {
        bad_request(self.refusal())
    }
}

/// The extension `T` the layer inserted, or why there is none.
fn extract<T: Clone + Send + Sync + 'static>(parts: &Parts) -> Result<T, PortalRejection> {
    if let Some(found) = parts.extensions.get::<T>() {
        return Ok(found.clone());
    }
    Err(match parts.extensions.get::<Refusal>() {
        Some(refusal) => PortalRejection::Refused(*refusal),
        None => PortalRejection::Missing,
    })
}

macro_rules! extractor {
    ($ty:ty) => {
        impl<S: Send + Sync> FromRequestParts<S> for $ty {
            type Rejection = PortalRejection;

            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Self, Self::Rejection> {
                extract(parts)
            }
        }

        impl<S: Send + Sync> OptionalFromRequestParts<S> for $ty {
            type Rejection = Infallible;

            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Option<Self>, Self::Rejection> {
                Ok(parts.extensions.get::<$ty>().cloned())
            }
        }
    };
}

extractor!(PortalTarget);
extractor!(PortalQuery);
