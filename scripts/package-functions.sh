#!/usr/bin/env bash
# Builds every function of infra/template.yaml the way `sam build` does for `BuildMethod: rust-cargolambda`
# (`cargo lambda build --bin <Binary>`, run in the function's CodeUri) and lays out what its deployment
# package and layers hold:
#   OUT/<binary>/bootstrap          the only file of the package (SAM copies nothing else)
#   OUT/layers/<LayerLogicalId>/    a layer's content, mounted at /opt on Lambda (bin/ is on Lambda's PATH)
#   OUT/functions.tsv               binary, logical id, layers (comma-separated), one function a line
#   OUT/images/scanner/opt/         the scanner image's own files (infra/images/scanner/Dockerfile's COPY lines:
#                                   certus-step, built as its header says, and the entry point)
#
#   scripts/package-functions.sh OUT
#
# Differences from the deployed build, on purpose: the debug profile (SAM passes --release), though with the
# release profile's panic = "abort" (a panic ends the process, as deployed) and no debug info, and the host's
# architecture (the template says arm64; an x86_64 host builds x86_64 so that the packages run here). The
# compiler is plain cargo (`--compiler cargo`, no zig needed for a host build); cargo-lambda still passes an
# explicit --target, so the functions build under $CARGO_TARGET_DIR/<host triple>/debug, apart from the
# workspace's own debug build (only build scripts and proc macros are shared with it).
# The GitLayer is built by docker on a real `sam build`; here its stand-in holds the host's git and its https
# helper (symlinks), at the same place in the layer (bin/).
# cargo-lambda and ziglang come from PyPI (pinned) into a venv under ${XDG_CACHE_HOME:-$HOME/.cache}/certus;
# the build itself is offline (`--offline`: the crates are already fetched by the workspace build).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/package-functions.sh OUT}

CARGO_LAMBDA_VERSION=1.9.2
CFN_LINT_VERSION=1.58.0
SAM_TRANSLATOR_VERSION=1.115.0
cache=${XDG_CACHE_HOME:-$HOME/.cache}/certus
lambda_venv="$cache/venv-cargo-lambda-$CARGO_LAMBDA_VERSION"
infra_venv="$cache/venv-cfn-lint-$CFN_LINT_VERSION-sam-$SAM_TRANSLATOR_VERSION"

install_venv() { # venv, package==version...: a venv with exactly these, made once (marked complete)
  local dir=$1
  shift
  [ -f "$dir/.complete" ] && return 0
  echo "== installing $* into $dir" >&2
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
  touch "$dir/.complete"
}
install_venv "$lambda_venv" "cargo-lambda==$CARGO_LAMBDA_VERSION"
install_venv "$infra_venv" "cfn-lint==$CFN_LINT_VERSION" "aws-sam-translator==$SAM_TRANSLATOR_VERSION"

case "$(uname -m)" in
  x86_64) arch_flag=--x86-64 triple=x86_64-unknown-linux-gnu ;;
  aarch64) arch_flag=--arm64 triple=aarch64-unknown-linux-gnu ;;
  *) echo "package-functions: no Lambda architecture for $(uname -m)" >&2; exit 2 ;;
esac

repo=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
target_dir=$CARGO_TARGET_DIR
mkdir -p "$out"
out=$(cd "$out" && pwd)
"$infra_venv/bin/python" infra/tests/translated.py --list-functions >"$out/functions.tsv"

export PATH="$lambda_venv/bin:$PATH"
export CARGO_PROFILE_DEV_PANIC=abort CARGO_PROFILE_DEV_DEBUG=0
while IFS=$'\t' read -r binary logical code_uri layers; do
  echo "== cargo lambda build --bin $binary (in $code_uri)" >&2
  (cd "$code_uri" && cargo lambda build --quiet --offline --compiler cargo "$arch_flag" --bin "$binary" \
    --lambda-dir "$target_dir/lambda-packages" >&2)
  rm -rf "${out:?}/$binary"
  mkdir -p "$out/$binary"
  # a hard link when the target dir is on the same filesystem (debug binaries are ~130 MB each), else a copy
  ln "$target_dir/lambda-packages/$binary/bootstrap" "$out/$binary/bootstrap" 2>/dev/null ||
    cp "$target_dir/lambda-packages/$binary/bootstrap" "$out/$binary/bootstrap"
  for layer in ${layers//,/ }; do
    case "$layer" in
      GitLayer)
        rm -rf "${out:?}/layers/$layer"
        mkdir -p "$out/layers/$layer/bin"
        git_bin=$(command -v git)
        helper="$(git --exec-path)/git-remote-http"
        ln -s "$git_bin" "$out/layers/$layer/bin/git"
        ln -s "$helper" "$out/layers/$layer/bin/git-remote-https"
        ln -s "$helper" "$out/layers/$layer/bin/git-remote-http"
        ;;
      *) echo "package-functions: no local stand-in for layer $layer" >&2; exit 2 ;;
    esac
  done
done <"$out/functions.tsv"

echo "== cargo lambda build --bin certus-step (the scanner image)" >&2
(cd shared/lambda && cargo lambda build --quiet --offline --compiler cargo "$arch_flag" --bin certus-step \
  --lambda-dir "$target_dir/lambda-packages" >&2)
image=$out/images/scanner/opt/certus
rm -rf "${out:?}/images/scanner"
mkdir -p "$image"
ln "$target_dir/lambda-packages/certus-step/bootstrap" "$image/certus-step" 2>/dev/null ||
  cp "$target_dir/lambda-packages/certus-step/bootstrap" "$image/certus-step"
cp infra/images/scanner/entrypoint.py "$image/entrypoint.py"
echo "packaged $(wc -l <"$out/functions.tsv") functions and the scanner image's files ($triple, debug) into $out" >&2
