# The two commands of the README.
.PHONY: run test

# Builds and runs the server on the embedded default: SQLite in ./data, demo tenant if empty, test
# helpers on (/_qianshu/: the SMS outbox and the clock; never in production);
# installs a CJK font for contract documents first if the machine has none.
run:
	./scripts/ensure-font.sh
	cargo run --release -- serve --demo --test-helpers

# Runs every test (installs the Python venv with the official SDK and the Node SDK itself).
test:
	./scripts/test.sh
