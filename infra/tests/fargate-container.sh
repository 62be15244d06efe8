#!/bin/sh
# The scanner task's container as Fargate runs it, for the deploy-faithful run (infra/tests/deployed_run.py):
# in a mount namespace of its own, the image's /opt, every other mount read-only (the task definition's
# ReadonlyRootFilesystem), the task's volume at /tmp a fresh empty tmpfs with the mode the image declares for it,
# and the entry point run as the image's user with no capabilities. Needs root (unshare -m).
#   fargate-container.sh IMAGE_OPT USER VOLUME_MODE [DIR...] -- ENTRYPOINT...
# IMAGE_OPT: the directory that is the image's /opt. DIR: a directory of the image's software outside /opt,
# shown read-only at its own path and reachable by USER even where a parent directory is private (the image's
# Python and pip-installed tool dirs; here scripts/install-tools.sh's dirs, built from the same pinned
# requirements files, and the Python they were made with).
# The environment is passed through unchanged: it is the container's.
set -eu

if [ "${1:-}" != --inside ]; then
  exec unshare --mount --propagation private "$0" --inside "$@"
fi
shift
image_opt=$1 user=$2 volume_mode=$3
shift 3
dirs=
while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
  dirs="$dirs $1"
  shift
done
[ "${1:-}" = -- ] || { echo "fargate-container: -- ENTRYPOINT... expected" >&2; exit 2; }
shift

# The directories, held at a staging place before their private parents are covered.
stage=$(mktemp -d)
i=0
for dir in $dirs; do
  i=$((i + 1))
  mkdir -p "$stage/$i"
  mount --bind "$dir" "$stage/$i"
done
i=0
for dir in $dirs; do
  i=$((i + 1))
  top=/$(echo "$dir" | cut -d/ -f2)
  if [ "$(( $(stat -c %a "$top") % 2 ))" -eq 0 ] && ! grep -q " $top tmpfs " /proc/self/mounts; then
    mount -t tmpfs -o mode=0755 tmpfs "$top" # a private parent (e.g. /root): covered, only DIRs shown
  fi
  mkdir -p "$dir"
  mount --bind "$stage/$i" "$dir"
done

mount --bind "$image_opt" /opt
mount -t tmpfs -o "mode=$volume_mode" scratch /tmp

# Every mount read-only but the task's volume and the kernel's own (proc, sys, dev).
awk '{print $2}' /proc/self/mounts | sort -u | while read -r point; do
  case "$point" in
    /tmp | /proc | /proc/* | /sys | /sys/* | /dev | /dev/*) ;;
    *) mount -o remount,bind,ro "$point" 2>/dev/null || true ;;
  esac
done
for probe in /.certus-probe /opt/.certus-probe; do
  if touch "$probe" 2>/dev/null; then
    echo "fargate-container: $(dirname "$probe") is still writable" >&2
    exit 2
  fi
done

exec setpriv --reuid="$user" --regid="$user" --clear-groups --inh-caps=-all --bounding-set=-all -- "$@"
