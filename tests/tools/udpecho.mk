# udpecho: a UDP echo server and a datagram round-trip checker for the
# mapping integration tests (udp mappings; 0-byte and 60000-byte datagrams).
# No dependencies beyond libc.  Included from tests/local.mk:
#   include %reldir%/tools/udpecho.mk
check_PROGRAMS += %reldir%/udpecho
%canon_reldir%_udpecho_SOURCES = %reldir%/udpecho.c
EXTRA_DIST += %reldir%/udpecho.c
