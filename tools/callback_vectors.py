#!/usr/bin/env python3
"""Encrypt and sign a callback body as Tencent's kits expect to decrypt and verify it
(AES-256-CBC, IV = the key's first 16 bytes, PKCS#7; HMAC-SHA256 over the raw body), with
Python's `cryptography`, independently of qianshu: the vectors of `callbacks::tests`.
"""
import base64
import hashlib
import hmac
import json

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY = b"0123456789abcdef0123456789ABCDEF"
TOKEN = b"callback-token"
PAYLOAD = '{"MsgId":"m1","MsgType":"FlowStatusChange","MsgVersion":"ThirdPartyApp","MsgData":{"FlowName":"合同"}}'

padder = padding.PKCS7(128).padder()
padded = padder.update(PAYLOAD.encode()) + padder.finalize()
encryptor = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).encryptor()
body = json.dumps({"encrypt": base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()},
                  separators=(",", ":"))
print("encrypted body:", body)
print("signature of the encrypted body: sha256=" + hmac.new(TOKEN, body.encode(), hashlib.sha256).hexdigest())
print("signature of the plain body: sha256=" + hmac.new(TOKEN, PAYLOAD.encode(), hashlib.sha256).hexdigest())
