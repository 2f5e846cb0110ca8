use std::fmt;

/// A step's own verdict that it cannot do its job (bad config, a missing
/// document it needs). The host reports it as the step's failure; use
/// [`crate::Results`] instead for findings about individual documents.
pub struct Error(String);

impl Error {
    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error(message.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

// `Error` deliberately does not implement `std::error::Error`, which lets `?`
// convert any standard error (serde_json's, for one) without a conflict.
impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Self {
        Error(error.to_string())
    }
}
