#!/usr/bin/env bash
# Build the operator's image (Dockerfile.production) with buildah, without any container
# registry, and write it as an OCI archive that containerd can import.
#
#   scripts/build-image.sh            build localhost/hardened-operator:<version> and
#                                     build/hardened-operator-<version>.oci.tar
#   scripts/build-image.sh --lock     regenerate requirements/*.txt (uv, hashes) and exit
#
# Idempotent, for fresh machines as root (CI): installs buildah, runc and mmdebstrap with
# apt-get when missing. The base image is made from Debian packages (mmdebstrap, bookworm:
# python3, python3-venv, ca-certificates) and cached in buildah's storage under a tag derived
# from its recipe, so it is built once per machine. The image is built from the committed
# sources (git archive HEAD), so its REVISION label says exactly what is in it; --worktree
# builds the working tree instead. Environment:
#   BASE_IMAGE=python:3.11.14-slim-bookworm   use that base (needs a registry) instead
#   IMAGE=localhost/hardened-operator:0.1.0   the tag (default from pyproject.toml's version)
#   OUT_DIR=build                             where the OCI archive goes
#   STORAGE_DRIVER=vfs                        buildah's storage driver if overlay cannot work
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

say() { printf '== %s\n' "$*" >&2; }

# ---- the lock files --------------------------------------------------------------------
# One command for both files, also run by tests/delivery/test_image_lock.py in a copy of the
# repository: existing pins are kept (uv prefers what the output file has), so a re-run
# changes nothing unless pyproject.toml or requirements/build.in changed.
lock() {
  local uv=${UV:-$REPO/.venv/bin/uv}
  if [ ! -x "$uv" ]; then
    say "uv not found: installing the test tools (scripts/setup.sh)"
    bash scripts/setup.sh
  fi
  local common=(--quiet --generate-hashes --python-version 3.11 --python-platform linux
    --custom-compile-command "scripts/build-image.sh --lock")
  "$uv" pip compile "${common[@]}" pyproject.toml -o requirements/production.txt
  "$uv" pip compile "${common[@]}" requirements/build.in -o requirements/build.txt
}

worktree=0
case "${1:-}" in
  --lock)
    lock
    say "requirements/production.txt and requirements/build.txt are current"
    exit 0
    ;;
  --worktree) worktree=1 ;;
  "") ;;
  *)
    echo "usage: $0 [--lock|--worktree]" >&2
    exit 2
    ;;
esac

# ---- tools -----------------------------------------------------------------------------
need=()
command -v buildah >/dev/null || need+=(buildah)
command -v runc >/dev/null || need+=(runc)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    buildah runc mmdebstrap uidmap fuse-overlayfs >/dev/null
fi
# crun (buildah's default on Debian) refuses hybrid cgroup hierarchies; runc runs everywhere.
BUILDAH_RUN=(--runtime runc)

VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
IMAGE=${IMAGE:-localhost/hardened-operator:$VERSION}
OUT_DIR=${OUT_DIR:-build}
ARCHIVE=$OUT_DIR/hardened-operator-$VERSION.oci.tar
CACHE=$REPO/build/image-cache  # build/ is ignored by git and by .dockerignore
mkdir -p "$CACHE" "$OUT_DIR"

