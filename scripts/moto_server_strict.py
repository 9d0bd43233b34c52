"""moto_server with one fix to its SigV4 verifier, for scripts/s3-test-server.

moto rebuilds the canonical request from werkzeug's request URL, in which percent-escapes such as %2F are already
decoded, and botocore does not re-encode a query taken from a URL. Every request with '/' in a query value
(ListObjectsV2 with prefix=2024-01-01/ or delimiter=/) then fails with SignatureDoesNotMatch, from boto3 just as from
us. AWS S3 and MinIO encode query names and values per RFC 3986 (only A-Z a-z 0-9 - _ . ~ stay as they are); this
wrapper makes moto do the same before it verifies the signature.

With MOTO_FIXED_ACCESS_KEY and MOTO_FIXED_SECRET_KEY set, the access key it creates is that one, so several servers
(replicas holding the same objects, for a benchmark) check the same signatures.
"""
import os
import sys
from urllib.parse import quote, unquote

from moto.iam import access_control

_create_aws_request = access_control.IAMRequestBase._create_aws_request


def _create_aws_request_with_encoded_query(self):
    path, separator, query = self._path.partition("?")
    if separator:
        pairs = []
        for pair in query.split("&"):
            name, _, value = pair.partition("=")
            pairs.append(quote(unquote(name), safe="-_.~") + "=" + quote(unquote(value), safe="-_.~"))
        self._path = path + "?" + "&".join(pairs)
    return _create_aws_request(self)


access_control.IAMRequestBase._create_aws_request = _create_aws_request_with_encoded_query

# Replicas (scripts/s3-test-server with S3_TEST_SERVER_REPLICAS) must accept the same signatures: the access key their
# IAM user gets is the one in MOTO_FIXED_ACCESS_KEY / MOTO_FIXED_SECRET_KEY when those are set.
_fixed_key = os.environ.get("MOTO_FIXED_ACCESS_KEY")
_fixed_secret = os.environ.get("MOTO_FIXED_SECRET_KEY")
if _fixed_key and _fixed_secret:
    from moto.iam import models

    _access_key_init = models.AccessKey.__init__

    def _access_key_init_fixed(self, *args, **kwargs):
        _access_key_init(self, *args, **kwargs)
        self.access_key_id = _fixed_key
        self.secret_access_key = _fixed_secret

    models.AccessKey.__init__ = _access_key_init_fixed

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main())
