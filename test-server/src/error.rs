//! Errors returned by the [`ServerEvents`](crate::ServerEvents) API.

/// An argument ServiceStack would reject with an `ArgumentException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A channel name contains `@`.
    #[error("channel {0:?} must not contain '@'")]
    InvalidChannel(String),
    /// A selector contains `@`.
    #[error("selector {0:?} must not contain '@'")]
    InvalidSelector(String),
    /// The message could not be serialised to JSON.
    #[error("message could not be serialised to JSON: {0}")]
    Serialize(String),
}

/// Checks a channel name (`AssertChannel`).
pub(crate) fn check_channel(channel: &str) -> Result<(), ServerError> {
    if channel.contains('@') {
        Err(ServerError::InvalidChannel(channel.to_string()))
    } else {
        Ok(())
    }
}

/// Checks a selector (`AssertSelector`).
pub(crate) fn check_selector(selector: &str) -> Result<(), ServerError> {
    if selector.contains('@') {
        Err(ServerError::InvalidSelector(selector.to_string()))
    } else {
        Ok(())
    }
}
