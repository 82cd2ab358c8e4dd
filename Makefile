# The two set-up commands of the README: `make run` and `make test`.
# Both install what is missing (scripts/install-deps.sh), then build with CMake.
BUILD   ?= build
JOBS    ?= 2
CMAKE_FLAGS ?=

.PHONY: all build run test unit bench fuzz clean deps deps-test

all: build

deps:
	@./scripts/install-deps.sh build

deps-test:
	@./scripts/install-deps.sh test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@./scripts/run-dev.sh $(BUILD)/heimdex

test: deps-test $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure -L unit

fuzz: deps-test
	./tests/fuzz/run.sh $${FUZZ_SECONDS:-300}

bench: build
	./bench/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-fuzz
