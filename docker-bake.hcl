# docker-bake.hcl: the stagex image set (eight images composed from pinned
# StageX packages by this repository's frontend) and the frontend image.
#
#   docker buildx bake                    # everything (group "default")
#   docker buildx bake --push             # ... and push to ${REGISTRY}
#   docker buildx bake base-java          # one image (and the frontend it needs)
#   STAGEX_REGISTRY=mirror.example/stagex docker buildx bake   # packages from a mirror
#
# `make images` runs this file on your buildx builder, or on an embedded
# BuildKit when you have none; `make demo` runs it offline against fixture
# packages, overriding only STAGEX_LOCK, STAGEX_REGISTRY and REGISTRY (and
# packing a locally built frontend binary instead of compiling it in
# pallet-go).
#
# Every spec starts with "# syntax=edp.buildth.ing/devfw-cicd/stagex-frontend:1".
# The `contexts` entry of the images replaces that syntax image with the
# `frontend` target built in the same run: BuildKit's gateway looks the syntax
# reference up among the named contexts before it pulls anything (checked with
# BuildKit v0.34.2 in integration/bake_test.go), so no published frontend is
# needed. FRONTEND_IMAGE uses a published one instead.

variable "REGISTRY" {
  default     = "edp.buildth.ing/devfw-cicd"
  description = "Repository prefix of the images: <REGISTRY>/stagex-<name>:<TAG>"
}

variable "TAG" {
  default     = "latest"
  description = "Tag of every image"
}

variable "SOURCE_DATE_EPOCH" {
  # Fixed, so that two builds of the same inputs give the same digests. It is
  # the images' created time, their history's and their generated files'.
  default     = "0"
  description = "Unix time for created times (fixed default: builds are reproducible)"
}

variable "STAGEX_REGISTRY" {
  default     = ""
  description = "A mirror of docker.io/stagex (same digests), for the packages and pallet-go"
}

variable "STAGEX_LOCK" {
  default     = ""
  description = "Another lock file, relative to images/ and inside it (default images/stagex.lock.yaml)"
}

variable "STAGEX_CHECK" {
  # strict: every image is checked inside BuildKit (ELF closure, layers,
  # hygiene) and its spec's smoke tests run before it is exported; a finding
  # that the spec does not accept, or a failing test, fails the build, so
  # nothing unchecked is pushed (or signed). See docs/spec.md.
  default     = "strict"
  description = "off, warn or strict: the frontend's build-time check and smoke tests"
}

variable "STAGEX_VCS_LABELS" {
  # Off: buildx passes the git origin and commit, BuildKit records them in
  # the provenance, and the image stays the same from any clone. "1" also
  # writes them as org.opencontainers.image.source/.revision labels, which
  # then make the digest depend on the clone's origin URL and commit.
  default     = ""
  description = "1: label the images with the git origin URL (credentials stripped) and commit"
}

variable "FRONTEND_IMAGE" {
  default     = ""
  description = "A published frontend image (best by digest) to compose with, instead of the frontend target"
}

# A shared build cache in a registry, so that a runner that starts empty
# reuses what an earlier build (on any runner or daemon) did: each target
# reads <CACHE_FROM>:<target> and writes <CACHE_TO>:<target> (BuildKit's
# registry cache, mode=max: every intermediate step, not only the result's
# layers; stored as an OCI image manifest). Empty, the default: no cache is
# read or written, and local builds are as before. The cache changes no
# digest, and a fresh daemon with CACHE_FROM unpacks no package layer
# (integration/cache_test.go bakes with CACHE_TO on one daemon and
# CACHE_FROM on an emptied one, and checks both). What it saves, and what not:
# docs/ci.md.
variable "CACHE_FROM" {
  default     = ""
  description = "Registry cache repository to read, one tag per target (<CACHE_FROM>:<target>); empty: none"
}

variable "CACHE_TO" {
  default     = ""
  description = "Registry cache repository to write (mode=max), one tag per target (<CACHE_TO>:<target>); empty: none"
}

