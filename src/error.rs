//! Core error types: plain data with a byte offset, no pyo3.
//!
//! Messages are short, lowercase and stable; the binding layer (`py/errors.rs`) maps each kind to
//! one Python class. Positions are byte offsets into the stream (or into the JSON text for the
//! partial-JSON parser); line/column are never computed here.

use std::fmt;

/// What went wrong while reading a stream or a JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseKind {
    /// A line of the event stream (or a JSON text) is not valid UTF-8.
    InvalidUtf8,
    /// An event's data is not a JSON object of the expected shape.
    InvalidChunk,
    /// A JSON text can never become valid, whatever follows.
    Malformed,
    /// A JSON text ended before its value was complete.
    Incomplete,
    /// `format="auto"` met a stream it does not recognise.
    UnknownFormat,
    /// A JSON text nests deeper than `max_depth`: a limit, not a fault of the text (the binding
    /// raises `LimitExceeded` for it).
    TooDeep,
}

impl ParseKind {
    /// The stable name shown to users (`err.kind` in Python).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUtf8 => "invalid utf-8",
            Self::InvalidChunk => "invalid chunk",
            Self::Malformed => "malformed",
            Self::Incomplete => "incomplete",
            Self::UnknownFormat => "unknown format",
            Self::TooDeep => "max_depth",
        }
    }
}

/// An error of the core pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// Input that cannot be read, at a byte offset.
    Parse {
        kind: ParseKind,
        position: u64,
        message: String,
    },
    /// A configured limit was exceeded; the offending input was dropped.
    Limit {
        limit: &'static str,
        value: usize,
        position: u64,
    },
}

impl CoreError {
    #[cold]
    #[must_use]
    pub fn parse(kind: ParseKind, position: u64, message: impl Into<String>) -> Self {
        Self::Parse {
            kind,
            position,
            message: message.into(),
        }
    }

    #[cold]
    #[must_use]
    pub fn limit(limit: &'static str, value: usize, position: u64) -> Self {
        Self::Limit { limit, value, position }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse {
                kind,
                position,
                message,
            } => write!(f, "{}: {message} at byte {position}", kind.as_str()),
            Self::Limit { limit, value, position } => write!(f, "limit exceeded: {limit} = {value} at byte {position}"),
        }
    }
}

impl std::error::Error for CoreError {}

/// Keeps the first error of a read; later ones are consequences or repeats.
#[derive(Debug, Default)]
pub struct ErrorSlot(Option<CoreError>);

impl ErrorSlot {
    pub fn note(&mut self, err: CoreError) {
        if self.0.is_none() {
            self.0 = Some(err);
        }
    }

    #[must_use]
    pub fn take(&mut self) -> Option<CoreError> {
        self.0.take()
    }
}
