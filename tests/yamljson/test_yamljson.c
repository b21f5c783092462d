/* Tests of spok_yaml_to_json / spok_json_to_yaml. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "yamljson/yamljson.h"

static json_t *parse(const char *yaml, struct spok_err *err)
{
	return spok_yaml_to_json(yaml, strlen(yaml), "t.yaml", err);
}

/* YAML text must convert to the same JSON as json_text. */
static void expect_json(const char *yaml, const char *json_text)
{
	struct spok_err err = {0};
	json_error_t jerr;
	json_t *want = json_loads(json_text, JSON_DECODE_ANY, &jerr);
	json_t *got = parse(yaml, &err);

	if (got == NULL)
		fail_msg("parse failed: %s", err.msg);
	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_ENCODE_ANY);
		fail_msg("yaml %s\n got %s\nwant %s", yaml, g, json_text);
	}
	json_decref(got);
	json_decref(want);
}

static void expect_error(const char *yaml, const char *msg)
{
	struct spok_err err = {0};
	json_t *got = parse(yaml, &err);

	assert_null(got);
	assert_int_equal(err.code, SPOK_EINVAL);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("error\n got: %s\nwant: %s", err.msg, msg);
}

static void test_scalars(void **state)
{
	(void)state;
	expect_json("a: 1", "{\"a\": 1}");
	expect_json("a: -12", "{\"a\": -12}");
	expect_json("a: +7", "{\"a\": 7}");
	expect_json("a: 0o17", "{\"a\": 15}");
	expect_json("a: 0x1F", "{\"a\": 31}");
	expect_json("a: 1.5", "{\"a\": 1.5}");
	expect_json("a: .5", "{\"a\": 0.5}");
	expect_json("a: 1e3", "{\"a\": 1000.0}");
	expect_json("a: -2.5E-2", "{\"a\": -0.025}");
	expect_json("a: true\nb: False\nc: TRUE", "{\"a\": true, \"b\": false, \"c\": true}");
	expect_json("a: null\nb: ~\nc:\nd: NULL", "{\"a\": null, \"b\": null, \"c\": null, \"d\": null}");
	/* YAML 1.1 spellings are strings under the 1.2 core schema */
	expect_json("a: yes\nb: off\nc: 0b101\nd: 1_000", "{\"a\": \"yes\", \"b\": \"off\", \"c\": \"0b101\", \"d\": \"1_000\"}");
	expect_json("a: '1'\nb: \"true\"\nc: 'null'", "{\"a\": \"1\", \"b\": \"true\", \"c\": \"null\"}");
	expect_json("a: 'it''s'\nb: 'x''''''''''''y'\nc: ''''", "{\"a\": \"it's\", \"b\": \"x''''''y\", \"c\": \"'\"}");
	expect_json("a: 'one\n  two  \n\n   three\n\n\n four'", "{\"a\": \"one two\\nthree\\n\\nfour\"}");
	expect_json("a: '  lead and trail  '", "{\"a\": \"  lead and trail  \"}");
	expect_json("a: !!str 12\nb: ! 13", "{\"a\": \"12\", \"b\": \"13\"}");
	expect_json("a: .inf\nb: .nan\nc: 1e999", "{\"a\": \".inf\", \"b\": \".nan\", \"c\": \"1e999\"}");
	expect_json("a: 12345678901234567890", "{\"a\": 12345678901234567890.0}");
	expect_json("a: 1g\nb: 2.0.1\nc: 10:20", "{\"a\": \"1g\", \"b\": \"2.0.1\", \"c\": \"10:20\"}");
	expect_json("a: |\n  line1\n  line2\n", "{\"a\": \"line1\\nline2\\n\"}");
	expect_json("a: \"tab\\tnl\\n\\u00e9\"", "{\"a\": \"tab\\tnl\\n\\u00e9\"}");
	expect_json("42", "42");
	expect_json("", "null");
	expect_json("# only a comment\n", "null");
	expect_json("{\"json\": [1, 2.5, \"x\", null, true]}", "{\"json\": [1, 2.5, \"x\", null, true]}");
}

