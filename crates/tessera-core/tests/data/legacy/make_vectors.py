"""Writes legacy.json: password hashes made by the real Python libraries
that tessera's legacy verifier must accept (issue: keep users' passwords
when a team moves from Flask or Django).

    python3 -m venv venv && venv/bin/pip install werkzeug bcrypt django
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

from django.conf import settings

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ]
)
from django.contrib.auth.hashers import (  # noqa: E402
    PBKDF2PasswordHasher,
    PBKDF2SHA1PasswordHasher,
)

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

print(json.dumps(vectors, indent=1, ensure_ascii=False))