# ---- the base image: Debian packages, no registry ---------------------------------------
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
DEBSTRAP=(--variant=minbase --include="$PACKAGES"
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*')
if [ -z "${BASE_IMAGE:-}" ]; then
  recipe=$(printf '%s\n' "$SUITE" "${DEBSTRAP[@]}" | sha256sum | cut -c1-12)
  BASE_IMAGE=localhost/hardened-operator-base:$SUITE-$recipe
  if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    say "base image $BASE_IMAGE: cached"
  else
    say "base image $BASE_IMAGE: mmdebstrap $SUITE ($PACKAGES)"
    start=$SECONDS
    rootfs=$CACHE/base-$SUITE-$recipe.tar
    mmdebstrap --quiet "${DEBSTRAP[@]}" "$SUITE" "$rootfs"
    ctr=$(buildah from scratch)
    buildah add --quiet "$ctr" "$rootfs" /
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --env LANG=C.UTF-8 --cmd '["python3"]' \
      --label org.opencontainers.image.title="hardened-operator-base" \
      --label org.opencontainers.image.description="Debian $SUITE minbase + $PACKAGES (mmdebstrap)" \
      "$ctr"
    buildah commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
    rm -f "$rootfs"
    say "base image built in $((SECONDS - start)) s"
  fi
else
  say "base image $BASE_IMAGE (from BASE_IMAGE)"
fi

# ---- the build context ---------------------------------------------------------------
# Dockerfile.production COPYs requirements/, pyproject.toml, README.md and operator/ only.
INPUTS=(Dockerfile.production .dockerignore requirements pyproject.toml README.md operator)
if [ "$worktree" = 1 ]; then
  CONTEXT=$REPO
  REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)-worktree
  EPOCH=$(date +%s)
else
  CONTEXT=$CACHE/context
  rm -rf "$CONTEXT" && mkdir -p "$CONTEXT"
  git archive --format=tar HEAD -- "${INPUTS[@]}" | tar -x -C "$CONTEXT"
  REVISION=$(git rev-parse HEAD)
  EPOCH=$(git log -1 --format=%ct HEAD)
  if [ -n "$(git status --porcelain -- "${INPUTS[@]}")" ]; then
    say "note: uncommitted changes in the build inputs are NOT in the image (--worktree builds them)"
  fi
fi
CREATED=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# ---- the image -------------------------------------------------------------------------
# Behind a TLS-intercepting proxy pip needs the host's CA bundle: it is bind-mounted over the
# base's bundle for the build only (never in a layer) and named by the PIP_CERT build arg.
TLS=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  TLS=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro
    --build-arg PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
fi
say "building $IMAGE from $REVISION (created $CREATED)"
previous=$(buildah images --noheading --no-trunc --format '{{.ID}}' "$IMAGE" 2>/dev/null || true)
start=$SECONDS
buildah build --quiet --layers "${BUILDAH_RUN[@]}" --network host \
  --timestamp "$EPOCH" \
  -f "$CONTEXT/Dockerfile.production" -t "$IMAGE" \
  --build-arg BASE_IMAGE="$BASE_IMAGE" \
  --build-arg VERSION="$VERSION" \
  --build-arg REVISION="$REVISION" \
  --build-arg CREATED="$CREATED" \
  --build-arg SOURCE_DATE_EPOCH="$EPOCH" \
  "${TLS[@]}" "$CONTEXT" >"$CACHE/build.log" 2>&1 || {
  cat "$CACHE/build.log" >&2
  exit 1
}
say "image built in $((SECONDS - start)) s"
# The image this tag named before is now untagged: drop it (its layers stay while shared), so
# rebuilding does not pile up copies of the venv. Build-stage layers stay as the build cache.
id=$(buildah images --noheading --no-trunc --format '{{.ID}}' "$IMAGE")
id=${id#sha256:}
previous=${previous#sha256:}
if [ -n "$previous" ] && [ "$previous" != "$id" ]; then
  buildah rmi "$previous" >/dev/null 2>&1 || true
fi

# ---- the OCI archive -------------------------------------------------------------------
if [ -f "$ARCHIVE" ] && [ "$(cat "$ARCHIVE.id" 2>/dev/null)" = "$id" ]; then
  say "OCI archive $ARCHIVE: current"
else
  say "writing OCI archive $ARCHIVE"
  rm -f "$ARCHIVE" "$ARCHIVE.id" "$ARCHIVE.tmp"
  buildah push --quiet "$IMAGE" "oci-archive:$ARCHIVE.tmp:$IMAGE"
  mv "$ARCHIVE.tmp" "$ARCHIVE"
  echo "$id" >"$ARCHIVE.id"
fi

size=$(buildah images --format '{{.Size}}' "$IMAGE" | head -n1)
say "done: $IMAGE (id ${id:0:12}, $size), $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1))"
say "load it into containerd: ctr -n k8s.io images import $ARCHIVE"