static void test_structure(void **state)
{
	(void)state;
	expect_json("b: 1\na: 2\nc: 3", "{\"b\": 1, \"a\": 2, \"c\": 3}");
	expect_json("- a\n- - b\n  - c\n- {d: e}", "[\"a\", [\"b\", \"c\"], {\"d\": \"e\"}]");
	expect_json("base: &b {x: 1, y: 2}\nuse: *b", "{\"base\": {\"x\": 1, \"y\": 2}, \"use\": {\"x\": 1, \"y\": 2}}");
	expect_json("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3",
		    "{\"base\": {\"x\": 1, \"y\": 2}, \"use\": {\"x\": 1, \"y\": 3}}");
	expect_json("a: &a {x: 1}\nb: &b {x: 2, z: 2}\nc: {<<: [*a, *b], w: 0}",
		    "{\"a\": {\"x\": 1}, \"b\": {\"x\": 2, \"z\": 2}, \"c\": {\"x\": 1, \"z\": 2, \"w\": 0}}");
	expect_json("a: &s hello\nb: *s", "{\"a\": \"hello\", \"b\": \"hello\"}");
	expect_json("'<<': 1", "{\"<<\": 1}");
	expect_json("1: one\ntrue: t\nnull: n", "{\"1\": \"one\", \"true\": \"t\", \"null\": \"n\"}");
}

static void test_errors(void **state)
{
	char *big, *deep;
	size_t n = ((size_t)4 << 20) + 1;
	struct spok_err err = {0};

	(void)state;
	expect_error("a: b: c\n", "t.yaml:1:5: mapping values are not allowed in this context; fix the YAML syntax");
	/* Crashed libfyaml 0.7.12 (issue 8): a complex key, '::', a tab, ':'. */
	expect_error("? ::\t:", "t.yaml:1:6: mapping values are not allowed in this context; fix the YAML syntax");
	expect_error("a: [b\n", "t.yaml:2:1: did not find expected ',' or ']' while parsing a flow sequence that starts at 1:4; fix the YAML syntax");
	expect_error("a: \"x\n", "t.yaml:2:1: found unexpected end of stream while scanning a quoted scalar that starts at 1:4; fix the YAML syntax");
	expect_error("a:\n\t- b\n", "t.yaml:2:1: found character that cannot start any token while scanning for the next token; fix the YAML syntax");
	expect_error("a: 1\na: 2\n", "t.yaml:2:1: duplicate key 'a'; remove one of them");
	expect_error("a: *nope\n", "t.yaml:1:4: unknown alias '*nope'; define the anchor '&nope' before using it");
	expect_error("a: &x [*x]\n", "t.yaml:1:8: unknown alias '*x'; define the anchor '&x' before using it");
	expect_error("a: 1\n---\nb: 2\n", "t.yaml:2:1: more than one YAML document; keep one document per file");
	expect_error("<<: 3\n", "t.yaml:1:5: merge key '<<' takes a mapping or a list of mappings; fix the merged value");
	expect_error("a: \xff\n", "t.yaml:1:4: invalid UTF-8 or control character (byte 0xFF); save the file as UTF-8 text");
	expect_error("a: 1\nb: x\x01y\n", "t.yaml:2:5: invalid UTF-8 or control character (byte 0x01); save the file as UTF-8 text");
	expect_error("%a\xc0\x80\n", "t.yaml:1:3: invalid UTF-8 or control character (byte 0xC0); save the file as UTF-8 text");
	expect_error("a:\n  \"x\\0\": 1\n", "t.yaml:2:3: key contains a NUL character; remove it");
	expect_error("? [a]\n: 1\n", "t.yaml:1:3: mapping keys must be scalars; use a plain or quoted string key");

	big = xmalloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	assert_null(spok_yaml_to_json(big, n, "big.yaml", &err));
	assert_string_equal(err.msg, "big.yaml: input is 4194305 bytes, more than the 4194304-byte limit; split or shrink the file");
	free(big);

	deep = xmalloc(200);
	memset(deep, '[', 65);
	deep[65] = '\0';
	expect_error(deep, "t.yaml:1:65: nesting is deeper than 64 levels; flatten the document");
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	deep[128] = '\0';
	json_decref(parse(deep, &err) /* 64 levels are fine */);
	free(deep);
}

