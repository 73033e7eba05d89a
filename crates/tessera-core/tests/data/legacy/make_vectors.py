"""Writes legacy.json: password hashes made by the real Python libraries
that tessera's legacy verifier must accept (issue: keep users' passwords
when a team moves from Flask or Django).

    python3 -m venv venv
    venv/bin/pip install werkzeug bcrypt django passlib argon2-cffi flask-security-too
    venv/bin/python make_vectors.py > legacy.json

Each vector: the scheme, the library and version that made it, the stored
hash, the password it was made from, and a wrong password that must not
verify. Iteration counts are low except in the vectors marked "default",
which use the library's current defaults (tests verify those too, so keep
them few).
"""

import json
import importlib.metadata as meta

import bcrypt
from werkzeug.security import generate_password_hash

import argon2
from argon2 import low_level
from django.conf import settings
from passlib import hash as passlib_hash
from passlib.hash import pbkdf2_sha256 as passlib_pbkdf2_sha256

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
    ]
)
from django.contrib.auth.hashers import (  # noqa: E402
    Argon2PasswordHasher,
    BCryptPasswordHasher,
    BCryptSHA256PasswordHasher,
    PBKDF2PasswordHasher,
    PBKDF2SHA1PasswordHasher,
    ScryptPasswordHasher,
)


