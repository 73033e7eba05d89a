"""Writes legacy-old.json: the fast-digest strings of old Werkzeug and
Django releases, which `LegacyHasher::dangerous_accept_fast_digests` verifies
(and nothing else does). Their methods are gone from today's releases, so
this runs in a venv of its own:

    python3 -m venv old
    old/bin/pip install "werkzeug==2.2.3" "django==4.2.*"
    old/bin/python make_old_vectors.py > legacy-old.json

Werkzeug 2.2 writes what every release before 2.3 wrote for these methods
(`sha1` was the default before 0.9); Django 4.2 is the last release with
its SHA-1 and unsalted hashers.
"""

import json
import importlib.metadata as meta

from django.conf import settings
from werkzeug.security import check_password_hash, generate_password_hash

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.SHA1PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.UnsaltedSHA1PasswordHasher",
    ]
)
from django.contrib.auth.hashers import check_password, make_password  # noqa: E402

PASSWORDS = ["correct horse battery", "pässwörd ünïcödé ✓", "", "pa$$word with $ signs"]
WRONG = "correct horse batterz"


def version(package):
    return f"{package} {meta.version(package)}"


vectors = []


def add(scheme, library, stored, password):
    vectors.append(
        {
            "scheme": scheme,
            "library": library,
            "stored": stored,
            "password": password,
            "wrong": WRONG,
        }
    )


werkzeug = version("werkzeug")
for password in PASSWORDS:
    for method in ["sha1", "md5", "sha224", "sha256", "sha384", "sha512"]:
        stored = generate_password_hash(password, method=method)
        assert check_password_hash(stored, password)
        add(f"werkzeug {method}", werkzeug, stored, password)
    # Werkzeug's own check compares plain strings with hmac.compare_digest,
    # which refuses non-ASCII text: only ASCII plain passwords ever worked.
    if password and password.isascii():
        stored = generate_password_hash(password, method="plain")
        assert check_password_hash(stored, password)
        add("werkzeug plain", werkzeug, stored, password)

django = version("django")
for password in PASSWORDS:
    for hasher in ["sha1", "md5", "unsalted_sha1"]:
        stored = make_password(password, hasher=hasher)
        assert check_password(password, stored)
        if hasher == "unsalted_sha1":
            # `sha1$$<hex>`, which Werkzeug's check_password_hash reads as
            # its own unsalted form too.
            assert check_password_hash(stored, password)
        add(f"django {hasher}", django, stored, password)

print(json.dumps(vectors, indent=1, ensure_ascii=False))
