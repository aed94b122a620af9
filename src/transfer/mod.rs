//! The transfer engine: move the bytes of one object between a [`Source`]/[`Sink`] and S3,
//! in parallel parts, with progress and cancellation.

mod batch;
mod budget;
mod buffers;
mod checksum;
mod download;
mod finish;
mod memory;
mod parts;
mod progress;
mod ranged;
mod reader;
mod receive;
mod sink;
mod source;
mod upload;
mod writer;

pub use batch::{run_batch, summarize, Batch, BatchItem, ItemStatuses, Lane};
pub use budget::{ByteBudget, Reserved};
pub use buffers::BufferPool;
pub use download::download;
pub use memory::{MemorySink, MemorySource};
pub use parts::PartPlan;
pub use progress::{Progress, Transfer};
pub use ranged::{read_range, verify_whole_object, Pin};
pub use reader::ObjectReader;
pub use sink::{FileSink, Sink};
pub use source::{FileSource, Source};
pub use upload::upload;
pub use writer::ObjectWriter;

use aws_sdk_s3::types::ObjectCannedAcl;
use aws_sdk_s3::Client;
use aws_smithy_types::base64;

use std::sync::Arc;

use crate::config::TransferSettings;
use crate::error::{Error, Result};

/// The object a transfer moves, and how.
#[derive(Clone, Debug)]
pub struct ObjectJob {
    pub client: Client,
    pub bucket: String,
    pub key: String,
    pub settings: TransferSettings,
    /// Send CRC32C checksums with uploaded bytes.
    pub send_checksums: bool,
    /// With `send_checksums`: give objects uploaded in parts a CRC32C of all their bytes
    /// (S3's FULL_OBJECT checksum type) rather than a composite one.
    pub full_object_checksum: bool,
    /// Ask for and verify checksums of downloaded bytes.
    pub verify_checksums: bool,
    pub canned_acl: Option<ObjectCannedAcl>,
    /// Cover upload bodies with the request signature (SHA-256); otherwise they are sent as
    /// `UNSIGNED-PAYLOAD`, covered by their CRC32C only when checksums are sent.
    pub sign_payloads: bool,
    /// Attempts for a part whose body fails mid-stream (the SDK retries whole requests itself).
    pub max_attempts: u32,
    /// Confirm the size of an object that comes in one GET without a checksum with a HEAD.
    pub confirm_size_with_head: bool,
    /// The object's size as a listing gave it: a second word on the size of a download that no
    /// checksum covers, at no extra request.
    pub listed_len: Option<u64>,
    /// The bytes in memory this transfer shares with others (a batch); `None` for a transfer
    /// on its own, whose parts in flight bound its memory.
    pub budget: Option<Arc<ByteBudget>>,
}

impl ObjectJob {
    /// `s3://bucket/key`, for messages.
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Takes `bytes` from the shared budget for one request, waiting for room; nothing when
    /// the transfer has no budget.
    pub async fn reserve(
        &self,
        bytes: u64,
        progress: &Progress,
        what: &str,
    ) -> Result<Option<Reserved>> {
        match &self.budget {
            Some(budget) => budget.reserve(bytes, progress, what).await.map(Some),
            None => Ok(None),
        }
    }

    /// The object's size from a HEAD (`None` when the answer gives none).
    pub async fn head_size(&self, what: &str) -> Result<Option<u64>> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
            .map_err(|e| Error::from_sdk(what, e))?;
        Ok(head.content_length().and_then(|n| u64::try_from(n).ok()))
    }
}

/// A CRC32C as S3 headers carry it: the big-endian bytes, base64.
fn crc32c_base64(crc: u32) -> String {
    base64::encode(crc.to_be_bytes())
}
