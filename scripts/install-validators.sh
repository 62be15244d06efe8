#!/usr/bin/env bash
# Builds the Python virtualenv holding the outside validators the evidence tests use (pyspdxtools from
# spdx-tools, cyclonedx-python-lib's JSON schema validator) and prints its directory; rebuilt only when
# scripts/requirements-validators.txt changes.
#   export CERTUS_VALIDATORS_VENV=$(scripts/install-validators.sh)
exec "$(dirname "$0")/install-venv.sh" validators pyspdxtools
