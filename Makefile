# adt: every target installs what it needs first (system packages via apt, Python ones in .venv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
APT_PACKAGES := python3 python3-venv tzdata s3cmd bats bats-support bats-assert bats-file \
	iproute2 util-linux procps curl openssh-server openssh-client rsync \
	mariadb-server mariadb-client nginx php-fpm php-cli php-mysql postgresql git iptables nftables ufw netcat-openbsd cron pigz isal \
	php-xml php-mbstring php-curl php-zip php-intl strace fcgiwrap \
	pdns-server pdns-backend-sqlite3 sqlite3 bind9-dnsutils cloud-init shellcheck \
	pebble lego
# WordPress (the local cloud host's virgin application) comes after nginx and php-fpm: installed with
# them in one go, apt would satisfy its "apache2 | httpd" with Apache. Its theme (a Recommends) and the PHP
# modules its XML-RPC and Site Health need (Suggests) are named here, since --no-install-recommends skips them.
APT_LATE := wordpress wordpress-theme-twentytwentythree
export PATH := $(BIN):$(PATH)

.PHONY: deps system python install lint test unit bats bench demo clean smoke

deps: system python

system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	late=$$(for p in $(APT_LATE); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing$$late" ]; then \
	  echo "installing system packages:" $$missing $$late; \
	  apt-get update -qq; \
	  if [ -n "$$missing" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi; \
	  case " $$missing " in *" cloud-init "*) touch /etc/cloud/cloud-init.disabled;; esac; \
	  if [ -n "$$late" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$late; fi; \
	fi

python: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
	touch $@

# `install` also puts `adt` where the shell entry points (and cron's PATH plus /usr/local/bin) find it.
install: deps
	ln -sf $(BIN)/adt /usr/local/bin/adt
	@echo "adt installed: $$(adt --version)"

# The house's rules, checked: layers (pyproject.toml's import contracts), lint and format, types.
lint: deps
	$(BIN)/lint-imports
	$(BIN)/ruff check adt
	$(BIN)/ruff format --check adt
	$(BIN)/mypy

test: deps lint
	bats --print-output-on-failure tests/bats
	ADT_BATS_AGENT=1 bats --print-output-on-failure tests/bats/configwrapper.bats
	$(BIN)/python -m pytest -q tests/unit tests/integration

unit: deps
	$(BIN)/python -m pytest -q tests/unit

# The live smoke test on a real provider: by hand only, never in CI (tests/smoke/live.py says what it needs).
smoke: deps
	$(BIN)/python tests/smoke/live.py

bench: deps
	$(BIN)/python benchmarks/config_datastore.py
	$(BIN)/python benchmarks/fleet_machine.py
	$(BIN)/python benchmarks/build.py
	$(BIN)/python benchmarks/production.py
	$(BIN)/python benchmarks/backup_website.py
	$(BIN)/python benchmarks/backup_database.py
	$(BIN)/python benchmarks/drill.py
	$(BIN)/python benchmarks/autoscaler.py
	$(BIN)/python benchmarks/cloud_api.py
	$(BIN)/python benchmarks/ssl.py

# The development fleet on the local cloud host, from template 1; running it again rebuilds it.
demo: deps
	$(BIN)/adt build local debian 1 demo --rebuild

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
