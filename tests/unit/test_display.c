/* test_display.c - what people see: the log's timestamp format (also used by
 * brokerctl watch) and short container ids in tables and event lines. */
#include "config.h"

#include <string.h>

#include "broker/display.h"
#include "tests/unit/tap.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int main(void)
{
	char buf[128];

	plan(11);
	display_time(buf, sizeof(buf), 0);
	is_str(buf, "1970-01-01T00:00:00.000Z", "the epoch");
	display_time(buf, sizeof(buf), 1796306533413LL);
	is_str(buf, "2026-12-03T14:02:13.413Z", "a time with milliseconds, UTC");
	display_time(buf, sizeof(buf), 951782400999LL);
	is_str(buf, "2000-02-29T00:00:00.999Z", "a leap day");
	display_time(buf, sizeof(buf), -1);
	is_str(buf, "1969-12-31T23:59:59.999Z", "before the epoch");

	is_str(display_short_id(buf, sizeof(buf), HEX64), "0123456789ab", "a 64-hex container id: its first 12");
	is_str(display_short_id(buf, sizeof(buf), "default/" HEX64), "default/0123456789ab",
	       "namespace/id: the id shortened, the namespace kept");
	is_str(display_short_id(buf, sizeof(buf), "web"), "web", "a name is kept");
	is_str(display_short_id(buf, sizeof(buf), "tcp/0.0.0.0:8080"), "tcp/0.0.0.0:8080", "a procnet owner is kept");
	is_str(display_short_id(buf, sizeof(buf), "0123456789abcdef"), "0123456789abcdef",
	       "a short hex string is kept (not an id worth cutting)");
	is_str(display_short_id(buf, sizeof(buf), HEX64 "x"), HEX64 "x", "not all hex: kept");
	is_str(display_short_id(buf, sizeof(buf), "DOCKER:tcp:38541"), "DOCKER:tcp:38541", "an iptables owner is kept");
	return done_testing();
}
