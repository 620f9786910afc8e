# Test bed and test entry points. `make test` is what CI runs.
SHELL := /bin/bash
GO    ?= go
BED   ?= a
LOCK  ?= .cache/fixtures.lock.yaml

# The unit stage is every package but ./integration, which needs the test
# bed and runs in test-integration (where, with CI=true, it fails without one).
UNIT_PKGS = $$($(GO) list ./... | grep -v '/integration$$')

.PHONY: lock-verify pipeline pipeline-build pipeline-check pipeline-sign pipeline-attest pipeline-verify pipeline-scan pipeline-tag pipeline-digests pipeline-stagex
.PHONY: help test test-unit test-integration tools renovate-tools bed-up bed-down fixtures lint bench images demo verify-reproducible sign-tools lint-workflows policy

## help: list the targets with what they do
help:
	@awk '/^## [a-z][a-z /-]*:/ { sub(/^## /, ""); n = index($$0, ":"); printf "\n  %-22s %s", substr($$0, 1, n - 1), substr($$0, n + 2); next } \
	     /^## / { sub(/^## /, ""); printf " %s", $$0 } END { print "" }' $(MAKEFILE_LIST)

## test: unit tests, then the integration tests on two fresh test beds
## (both always run; the target fails if either failed)
test:
	@rc=0; \
	$(MAKE) --no-print-directory test-unit || rc=1; \
	$(MAKE) --no-print-directory lint-workflows || rc=1; \
	$(MAKE) --no-print-directory test-integration || rc=1; \
	exit $$rc

## test-unit: go test on every package but ./integration (no daemon needed)
test-unit:
	$(GO) test $(UNIT_PKGS)

## test-integration: start beds a and b, run ./integration/..., stop the beds
test-integration:
	CI="$(CI)" hack/test-integration

## tools: build buildkitd, buildctl, buildx and registry into the tool cache
tools:
	hack/tools.sh

## sign-tools: build cosign, the Kyverno CLI, actionlint and Grype (with
## grype-mkdb) into the tool cache (each pinned in its own module,
## hack/tools-sign/<tool>)
sign-tools:
	hack/tools.sh cosign kyverno actionlint grype

## renovate-tools: install Renovate (npm ci of hack/tools-renovate's
## package-lock.json) into the tool cache, for integration/renovate_test.go
renovate-tools:
	hack/tools.sh renovate

