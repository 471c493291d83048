# libFuzzer targets (clang only).  tests/fuzz/run builds them straight from
# the sources with coverage and ASan/UBSan and runs each for FUZZ_SECONDS;
# fuzz.sh is its short `make check` form and skips without clang/libFuzzer.
TESTS += %reldir%/fuzz.sh
EXTRA_DIST += %reldir%/fuzz.sh %reldir%/run %reldir%/mkcorpus %reldir%/minimize %reldir%/url.dict \
	%reldir%/fuzz_frame.c %reldir%/fuzz_link.c %reldir%/fuzz_policy.c %reldir%/fuzz_preauth.c %reldir%/fuzz_rpc.c %reldir%/fuzz_url.c \
	%reldir%/stub_plugin.c %reldir%/corpus %reldir%/crashes
# tests/fuzz/run builds its targets in tests/fuzz/out of the build tree.
clean-local: clean-fuzz-out
clean-fuzz-out:
	-rm -rf %reldir%/out
