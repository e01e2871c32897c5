"""An independent implementation of werf's secret formats (werf/common-go `pkg/secret`, every
revision), written with Python's `cryptography` from the formats' description, for the secrets
tests. Nothing here comes from werf-rs.

A value is hex of: a 2-byte little-endian format version, then
  16: a 16-byte IV and AES-CBC with PKCS#7 padding (the legacy format);
  2:  a 12-byte nonce and AES-GCM (ciphertext and tag); whole files, and YAML values of the
      revisions before version 3;
  3:  the same as 2, for YAML values only (werf v3, common-go branch 1).
A GCM value is sealed with associated data that is one of: none, the 2-byte version, or the
version and the nonce (the revisions differ). A YAML value's plaintext is either the raw value or
the frame `TAG NUL STYLE NUL VALUE` (yaml.v3's short tag and style number).

  werf_secret.py encrypt KEY < [{"shape": S, "plain": TEXT, "tag"?: T, "style"?: N}, ...]
      [hex, ...]; S is `cbc`, or `gcm-VERSION-AD-FRAMING` with AD in none|version|header and
      FRAMING in raw|framed (framed uses "tag" and "style").
  werf_secret.py decrypt KEY < [{"hex": H, "ad": AD, "framed": BOOL}, ...]
      [{"version": V, "plain": TEXT} or {"version": V, "tag", "style", "value"} or {"error"}]:
      opens strictly with the one AD given and unframes only when asked.
"""

import json
import os
import struct
import sys

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def associated(ad, head, nonce):
    return {"none": None, "version": head, "header": head + nonce}[ad]


def frame(tag, style, value):
    return tag.encode() + b"\0" + str(style).encode() + b"\0" + value.encode()


def encrypt(key, case):
    plain = case["plain"]
    shape = case["shape"]
    if shape == "cbc":
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        body = padder.update(plain.encode()) + padder.finalize()
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return (struct.pack("<H", 16) + iv + enc.update(body) + enc.finalize()).hex()
    _, version, ad, framing = shape.split("-")
    head = struct.pack("<H", int(version))
    nonce = os.urandom(12)
    data = frame(case["tag"], case["style"], plain) if framing == "framed" else plain.encode()
    sealed = AESGCM(key).encrypt(nonce, data, associated(ad, head, nonce))
    return (head + nonce + sealed).hex()


def decrypt(key, case):
    raw = bytes.fromhex(case["hex"])
    version = struct.unpack("<H", raw[:2])[0]
    try:
        if version == 16:
            dec = Cipher(algorithms.AES(key), modes.CBC(raw[2:18])).decryptor()
            body = dec.update(raw[18:]) + dec.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            plain = unpadder.update(body) + unpadder.finalize()
        elif version in (2, 3):
            head, nonce = raw[:2], raw[2:14]
            plain = AESGCM(key).decrypt(nonce, raw[14:], associated(case["ad"], head, nonce))
        else:
            return {"error": "unsupported version %d" % version}
    except Exception as e:  # reported as data: the test names the case
        return {"error": "%s: %s" % (type(e).__name__, e)}
    if not case.get("framed"):
        return {"version": version, "plain": plain.decode()}
    parts = plain.split(b"\0", 2)
    if len(parts) != 3:
        return {"error": "not a frame"}
    return {
        "version": version,
        "tag": parts[0].decode(),
        "style": int(parts[1]),
        "value": parts[2].decode(),
    }


if __name__ == "__main__":
    mode, key = sys.argv[1], bytes.fromhex(sys.argv[2])
    cases = json.load(sys.stdin)
    act = {"encrypt": encrypt, "decrypt": decrypt}[mode]
    json.dump([act(key, c) for c in cases], sys.stdout)
