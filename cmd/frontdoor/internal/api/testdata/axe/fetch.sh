#!/bin/sh
# Fetches axe-core (Deque, MPL-2.0), the accessibility engine the reception
# page's browser tests run, at a pinned version, and checks its hash.
# Run by `go generate ./cmd/frontdoor/internal/api` (see web_test.go); needs npm.
set -eu
version=4.14.1
sum=29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "axe-core@$version" >/dev/null && tar xzf "axe-core-$version.tgz")
echo "$sum  $tmp/package/axe.min.js" | sha256sum -c - >/dev/null
cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$dir/"
echo "axe-core $version -> $dir/axe.min.js"
