#!/usr/bin/env bash
# Run pytest and treat "no tests collected" (exit 5) as the failure it is here.
set -uo pipefail
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit $rc