function "cache_from" {
  params = [target]
  result = CACHE_FROM == "" ? [] : ["type=registry,ref=${CACHE_FROM}:${target}"]
}

function "cache_to" {
  params = [target]
  result = CACHE_TO == "" ? [] : ["type=registry,ref=${CACHE_TO}:${target},mode=max,image-manifest=true,oci-mediatypes=true"]
}

# pallet-go's digest from the Dockerfile's GO_IMAGE, for STAGEX_REGISTRY; a
# unit test (internal/imageset) keeps the two equal.
# pallet-go 1.26.0 (the version, for renovate.json)
variable "PALLET_GO_DIGEST" {
  default = "sha256:4b7f9fe27d84dd9109fe89c4dab1cefdd66bf2f670817ef95ffd335b84fdf2cb"
}

group "default" {
  targets = ["frontend", "base", "base-static", "base-go", "base-nodejs", "base-python", "base-rust", "base-ruby", "base-java"]
}

# The frontend image (Dockerfile target "frontend": the static binary, built
# in StageX's pallet-go). No SBOM attestation: for a Dockerfile build BuildKit
# makes one by running its scanner image, pulled from docker.io.
# Reproducible without the exporter's rewrite-timestamp: the Dockerfile
# gives bin/ and bin/frontend the SOURCE_DATE_EPOCH time and copies them as a
# tree, so a cached build exports the cached layer as it is instead of
# re-tarring it on every bake. (rewrite-timestamp never for the images either:
# it would rewrite the StageX blobs, which must stay byte for byte upstream's;
# their own layer is written at the epoch by the frontend.) The layer is
# zstd: every cold build unpacks it first (frontendimage.ExportAttrs).
target "frontend" {
  cache-from = cache_from("frontend")
  cache-to   = cache_to("frontend")
  context    = "."
  dockerfile = "Dockerfile"
  target     = "frontend"
  platforms  = ["linux/amd64"]
  attest     = ["type=provenance,mode=max"]
  output     = ["type=image,oci-mediatypes=true,compression=zstd,force-compression=true"]
  tags       = ["${REGISTRY}/stagex-frontend:${TAG}", "${REGISTRY}/stagex-frontend:1"]
  args = {
    SOURCE_DATE_EPOCH = SOURCE_DATE_EPOCH
    GO_IMAGE          = STAGEX_REGISTRY == "" ? null : "${STAGEX_REGISTRY}/pallet-go@${PALLET_GO_DIGEST}"
  }
}

# What every image shares. The spec's folder is the context: the frontend
# reads the lock from there.
target "_image" {
  context   = "images"
  platforms = ["linux/amd64"]
  attest    = ["type=provenance,mode=max", "type=sbom"]
  output    = ["type=image,oci-mediatypes=true"]
  contexts = {
    "edp.buildth.ing/devfw-cicd/stagex-frontend:1" = FRONTEND_IMAGE == "" ? "target:frontend" : "docker-image://${FRONTEND_IMAGE}"
  }
  args = {
    SOURCE_DATE_EPOCH = SOURCE_DATE_EPOCH
    STAGEX_REGISTRY   = STAGEX_REGISTRY
    STAGEX_LOCK       = STAGEX_LOCK
    STAGEX_CHECK      = STAGEX_CHECK
    STAGEX_VCS_LABELS = STAGEX_VCS_LABELS
  }
}

target "base" {
  cache-from = cache_from("base")
  cache-to   = cache_to("base")
  inherits   = ["_image"]
  dockerfile = "base.yaml"
  tags       = ["${REGISTRY}/stagex-base:${TAG}"]
}

target "base-static" {
  cache-from = cache_from("base-static")
  cache-to   = cache_to("base-static")
  inherits   = ["_image"]
  dockerfile = "base-static.yaml"
  tags       = ["${REGISTRY}/stagex-base-static:${TAG}"]
}

