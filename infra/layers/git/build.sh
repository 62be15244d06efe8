#!/usr/bin/env bash
# Builds the git layer for provided.al2023 arm64 into $1 (bin/ and lib/, mounted at /opt by Lambda).
# On an Amazon Linux 2023 arm64 host (or SAM's build container) it installs git-core with dnf and copies it;
# elsewhere it runs itself inside the amazonlinux:2023 arm64 image with docker.
# The certus git runner clears the environment (PATH only), so nothing may rely on LD_LIBRARY_PATH or
# GIT_EXEC_PATH: the binaries carry an rpath of /opt/lib, and git finds git-remote-https on PATH (/opt/bin).
set -euo pipefail
out=${1:?usage: build.sh ARTIFACTS_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

native() {
  [ "$(uname -m)" = aarch64 ] && [ -r /etc/os-release ] && . /etc/os-release && [ "${ID:-}" = amzn ] &&
    [ "${VERSION_ID:-}" = 2023 ]
}

if ! native; then
  command -v docker >/dev/null || { echo "build.sh: needs an AL2023 arm64 host or docker" >&2; exit 2; }
  exec docker run --rm --platform linux/arm64 -v "$here:/src:ro" -v "$out:/out" \
    public.ecr.aws/amazonlinux/amazonlinux:2023 /src/build.sh /out
fi

dnf install -y -q --setopt=install_weak_deps=False git-core patchelf >/dev/null
mkdir -p "$out/bin" "$out/lib"
install -m 0755 /usr/bin/git "$out/bin/git"
install -m 0755 /usr/libexec/git-core/git-remote-http "$out/bin/git-remote-https"
install -m 0755 /usr/libexec/git-core/git-remote-http "$out/bin/git-remote-http"

# Shared libraries beyond glibc (libcurl, libpcre2, libz, nghttp2, ssl…), resolved from the build image.
for binary in "$out"/bin/*; do
  ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | libresolv.so.* | ld-linux-*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
patchelf --set-rpath /opt/lib "$out"/bin/*
for lib in "$out"/lib/*; do patchelf --set-rpath /opt/lib "$lib"; done

# The layer must run on its own: git --version with only the layer's rpath and no exec path.
env -i PATH="$out/bin:/usr/bin" "$out/bin/git" --version
