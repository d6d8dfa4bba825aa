//! The seam between the HTTP server and the subscription manager: requests to
//! `/v1/subscriptions` and `/v1/subscriptions/{id}` are read here (bounded body, timeout)
//! and answered by a [`SubscriptionApi`] (implemented by `weft-subscriptions`), so this
//! crate does not depend on the manager.

use async_trait::async_trait;
use bytes::Bytes;
use http::{Response, request::Parts};
use http_body_util::Full;

use crate::auth::Authorizer;

/// The path prefix of the Subscriptions API.
pub const SUBSCRIPTIONS_PATH: &str = "/v1/subscriptions";

/// Answers the CloudEvents Subscriptions API.
#[async_trait]
pub trait SubscriptionApi: Send + Sync + 'static {
    /// Answers one request. `id` is the path segment after `/v1/subscriptions/` (`None`
    /// for the collection); `request` is the request head (method, headers, and the
    /// extensions that carry a TLS client certificate's identity); `body` was read
    /// already (at most `hub.max_body_bytes`); `auth` decides who may manage which
    /// subscription.
    async fn handle(
        &self,
        request: &Parts,
        id: Option<&str>,
        body: Bytes,
        auth: &Authorizer,
    ) -> Response<Full<Bytes>>;
}

/// `Some(None)` for the collection path, `Some(Some(id))` for one subscription, `None`
/// for other paths.
pub(crate) fn subscription_path(path: &str) -> Option<Option<&str>> {
    let rest = path.strip_prefix(SUBSCRIPTIONS_PATH)?;
    if rest.is_empty() || rest == "/" {
        return Some(None);
    }
    rest.strip_prefix('/').map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(subscription_path("/v1/subscriptions"), Some(None));
        assert_eq!(subscription_path("/v1/subscriptions/"), Some(None));
        assert_eq!(subscription_path("/v1/subscriptions/ab"), Some(Some("ab")));
        assert_eq!(subscription_path("/v1/subscriptionsx"), None);
        assert_eq!(subscription_path("/v1/events/x"), None);
    }
}
