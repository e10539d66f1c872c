# pbxbridge: see README.md. Every target works on a fresh machine with Go 1.26.

GO          ?= go
BIN         ?= bin/pbxbridge
# staticcheck 2026.1 (v0.7.0), pinned: the module proxy answers exact versions only.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.7.0
FUZZTIME    ?= 5m
FUZZ_TARGETS = FuzzParseFlexML FuzzParsePlivo FuzzScanner

.PHONY: all build test unit lint fuzz bench clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/pbxbridge

# test runs everything the project has: unit tests, and integration tests once they exist.
test: unit

unit:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# fuzz runs each fuzz target for FUZZTIME (default 5 minutes each), seeded from the golden files.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t ($(FUZZTIME))"; \
		$(GO) test ./translate -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

bench:
	$(GO) test ./translate -run '^$$' -bench . -benchmem -count 5

clean:
	rm -rf bin
