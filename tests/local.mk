# Tests: unit (TAP-style programs), integration (shell scripts starting real brokers).
include %reldir%/unit/local.mk
include %reldir%/unit/endpoints.mk
include %reldir%/unit/exec.mk
include %reldir%/unit/docker.mk
include %reldir%/unit/watchers.mk
include %reldir%/unit/kubernetes.mk
include %reldir%/unit/rpc.mk
include %reldir%/plugins/local.mk
include %reldir%/tools/local.mk
include %reldir%/integration/local.mk
include %reldir%/integration/ctl.mk
include %reldir%/tools/linkpeer.mk
include %reldir%/integration/link.mk
include %reldir%/bench/local.mk
include %reldir%/fuzz/local.mk