## lint-workflows: actionlint on the Forgejo workflows (with shellcheck on
## their scripts when it is installed; .ci/run installs it)
lint-workflows:
	@bin=$$(hack/tools.sh actionlint) && sc=$$(command -v shellcheck || true) && \
	"$$bin/actionlint" -config-file .forgejo/actionlint.yaml -shellcheck="$$sc" .forgejo/workflows/*.yaml && \
	echo "actionlint: .forgejo/workflows clean"

## policy: regenerate policy/stagex-require-signatures.yaml from the trusted
## keys (a unit test fails when the checked-in policy and the keys differ)
POLICY_KEYS ?= policy/keys/signer-1.pub policy/keys/signer-2.pub policy/keys/signer-3.pub
policy:
	$(GO) run ./cmd/stagex policy --threshold 2 --image-pattern '*' $(addprefix --key ,$(POLICY_KEYS)) \
		-o policy/stagex-require-signatures.yaml
	$(GO) run ./cmd/stagex policy --kind ImageValidatingPolicy --threshold 2 --image-pattern '*' $(addprefix --key ,$(POLICY_KEYS)) \
		-o policy/stagex-require-signatures-ivpol.yaml

## bed-up / bed-down: start or stop one bed (BED=a); `hack/bed env a` prints its variables
bed-up:
	hack/bed up $(BED)
	@hack/bed env $(BED)

bed-down:
	hack/bed down $(BED)

## fixtures: push the fixture packages and the frontend image to bed
## $(BED)'s registry, write $(LOCK), print the frontend reference
fixtures:
	hack/bed fixtures $(BED) --lock $(LOCK)

## bench: cmd/bench (package internal/bench) on a bed of its own (BENCH_BED;
## registry ports from BED_PORT_BASE, default 5700), taken down again
## whatever happens; not part of `make test`.
## BENCH_FLAGS="-markdown docs/benchmarks.md" also rewrites the recorded run.
BENCH_BED   ?= bench1
BENCH_FLAGS ?=
bench:
	BED_PORT_BASE=$${BED_PORT_BASE:-5700} $(GO) run ./cmd/bench -bed $(BENCH_BED) $(BENCH_FLAGS)

## images: build the image set with docker-bake.hcl on your buildx builder
## (PUSH=1 pushes to $REGISTRY), else on the embedded BuildKit (bed "images");
## prints the digests. Only the release build (PUSH=1) writes the tracked
## DIGESTS.md; other builds write .cache/imageset/images/DIGESTS.md.
## Offline, it says so and stops.
images:
	$(GO) run ./cmd/stagex images -digests $(if $(filter 1,$(PUSH)),DIGESTS.md,.cache/imageset/images/DIGESTS.md)

## demo: the same specs and bake file offline, against fixture packages, on
## bed "demo" (taken down afterwards; KEEP_BED=1 keeps it); prints a summary
## (digests, sizes, layer efficiency, checks); DIGESTS.md, digests.json, one
## image's SBOM and provenance and the full log (demo.log) go to
## .cache/imageset/demo/ (the work tree stays clean)
DEMO_FLAGS ?=
demo:
	$(GO) run ./cmd/stagex demo $(DEMO_FLAGS)

## verify-reproducible: package reproduce's check: the image set from a fresh
## clone's `make demo` (buildx) and from buildctl in another clone (other path
## and origin), on two beds (other registry host and port, a mirror path),
## seconds apart; fails naming any image whose digest differs (make test runs
## it on beds a and b as integration/reproduce_test.go)
verify-reproducible:
	$(GO) run ./cmd/stagex reproduce

## lint: gofmt and go vet
lint:
	@out="$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Release pipeline (docs/ci.md): each step is `stagex pipeline STEP`; the
# steps share $(PIPELINE_DIR)/pipeline.json. A step runs on an image only
# when every earlier step passed there; tag writes a tag only for an image
# every step passed. The forge's workflow calls these targets.
PIPELINE_DIR   ?= .cache/pipeline
STAGEX         ?= $(PIPELINE_DIR)/bin/stagex
# build: where to push (bake's REGISTRY; empty: the bake file's default),
# the tag, the targets (empty: the default group), the BuildKit daemon
# reached with buildx's remote driver (empty: buildx's builder), and extra
# `stagex pipeline build` flags (--var K=V, --set …)
REGISTRY       ?=
TAG            ?=
TARGETS        ?=
BUILDKIT_ADDR  ?=
BUILDX         ?= buildx
BAKE_FLAGS     ?=
# sign / attest / verify: private keys (cosign keys read COSIGN_PASSWORD),
# the trusted public keys and identities, N
SIGN_KEYS      ?=
ATTEST_KEYS    ?= $(firstword $(SIGN_KEYS))
VERIFY_KEYS    ?=
VERIFY_IDENTITIES ?=
SIGN_THRESHOLD ?= 2
# keyless signing (KEYLESS=1): your own Sigstore's signing config and
# trusted root (the public Fulcio does not trust the forge's OIDC issuer)
KEYLESS        ?=
SIGSTORE_SIGNING_CONFIG ?=
SIGSTORE_TRUSTED_ROOT   ?=
# scan: the scanners, the threshold, the accepted findings
SCANNERS       ?= grype,trivy
FAIL_SEVERITY  ?= high
VEX            ?= policy/vex.openvex.json

## pipeline: every step in order, then the digests table (written whatever
## happened); fails when any step failed on any image
pipeline:
	@rc=0; $(MAKE) --no-print-directory pipeline-build || exit 1; \
	for step in check sign attest verify scan tag; do \
		$(MAKE) --no-print-directory pipeline-$$step || rc=1; \
	done; \
	$(MAKE) --no-print-directory pipeline-digests || rc=1; \
	exit $$rc

pipeline-stagex:
	@mkdir -p $(dir $(STAGEX)) && $(GO) build -o $(STAGEX) ./cmd/stagex

## lock-verify: stagex lock verify on $(STAGEX_LOCKFILE): every digest still
## signed by a quorum of $(STAGEX_KEYRING) in $(STAGEX_LOOKASIDE)
STAGEX_LOCKFILE  ?= images/stagex.lock.yaml
STAGEX_KEYRING   ?=
STAGEX_LOOKASIDE ?=
lock-verify: pipeline-stagex
	$(STAGEX) lock verify --lock $(STAGEX_LOCKFILE) $(addprefix --keyring ,$(STAGEX_KEYRING)) --lookaside '$(STAGEX_LOOKASIDE)'

## pipeline-build: bake, pushing every image by digest only (no tag)
pipeline-build: pipeline-stagex
	$(STAGEX) pipeline build --dir $(PIPELINE_DIR) --buildx '$(BUILDX)' \
		$(if $(BUILDKIT_ADDR),--buildkit-addr $(BUILDKIT_ADDR)) \
		$(if $(REGISTRY),--var REGISTRY=$(REGISTRY)) $(if $(TAG),--var TAG=$(TAG)) \
		$(BAKE_FLAGS) $(TARGETS)

## pipeline-check: stagex check on every image, with its spec
pipeline-check: pipeline-stagex
	$(STAGEX) pipeline check --dir $(PIPELINE_DIR)

## pipeline-sign: sign every digest with each of $(SIGN_KEYS) (and keyless with KEYLESS=1)
pipeline-sign: pipeline-stagex
	$(STAGEX) pipeline sign --dir $(PIPELINE_DIR) $(addprefix --key ,$(SIGN_KEYS)) \
		$(if $(KEYLESS),--keyless --signing-config '$(SIGSTORE_SIGNING_CONFIG)' --trusted-root '$(SIGSTORE_TRUSTED_ROOT)')

## pipeline-attest: sign each digest's BuildKit provenance with $(ATTEST_KEYS)
pipeline-attest: pipeline-stagex
	$(STAGEX) pipeline attest --dir $(PIPELINE_DIR) $(addprefix --key ,$(ATTEST_KEYS))

## pipeline-verify: $(SIGN_THRESHOLD) of $(VERIFY_KEYS) and $(VERIFY_IDENTITIES) on every digest
pipeline-verify: pipeline-stagex
	$(STAGEX) pipeline verify --dir $(PIPELINE_DIR) --threshold $(SIGN_THRESHOLD) \
		$(addprefix --key ,$(VERIFY_KEYS)) $(addprefix --identity ,$(VERIFY_IDENTITIES)) \
		$(if $(VERIFY_IDENTITIES),--trusted-root '$(SIGSTORE_TRUSTED_ROOT)')

## pipeline-scan: $(SCANNERS) on each image's SBOMs and the image, failing at $(FAIL_SEVERITY)
pipeline-scan: pipeline-stagex
	$(STAGEX) pipeline scan --dir $(PIPELINE_DIR) --scanner $(SCANNERS) --fail-severity $(FAIL_SEVERITY) \
		--vex $(VEX) $(addprefix --attest-key ,$(ATTEST_KEYS))

## pipeline-tag: tag the digests of the images that passed every step
pipeline-tag: pipeline-stagex
	$(STAGEX) pipeline tag --dir $(PIPELINE_DIR)

## pipeline-digests: write $(PIPELINE_DIR)/DIGESTS.md
pipeline-digests: pipeline-stagex
	$(STAGEX) pipeline digests --dir $(PIPELINE_DIR)
