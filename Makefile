# envmon's build and test entry points. `make test` is what CI runs
# (.ci/run): it installs what the integration tests need, then runs go vet,
# the unit tests with -race and the integration tests against real
# Mosquitto and InfluxDB 1.8.10 processes.

GO          ?= go
TOOLS_DIR   ?= $(HOME)/.cache/envmon/tools
INFLUXD     := $(TOOLS_DIR)/influxd
INFLUXD_VERSION := v1.8.10
TELEGRAF    := $(TOOLS_DIR)/telegraf
TELEGRAF_VERSION := v1.37.2
MOSQUITTO   := $(shell command -v mosquitto 2>/dev/null || ls /usr/sbin/mosquitto 2>/dev/null)
GOTEST_FLAGS ?=

export ENVMON_INFLUXD := $(INFLUXD)
# The browser tests save their screenshots here (api/webtest), kept after
# the run as test artefacts.
export ENVMON_ARTIFACTS ?= $(CURDIR)/.artifacts

.PHONY: all build test unit vet fmt tools bench-tools mosquitto chromium postgres bench clean

all: build

build:
	$(GO) build -o envmon ./cmd/envmon

test: tools fmt vet
	$(GO) test -race -count=1 -timeout 20m $(GOTEST_FLAGS) ./...

# unit runs only the fast tests, skipping those that start servers.
unit:
	$(GO) test -race -short ./...

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

tools: $(INFLUXD) mosquitto chromium postgres

# influxd 1.8.10 is pure Go; it builds in about a minute and is cached.
$(INFLUXD):
	@mkdir -p $(TOOLS_DIR)
	@echo "installing influxd $(INFLUXD_VERSION) into $(TOOLS_DIR) (about a minute, once)"
	cd $(TOOLS_DIR) && GOFLAGS= GOBIN=$(TOOLS_DIR) $(GO) install github.com/influxdata/influxdb/cmd/influxd@$(INFLUXD_VERSION)

# bench-tools adds what only bench/ingest compares envmon with: Telegraf,
# which Debian does not ship; it builds from the Go module proxy in about
# ten minutes, once.
bench-tools: tools $(TELEGRAF)

$(TELEGRAF):
	@mkdir -p $(TOOLS_DIR)
	@echo "installing telegraf $(TELEGRAF_VERSION) into $(TOOLS_DIR) (about ten minutes, once)"
	cd $(TOOLS_DIR) && GOFLAGS= GOBIN=$(TOOLS_DIR) $(GO) install github.com/influxdata/telegraf/cmd/telegraf@$(TELEGRAF_VERSION)

mosquitto:
	@if [ -z "$(MOSQUITTO)" ] || ! command -v mosquitto_pub >/dev/null 2>&1; then \
		echo "installing mosquitto from Debian"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mosquitto mosquitto-clients; \
	fi

# chromium runs the browser tests of api/webtest (chromedp, headless); a
# CJK font makes their Chinese screenshots legible.
chromium:
	@if ! [ -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "installing chromium and a CJK font from Debian"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei; \
	fi

# The db, alerts and cases tests run the same behaviour tests on the real
# PostgreSQL at 127.0.0.1:5432 (trust auth, database test), each in a
# schema of its own. This machine's kind starts it; start it if it stopped.
postgres:
	@if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		echo "starting PostgreSQL"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; \
		for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -f envmon
