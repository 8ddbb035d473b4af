# The two commands: `make run` (the service on the example config, with a local receiver)
# and `make test` (the whole suite). Both install what is missing first.
.PHONY: run test build bench clean

run:
	scripts/run.sh

test:
	scripts/test.sh

build:
	scripts/setup.sh
	swift build

bench:
	scripts/bench.sh

clean:
	rm -rf .build .build-* herald.sqlite herald.sqlite-* herald.sqlite.lock
