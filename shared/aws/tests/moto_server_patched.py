"""Runs moto's server with two fixes that make it behave as the real services do.

1. DynamoDB item operations are atomic. moto's server handles requests on several threads without locking, so
   two concurrent conditional writes to one item can both pass their condition; real DynamoDB evaluates a
   condition and applies the write atomically. Item reads and writes are serialised here.
2. KMS Sign honours MessageType=DIGEST as real KMS does.

moto 5.2.5 ignores MessageType and always hashes the message it is given, so a signature over a
precomputed SHA-256 digest comes back as a signature over SHA-256(digest). Real KMS signs the digest
as is. This wrapper marks DIGEST requests (per request thread) and signs them with a prehashed ECDSA
call; everything else is moto unchanged. Arguments are moto_server's (-H 127.0.0.1 -p PORT).
"""

import sys
import threading

from cryptography.hazmat.primitives.asymmetric import ec, utils
from moto.dynamodb import responses as dynamodb_responses
from moto.kms import responses as kms_responses
from moto.kms import utils as kms_utils
from moto.server import main

_request = threading.local()
_moto_response_sign = kms_responses.KmsResponse.sign
_moto_ecdsa_sign = kms_utils.ECDSAPrivateKey.sign


def _response_sign(self):
    _request.digest = self._get_param("MessageType") == "DIGEST"
    try:
        return _moto_response_sign(self)
    finally:
        _request.digest = False


def _ecdsa_sign(self, message, signing_algorithm):
    if not getattr(_request, "digest", False):
        return _moto_ecdsa_sign(self, message, signing_algorithm)
    kms_utils.validate_signing_algorithm(signing_algorithm, self.valid_signing_algorithms)
    hash_algorithm = self._ECDSAPrivateKey__hash_algorithm(signing_algorithm)
    if len(message) != hash_algorithm.digest_size:
        raise kms_utils.ValidationException(
            f"Digest is invalid length for algorithm {signing_algorithm}."
        )
    return self.private_key.sign(message, ec.ECDSA(utils.Prehashed(hash_algorithm)))


kms_responses.KmsResponse.sign = _response_sign
kms_utils.ECDSAPrivateKey.sign = _ecdsa_sign

_dynamodb_items = threading.RLock()


def _serialised(method):
    def locked(self):
        with _dynamodb_items:
            return method(self)

    return locked


for _name in ("put_item", "get_item", "update_item", "delete_item", "query", "batch_write_item",
              "batch_get_item", "transact_write_items", "transact_get_items"):
    _method = getattr(dynamodb_responses.DynamoHandler, _name, None)
    if _method is not None:
        setattr(dynamodb_responses.DynamoHandler, _name, _serialised(_method))

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
