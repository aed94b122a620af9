"""moto's S3 server (`python3 -m moto.server`) with one correction for strict clients.

S3 names the root element of a CompleteMultipartUpload answer `CompleteMultipartUploadResult`.
moto 5.2 serialises answers from botocore's model, which does not carry that name, and so
answers `<CompleteMultipartUploadResponse>`: botocore reads either, the Rust SDK rejects it.
Everything else is moto as released.
"""

import sys

from moto.core import serialize

_serialize = serialize.S3Serializer._serialized_result_to_response


def _with_s3_root_element(self, resp, result, shape, serialized_result):
    resp = _serialize(self, resp, result, shape, serialized_result)
    if self.operation_model.name == "CompleteMultipartUpload":
        resp["body"] = resp["body"].replace(
            "CompleteMultipartUploadResponse", "CompleteMultipartUploadResult"
        )
    return resp


serialize.S3Serializer._serialized_result_to_response = _with_s3_root_element

from moto.server import main  # noqa: E402  (after the correction)

sys.exit(main())
