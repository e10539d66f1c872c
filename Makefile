# pbxbridge: see README.md. Every target works on a fresh machine with Go 1.26.

GO          ?= go
BIN         ?= bin/pbxbridge
# staticcheck 2026.1 (v0.7.0), pinned: the module proxy answers exact versions only.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.7.0
FUZZTIME    ?= 5m
FUZZ_TARGETS = ./translate:FuzzParseFlexML ./translate:FuzzParsePlivo ./translate:FuzzScanner \
               ./audio:FuzzParseWAV ./audio:FuzzDecodeMP3
ASTERISK    = integration/asterisk

.PHONY: all build test unit deps asterisk demo lint fuzz bench bench-go clean docker-test

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/pbxbridge

# deps installs the Debian packages the tests need (as root; idempotent).
deps:
	scripts/deps.sh

# asterisk builds (once, cached) and starts the project's Asterisk 22 on loopback.
asterisk:
	$(ASTERISK)/setup.sh
	$(ASTERISK)/run.sh start

# demo: a real SIP call into a voicemail app through Asterisk and pbxbridge, recorded end to end.
demo: deps build asterisk
	$(GO) run ./integration/demo --pbxbridge $(BIN)

# test runs everything the project has: unit tests and the integration tests against the real
# Asterisk, which must not skip here (PBXBRIDGE_INTEGRATION=1 turns a skip into a failure).
# The packages that run the real binary against real servers (INTEGRATION_PKGS) run one at a
# time after the others: each already runs its own tests in parallel, and on a 2-core machine
# two of them at once starve each other's timing (a hung application's backlog built slower
# than its retry window, a '#' missed by a Local channel).
# Tests that restart Asterisk, or take calls for the app name "pbxbridge" (SIP), run alone, last.
INTEGRATION_PKGS = ./integration ./integration/ha ./integration/redisfault ./integration/storage ./integration/callcmd ./integration/ops
test: deps build asterisk
	PBXBRIDGE_INTEGRATION=1 PBXBRIDGE_BIN=$(CURDIR)/$(BIN) \
		$(GO) test -count=1 $$($(GO) list ./... | grep -v -x -F $(INTEGRATION_PKGS:./%=-e github.com/pbxbridge/pbxbridge/%))
	PBXBRIDGE_INTEGRATION=1 PBXBRIDGE_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -p 1 $(INTEGRATION_PKGS)
	PBXBRIDGE_INTEGRATION=1 PBXBRIDGE_RESTART_TEST=1 PBXBRIDGE_BIN=$(CURDIR)/$(BIN) \
		$(GO) test -count=1 -run '^TestAsteriskRestart$$' ./integration
	PBXBRIDGE_INTEGRATION=1 PBXBRIDGE_TEST_SIP=1 PBXBRIDGE_TEST_RESTART=1 \
		$(GO) test -count=1 -run '^(TestAsteriskSIP|TestAsterisk/asterisk-restart)$$' ./ari
	docker/test.sh

# docker-test builds the Docker images (and, with no registry, their base images), brings
# docker/compose.yaml up and records a call through it (docker/README.md). make test runs it last.
docker-test:
	docker/test.sh

# unit runs only what needs no server (integration tests skip, saying how to run them).
unit:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# fuzz runs each fuzz target for FUZZTIME (default 5 minutes each), seeded from the golden files.
fuzz:
	@for pt in $(FUZZ_TARGETS); do \
		p=$${pt%%:*}; t=$${pt#*:}; echo "== $$p $$t ($(FUZZTIME))"; \
		$(GO) test $$p -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

# bench is the load harness (cmd/pbxbench, under 15 minutes): overhead against Asterisk's own
# dialplan with real SIPp calls, the engine against an ARI simulator on both stores, the outbox
# against the raw posting rate, parsing and audio. It writes bench/report.md, bench/report.json
# and PNG plots, and prints the report. BENCHFLAGS passes flags (go run ./cmd/pbxbench -h).
bench: deps build asterisk
	$(GO) run ./cmd/pbxbench --pbxbridge $(BIN) --out bench $(BENCHFLAGS)

# bench-go runs every package's Go benchmarks (the stores' outbox benchmarks included).
bench-go:
	$(GO) test ./translate ./audio ./store/local ./store/redis ./webhook -run '^$$' -bench . -benchmem

clean:
	rm -rf bin
