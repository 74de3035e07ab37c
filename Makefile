# For C and C++ users who expect `make && make install`. Cargo does the
# building; tools/install.sh lays out the installed tree.
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all install test

all:
	cargo build --release

install:
	tools/install.sh --prefix "$(PREFIX)" --destdir "$(DESTDIR)"

test:
	cargo test