class CheapArgon2(Argon2PasswordHasher):
    """Django's argon2 hasher at test costs (its format is unchanged)."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1


class CheapScrypt(ScryptPasswordHasher):
    work_factor = 2**10
    parallelism = 1


class CheapBCryptSHA256(BCryptSHA256PasswordHasher):
    rounds = 4


class CheapBCrypt(BCryptPasswordHasher):
    rounds = 4

PASSWORDS = [
    "correct horse battery",
    "pässwörd ünïcödé ✓",
    "",
    "x" * 80,
    # NFKC changes these (a ligature and full-width letters; a decomposed
    # accent): the libraries hashed them as typed, tessera must try that
    # form when the normalised one does not match.
    "ﬁne ｐａｓｓ",
    "pa\u0308sswort",
]
WRONG = "correct horse batterz"


def version(package):
    return f"{package} {meta.version(package)}"


vectors = []


def add(scheme, library, stored, password, default=False, pepper=None):
    vector = {
        "scheme": scheme,
        "library": library,
        "stored": stored,
        "password": password,
        "wrong": WRONG if password != WRONG else "other",
        "default": default,
    }
    if pepper is not None:
        vector["flask_security_salt"] = pepper
    vectors.append(vector)


werkzeug = version("werkzeug")
for password in PASSWORDS:
    for digest in ["sha256", "sha512", "sha1"]:
        add(
            f"werkzeug pbkdf2:{digest}",
            werkzeug,
            generate_password_hash(password, method=f"pbkdf2:{digest}:1000"),
            password,
        )
    add(
        "werkzeug scrypt",
        werkzeug,
        generate_password_hash(password, method="scrypt:1024:8:1"),
        password,
    )
add("werkzeug pbkdf2:sha256", werkzeug, generate_password_hash(PASSWORDS[0], method="pbkdf2"), PASSWORDS[0], True)
add("werkzeug scrypt", werkzeug, generate_password_hash(PASSWORDS[0]), PASSWORDS[0], True)

django = version("django")
for password in PASSWORDS:
    for hasher, scheme in [
        (PBKDF2PasswordHasher(), "django pbkdf2_sha256"),
        (PBKDF2SHA1PasswordHasher(), "django pbkdf2_sha1"),
    ]:
        add(scheme, django, hasher.encode(password, hasher.salt(), iterations=1000), password)
default = PBKDF2PasswordHasher()
add("django pbkdf2_sha256", django, default.encode(PASSWORDS[0], default.salt()), PASSWORDS[0], True)

pybcrypt = version("bcrypt")
for password in PASSWORDS:
    raw = password.encode()
    # pyca/bcrypt refuses passwords over 72 bytes; the schemes truncate.
    for prefix in [b"2a", b"2b"]:
        stored = bcrypt.hashpw(raw[:72], bcrypt.gensalt(4, prefix=prefix)).decode()
        add(f"bcrypt ${prefix.decode()}$", pybcrypt, stored, password)
    # PHP's $2y$ is $2b$ under another name.
    stored = bcrypt.hashpw(raw[:72], bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    add("bcrypt $2y$", pybcrypt, stored, password)
add("bcrypt $2b$", pybcrypt, bcrypt.hashpw(PASSWORDS[0].encode(), bcrypt.gensalt()).decode(), PASSWORDS[0], True)

cheap = CheapArgon2()
for password in PASSWORDS:
    add("django argon2", django, cheap.encode(password, cheap.salt()), password)
argon2_default = Argon2PasswordHasher()
add("django argon2", django, argon2_default.encode(PASSWORDS[0], argon2_default.salt()), PASSWORDS[0], True)

cffi = version("argon2-cffi")
for password in PASSWORDS:
    raw = password.encode()
    for kind, name in [(low_level.Type.ID, "argon2id"), (low_level.Type.I, "argon2i"), (low_level.Type.D, "argon2d")]:
        for ver, tag in [(0x13, 32), (0x10, 16)]:
            stored = low_level.hash_secret(
                raw, b"saltsaltsaltsalt", time_cost=1, memory_cost=256,
                parallelism=1, hash_len=tag, type=kind, version=ver,
            ).decode()
            add(f"argon2-cffi {name} v={ver:#x}", cffi, stored, password)
    # Strings of argon2-cffi before 16.0 carried no version: 0x10.
    stored = low_level.hash_secret(
        raw, b"saltsaltsaltsalt", time_cost=1, memory_cost=256, parallelism=1,
        hash_len=16, type=low_level.Type.I, version=0x10,
    ).decode().replace("$v=16", "", 1)
    add("argon2-cffi argon2i without v", cffi, stored, password)
# argon2-cffi's default profile (RFC 9106 low memory: m=65536, t=3, p=4).
add("argon2-cffi argon2id v=0x13", cffi, argon2.PasswordHasher().hash(PASSWORDS[0]), PASSWORDS[0], True)

passlib = version("passlib")
for password in PASSWORDS:
    add("passlib pbkdf2_sha256", passlib, passlib_pbkdf2_sha256.using(rounds=1000).hash(password), password)
    add("passlib pbkdf2_sha1", passlib, passlib_hash.pbkdf2_sha1.using(rounds=1000).hash(password), password)
    add("passlib pbkdf2_sha512", passlib, passlib_hash.pbkdf2_sha512.using(rounds=1000).hash(password), password)
    # rounds=5000 is SHA-crypt's implicit default: passlib leaves it out.
    for rounds in [1000, 5000]:
        add("passlib sha256_crypt", passlib, passlib_hash.sha256_crypt.using(rounds=rounds).hash(password), password)
        add("passlib sha512_crypt", passlib, passlib_hash.sha512_crypt.using(rounds=rounds).hash(password), password)
    add("passlib bcrypt_sha256 v2", passlib, passlib_hash.bcrypt_sha256.using(rounds=4).hash(password), password)
    add("passlib bcrypt_sha256 v1", passlib, passlib_hash.bcrypt_sha256.using(rounds=4, version=1).hash(password), password)
    add("passlib scrypt", passlib, passlib_hash.scrypt.using(rounds=8).hash(password), password)
    if len(password.encode()) <= 72:
        add("passlib bcrypt", passlib, passlib_hash.bcrypt.using(rounds=4).hash(password), password)
add("passlib pbkdf2_sha256", passlib, passlib_pbkdf2_sha256.hash(PASSWORDS[0]), PASSWORDS[0], True)
add("passlib pbkdf2_sha1", passlib, passlib_hash.pbkdf2_sha1.hash(PASSWORDS[0]), PASSWORDS[0], True)
add("passlib pbkdf2_sha512", passlib, passlib_hash.pbkdf2_sha512.hash(PASSWORDS[0]), PASSWORDS[0], True)
add("passlib sha256_crypt", passlib, passlib_hash.sha256_crypt.hash(PASSWORDS[0]), PASSWORDS[0], True)
add("passlib sha512_crypt", passlib, passlib_hash.sha512_crypt.hash(PASSWORDS[0]), PASSWORDS[0], True)
add("passlib bcrypt_sha256 v2", passlib, passlib_hash.bcrypt_sha256.hash(PASSWORDS[0]), PASSWORDS[0], True)
add("passlib scrypt", passlib, passlib_hash.scrypt.hash(PASSWORDS[0]), PASSWORDS[0], True)

for password in PASSWORDS:
    for hasher, scheme in [
        (CheapScrypt(), "django scrypt"),
        (CheapBCryptSHA256(), "django bcrypt_sha256"),
        (CheapBCrypt(), "django bcrypt"),
    ]:
        # pyca/bcrypt 5 refuses passwords over 72 bytes; Django's plain
        # bcrypt hasher passes them through.
        if scheme == "django bcrypt" and len(password.encode()) > 72:
            continue
        add(scheme, django, hasher.encode(password, hasher.salt()), password)
for hasher, scheme in [
    (ScryptPasswordHasher(), "django scrypt"),
    (BCryptSHA256PasswordHasher(), "django bcrypt_sha256"),
]:
    add(scheme, django, hasher.encode(PASSWORDS[0], hasher.salt()), PASSWORDS[0], True)

# Flask-Security-Too: the HMAC pepper with SECURITY_PASSWORD_SALT, after
# NFKD normalisation, for each of its schemes (Django's without the HMAC).
from flask import Flask  # noqa: E402
from flask_security import utils as fs_utils  # noqa: E402
from flask_security.core import _default_config  # noqa: E402,F401  (fails loudly if the module moves)

flask_security = version("flask-security-too")
SALT = "146585145368132386173505678016728509634"
for scheme_name, options, label in [
    ("argon2", {"argon2__rounds": 1, "argon2__memory_cost": 256, "argon2__parallelism": 1}, "argon2"),
    ("bcrypt", {"bcrypt__rounds": 4}, "bcrypt"),
    ("pbkdf2_sha512", {"pbkdf2_sha512__rounds": 1000}, "pbkdf2_sha512"),
    ("sha512_crypt", {"sha512_crypt__rounds": 1000}, "sha512_crypt"),
    ("django_pbkdf2_sha256", {"django_pbkdf2_sha256__rounds": 1000}, "django_pbkdf2_sha256"),
]:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="x",
        SECURITY_PASSWORD_SALT=SALT,
        SECURITY_PASSWORD_HASH=scheme_name,
        SECURITY_PASSWORD_SCHEMES=[scheme_name],
        SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS=options,
    )
    from flask_security import Security  # noqa: E402

    # No user store is needed to hash; Flask-Security only keeps a reference.
    Security(app, datastore=object(), register_blueprint=False)
    with app.app_context():
        for password in PASSWORDS:
            # Flask-Security's forms normalise the password (NFKD) before
            # hashing; hash_password itself does not.
            normalised = fs_utils._security._password_util.normalize(password)
            stored = fs_utils.hash_password(normalised)
            assert fs_utils.verify_password(normalised, stored)
            add(f"flask-security {label}", flask_security, stored, password, pepper=SALT)

print(json.dumps(vectors, indent=1, ensure_ascii=False))
