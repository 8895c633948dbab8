# keyward — make targets. `make run` and `make test` are the quick start.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
TOOLS := $(CURDIR)/.tools
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS)/staticcheck
PKGS := ./...

.PHONY: all build run test lint vet staticcheck unit bench fuzz conformance e2e proto clean tools deps

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

run: build
	@./scripts/run-quickstart.sh

$(STATICCHECK):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

tools: $(STATICCHECK)

vet:
	$(GO) vet $(PKGS)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) $(PKGS)

lint: vet staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files --others --exclude-standard '*.go' 2>/dev/null)); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

# deps installs slapd and ldap-utils for the LDAP tests (a no-op when present).
deps:
	@./scripts/ldap-deps.sh

unit: deps
	$(GO) test -race -count=1 -timeout 9m $(PKGS)

test: lint unit e2e

# e2e runs the end-to-end suite: keyward, the driver plugins and locksim as
# separate processes on the quick start's estate (see e2e/doc.go).
e2e:
	KEYWARD_E2E=1 $(GO) test -count=1 -timeout 8m ./e2e/

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x -timeout 30m $(PKGS)
	KEYWARD_E2E=1 $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 20m ./e2e/

fuzz:
	@./scripts/fuzz.sh

clean:
	rm -rf $(BIN) $(TOOLS)

# proto regenerates the lock driver contract's Go code (lockdrivers/proto) with
# protoc from Debian and the pinned protoc-gen-go plugins in ./.tools.
proto:
	@./scripts/proto.sh

# SCIM conformance: the Okta spec test and the Microsoft collection, each against
# a fresh keyward on an empty store (skips when ../shared/conformance is absent).
conformance:
	@./scripts/conformance.sh
