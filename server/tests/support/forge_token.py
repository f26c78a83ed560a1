"""Signs tokens for the forged-token battery in server/tests/signin.rs.

Reads {"header": {...}, "claims": {...}, "key": KEY} on stdin, prints a JWT.
KEY is one of:
  pool         moto's bundled Cognito key, the key every emulated pool signs with
  stranger     a freshly generated RSA key that no pool has published
  hmac-public  HS256 keyed with the pool's *public* key (algorithm confusion)
Run with the Python of moto's virtualenv: it has moto and joserfc.
"""
import base64
import gzip
import hashlib
import hmac
import json
import os
import sys

import moto.cognitoidp
from joserfc import jwt
from joserfc.jwk import RSAKey


def resource(name):
    folder = os.path.join(os.path.dirname(moto.cognitoidp.__file__), "resources")
    with gzip.open(os.path.join(folder, name + ".gz"), "rt") as f:
        return json.load(f)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


request = json.load(sys.stdin)
header, claims, key = request["header"], request["claims"], request["key"]
if key == "hmac-public":
    public = resource("jwks-public.json")["keys"][0]
    secret = RSAKey.import_key(public).as_pem(private=False)
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    print(signing_input + "." + b64(signature))
else:
    signer = RSAKey.import_key(resource("jwks-private.json")) if key == "pool" else RSAKey.generate_key(2048)
    print(jwt.encode(header, claims, signer, algorithms=[header["alg"]]))
