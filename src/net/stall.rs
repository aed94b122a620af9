//! A bound on how long a connection may go without taking any of the bytes written to it.
//!
//! The SDK's read timeout bounds the wait for an answer, and it abandons a request whose answer
//! does not come; but the connection under an abandoned request goes on trying to send the rest
//! of the body, and a server that stopped reading keeps that write pending for ever. The body
//! is then never dropped, which for memory a caller lent (`ffi::Loan`) means a call that never
//! returns. Failing a write that made no progress for the read timeout closes the connection,
//! which drops the body, so every transfer ends within its timeouts.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::connector::Io;

/// `inner` with its writes bounded: a write, vectored write or flush that stays pending for
/// `limit` without taking a byte fails with `TimedOut`. Reads are not bounded here (an idle
/// pooled connection waits on a read for as long as it is kept).
pub struct WriteStallGuard {
    inner: Box<dyn Io>,
    limit: Duration,
    /// Armed while a write is pending; reset (not reallocated) each time one starts waiting.
    deadline: Pin<Box<Sleep>>,
    armed: bool,
}

impl WriteStallGuard {
    pub fn new(inner: Box<dyn Io>, limit: Duration) -> Self {
        WriteStallGuard {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
            armed: false,
        }
    }

    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.armed = false;
            return poll;
        }
        if !self.armed {
            self.armed = true;
            self.deadline.as_mut().reset(Instant::now() + self.limit);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.armed = false;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the server took none of the request's bytes for {:?} (read_timeout)",
                        self.limit
                    ),
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for WriteStallGuard {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteStallGuard {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