static void test_billion_laughs(void **state)
{
	struct spok_buf_like {
		char text[4096];
	} doc;
	size_t off = 0;
	struct spok_err err = {0};

	(void)state;
	off += (size_t)snprintf(doc.text + off, sizeof(doc.text) - off, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		off += (size_t)snprintf(doc.text + off, sizeof(doc.text) - off,
					"a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
					i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	assert_null(parse(doc.text, &err));
	assert_non_null(strstr(err.msg, "aliases and merge keys expand the document past 1048576 nodes; use fewer aliases"));
}

/* ---- round trip ---- */

static void roundtrip_json(json_t *j)
{
	struct spok_err err = {0};
	char *yaml = spok_json_to_yaml(j);
	json_t *back = spok_yaml_to_json(yaml, strlen(yaml), "rt.yaml", &err);

	if (back == NULL || !json_equal(back, j)) {
		char *want = json_dumps(j, JSON_ENCODE_ANY);
		char *got = back ? json_dumps(back, JSON_ENCODE_ANY) : NULL;
		fail_msg("round trip failed (%s)\nyaml:\n%s\nwant %s\n got %s", err.msg, yaml, want,
			 got ? got : "(error)");
	}
	json_decref(back);
	free(yaml);
}

static void test_roundtrip(void **state)
{
	static const char *const docs[] = {
		"null", "true", "0", "-1", "1.0", "-0.0", "0.1", "1e300", "2.5e-300", "\"\"",
		"[]", "{}", "[[]]", "[{}]", "{\"a\": {}}", "{\"a\": []}",
		"[\"true\", \"False\", \"null\", \"~\", \"\", \" \", \"1\", \"-1\", \"0x1f\", \"0o7\", \"1.5\", \".5\", \"1e3\", \".inf\", \"-.Inf\", \".nan\"]",
		"[\" lead\", \"trail \", \"a: b\", \"a:b\", \"a #c\", \"#c\", \"- x\", \"-\", \"?\", \"? x\", \":\", \"x:\", \"---\", \"...\", \"*a\", \"&a\", \"!t\", \"%x\", \"@x\", \"`x\", \"|\", \">\", \"{a}\", \"[a]\", \"a,b\", \"'q'\", \"\\\"dq\\\"\"]",
		"[\"line1\\nline2\", \"tab\\there\", \"nul\\u0000byte\", \"bell\\u0007\", \"del\\u007f\", \"nel\\u0085\", \"ls\\u2028\", \"bom\\ufeff\", \"caf\\u00e9\", \"\\ud83d\\ude00\", \"back\\\\slash\"]",
		"{\"true\": 1, \"1\": 2, \"\": 3, \"a b\": 4, \"k: v\": 5, \"<<\": 6, \"- x\": 7, \"null\": 8}",
		"{\"spark.executor.instances\": \"2\", \"spark.executor.memory\": \"1g\", \"url\": \"http://h:18080/x?y=1&z=2\"}",
		"[[1, [2, [3, []]]], {\"a\": [{\"b\": [{}]}]}]",
		"{\"podSpec\": {\"containers\": [{\"name\": \"c\", \"args\": [\"--x\", \"1\"], \"resources\": {\"limits\": {\"cpu\": \"1\"}}}]}}",
		"[12345678901234567, -9223372036854775808, 9223372036854775807, 0.30000000000000004, 1.7976931348623157e308, 5e-324]",
		"\"multi\\nline top\"",
		/* literal blocks: breaks kept, clip/strip chomping, indented and empty lines */
		"{\"p\": \"a=1\\nb=2\\n\", \"q\": \"a\\nb\", \"r\": \"x\\n\\n  y\\n   \\nz \\n\", \"s\": \"a\\n\\n\"}",
		"[\"m\\nn\", [\"k\\n- v\\n# c\\n---\\n...\"], {\"t\": \" lead\\nx\", \"u\": \"\\nfirst empty\", \"v\": \"cr\\r\\nlf\", \"w\": \"tab\\tx\\ny\"}]",
		"{\"x\": \"caf\\u00e9\\n\\ud83d\\ude00\\n\", \"y\": \"nel\\u0085\\nx\", \"z\": \"|\\n>\\n\"}",
	};
	char longkey[300];

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_error_t jerr;
		json_t *j = json_loads(docs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

		if (j == NULL)
			fail_msg("bad test JSON %zu: %s", i, jerr.text);
		roundtrip_json(j);
		json_decref(j);
	}
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	{
		json_t *j = json_pack("{s:i, s:[s]}", longkey, 1, "b", longkey);
		roundtrip_json(j);
		json_decref(j);
	}
}

static void test_emit_shape(void **state)
{
	json_error_t jerr;
	json_t *j = json_loads("{\"a\": 1, \"b\": [\"x\", {\"c\": true, \"d\": [1, 2]}, []], \"e\": {\"f\": \"true\"}}",
			       0, &jerr);
	char *yaml = spok_json_to_yaml(j);

	(void)state;
	assert_string_equal(yaml,
			    "a: 1\n"
			    "b:\n"
			    "  - x\n"
			    "  - c: true\n"
			    "    d:\n"
			    "      - 1\n"
			    "      - 2\n"
			    "  - []\n"
			    "e:\n"
			    "  f: \"true\"\n");
	free(yaml);
	json_decref(j);
	/* multi-line text as a literal block, chomping by its final break */
	j = json_pack("{s:s, s:[s]}", "props", "a=1\nb=2\n", "args", "x\n\ny");
	yaml = spok_json_to_yaml(j);
	assert_string_equal(yaml,
			    "props: |\n"
			    "  a=1\n"
			    "  b=2\n"
			    "args:\n"
			    "  - |-\n"
			    "    x\n"
			    "\n"
			    "    y\n");
	free(yaml);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_emit_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
