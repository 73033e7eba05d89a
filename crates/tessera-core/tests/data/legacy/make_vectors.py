"""Writes legacy.json: password hashes made by the real Python libraries
that tessera's legacy verifier must accept (issue: keep users' passwords
when a team moves from Flask or Django).

    python3 -m venv venv && venv/bin/pip install werkzeug bcrypt django passlib argon2-cffi
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

from argon2 import low_level
from django.conf import settings
from passlib.hash import pbkdf2_sha256 as passlib_pbkdf2_sha256

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
    ]
)
from django.contrib.auth.hashers import (  # noqa: E402
    Argon2PasswordHasher,
    PBKDF2PasswordHasher,
    PBKDF2SHA1PasswordHasher,
)


class CheapArgon2(Argon2PasswordHasher):
    """Django's argon2 hasher at test costs (its format is unchanged)."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1

PASSWORDS = [
    "correct horse battery",
    "pässwörd ünïcödé ✓",
    "",
    "x" * 80,
]
WRONG = "correct horse batterz"


def version(package):
    return f"{package} {meta.version(package)}"


vectors = []


def add(scheme, library, stored, password, default=False):
    vectors.append(
        {
            "scheme": scheme,
            "library": library,
            "stored": stored,
            "password": password,
            "wrong": WRONG if password != WRONG else "other",
            "default": default,
        }
    )


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

passlib = version("passlib")
for password in PASSWORDS:
    add("passlib pbkdf2_sha256", passlib, passlib_pbkdf2_sha256.using(rounds=1000).hash(password), password)
add("passlib pbkdf2_sha256", passlib, passlib_pbkdf2_sha256.hash(PASSWORDS[0]), PASSWORDS[0], True)

print(json.dumps(vectors, indent=1, ensure_ascii=False))
