# capibridge: build, test and benchmark.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# The whole suite must stay well inside CI's budget (2 cores, 90 minutes).
TEST_TIMEOUT ?= 12m
# staticcheck 2026.2.2 (module v0.8.2), the newest release, built for Go
# 1.26; go run fetches it once into the module cache.
STATICCHECK_VERSION ?= v0.8.2

.PHONY: build image cf-app test vet lint tidy-check staticcheck deps bench load chaos clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/capibridge ./cmd/capibridge

# image builds the container image (deploy/Dockerfile) with docker or
# podman, whichever is installed; IMAGE names it.
IMAGE  ?= capibridge:$(VERSION)
ENGINE ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)
image:
	$(ENGINE) build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) -t $(IMAGE) .

# cf-app is the directory deploy/cf/manifest.yml pushes: the static
# linux/amd64 binary the binary buildpack runs.
cf-app:
	mkdir -p bin/cf-app
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/cf-app/capibridge ./cmd/capibridge

# deps installs what the tests need: a real redis-server, and promtool.
deps:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "installing redis-server"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; \
	}
	@redis-server --version
	@command -v promtool >/dev/null 2>&1 || { \
		echo "installing promtool (Debian's prometheus package), which checks deploy/'s alert rules and dashboard queries"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	}
	@promtool --version | head -1

# deploy/ is a module of its own, so that the Kubernetes, Compose and
# Cloud Foundry libraries its tests read the manifests with stay out of the
# gateway's dependencies; every target below covers both modules.
vet:
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...

# lint fails on an untidy go.mod or go.sum and on any staticcheck finding.
# A deliberate exception is a //lint:ignore CHECK reason at its line.
lint: tidy-check staticcheck

tidy-check:
	$(GO) mod tidy -diff
	cd deploy && $(GO) mod tidy -diff

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	cd deploy && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

test: deps vet lint
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...
	cd deploy && $(GO) test -race -timeout $(TEST_TIMEOUT) ./...

# bench runs every Go benchmark once over a short time; see README, "Benchmarks".
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

# load runs the cache's load benchmark long (make test runs it for 2 s per
# scenario as a smoke run): cached v2 list vs a bare server vs uncached.
LOAD_DURATION ?= 15s
LOAD_WORKERS  ?= 16
load: deps
	$(GO) test -count=1 -run TestLoad -v ./internal/loadbench -load.duration $(LOAD_DURATION) -load.workers $(LOAD_WORKERS)

# chaos runs the chaos suite long (make test runs it with one round and
# 1 s load phases): bad tokens, framing and smuggling, hostile input,
# isolation between users over two gateways sharing Redis, Redis and
# Cloud Controller faults under load, kill -9 of the gateway mid-write, a
# connection flood and the gateway's RSS. It prints what held.
CHAOS_DURATION ?= 10s
CHAOS_ROUNDS   ?= 3
CHAOS_CONNS    ?= 1000
chaos: deps
	$(GO) test -count=1 -timeout 60m -run TestChaos -v ./internal/chaos -chaos.duration $(CHAOS_DURATION) -chaos.rounds $(CHAOS_ROUNDS) -chaos.conns $(CHAOS_CONNS)

clean:
	rm -rf bin
