# Homeward's two front doors: `make run` (everything on one machine) and `make test`.
GO ?= go
SHELL := /bin/bash
TEMPORAL_CLI := bin/temporal

# The integration tests run against this Postgres too (CI=true makes it required).
HOMEWARD_TEST_POSTGRES_DSN ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export HOMEWARD_TEST_POSTGRES_DSN

.PHONY: run test build vet openapi-lint histories fuzz ui-check ui-test workflowcheck lint reliability soak soak-short bench bench-quick prod-check

# The Temporal CLI (dev server + UI) is pinned in tools/go.mod, apart from the main
# module: its dependencies would otherwise raise go.temporal.io/api past what its
# server compiles with.
$(TEMPORAL_CLI): tools/go.mod tools/go.sum
	@echo "Building the Temporal CLI pinned in tools/go.mod into bin/ (the first build takes a few minutes)..."
	@mkdir -p bin
	cd tools && $(GO) build -ldflags='-s -w' -o ../$(TEMPORAL_CLI) github.com/temporalio/cli/cmd/temporal

# The real Temporal server and its schema tool, at the version the CLI above embeds
# and compose's image runs (1.29.1), for make prod-check. They share the CLI's
# compiled packages: a few seconds once the CLI is built.
bin/temporal-server: tools/go.mod tools/go.sum
	@mkdir -p bin
	cd tools && $(GO) build -ldflags='-s -w' -o ../bin/temporal-server go.temporal.io/server/cmd/server

bin/temporal-sql-tool: tools/go.mod tools/go.sum
	@mkdir -p bin
	cd tools && $(GO) build -ldflags='-s -w' -o ../bin/temporal-sql-tool go.temporal.io/server/cmd/tools/sql

bin/promtool: deploy/prometheus/promtool.sh
	@mkdir -p bin
	sh deploy/prometheus/promtool.sh bin/promtool

build:
	$(GO) build -o bin/homeward ./cmd/homeward

# Production's shape on this machine (prodcheck/): the real temporal-server on this
# Postgres with compose's scripts and files, two workers, two APIs, the simulator;
# the soak's paths with a worker and an API SIGKILLed and the server restarted; one
# worker against two; the saved queries; the alert rules. About a minute.
prod-check: $(TEMPORAL_CLI) bin/temporal-server bin/temporal-sql-tool bin/promtool build
	HOMEWARD_PROD_CHECK=1 $(GO) test -vet=off -count=1 -timeout 6m -v -run '^TestProduction$$' ./prodcheck/

run: $(TEMPORAL_CLI) build
	./bin/homeward dev

vet:
	$(GO) vet ./...

# Three phases: every package's tests; then, alone on the machine, what restarts
# Postgres, kills workers or loads everything (the short soak); then the fuzzers.
SERIAL_TESTS := ^(TestSoak|TestPostgresRestartedDuringLoad|TestWorkerKilledWhileAVisitTimerRuns)$$
# go vet runs in full first, so the tests skip the part of it go test would run again.
test: $(TEMPORAL_CLI) vet lint workflowcheck openapi-lint
	$(GO) test -vet=off -count=1 -timeout 10m ./...
	set -o pipefail; HOMEWARD_TEST_SERIAL=1 HOMEWARD_SOAK=short $(GO) test -vet=off -count=1 -timeout 8m -v -run '$(SERIAL_TESTS)' ./e2e/ 2>&1 \
		| { grep -vE '^[0-9]{4}/[0-9]{2}/[0-9]{2} ' || true; }
	$(MAKE) --no-print-directory prod-check
	$(MAKE) --no-print-directory ui-test
	$(MAKE) --no-print-directory fuzz

# The HTTP contract (api/openapi.yaml) against Redocly CLI's recommended rules,
# warnings as errors (tools/openapi: the CLI pinned by its package-lock.json,
# installed with npm ci; the exceptions and their reasons in .redocly.lint-ignore.yaml).
openapi-lint:
	set -o pipefail; cd tools/openapi && npm ci --no-audit --no-fund --loglevel=error \
		&& REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true ./node_modules/.bin/redocly lint ../../api/openapi.yaml 2>&1 \
		| grep -v '[║╔╚]'

