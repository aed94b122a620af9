//! The transfer engine: move the bytes of one object between a [`Source`]/[`Sink`] and S3,
//! in parallel parts, with progress and cancellation.

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
}

impl ObjectJob {
    /// `s3://bucket/key`, for messages.
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
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
