//! Which checksum of all an object's bytes a download can check it against. S3 keeps one of
//! CRC32, CRC32C, CRC64NVME, SHA-1 or SHA-256 per object. The CRCs of ranges fetched in
//! parallel combine into the CRC of the whole object; a SHA does not combine, so an object
//! whose only checksum is a SHA is fetched in one stream, which the SDK verifies against it.

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::ChecksumType;
use aws_smithy_types::base64;
use crc_fast::{CrcAlgorithm, Digest};

/// A CRC that S3 keeps over all of an object's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crc {
    Crc32,
    Crc32c,
    Crc64Nvme,
}

impl Crc {
    pub fn name(self) -> &'static str {
        match self {
            Crc::Crc32 => "CRC32",
            Crc::Crc32c => "CRC32C",
            Crc::Crc64Nvme => "CRC64NVME",
        }
    }

    fn algorithm(self) -> CrcAlgorithm {
        match self {
            Crc::Crc32 => CrcAlgorithm::Crc32IsoHdlc,
            Crc::Crc32c => CrcAlgorithm::Crc32Iscsi,
            Crc::Crc64Nvme => CrcAlgorithm::Crc64Nvme,
        }
    }

    /// A running CRC over bytes fed to it in order.
    pub fn digest(self) -> Digest {
        Digest::new(self.algorithm())
    }

    /// The CRC of `a`'s bytes followed by `b_len` bytes whose CRC is `b`.
    pub fn combine(self, a: u64, b: u64, b_len: u64) -> u64 {
        crc_fast::checksum_combine(self.algorithm(), a, b, b_len)
    }

    /// The CRC of all the bytes of consecutive ranges, from each range's CRC and length.
    pub fn of_ranges(self, ranges: &[(u64, u64)]) -> u64 {
        ranges
            .iter()
            .fold(self.digest().finalize(), |crc, &(range, len)| {
                self.combine(crc, range, len)
            })
    }
}

/// What a download can check the whole object's bytes against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WholeChecksum {
    /// The object's CRC: every range's CRC is computed and the combination compared with it.
    Crc { crc: Crc, value: u64 },
    /// Only a SHA: the object must come in one stream for the SDK to check it.
    Sha,
    /// Nothing over all the bytes (no checksum, or a composite one of the parts' checksums):
    /// only lengths can be checked.
    Nothing,
}

/// The whole-object checksum a GET answer announces. A multipart object's composite checksum
/// (a checksum of part checksums, "...-N" on S3) covers no byte range a client can compute;
/// some stores send it without the suffix and without a type, so an object uploaded in parts
/// (ETag "...-N") counts as full-object only when the server says so.
pub fn whole_object_checksum(answer: &GetObjectOutput) -> WholeChecksum {
    whole_checksum_of(&Announced {
        e_tag: answer.e_tag(),
        checksum_type: answer.checksum_type(),
        crc32: answer.checksum_crc32(),
        crc32c: answer.checksum_crc32_c(),
        crc64nvme: answer.checksum_crc64_nvme(),
        sha1: answer.checksum_sha1(),
        sha256: answer.checksum_sha256(),
    })
}

/// [`whole_object_checksum`] from a HEAD's answer (asked with checksum mode enabled).
pub fn whole_object_checksum_of_head(answer: &HeadObjectOutput) -> WholeChecksum {
    whole_checksum_of(&Announced {
        e_tag: answer.e_tag(),
        checksum_type: answer.checksum_type(),
        crc32: answer.checksum_crc32(),
        crc32c: answer.checksum_crc32_c(),
        crc64nvme: answer.checksum_crc64_nvme(),
        sha1: answer.checksum_sha1(),
        sha256: answer.checksum_sha256(),
    })
}

/// The checksum headers of an answer about an object.
struct Announced<'a> {
    e_tag: Option<&'a str>,
    checksum_type: Option<&'a ChecksumType>,
    crc32: Option<&'a str>,
    crc32c: Option<&'a str>,
    crc64nvme: Option<&'a str>,
    sha1: Option<&'a str>,
    sha256: Option<&'a str>,
}

fn whole_checksum_of(answer: &Announced<'_>) -> WholeChecksum {
    let uploaded_in_parts = answer
        .e_tag
        .is_some_and(|etag| etag.trim_matches('"').contains('-'));
    match answer.checksum_type {
        Some(ChecksumType::FullObject) => {}
        None if !uploaded_in_parts => {}
        _ => return WholeChecksum::Nothing,
    }
    let crcs = [
        (Crc::Crc32c, answer.crc32c),
        (Crc::Crc64Nvme, answer.crc64nvme),
        (Crc::Crc32, answer.crc32),
    ];
    for (crc, encoded) in crcs {
        if let Some(value) = whole(encoded).and_then(decode_big_endian) {
            return WholeChecksum::Crc { crc, value };
        }
    }
    if whole(answer.sha256).is_some() || whole(answer.sha1).is_some() {
        return WholeChecksum::Sha;
    }
    WholeChecksum::Nothing
}

