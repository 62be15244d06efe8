#!/usr/bin/env bash
# Builds the Python virtualenv that runs the real Certus-Trust (../shared/data/certus-trust, a test-time
# peer: started on loopback by the tests, never copied or linked) and prints its directory; rebuilt only when
# scripts/requirements-trust.txt changes.
#   export CERTUS_TRUST_VENV=$(scripts/install-trust.sh)
exec "$(dirname "$0")/install-venv.sh" trust uvicorn
