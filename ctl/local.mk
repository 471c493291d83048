# brokerctl: steers a running brokerd over the control RPC.
bin_PROGRAMS += %reldir%/brokerctl
%canon_reldir%_brokerctl_SOURCES = %reldir%/brokerctl.c
%canon_reldir%_brokerctl_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(NNG_CFLAGS) $(JANSSON_CFLAGS)
%canon_reldir%_brokerctl_LDADD = rpc/librpc.la $(JANSSON_LIBS)
