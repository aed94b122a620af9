//! Optional network shaping, so that settings chosen on loopback can also be judged on a link
//! that behaves more like S3 over a real network: every answer waits `--latency-ms` before it
//! starts (S3's time to first byte is tens of milliseconds), and each connection moves at most
//! `--conn-mibps` MiB/s in each direction (one S3 connection carries roughly 50-100 MB/s).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::service::Service;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// A service whose answers are each delayed by `delay`.
#[derive(Clone)]
pub struct Delayed<S> {
    pub inner: S,
    pub delay: Duration,
}

impl<S, R> Service<R> for Delayed<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, request: R) -> Self::Future {
        let answer = self.inner.call(request);
        let delay = self.delay;
        Box::pin(async move {
            let answer = answer.await;
            tokio::time::sleep(delay).await;
            answer
        })
    }
}

/// Paces one direction of a connection to `bytes_per_s`.
struct Pace {
    bytes_per_s: f64,
    start: Option<Instant>,
    moved: u64,
    wait: Option<Pin<Box<Sleep>>>,
}

/// Bytes moved per call, so that pacing stays smooth.
const SLICE: usize = 64 * 1024;

impl Pace {
    fn new(bytes_per_s: f64) -> Pace {
        Pace {
            bytes_per_s,
            start: None,
            moved: 0,
            wait: None,
        }
    }

    /// Ready when the next bytes may move.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(wait) = self.wait.as_mut() {
            if wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.wait = None;
        }
        Poll::Ready(())
    }

    fn record(&mut self, n: usize) {
        let start = *self.start.get_or_insert_with(Instant::now);
        self.moved += n as u64;
        let due = start + Duration::from_secs_f64(self.moved as f64 / self.bytes_per_s);
        if due > Instant::now() {
            self.wait = Some(Box::pin(tokio::time::sleep_until(due.into())));
        }
    }
}

/// A connection limited to a rate in each direction.
pub struct Shaped<T> {
    inner: T,
    read: Pace,
    write: Pace,
}

impl<T> Shaped<T> {
    pub fn new(inner: T, mib_per_s: f64) -> Shaped<T> {
        let rate = mib_per_s * 1024.0 * 1024.0;
        Shaped {
            inner,
            read: Pace::new(rate),
            write: Pace::new(rate),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Shaped<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read.poll_ready(cx).is_pending() {
            return Poll::Pending;
        }
        let room = buf.remaining().min(SLICE);
        let mut slice = ReadBuf::new(&mut buf.initialize_unfilled()[..room]);
        let polled = Pin::new(&mut this.inner).poll_read(cx, &mut slice);
        if let Poll::Ready(Ok(())) = polled {
            let n = slice.filled().len();
            buf.advance(n);
            this.read.record(n);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Shaped<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write.poll_ready(cx).is_pending() {
            return Poll::Pending;
        }
        let polled = Pin::new(&mut this.inner).poll_write(cx, &data[..data.len().min(SLICE)]);
        if let Poll::Ready(Ok(n)) = polled {
            this.write.record(n);
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
