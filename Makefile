# Herald — make targets. Every target loops over the workspace's modules.
MODULES       := pkg providers apps/api apps/worker apps/standalone apps/bench
GO            ?= go
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_FLAGS    ?= -count=1 -timeout 30m

.PHONY: run api-key sink test lint tidy build bench clean $(addprefix test/,$(MODULES)) $(addprefix lint/,$(MODULES)) $(addprefix tidy/,$(MODULES))

## run: start Herald (API + worker) on embedded backends at http://localhost:3000
run:
	$(GO) run ./apps/standalone

## api-key: print the Development environment's API key of the local ./data
api-key:
	@$(GO) run ./apps/standalone api-key

## sink: a local webhook receiver on :4000 that prints what Herald delivers
sink:
	$(GO) run ./apps/standalone webhook-sink -addr 127.0.0.1:4000

## test: run every module's tests against real Redis and FerretDB
test: $(addprefix test/,$(MODULES))

$(addprefix test/,$(MODULES)): test/%:
	cd $* && $(GO) test $(TEST_FLAGS) ./...

## lint: gofmt, go vet and staticcheck on every module
lint: $(addprefix lint/,$(MODULES))
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

$(addprefix lint/,$(MODULES)): lint/%:
	cd $* && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

## tidy: go mod tidy in every module (each builds alone with GOWORK=off); fails on an unclean tree under CI
tidy: $(addprefix tidy/,$(MODULES))
	@if [ "$$CI" = "true" ]; then git diff --exit-code -- '*.mod' '*.sum'; fi

$(addprefix tidy/,$(MODULES)): tidy/%:
	cd $* && GOWORK=off $(GO) mod tidy

## build: build the three binaries into ./bin, each module alone (GOWORK=off)
build:
	@mkdir -p bin
	cd apps/api && GOWORK=off $(GO) build -o ../../bin/herald-api .
	cd apps/worker && GOWORK=off $(GO) build -o ../../bin/herald-worker .
	cd apps/standalone && GOWORK=off $(GO) build -o ../../bin/herald .

## bench: load-test the standalone stack against real Redis and FerretDB (PostgreSQL when reachable);
## prints the table and writes docs/benchmarks.md and docs/benchmarks.json. BENCH_FLAGS="-duration 5s" etc.
bench:
	cd apps/bench && $(GO) run . -out-md ../../docs/benchmarks.md -out-json ../../docs/benchmarks.json $(BENCH_FLAGS)

clean:
	rm -rf bin
