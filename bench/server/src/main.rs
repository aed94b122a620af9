//! A light S3-compatible server for benchmarking S3 clients on loopback.
//!
//! Usage: `bench-s3-server --data DIR [--port N] [--latency-ms MS] [--conn-mibps MIBPS]
//! [--tls-cert CERT.pem --tls-key KEY.pem]`
//!
//! Listens on 127.0.0.1 (port 0 = any free port), prints `endpoint=http://127.0.0.1:PORT` on
//! stdout once it accepts connections, and serves until it is killed. With `--tls-cert` and
//! `--tls-key` it also serves HTTPS on another free port, terminating TLS itself (rustls; HTTP/1.1
//! only, as S3), and first prints `tls_endpoint=https://localhost:PORT`. SigV4 authentication is
//! on (access key `bench-access-key`, secret `bench-secret-key-0123456789`); requests are
//! path-style only.
//!
//! It is built to cost as little CPU per byte as the protocol allows, so that it does not cap
//! the clients being measured:
//! - object and part bodies are written straight from the received buffers to files with
//!   positioned writes (no staging copy, no hashing); GET bodies are read with `pread` into the
//!   buffer that is handed to hyper;
//! - a multipart object is the list of its part files (completing an upload copies nothing);
//! - ETags are counter-based hex strings, not MD5s; checksums that clients send are neither
//!   verified nor stored. The only hashing left is what SigV4 itself requires (signatures, and
//!   the SHA-256 of a body whose hash a client chose to sign), which s3s performs;
//! - bucket and object metadata live in memory; the data directory is meant for tmpfs, where
//!   file reads and writes are memory copies that never wait on a device, so they are made
//!   directly on the async worker threads.
//!
//! Operations: CreateBucket, HeadBucket, PutObject, GetObject (with Range), HeadObject,
//! DeleteObject, ListObjectsV2, CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListMultipartUploads. Conditional request headers are ignored.
//!
//! `--latency-ms` and `--conn-mibps` shape the network (see `shaping.rs`); off by default.

mod shaping;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::ops::Bound;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result, StdError, S3};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

const ACCESS_KEY: &str = "bench-access-key";
const SECRET_KEY: &str = "bench-secret-key-0123456789";

/// Size of the buffers a GET body is read into and handed to hyper.
const READ_CHUNK: u64 = 256 * 1024;

/// Page size of ListObjectsV2 and ListMultipartUploads when the client asks for more or none.
const MAX_LIST: usize = 1000;

/// A file holding the bytes of one object or part. The file is removed when the last reference
/// goes (an overwritten or deleted object stays readable by GETs already streaming it).
struct Blob {
    file: File,
    path: PathBuf,
    len: u64,
}

