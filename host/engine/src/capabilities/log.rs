//! `mooring:step/log`: structured log lines from a guest.
//!
//! Lines are buffered per step and handed to the caller with the step's
//! outcome, so the library never prints and the CLI decides where they go.
//! A guest cannot flood the host: a step keeps at most [`MAX_LINES`] lines
//! of at most [`MAX_LINE_BYTES`] each, fields included. Each line is
//! scrubbed whole, after its fields are joined, so a secret split between a
//! key and its value is caught too.

use crate::bindings::mooring::step::log::{Host, Level};

use super::HostState;

/// At most this many lines are kept per step run.
pub const MAX_LINES: usize = 1000;
/// A longer message or field is cut to this many bytes.
pub const MAX_LINE_BYTES: usize = 4096;

/// One log line from a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// How important the line is.
    pub level: LogLevel,
    /// The message and its `key=value` fields, scrubbed, at most
    /// [`MAX_LINE_BYTES`].
    pub text: String,
}

/// Log levels, as in the WIT world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Detail for guest authors.
    Debug,
    /// Progress worth showing.
    Info,
    /// Something the operator should look at.
    Warn,
    /// Something went wrong (the step may still succeed).
    Error,
}

/// The lines one step run logged, and how many were dropped.
#[derive(Debug, Default, Clone)]
pub struct LogBuffer {
    /// The kept lines.
    pub lines: Vec<LogLine>,
    /// Lines dropped after [`MAX_LINES`].
    pub dropped: usize,
}

impl Host for HostState {
    fn log(&mut self, level: Level, message: String, fields: Vec<(String, String)>) {
        let buffer = &mut self.log;
        if buffer.lines.len() >= MAX_LINES {
            buffer.dropped += 1;
            return;
        }
        let mut text = truncate(message);
        for (key, value) in fields {
            if text.len() >= MAX_LINE_BYTES {
                break;
            }
            text.push(' ');
            text.push_str(&key);
            text.push('=');
            text.push_str(&value);
            text = truncate(text);
        }
        let level = match level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        let text = self.credentials.scrub(&text);
        self.log.lines.push(LogLine { level, text });
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_LINE_BYTES {
        let mut end = MAX_LINE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}
