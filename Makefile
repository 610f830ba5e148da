# Builds, in data-flow order: kernel program -> skeleton -> addon -> TypeScript.
# Every target is incremental, so `make` is quick when nothing changed.
OUT      := bpf/.output
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_OBJ  := $(OUT)/tcplife.bpf.o
SKEL     := $(OUT)/tcplife.skel.h
ADDON    := build/Release/tcplife.node
TS_STAMP := dist/.built
NPM_STAMP := node_modules/.package-lock.json
NODE_GYP := node node_modules/node-gyp/bin/node-gyp.js
# Build against the installed Node's headers when the system has them (no download).
GYP_FLAGS := $(if $(wildcard /usr/include/node/node_api.h),--nodedir=/usr,)

.PHONY: build clean
build: $(ADDON) $(TS_STAMP)

$(OUT):
	mkdir -p $@

# CO-RE: the types come from this machine's BTF; relocations fix offsets at load.
$(OUT)/vmlinux.h: | $(OUT)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BPF_OBJ): bpf/tcplife.bpf.c $(wildcard bpf/*.bpf.h) bpf/session_event.h $(OUT)/vmlinux.h
	clang -g -O2 -Wall -target bpf -D__TARGET_ARCH_$(ARCH) -I$(OUT) -Ibpf -c $< -o $@
	llvm-strip -g $@

$(SKEL): $(BPF_OBJ)
	bpftool gen skeleton $< name tcplife_bpf > $@.tmp && mv $@.tmp $@

$(ADDON): $(SKEL) $(wildcard native/*.cc native/*.h) bpf/session_event.h binding.gyp $(NPM_STAMP)
	$(NODE_GYP) rebuild $(GYP_FLAGS) --loglevel=warn

$(TS_STAMP): $(shell find src test -name '*.ts') tsconfig.json $(NPM_STAMP)
	# From scratch: a test whose source was moved or deleted must not run from a stale .js.
	rm -rf dist
	node node_modules/typescript/bin/tsc -p .
	touch $@

clean:
	rm -rf $(OUT) build dist
