//! A stream reader over one object. Reads are served from chunks of `multipart_chunksize`
//! (aligned to multiples of it) fetched in the background: sequential reads from chunks fetched
//! ahead, at a depth that starts at one chunk and doubles as reading goes on up to
//! `max_concurrency`; a small read anywhere else (below `multipart_chunksize`: the pattern of
//! zip readers such as `torch.load`) from the one chunk that holds it, which later reads
//! nearby then find in memory. A large read outside the chunks held fetches exactly the bytes
//! asked for, straight into the caller's buffer. Memory stays within `max_concurrency` chunks.
//!
//! Opening asks for the object's size, version (ETag) and checksum with one HEAD; every later
//! request is pinned to that version with `If-Match`, so an object overwritten meanwhile makes
//! the read fail (HTTP 412) rather than mix two versions. When the object has a CRC of all its
//! bytes, the reader computes it over the bytes it hands out in order from the start: a read
//! that completes the object with bytes that do not match fails with `ErrorKind::Integrity`.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use aws_sdk_s3::types::ChecksumMode;
use crc_fast::Digest;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::buffers::{BufferPool, PooledBuffer};
use super::checksum::{whole_object_checksum_of_head, Crc, WholeChecksum};
use super::download::{fetch_range, Range};
use super::memory::MemorySink;
use super::progress::Progress;
use super::ranged::{read_range, Pin};
use super::ObjectJob;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::RawBuffer;
use crate::runtime;

/// An open object being read. Not for concurrent use (the C layer serialises calls).
pub struct ObjectReader {
    job: ObjectJob,
    pin: Pin,
    runtime: Arc<Runtime>,
    pool: Arc<BufferPool>,
    position: u64,
    /// Where the last read ended: a read starting there is sequential.
    last_end: u64,
    /// Chunks fetched or being fetched ahead, consecutive, the first one holding `position`.
    ahead: VecDeque<Chunk>,
    depth: usize,
    check: Option<Running>,
    /// Set once the bytes read failed the object's checksum: every later read returns it, so
    /// that reading again cannot hand out the bad bytes unchecked.
    corrupt: Option<Error>,
}

/// The CRC of the bytes handed out in order from the start of the object.
struct Running {
    crc: Crc,
    expected: u64,
    digest: Digest,
    upto: u64,
}

struct Chunk {
    index: u64,
    offset: u64,
    len: u64,
    slot: Arc<Slot>,
    task: JoinHandle<()>,
}

/// Where a chunk's fetch leaves its outcome for the reading thread.
#[derive(Default)]
struct Slot {
    outcome: Mutex<Option<Result<PooledBuffer>>>,
    ready: Condvar,
}

impl Slot {
    fn fill(&self, outcome: Result<PooledBuffer>) {
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.ready.notify_all();
    }
}

