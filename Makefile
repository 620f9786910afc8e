# Test bed and test entry points. `make test` is what CI runs.
SHELL := /bin/bash
GO    ?= go
BED   ?= a
LOCK  ?= .cache/fixtures.lock.yaml

# The unit stage is every package but ./integration, which needs the test
# bed and runs in test-integration (where, with CI=true, it fails without one).
UNIT_PKGS = $$($(GO) list ./... | grep -v '/integration$$')

.PHONY: help test test-unit test-integration tools bed-up bed-down fixtures lint bench images demo verify-reproducible sign-tools lint-workflows policy

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
	$(GO) run ./hack/images -digests $(if $(filter 1,$(PUSH)),DIGESTS.md,.cache/imageset/images/DIGESTS.md)

## demo: the same specs and bake file offline, against fixture packages, on
## bed "demo" (taken down afterwards; KEEP_BED=1 keeps it): the digests
## (also into .cache/imageset/demo/: DIGESTS.md, digests.json; the work
## tree stays clean), then one image's SBOM and provenance
DEMO_FLAGS ?=
demo:
	$(GO) run ./hack/demo $(DEMO_FLAGS)

## verify-reproducible: package reproduce's check: the image set from a fresh
## clone's `make demo` (buildx) and from buildctl in another clone (other path
## and origin), on two beds (other registry host and port, a mirror path),
## seconds apart; fails naming any image whose digest differs (make test runs
## it on beds a and b as integration/reproduce_test.go)
verify-reproducible:
	$(GO) run ./hack/verify-reproducible

## lint: gofmt and go vet
lint:
	@out="$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
