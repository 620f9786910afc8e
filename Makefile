# Test bed and test entry points. `make test` is what CI runs.
SHELL := /bin/bash
GO    ?= go
BED   ?= a
LOCK  ?= .cache/fixtures.lock.yaml

# The unit stage is every package but ./integration, which needs the test
# bed and runs in test-integration (where, with CI=true, it fails without one).
UNIT_PKGS = $$($(GO) list ./... | grep -v '/integration$$')

.PHONY: test test-unit test-integration tools bed-up bed-down fixtures lint

## test: unit tests, then the integration tests on two fresh test beds
## (both always run; the target fails if either failed)
test:
	@rc=0; \
	$(MAKE) --no-print-directory test-unit || rc=1; \
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

## bed-up / bed-down: start or stop one bed (BED=a); `hack/bed env a` prints its variables
bed-up:
	hack/bed up $(BED)
	@hack/bed env $(BED)

bed-down:
	hack/bed down $(BED)

## fixtures: push the fixture packages to bed $(BED)'s registry, write $(LOCK)
fixtures:
	@mkdir -p $(dir $(LOCK))
	eval "$$(hack/bed env $(BED))" && $(GO) run ./hack/fixtures -registry "$$STAGEX_REGISTRY_ADDR" -lock $(LOCK)

## lint: gofmt and go vet
lint:
	@out="$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