impl ObjectReader {
    /// Opens the job's object: one HEAD for its size, ETag and checksum.
    pub async fn open(job: ObjectJob) -> Result<ObjectReader> {
        let what = format!("opening {} for reading", job.uri());
        let mut head = job.client.head_object().bucket(&job.bucket).key(&job.key);
        if job.verify_checksums {
            head = head.checksum_mode(ChecksumMode::Enabled);
        }
        let head = head.send().await.map_err(|e| Error::from_sdk(&what, e))?;
        let size = head
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Internal,
                    format!("{what}: the server sent no size"),
                )
            })?;
        let check = match job
            .verify_checksums
            .then(|| whole_object_checksum_of_head(&head))
        {
            Some(WholeChecksum::Crc { crc, value }) => Some(Running {
                crc,
                expected: value,
                digest: crc.digest(),
                upto: 0,
            }),
            _ => None,
        };
        Ok(ObjectReader {
            pin: Pin {
                size,
                etag: head.e_tag().map(str::to_string),
            },
            job,
            runtime: runtime::runtime()?,
            pool: BufferPool::new(),
            position: 0,
            last_end: 0,
            ahead: VecDeque::new(),
            depth: 1,
            check,
            corrupt: None,
        })
    }

    pub fn size(&self) -> u64 {
        self.pin.size
    }

    /// Moves to `offset`; the object's size is the last valid offset.
    pub fn seek(&mut self, offset: u64) -> Result<()> {
        if offset > self.pin.size {
            return Err(Error::invalid(format!(
                "seek in {} to {offset}: beyond the end of the object, which is {} bytes",
                self.job.uri(),
                self.pin.size
            )));
        }
        self.position = offset;
        Ok(())
    }

    /// Reads up to the buffer's capacity from the position; 0 at the end. Blocks this thread.
    pub(crate) fn read(&mut self, buffer: RawBuffer) -> Result<usize> {
        if let Some(err) = &self.corrupt {
            return Err(err.clone());
        }
        let start = self.position;
        let want = (buffer.capacity() as u64).min(self.pin.size.saturating_sub(start)) as usize;
        if want == 0 {
            return Ok(0);
        }
        // Sequential reads, small reads anywhere and reads inside the chunks held go through
        // the chunks; a large read elsewhere goes straight into the caller's buffer.
        let read =
            if start == self.last_end || (want as u64) < self.chunk_size() || self.holds(start) {
                self.read_from_chunks(buffer, want)
            } else {
                self.stop_reading_ahead();
                self.read_exactly(buffer, want)
            };
        let read = match read {
            Ok(read) => read,
            Err(err) => {
                self.stop_reading_ahead();
                return Err(err);
            }
        };
        if let Err(err) = self.account(start, buffer, read) {
            self.stop_reading_ahead();
            self.corrupt = Some(err.clone());
            return Err(err);
        }
        self.position = start + read as u64;
        self.last_end = self.position;
        Ok(read)
    }

    /// Fetches just the bytes asked for, into the caller's buffer.
    fn read_exactly(&mut self, buffer: RawBuffer, want: usize) -> Result<usize> {
        let (job, pin, start) = (self.job.clone(), self.pin.clone(), self.position);
        let read = runtime::block_on(async move {
            let sink = Arc::new(MemorySink::lent(buffer, start));
            read_range(&job, sink, start, want as u64, Some(pin)).await
        })?;
        Ok(read.0 as usize)
    }

    fn chunk_size(&self) -> u64 {
        self.job.settings.part_size.max(1)
    }

    /// Whether a chunk held (fetched or on its way) covers `offset`.
    fn holds(&self, offset: u64) -> bool {
        match (self.ahead.front(), self.ahead.back()) {
            (Some(first), Some(last)) => first.offset <= offset && offset < last.offset + last.len,
            _ => false,
        }
    }

    /// Serves the read from the chunks held, fetching more as they are used up. Reading on
    /// where the chunks end continues the ramp; anywhere else starts it again with the one
    /// chunk that holds the position.
    fn read_from_chunks(&mut self, buffer: RawBuffer, want: usize) -> Result<usize> {
        let chunk_size = self.chunk_size();
        let mut copied = 0usize;
        while copied < want {
            let at = self.position + copied as u64;
            let continues = self.holds(at)
                || self
                    .ahead
                    .back()
                    .is_some_and(|last| last.offset + last.len == at);
            if !continues {
                self.stop_reading_ahead();
            }
            while self.ahead.front().is_some_and(|c| c.offset + c.len <= at) {
                self.ahead.pop_front();
                self.depth = (self.depth * 2).min(self.job.settings.max_concurrency.max(1));
            }
            let mut next = self
                .ahead
                .back()
                .map_or(at / chunk_size, |chunk| chunk.index + 1);
            while self.ahead.len() < self.depth && next * chunk_size < self.pin.size {
                self.ahead.push_back(self.fetch_chunk(next, chunk_size));
                next += 1;
            }
            let chunk = self.ahead.front().expect("a chunk holds the position");
            let mut outcome = chunk.slot.outcome.lock().unwrap_or_else(|p| p.into_inner());
            while outcome.is_none() {
                outcome = chunk
                    .slot
                    .ready
                    .wait(outcome)
                    .unwrap_or_else(|p| p.into_inner());
            }
            let bytes = match outcome.as_ref().expect("filled") {
                Ok(bytes) => bytes,
                Err(err) => return Err(err.clone()),
            };
            let from = (at - chunk.offset) as usize;
            let n = (chunk.len as usize - from).min(want - copied);
            buffer.write(copied, &bytes.as_ref()[from..from + n])?;
            copied += n;
        }
        Ok(copied)
    }

    fn fetch_chunk(&self, index: u64, chunk_size: u64) -> Chunk {
        let offset = index * chunk_size;
        let len = chunk_size.min(self.pin.size - offset);
        let slot = Arc::new(Slot::default());
        let (job, pin, pool, filled) = (
            self.job.clone(),
            self.pin.clone(),
            self.pool.clone(),
            slot.clone(),
        );
        let task = self.runtime.spawn(async move {
            let what = format!("read of {}", job.uri());
            let sink = Arc::new(MemorySink::pooled(&pool, len as usize, offset));
            let fetched = fetch_range(
                job,
                sink.clone(),
                Progress::new(),
                pin.etag,
                Range::ranged(offset, len, pin.size),
                None,
                None,
                what,
            )
            .await;
            filled.fill(fetched.and_then(|_| {
                sink.take_pooled()
                    .ok_or_else(|| Error::new(ErrorKind::Internal, "a chunk's buffer went missing"))
            }));
        });
        Chunk {
            index,
            offset,
            len,
            slot,
            task,
        }
    }

    /// Drops the chunks ahead (their requests with them) and starts the ramp again.
    fn stop_reading_ahead(&mut self) {
        for chunk in self.ahead.drain(..) {
            chunk.task.abort();
        }
        self.depth = 1;
    }

    /// Adds bytes handed out to the running CRC when they continue it; checks it at the end.
    fn account(&mut self, start: u64, buffer: RawBuffer, read: usize) -> Result<()> {
        let size = self.pin.size;
        let Some(running) = self.check.as_mut() else {
            return Ok(());
        };
        if start == 0 && running.upto != 0 {
            running.digest = running.crc.digest();
            running.upto = 0;
        }
        if start != running.upto {
            return Ok(());
        }
        // SAFETY: the read just wrote these bytes into the caller's buffer, which stays valid
        // for the call.
        running.digest.update(unsafe { buffer.filled(read) });
        running.upto += read as u64;
        if running.upto < size {
            return Ok(());
        }
        let (crc, expected, actual) = (running.crc, running.expected, running.digest.finalize());
        // Ready for another pass from the start, which is checked again: a seek back to 0
        // fetches the bytes anew.
        running.digest = crc.digest();
        running.upto = 0;
        if actual != expected {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "read of {}: the {} of the bytes read is {actual:x}, the object's is {expected:x}",
                    self.job.uri(),
                    crc.name()
                ),
            ));
        }
        Ok(())
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        self.stop_reading_ahead();
    }
}
