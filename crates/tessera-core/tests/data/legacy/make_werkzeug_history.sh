#!/usr/bin/env bash
# Writes werkzeug-history.json: what generate_password_hash wrote by default
# in each Werkzeug release line since 0.9 (the iteration count and method
# changed over the years; the format did not), made by those releases.
#
#     ./make_werkzeug_history.sh > werkzeug-history.json
set -euo pipefail

versions=(0.9.6 0.15.6 1.0.1 2.0.3 2.3.8 3.0.6 3.1.9)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

first=1
echo "["
for version in "${versions[@]}"; do
  python3 -m venv "$work/$version"
  "$work/$version/bin/pip" install -q "werkzeug==$version" >&2
  for password in "correct horse battery" "pässwörd ünïcödé ✓"; do
    [ "$first" = 1 ] || echo ","
    first=0
    PASSWORD="$password" VERSION="$version" "$work/$version/bin/python" - <<'PY'
import json, os
from werkzeug.security import check_password_hash, generate_password_hash

password = os.environ["PASSWORD"]
stored = generate_password_hash(password)
assert check_password_hash(stored, password)
assert not check_password_hash(stored, "correct horse batterz")
print(json.dumps({
    "scheme": "werkzeug default",
    "library": "werkzeug " + os.environ["VERSION"],
    "stored": stored,
    "password": password,
    "wrong": "correct horse batterz",
}, ensure_ascii=False), end="")
PY
  done
done
echo
echo "]"
