#!/usr/bin/env bash
# make fuzz: runs every Go fuzz target in the repository for a bounded time each
# (FUZZTIME, default 20s). Seed corpora live in each package's testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20s}
failed=0
while IFS=: read -r file name; do
	pkg=./$(dirname "$file")
	echo "== $pkg $name ($fuzztime)"
	if ! go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime"; then
		failed=$((failed + 1))
	fi
done < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed -E 's#^\./##; s#:func #:#' | sort)
if ((failed)); then
	echo "$failed fuzz target(s) failed"
	exit 1
fi
echo "every fuzz target ran for $fuzztime without a failure"