/// A checksum value unless it is a composite one ("...-N").
fn whole(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.contains('-'))
}

/// A checksum header's value: base64 of 4 or 8 big-endian bytes.
fn decode_big_endian(encoded: &str) -> Option<u64> {
    let bytes = base64::decode(encoded).ok()?;
    match bytes.len() {
        4 => Some(u32::from_be_bytes(bytes.try_into().ok()?).into()),
        8 => Some(u64::from_be_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> aws_sdk_s3::operation::get_object::builders::GetObjectOutputBuilder {
        GetObjectOutput::builder().e_tag("\"0cc175b9c0f1b6a831c399e269772661\"")
    }

    #[test]
    fn range_crcs_combine_into_the_object_crc() {
        let data: Vec<u8> = (0..70_001u32).map(|i| (i * 31 + i / 7) as u8).collect();
        for crc in [Crc::Crc32, Crc::Crc32c, Crc::Crc64Nvme] {
            let ranges: Vec<(u64, u64)> = [0..1, 1..4096, 4096..65_536, 65_536..70_001]
                .into_iter()
                .map(|r| {
                    let mut digest = crc.digest();
                    digest.update(&data[r.clone()]);
                    (digest.finalize(), r.len() as u64)
                })
                .collect();
            let mut whole = crc.digest();
            whole.update(&data);
            assert_eq!(crc.of_ranges(&ranges), whole.finalize(), "{}", crc.name());
        }
        // The standard check values of the three CRCs, over "123456789".
        let check = |crc: Crc| {
            let mut digest = crc.digest();
            digest.update(b"123456789");
            digest.finalize()
        };
        assert_eq!(check(Crc::Crc32), 0xcbf4_3926);
        assert_eq!(check(Crc::Crc32c), 0xe306_9283);
        assert_eq!(check(Crc::Crc64Nvme), 0xae8b_1486_0a79_9888);
    }

    #[test]
    fn every_full_object_crc_is_found_and_composite_ones_are_not() {
        let crc32 = answer().checksum_crc32("yZRlqg==").build();
        assert_eq!(
            whole_object_checksum(&crc32),
            WholeChecksum::Crc {
                crc: Crc::Crc32,
                value: 0xc994_65aa
            }
        );
        let crc64 = answer()
            .checksum_crc64_nvme("AAAAAAAAAAE=")
            .checksum_type(ChecksumType::FullObject)
            .build();
        assert_eq!(
            whole_object_checksum(&crc64),
            WholeChecksum::Crc {
                crc: Crc::Crc64Nvme,
                value: 1
            }
        );
        let sha = answer().checksum_sha256("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=");
        assert_eq!(whole_object_checksum(&sha.build()), WholeChecksum::Sha);
        let composite = answer()
            .checksum_crc32_c("yZRlqg==-3")
            .checksum_type(ChecksumType::Composite)
            .build();
        assert_eq!(whole_object_checksum(&composite), WholeChecksum::Nothing);
        let parts_without_type = GetObjectOutput::builder()
            .e_tag("\"96e024ba2074fe77e8e965ba43a704be-2\"")
            .checksum_crc32_c("yZRlqg==")
            .build();
        assert_eq!(
            whole_object_checksum(&parts_without_type),
            WholeChecksum::Nothing
        );
        assert_eq!(
            whole_object_checksum(&answer().build()),
            WholeChecksum::Nothing
        );
    }
}
#[cfg(test)]
mod probe {
    use super::*;
    #[test]
    fn probe_large() {
        let data: Vec<u8> = (0..(12u64 << 20) + 3)
            .map(|i| (i * 31 + i / 7) as u8)
            .collect();
        let p = 5usize << 20;
        for crc in [Crc::Crc32, Crc::Crc32c, Crc::Crc64Nvme] {
            let ranges: Vec<(u64, u64)> = [0..p, p..2 * p, 2 * p..data.len()]
                .into_iter()
                .map(|r| {
                    let mut d = crc.digest();
                    d.update(&data[r.clone()]);
                    (d.finalize(), r.len() as u64)
                })
                .collect();
            let mut w = crc.digest();
            w.update(&data);
            println!(
                "{} {:x} {:x}",
                crc.name(),
                crc.of_ranges(&ranges),
                w.finalize()
            );
            let c2 = crc32c::crc32c_combine(ranges[0].0 as u32, ranges[1].0 as u32, p);
            println!(
                "crc32c crate {:x}",
                crc32c::crc32c_combine(c2, ranges[2].0 as u32, ranges[2].1 as usize)
            );
        }
    }
}
