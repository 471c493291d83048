# Test helpers: socket servers and clients for the integration tests
# (built by make check, never installed).
check_PROGRAMS += %reldir%/xfer
%canon_reldir%_xfer_SOURCES = %reldir%/xfer.c
%canon_reldir%_xfer_CFLAGS = $(AM_CFLAGS) -pthread
# TODO: $(LIBCRYPTO_CFLAGS)/$(LIBCRYPTO_LIBS) once configure.ac checks libcrypto.
%canon_reldir%_xfer_LDADD = -lcrypto -lpthread
