//! [`StreamUrlResolver`]: ServiceStack's `ResolveStreamUrl` for Kotlin and Swift.

/// Rewrites the event-stream URL before every connect (ServiceStack's `ResolveStreamUrl`), for
/// example to add a token to its query.
#[uniffi::export(foreign)]
pub trait StreamUrlResolver: Send + Sync {
    /// The URL to open instead of `url` (which already holds the channels).
    fn resolve(&self, url: String) -> String;
}
