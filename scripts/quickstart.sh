#!/usr/bin/env bash
# Set up and run the bundled quickstart study on the embedded model; ends with a results
# database, an HTML report and a summary in the terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/twinstudy run "$@"
