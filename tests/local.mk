# Tests: unit (TAP-style programs), integration (shell scripts starting real brokers).
# Windows (cross build, run under wine by scripts/test-windows): only the
# portable unit tests in unit/local.mk; the rest needs Linux (AF_UNIX,
# fork, netns, the Linux plugins).
include %reldir%/unit/local.mk
# Windows programs and scripts (cross build only; see the file).
include %reldir%/windows/local.mk
if !PLATFORM_WINDOWS
include %reldir%/unit/endpoints.mk
include %reldir%/unit/exec.mk
include %reldir%/unit/docker.mk
include %reldir%/unit/watchers.mk
include %reldir%/unit/kubernetes.mk
include %reldir%/unit/containerd.mk
include %reldir%/unit/plugin_common.mk
include %reldir%/unit/rpc.mk
include %reldir%/unit/policy.mk
include %reldir%/plugins/local.mk
include %reldir%/tools/local.mk
include %reldir%/integration/local.mk
include %reldir%/integration/ctl.mk
include %reldir%/tools/linkpeer.mk
include %reldir%/tools/linkload.mk
include %reldir%/integration/link.mk
include %reldir%/tools/udpecho.mk
include %reldir%/integration/mapping.mk
include %reldir%/bench/local.mk
include %reldir%/bench/docker.mk
include %reldir%/bench/mapping_bench.mk
include %reldir%/fuzz/local.mk
endif
# Checks of the installed tree (make installcheck).
include %reldir%/install/local.mk