impl Drop for Blob {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A stored object: its bytes are the concatenation of its blobs (one for a PutObject, one per
/// part for a completed multipart upload).
struct Stored {
    blobs: Vec<Arc<Blob>>,
    size: u64,
    etag: String,
    modified: SystemTime,
}

struct Part {
    blob: Arc<Blob>,
    etag: String,
}

struct Upload {
    bucket: String,
    key: String,
    initiated: SystemTime,
    parts: BTreeMap<i32, Part>,
}

#[derive(Default)]
struct State {
    /// bucket name -> object key -> object
    buckets: BTreeMap<String, BTreeMap<String, Arc<Stored>>>,
    /// upload id -> upload in progress
    uploads: BTreeMap<String, Upload>,
}

struct Store {
    dir: PathBuf,
    next_id: AtomicU64,
    /// Makes ETags and upload ids differ between server runs.
    salt: u64,
    state: Mutex<State>,
}

fn internal(e: io::Error) -> S3Error {
    s3_error!(e, InternalError)
}

fn strong(etag: &str) -> ETag {
    ETag::Strong(etag.to_owned())
}

impl Store {
    fn new(dir: PathBuf) -> Self {
        let salt = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Self {
            dir,
            next_id: AtomicU64::new(1),
            salt,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A fresh 32-hex-digit name, unique within this server run.
    fn new_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{n:016x}", self.salt)
    }

    /// Writes a request body to a new file, each received buffer with one positioned write.
    async fn write_body(&self, body: Option<StreamingBlob>) -> S3Result<Blob> {
        let path = self.dir.join(self.new_id());
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(internal)?;
        // From here on, dropping `blob` (on any error) removes the file.
        let mut blob = Blob { file, path, len: 0 };
        if let Some(mut body) = body {
            while let Some(chunk) = body.next().await {
                let chunk = chunk
                    .map_err(|e| s3_error!(IncompleteBody, "reading the request body: {e}"))?;
                blob.file.write_all_at(&chunk, blob.len).map_err(internal)?;
                blob.len += chunk.len() as u64;
            }
        }
        Ok(blob)
    }

    fn object(&self, bucket: &str, key: &str) -> S3Result<Arc<Stored>> {
        let state = self.state();
        let objects = state
            .buckets
            .get(bucket)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        objects
            .get(key)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey))
    }

    fn insert(&self, bucket: &str, key: String, object: Stored) -> S3Result<()> {
        let mut state = self.state();
        let objects = state
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        // The replaced object (if any) is dropped after the lock is released.
        let _old = objects.insert(key, Arc::new(object));
        drop(state);
        Ok(())
    }
}

/// Reads `len` bytes at `offset` of `file` into a new buffer (without zeroing it first).
fn read_at(file: &File, len: usize, offset: u64) -> io::Result<Bytes> {
    let mut buf = Vec::<u8>::with_capacity(len);
    while buf.len() < len {
        let filled = buf.len();
        // SAFETY: the destination range [filled, len) lies within the buffer's capacity, and
        // pread writes at most `len - filled` bytes there.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                buf.as_mut_ptr().add(filled).cast(),
                len - filled,
                (offset + filled as u64) as libc::off_t,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        // SAFETY: pread initialised the `n` bytes after `filled`.
        unsafe { buf.set_len(filled + n as usize) };
    }
    Ok(Bytes::from(buf))
}

/// The body of a GET: `remaining` bytes of `object` starting at byte `seg_off` of blob `seg`.
struct ObjectBody {
    object: Arc<Stored>,
    seg: usize,
    seg_off: u64,
    remaining: u64,
}

impl ObjectBody {
    fn new(object: Arc<Stored>, range: std::ops::Range<u64>) -> Self {
        let (mut seg, mut seg_off) = (0, range.start);
        while seg < object.blobs.len()
            && seg_off >= object.blobs[seg].len
            && range.end > range.start
        {
            seg_off -= object.blobs[seg].len;
            seg += 1;
        }
        Self {
            object,
            seg,
            seg_off,
            remaining: range.end - range.start,
        }
    }
}

impl Stream for ObjectBody {
    type Item = Result<Bytes, StdError>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        while this.seg_off >= this.object.blobs[this.seg].len {
            this.seg += 1;
            this.seg_off = 0;
        }
        let blob = &this.object.blobs[this.seg];
        let n = READ_CHUNK.min(this.remaining).min(blob.len - this.seg_off);
        // tmpfs: a page-cache copy that does not block on a device.
        match read_at(&blob.file, n as usize, this.seg_off) {
            Ok(bytes) => {
                this.seg_off += n;
                this.remaining -= n;
                Poll::Ready(Some(Ok(bytes)))
            }
            Err(e) => {
                this.remaining = 0;
                Poll::Ready(Some(Err(Box::new(e))))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let chunks = self.remaining.div_ceil(READ_CHUNK) as usize;
        (chunks.min(1), None)
    }
}

impl ByteStream for ObjectBody {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(self.remaining as usize)
    }
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket;
        let mut state = self.state();
        if state.buckets.contains_key(&bucket) {
            return Err(s3_error!(BucketAlreadyOwnedByYou));
        }
        state.buckets.insert(bucket.clone(), BTreeMap::new());
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{bucket}")),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        if !self.state().buckets.contains_key(&req.input.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        if !self.state().buckets.contains_key(&input.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        let blob = self.write_body(input.body).await?;
        let etag = self.new_id();
        let object = Stored {
            size: blob.len,
            blobs: vec![Arc::new(blob)],
            etag: etag.clone(),
            modified: SystemTime::now(),
        };
        self.insert(&input.bucket, input.key, object)?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(strong(&etag)),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let object = self.object(&input.bucket, &input.key)?;
        let size = object.size;
        let (range, content_range) = match input.range {
            Some(r) => {
                let range = r.check(size)?;
                let content_range = format!("bytes {}-{}/{size}", range.start, range.end - 1);
                (range, Some(content_range))
            }
            None => (0..size, None),
        };
        let output = GetObjectOutput {
            accept_ranges: Some("bytes".into()),
            content_length: Some((range.end - range.start) as i64),
            content_range,
            e_tag: Some(strong(&object.etag)),
            last_modified: Some(Timestamp::from(object.modified)),
            body: Some(StreamingBlob::new(ObjectBody::new(object, range))),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let object = self.object(&req.input.bucket, &req.input.key)?;
        Ok(S3Response::new(HeadObjectOutput {
            accept_ranges: Some("bytes".into()),
            content_length: Some(object.size as i64),
            e_tag: Some(strong(&object.etag)),
            last_modified: Some(Timestamp::from(object.modified)),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let mut state = self.state();
        let objects = state
            .buckets
            .get_mut(&req.input.bucket)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        let removed = objects.remove(&req.input.key);
        drop(state);
        drop(removed);
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let max_keys = input
            .max_keys
            .map_or(MAX_LIST, |n| (n.max(0) as usize).min(MAX_LIST));
        // The continuation token is the last key or common prefix of the previous page.
        let after = input
            .continuation_token
            .clone()
            .or_else(|| input.start_after.clone());

        let state = self.state();
        let objects = state
            .buckets
            .get(&input.bucket)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        let start = match &after {
            Some(a) if a.as_str() >= prefix.as_str() => Bound::Excluded(a.as_str()),
            _ => Bound::Included(prefix.as_str()),
        };

        let mut contents = Vec::new();
        let mut common_prefixes: Vec<String> = Vec::new();
        let mut next_token = None;
        for (key, object) in objects.range::<str, _>((start, Bound::Unbounded)) {
            if !key.starts_with(&prefix) {
                break;
            }
            // Skip the rest of a common prefix that ended the previous page.
            if let (Some(a), Some(d)) = (&after, &delimiter) {
                if a.ends_with(d.as_str()) && key.starts_with(a.as_str()) {
                    continue;
                }
            }
            let common = delimiter.as_ref().and_then(|d| {
                let rest = &key[prefix.len()..];
                rest.find(d.as_str())
                    .map(|i| key[..prefix.len() + i + d.len()].to_owned())
            });
            if let Some(cp) = &common {
                if common_prefixes.last() == Some(cp) {
                    continue;
                }
            }
            if contents.len() + common_prefixes.len() == max_keys {
                next_token = Some(match (common_prefixes.last(), contents.last()) {
                    (Some(cp), Some(Object { key: Some(k), .. })) => cp.max(k).clone(),
                    (Some(cp), _) => cp.clone(),
                    (None, Some(Object { key: Some(k), .. })) => k.clone(),
                    _ => String::new(),
                });
                break;
            }
            match common {
                Some(cp) => common_prefixes.push(cp),
                None => contents.push(Object {
                    key: Some(key.clone()),
                    size: Some(object.size as i64),
                    e_tag: Some(strong(&object.etag)),
                    last_modified: Some(Timestamp::from(object.modified)),
                    ..Default::default()
                }),
            }
        }
        drop(state);

        let key_count = (contents.len() + common_prefixes.len()) as i32;
        let output = ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            max_keys: Some(max_keys as i32),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            is_truncated: Some(next_token.is_some()),
            next_continuation_token: next_token,
            contents: Some(contents),
            common_prefixes: Some(
                common_prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let upload_id = self.new_id();
        let mut state = self.state();
        if !state.buckets.contains_key(&input.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        let upload = Upload {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            initiated: SystemTime::now(),
            parts: BTreeMap::new(),
        };
        state.uploads.insert(upload_id.clone(), upload);
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        if !(1..=10_000).contains(&input.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "part number must be between 1 and 10000"
            ));
        }
        let known = |state: &State| {
            state
                .uploads
                .get(&input.upload_id)
                .is_some_and(|u| u.bucket == input.bucket && u.key == input.key)
        };
        if !known(&self.state()) {
            return Err(s3_error!(NoSuchUpload));
        }
        let blob = self.write_body(input.body).await?;
        let etag = self.new_id();
        let mut state = self.state();
        // The upload may have been completed or aborted while the body was arriving.
        if !known(&state) {
            return Err(s3_error!(NoSuchUpload));
        }
        let upload = state
            .uploads
            .get_mut(&input.upload_id)
            .expect("checked above");
        let part = Part {
            blob: Arc::new(blob),
            etag: etag.clone(),
        };
        let _replaced = upload.parts.insert(input.part_number, part);
        drop(state);
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(strong(&etag)),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let listed = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default();
        if listed.is_empty() {
            return Err(s3_error!(MalformedXML, "the upload lists no parts"));
        }

        let mut state = self.state();
        let upload = match state.uploads.get(&input.upload_id) {
            Some(u) if u.bucket == input.bucket && u.key == input.key => u,
            _ => return Err(s3_error!(NoSuchUpload)),
        };
        let mut blobs = Vec::with_capacity(listed.len());
        let mut previous = 0;
        for p in &listed {
            let number = p
                .part_number
                .ok_or_else(|| s3_error!(InvalidPart, "a part has no number"))?;
            if number <= previous {
                return Err(s3_error!(InvalidPartOrder));
            }
            previous = number;
            let part = upload
                .parts
                .get(&number)
                .ok_or_else(|| s3_error!(InvalidPart, "part {number} was not uploaded"))?;
            if p.e_tag.as_ref().is_some_and(|e| e.value() != part.etag) {
                return Err(s3_error!(InvalidPart, "part {number}: ETag does not match"));
            }
            blobs.push(part.blob.clone());
        }
        if !state.buckets.contains_key(&input.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        let _finished = state.uploads.remove(&input.upload_id);
        let etag = format!("{}-{}", self.new_id(), blobs.len());
        let object = Stored {
            size: blobs.iter().map(|b| b.len).sum(),
            blobs,
            etag: etag.clone(),
            modified: SystemTime::now(),
        };
        let objects = state.buckets.get_mut(&input.bucket).expect("checked above");
        let _old = objects.insert(input.key.clone(), Arc::new(object));
        drop(state);

        Ok(S3Response::new(CompleteMultipartUploadOutput {
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(strong(&etag)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        let mut state = self.state();
        let removed = match state.uploads.get(&input.upload_id) {
            Some(u) if u.bucket == input.bucket && u.key == input.key => {
                state.uploads.remove(&input.upload_id)
            }
            _ => return Err(s3_error!(NoSuchUpload)),
        };
        drop(state);
        drop(removed); // removes the part files
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = input
            .max_uploads
            .map_or(MAX_LIST, |n| (n.max(0) as usize).min(MAX_LIST));
        let state = self.state();
        if !state.buckets.contains_key(&input.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        let mut uploads: Vec<(&String, &String, SystemTime)> = state
            .uploads
            .iter()
            .filter(|(_, u)| u.bucket == input.bucket && u.key.starts_with(&prefix))
            .map(|(id, u)| (&u.key, id, u.initiated))
            .collect();
        uploads.sort();
        let truncated = uploads.len() > max;
        let listed: Vec<MultipartUpload> = uploads
            .into_iter()
            .take(max)
            .map(|(key, id, initiated)| MultipartUpload {
                key: Some(key.clone()),
                upload_id: Some(id.clone()),
                initiated: Some(Timestamp::from(initiated)),
                ..Default::default()
            })
            .collect();
        drop(state);
        let (next_key_marker, next_upload_id_marker) = match listed.last() {
            Some(last) if truncated => (last.key.clone(), last.upload_id.clone()),
            _ => (None, None),
        };
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker,
            next_upload_id_marker,
            uploads: Some(listed),
            ..Default::default()
        }))
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-s3-server --data DIR [--port N] [--latency-ms MS] [--conn-mibps MIBPS] \
         [--tls-cert CERT.pem --tls-key KEY.pem]"
    );
    std::process::exit(2);
}

fn main() {
    let mut data = None;
    let mut port: u16 = 0;
    let mut latency_ms = 0u64;
    let mut conn_mibps: Option<f64> = None;
    let mut tls_cert: Option<PathBuf> = None;
    let mut tls_key: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => data = Some(PathBuf::from(args.next().unwrap_or_else(|| usage()))),
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--latency-ms" => {
                latency_ms = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--conn-mibps" => {
                conn_mibps = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .filter(|r: &f64| *r > 0.0)
                    .map(Some)
                    .unwrap_or_else(|| usage())
            }
            "--tls-cert" => tls_cert = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--tls-key" => tls_key = Some(args.next().unwrap_or_else(|| usage()).into()),
            _ => usage(),
        }
    }
    let tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(tls_acceptor(&cert, &key)),
        (None, None) => None,
        _ => usage(),
    };
    let shaping = Shaping {
        latency: std::time::Duration::from_millis(latency_ms),
        conn_mibps,
    };
    let data = data.unwrap_or_else(|| usage());
    std::fs::create_dir_all(&data).expect("creating the data directory");

    // One worker per core this process may run on (`taskset -c 1` gives one).
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    if let Err(e) = runtime.block_on(serve(Store::new(data), port, shaping, tls)) {
        eprintln!("bench-s3-server: {e}");
        std::process::exit(1);
    }
}

struct Shaping {
    latency: std::time::Duration,
    conn_mibps: Option<f64>,
}

/// TLS with the certificate chain and key of two PEM files; HTTP/1.1 only, as S3 offers.
fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> TlsAcceptor {
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("bench-s3-server: {what}: {e}");
        std::process::exit(2)
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap_or_else(|e| fail("reading --tls-cert", &e))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| fail("reading --tls-cert", &e));
    let key = PrivateKeyDer::from_pem_file(key).unwrap_or_else(|e| fail("reading --tls-key", &e));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| fail("TLS versions", &e))
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap_or_else(|e| fail("the TLS certificate", &e));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

type Service = shaping::Delayed<s3s::service::S3Service>;

/// Serves one connection, shaped when asked, over TLS when `tls` is given.
fn serve_connection<S>(
    http: &ConnBuilder<TokioExecutor>,
    service: &Service,
    socket: S,
    conn_mibps: Option<f64>,
    tls: Option<TlsAcceptor>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (http, service) = (http.clone(), service.clone());
    tokio::spawn(async move {
        match (conn_mibps, tls) {
            (None, None) => {
                let _ = http.serve_connection(TokioIo::new(socket), service).await;
            }
            (Some(rate), None) => {
                let shaped = shaping::Shaped::new(socket, rate);
                let _ = http.serve_connection(TokioIo::new(shaped), service).await;
            }
            (None, Some(tls)) => {
                if let Ok(stream) = tls.accept(socket).await {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
            }
            (Some(rate), Some(tls)) => {
                if let Ok(stream) = tls.accept(shaping::Shaped::new(socket, rate)).await {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
            }
        }
    });
}

async fn serve(
    store: Store,
    port: u16,
    shaping: Shaping,
    tls: Option<TlsAcceptor>,
) -> io::Result<()> {
    let service: Service = {
        let mut builder = S3ServiceBuilder::new(store);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        shaping::Delayed {
            inner: builder.build(),
            delay: shaping.latency,
        }
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let tls_listener = match &tls {
        Some(_) => Some(TcpListener::bind(("127.0.0.1", 0)).await?),
        None => None,
    };
    let mut stdout = io::stdout();
    if let Some(tls_listener) = &tls_listener {
        let port = tls_listener.local_addr()?.port();
        writeln!(stdout, "tls_endpoint=https://localhost:{port}")?;
    }
    writeln!(stdout, "endpoint=http://{}", listener.local_addr()?)?;
    stdout.flush()?;

    let http = ConnBuilder::new(TokioExecutor::new());
    if let (Some(tls_listener), Some(tls)) = (tls_listener, tls) {
        let (http, service, conn_mibps) = (http.clone(), service.clone(), shaping.conn_mibps);
        tokio::spawn(async move {
            loop {
                match tls_listener.accept().await {
                    Ok((socket, _)) => {
                        let _ = socket.set_nodelay(true);
                        serve_connection(&http, &service, socket, conn_mibps, Some(tls.clone()));
                    }
                    Err(e) => eprintln!("bench-s3-server: accept (TLS): {e}"),
                }
            }
        });
    }
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("bench-s3-server: accept: {e}");
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        serve_connection(&http, &service, socket, shaping.conn_mibps, None);
    }
}
