//! WASI 0.2 for guests: present, because every std guest imports it, and
//! empty, because no step is granted the outside world.
//!
//! - filesystem: no preopened directories, so every open fails (`NotFound`);
//! - environment and arguments: empty;
//! - network: every address refused, name lookup off;
//! - clocks: frozen at the Unix epoch, so output cannot depend on time;
//! - random: a fixed byte cycle, so output cannot depend on entropy (std's
//!   `HashMap` seeds itself from it, so denying it outright would break
//!   ordinary guests);
//! - stdout and stderr: captured together into a bounded buffer, which the
//!   host shows when the step fails (a panic message lands there).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// How much of a guest's stdout/stderr is kept: the last 16 KiB, which is
/// where a panic or allocation-failure message ends up.
pub const CAPTURE_BYTES: usize = 16 << 10;

/// A WASI context that grants nothing.
pub(crate) fn sandbox(output: &CapturedOutput) -> WasiCtx {
    let cycle: Vec<u8> = (0..=255).collect();
    WasiCtxBuilder::new()
        .stdout(output.clone())
        .stderr(output.clone())
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .secure_random(Deterministic::new(cycle.clone()))
        .insecure_random(Deterministic::new(cycle))
        .insecure_random_seed(0)
        .allow_ip_name_lookup(false)
        .allow_tcp(false)
        .allow_udp(false)
        .build()
}

/// A clock that always reads zero.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The guest's stdout and stderr, keeping only the last [`CAPTURE_BYTES`].
///
/// Writes always succeed, so a chatty guest is never failed for printing
/// (`println!` panics when its stream reports an error).
#[derive(Clone, Default)]
pub(crate) struct CapturedOutput(Arc<Mutex<Vec<u8>>>);

impl CapturedOutput {
    /// What was captured, lossily decoded.
    pub(crate) fn text(&self) -> String {
        let buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let start = buffer.len().saturating_sub(CAPTURE_BYTES);
        String::from_utf8_lossy(&buffer[start..]).into_owned()
    }

    fn push(&self, bytes: &[u8]) {
        let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Trim in batches, so a long stream of small writes stays linear.
        if buffer.len() + bytes.len() > 2 * CAPTURE_BYTES {
            let keep = CAPTURE_BYTES.saturating_sub(bytes.len());
            let excess = buffer.len() - keep.min(buffer.len());
            buffer.drain(..excess);
        }
        let tail = &bytes[bytes.len().saturating_sub(CAPTURE_BYTES)..];
        buffer.extend_from_slice(tail);
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(CAPTURE_BYTES)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_output_keeps_the_tail_and_never_fails() {
        let output = CapturedOutput::default();
        for _ in 0..10_000 {
            output.push(b"noise noise noise\n");
        }
        output.push(b"thread panicked at src/lib.rs:1:1:\nboom\n");
        let text = output.text();
        assert!(text.len() <= CAPTURE_BYTES);
        assert!(text.ends_with("boom\n"), "{text}");
    }
}