# Record the event histories the replay tests run, from the dev server, into
# workflows/testdata/histories/$(VERSION): after a change behind workflow.GetVersion,
# with VERSION the new version (the older folders stay and keep replaying).
VERSION ?= $(error set VERSION=v<N>, the workflow version the histories are of)
histories: $(TEMPORAL_CLI)
	HOMEWARD_RECORD_HISTORIES=$(VERSION) $(GO) test -count=1 -run TestRecordHistories -v ./e2e/

# Fuzz the request decoding and validation, a fixed number of inputs each (5-10 s
# on 2 busy cores). A count, not a time: with Go 1.26 a -fuzztime duration can fail
# a clean run with "context deadline exceeded" as it runs out (golang/go#75804).
FUZZ_INPUTS ?= 10000
fuzz:
	$(GO) test -vet=off -run '^$$' -fuzz '^FuzzRegistration$$' -fuzztime=$(FUZZ_INPUTS)x ./api/
	$(GO) test -vet=off -run '^$$' -fuzz '^FuzzActionBody$$' -fuzztime=$(FUZZ_INPUTS)x ./api/
	$(GO) test -vet=off -run '^$$' -fuzz '^FuzzListFilter$$' -fuzztime=$(FUZZ_INPUTS)x ./api/

# The Temporal UI as a manager sees it: headless Debian chromium (installed if
# missing) finds an overdue case by the saved query and reads its decoded details.
# Screenshots and logs go to uicheck/out/temporal-ui/. About 20 s (plus installs the first time).
ui-check:
	bash uicheck/run.sh

# The workspace in a browser (part of make test): one case from registration to
# monitoring through the pages only, axe-core on each main page. Screenshots go to
# uicheck/out/workspace/. About a minute (plus installs the first time).
ui-test: build
	bash uicheck/workspace.sh

# Temporal's determinism check on the workflow code, pinned in tools/workflowcheck/go.mod.
WORKFLOWCHECK := bin/workflowcheck
$(WORKFLOWCHECK): tools/workflowcheck/go.mod tools/workflowcheck/go.sum
	@mkdir -p bin
	cd tools/workflowcheck && $(GO) build -o ../../$(WORKFLOWCHECK) go.temporal.io/sdk/contrib/tools/workflowcheck

workflowcheck: $(WORKFLOWCHECK)
	$(WORKFLOWCHECK) -config tools/workflowcheck/workflowcheck.config.yaml ./workflows/...

# golangci-lint (.golangci.yml: the standard linters, gofmt and goimports), pinned in
# tools/lint/go.mod. The main module only: bench/ and tools/ are modules of their own.
GOLANGCI_LINT := bin/golangci-lint
$(GOLANGCI_LINT): tools/lint/go.mod tools/lint/go.sum
	@mkdir -p bin
	cd tools/lint && $(GO) build -o ../../$(GOLANGCI_LINT) github.com/golangci/golangci-lint/v2/cmd/golangci-lint

lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

# The fault tests alone (make test runs them too; these restart this machine's Postgres).
reliability: $(TEMPORAL_CLI)
	HOMEWARD_TEST_SERIAL=1 $(GO) test -count=1 -timeout 10m -v -run 'TestPostgresRestartedDuringLoad|TestWorkerKilled|TestDuplicateAndConcurrentDecisions|TestWithdrawalWhile' ./e2e/

soak-short: $(TEMPORAL_CLI)
	HOMEWARD_SOAK=short $(GO) test -count=1 -timeout 15m -v -run '^TestSoak$$' ./e2e/

soak: $(TEMPORAL_CLI)
	HOMEWARD_SOAK=long $(GO) test -count=1 -timeout 15m -v -run '^TestSoak$$' ./e2e/

# Benchmarks (docs/benchmarks.md): about an hour (opening up to 100,000 cases takes
# up to 20 minutes, the 1,000,000 case rows on Postgres about 15); reads on Postgres
# too unless HOMEWARD_BENCH_POSTGRES_DSN is set empty. bench/ is a module of its own
# (its go.mod replaces the main module with the folder above it), so the main
# module's go vet and go test leave it out; it has no tests.
HOMEWARD_BENCH_POSTGRES_DSN ?= $(HOMEWARD_TEST_POSTGRES_DSN)
export HOMEWARD_BENCH_POSTGRES_DSN

bench: $(TEMPORAL_CLI)
	cd bench && $(GO) run ./cmd/homewardbench

bench-quick: $(TEMPORAL_CLI)
	cd bench && $(GO) run ./cmd/homewardbench -quick
