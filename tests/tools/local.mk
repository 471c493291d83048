# Test helpers: socket servers and clients for the integration tests
# (built by make check, never installed). xfer needs libcrypto for sha256
# (configure requires it).
check_PROGRAMS += %reldir%/xfer
%canon_reldir%_xfer_SOURCES = %reldir%/xfer.c
%canon_reldir%_xfer_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) -pthread
%canon_reldir%_xfer_LDADD = $(LIBCRYPTO_LIBS) -lpthread
EXTRA_DIST += %reldir%/xfer.c
EXTRA_DIST += %reldir%/notify_sink.py