target "base-go" {
  cache-from = cache_from("base-go")
  cache-to   = cache_to("base-go")
  inherits   = ["_image"]
  dockerfile = "base-go.yaml"
  tags       = ["${REGISTRY}/stagex-base-go:${TAG}"]
}

target "base-nodejs" {
  cache-from = cache_from("base-nodejs")
  cache-to   = cache_to("base-nodejs")
  inherits   = ["_image"]
  dockerfile = "base-nodejs.yaml"
  tags       = ["${REGISTRY}/stagex-base-nodejs:${TAG}"]
}

target "base-python" {
  cache-from = cache_from("base-python")
  cache-to   = cache_to("base-python")
  inherits   = ["_image"]
  dockerfile = "base-python.yaml"
  tags       = ["${REGISTRY}/stagex-base-python:${TAG}"]
}

target "base-rust" {
  cache-from = cache_from("base-rust")
  cache-to   = cache_to("base-rust")
  inherits   = ["_image"]
  dockerfile = "base-rust.yaml"
  tags       = ["${REGISTRY}/stagex-base-rust:${TAG}"]
}

target "base-ruby" {
  cache-from = cache_from("base-ruby")
  cache-to   = cache_to("base-ruby")
  inherits   = ["_image"]
  dockerfile = "base-ruby.yaml"
  tags       = ["${REGISTRY}/stagex-base-ruby:${TAG}"]
}

# The JRE comes from outside StageX (see the spec): its URL and sha256 are
# pinned in base-java.yaml, or in the lock for a mirror or offline copy.
target "base-java" {
  cache-from = cache_from("base-java")
  cache-to   = cache_to("base-java")
  inherits   = ["_image"]
  dockerfile = "base-java.yaml"
  tags       = ["${REGISTRY}/stagex-base-java:${TAG}"]
}

# The reference application (examples/): a Go service built from source in
# stagex-base-go and composed on stagex-base-static's packages. Not in the
# default group: `docker buildx bake examples` builds it, `make demo` too
# (offline, against the fixtures) and checks its answers.
variable "EXAMPLES_TEST_OUT" {
  default     = ""
  description = "Folder example-app-test exports the application's answers to (empty: kept in the build cache only)"
}

group "examples" {
  targets = ["example-app", "example-app-test"]
}

# The service binary: examples/Dockerfile, stage "bin" (go build in base-go,
# network none). Only ever a named context of "example-app", never exported.
target "example-app-bin" {
  cache-from = cache_from("example-app-bin")
  cache-to   = cache_to("example-app-bin")
  context    = "examples"
  dockerfile = "Dockerfile"
  target     = "bin"
  platforms  = ["linux/amd64"]
  contexts = {
    "stagex-base-go" = "target:base-go"
  }
}

# The application image: examples/app.yaml, copying the binary from the
# named context app-bin (target example-app-bin). The frontend context comes from _image.
target "example-app" {
  cache-from = cache_from("example-app")
  cache-to   = cache_to("example-app")
  inherits   = ["_image"]
  context    = "examples"
  dockerfile = "app.yaml"
  tags       = ["${REGISTRY}/stagex-example-app:${TAG}"]
  contexts = {
    "app-bin" = "target:example-app-bin"
  }
}

# The application's test: examples/Dockerfile, stage "test" starts it in the
# app image (network none) and fails on a wrong answer; "test-result" holds
# the answers.
target "example-app-test" {
  cache-from = cache_from("example-app-test")
  cache-to   = cache_to("example-app-test")
  context    = "examples"
  dockerfile = "Dockerfile"
  target     = "test-result"
  platforms  = ["linux/amd64"]
  contexts = {
    "app"         = "target:example-app"
    "stagex-base" = "target:base"
  }
  output = [EXAMPLES_TEST_OUT == "" ? "type=cacheonly" : "type=local,dest=${EXAMPLES_TEST_OUT}"]
}
