# Relaybox. Newcomers need two targets: `make run` and `make test`.
SHELL   := /bin/bash
GO      ?= go
BIN     := bin/relaybox
VERSION ?= 0.1.0
COMMIT  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Debian packages the end-to-end tests drive: real clients, never mocks.
TEST_DEBS := openssl swaks libnet-ssleay-perl libio-socket-ssl-perl postfix tmux docker.io ca-certificates openssh-client sshpass slapd ldap-utils chromium
TEST_BINS := openssl swaks smtp-source tmux dockerd ssh sshpass ssh-keyscan slapd chromium
FUZZTIME ?= 10s
# make fuzz: each new interesting input is minimised for at most FUZZMINIMIZETIME (go's default, 60s,
# can eat a whole run), with FUZZPARALLEL workers (one per core).
FUZZMINIMIZETIME ?= 1s
FUZZPARALLEL ?= $(shell nproc 2>/dev/null || echo 2)
# Inbound load: messages per timed run and rounds (the full comparison: 20000 5).
BENCH_MESSAGES ?= 20000
BENCH_ROUNDS ?= 3
BENCH_E2E_MESSAGES ?= 10000
BENCH_SSH_LOGINS ?= 50
BENCH_SSH_IDLE ?= 100

# make image: the container image $(IMAGE):$(VERSION) and :latest (Dockerfile, docs/lab.md): a static
# binary on scratch, the build host's CA bundle, /data owned by the image's user (10001).
IMAGE ?= relaybox
IMAGE_STAGE := bin/image
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
DOCKER ?= docker

.PHONY: all build run test test-deps bench fuzz lint clean image

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/relaybox

## image: the container image (no base image is pulled: FROM scratch); docker build talks to DOCKER_HOST
image:
	@command -v $(DOCKER) >/dev/null || { echo "make image: $(DOCKER) is not installed: apt-get install docker.io (and run dockerd)"; exit 1; }
	@test -r $(CA_BUNDLE) || { echo "make image: no CA bundle at $(CA_BUNDLE): apt-get install ca-certificates"; exit 1; }
	rm -rf $(IMAGE_STAGE)
	mkdir -p $(IMAGE_STAGE)/rootfs/data
	chmod 700 $(IMAGE_STAGE)/rootfs/data
	CGO_ENABLED=0 $(GO) build -trimpath -tags timetzdata -ldflags '$(LDFLAGS) -s -w' -o $(IMAGE_STAGE)/relaybox ./cmd/relaybox
	cp $(CA_BUNDLE) $(IMAGE_STAGE)/ca-certificates.crt
	$(DOCKER) build -t $(IMAGE):$(VERSION) -t $(IMAGE):latest .

## run: the appliance in console mode on its embedded defaults, data in ./data
run: build
	./$(BIN) console --data ./data

## test-deps: install the real clients the end-to-end tests use (Debian packages)
test-deps:
	@missing=""; for b in $(TEST_BINS); do command -v $$b >/dev/null || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing test clients (missing:$$missing)"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		echo "postfix postfix/main_mailer_type select No configuration" | $$SUDO debconf-set-selections && \
		echo "slapd slapd/no_configuration boolean true" | $$SUDO debconf-set-selections && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(TEST_DEBS) >/dev/null; \
		$$SUDO service slapd stop >/dev/null 2>&1 || true; $$SUDO update-rc.d slapd disable >/dev/null 2>&1 || true; \
	fi
	$(GO) mod download

## test: every test, unit and end-to-end, with the race detector
test: test-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

## bench: Go benchmarks, then config-change-to-effect against a throwaway Postfix in the same run
bench: test-deps build
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./...
	scripts/bench-commit-to-effect.sh $(BIN) 20
	scripts/bench-inbound.sh $(BIN) $(BENCH_MESSAGES) $(BENCH_ROUNDS)
	scripts/bench-e2e.sh $(BIN) $(BENCH_E2E_MESSAGES) $(BENCH_ROUNDS)
	MODES=starttls PF_TLS_REUSE=yes scripts/bench-e2e.sh $(BIN) $(BENCH_E2E_MESSAGES) $(BENCH_ROUNDS)
	scripts/bench-ssh.sh $(BIN) $(BENCH_SSH_LOGINS) $(BENCH_SSH_IDLE)

## fuzz: each fuzz target for FUZZTIME (10s), printing the executions it reached; fails on a crash
## or on a package whose tests do not build. Targets are found with go test -list, so new ones run too.
fuzz:
	@failed=""; log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	for pkg in $$($(GO) list ./...); do \
		if ! targets=$$($(GO) test -list '^Fuzz' $$pkg 2>&1); then \
			echo "$$targets"; failed="$$failed $$pkg"; continue; \
		fi; \
		for f in $$(echo "$$targets" | grep '^Fuzz'); do \
			if $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) \
				-parallel $(FUZZPARALLEL) $$pkg >"$$log" 2>&1; then \
				printf '%-26s %-22s %s\n' "$${pkg#relaybox/}" "$$f" "$$(grep 'fuzz: elapsed' "$$log" | tail -1)"; \
			else \
				cat "$$log"; failed="$$failed $$pkg.$$f"; \
			fi; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "make fuzz: FAILED:$$failed"; exit 1; fi

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin
