/* test_text_escape.c - text from peers and clients made safe for logs and terminals. */
#include "config.h"

#include <string.h>

#include "broker/text_escape.h"
#include "tests/unit/tap.h"

static void check(const char *in, const char *want, const char *what)
{
	char out[256];

	is_str(text_escape(out, sizeof(out), in), want, "%s", what);
	ok(text_needs_escape(in) == (strcmp(in, want) != 0), "%s: needs_escape agrees", what);
}

int main(void)
{
	char small[8];

	plan(28);
	check("plain text 123", "plain text 123", "printable ASCII passes");
	check("C:\\Program Files\\x", "C:\\Program Files\\x", "backslashes pass (Windows paths)");
	check("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x90\xb3", "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x90\xb3",
	      "valid UTF-8 passes");
	check("a\nFORGED line", "a\\nFORGED line", "a newline cannot start a forged log line");
	check("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m", "ESC sequences are shown, not acted on");
	check("tab\there\r", "tab\\there\\r", "tab and CR");
	check("bell\x07 del\x7f", "bell\\x07 del\\x7f", "BEL and DEL");
	check("c1 \xc2\x9b" "2J", "c1 \\xc2\\x9b2J", "a C1 control (CSI, U+009B) in UTF-8");
	check("bad \xff\xfe utf8 \xc3", "bad \\xff\\xfe utf8 \\xc3", "invalid and cut-short UTF-8");
	check("over \xc0\xaf long", "over \\xc0\\xaf long", "an overlong encoding");
	check("surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80", "an encoded surrogate");
	check("", "", "empty");
	is_str(text_escape(small, sizeof(small), "\x1b\x1b\x1b"), "\\x1b", "cut at a whole escape when out is small");
	is_str(text_escape(small, sizeof(small), "abcdefghij"), "abcdefg", "plain text cut to fit");
	is_str(text_escape(small, 2, "\xe2\x82\xac"), "", "never half a UTF-8 sequence");
	ok(!text_needs_escape("x"), "one letter needs nothing");
	return done_testing();
}
