//! axum integration (feature `axum`): `PortalTarget` as an extractor.

use std::convert::Infallible;
use std::fmt;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::{PortalTarget, Refusal};

/// Rejection of the [`PortalTarget`] extractor: the request carries no valid
/// portal link. Answers `400 Bad Request` with a short plain-text reason
/// (never the link).
///
/// Only with the `axum` feature. Handlers that fall back to `hosted-home`
/// take `Option<PortalTarget>` instead, which never rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PortalTargetRejection {
    /// The request has no portal link (or `PortalLinkLayer` is not in
    /// front of the handler).
    Missing,
    /// The link is present but refused.
    Refused(Refusal),
}

impl fmt::Display for PortalTargetRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortalTargetRejection::Missing => f.write_str("the request carries no portal link"),
            PortalTargetRejection::Refused(refusal) => write!(f, "refused portal link: {refusal}"),
        }
    }
}

impl std::error::Error for PortalTargetRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PortalTargetRejection::Missing => None,
            PortalTargetRejection::Refused(refusal) => Some(refusal),
        }
    }
}

impl IntoResponse for PortalTargetRejection {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.to_string()).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PortalTarget {
    type Rejection = PortalTargetRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(target) = parts.extensions.get::<PortalTarget>() {
            return Ok(target.clone());
        }
        Err(match parts.extensions.get::<Refusal>() {
            Some(refusal) => PortalTargetRejection::Refused(*refusal),
            None => PortalTargetRejection::Missing,
        })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for PortalTarget {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<PortalTarget>().cloned())
    }
}
