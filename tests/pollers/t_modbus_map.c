/* Unit test of the pure Modbus half: value decoding (every type, word and
 * byte order, scales, markers, bits, enum maps), profile errors that name
 * the JSON path, and span planning (gaps, limits, function codes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pollers/modbus_map.h"
#include "server/log.h"

#include "../lib/check.h"

/* A profile with one entity whose only metric is the value spec given. */
static struct wt_mb_profile *one(const char *value_json, char *err, size_t errlen)
{
	char buf[2048];
	snprintf(buf, sizeof buf,
		 "{\"format\":1,\"protocol\":\"modbus\",\"name\":\"t\",\"device_type\":\"pdu\","
		 "\"entities\":[{\"kind\":\"inlet\",\"metrics\":[%s]}]}",
		 value_json);
	return wt_mb_profile_parse(buf, strlen(buf), "t.json", err, errlen);
}

static void dec(const char *spec, const uint16_t *regs, bool want_ok, double want)
{
	char err[256];
	struct wt_mb_profile *p = one(spec, err, sizeof err);
	CHECK(p != NULL, "%s: %s", spec, err);
	if (!p)
		return;
	double x = NAN;
	bool ok = wt_mb_decode(&p->entities[0].metrics[0].v, regs, &x);
	CHECK(ok == want_ok && (!ok || fabs(x - want) <= 1e-9 * fmax(1, fabs(want))),
	      "%s: got ok=%d %.12g, want ok=%d %.12g", spec, ok, x, want_ok, want);
	wt_mb_profile_free(p);
}

static void bad(const char *spec, const char *want_in_err)
{
	char err[256] = "";
	struct wt_mb_profile *p = one(spec, err, sizeof err);
	CHECK(p == NULL && strstr(err, want_in_err), "%s: want an error with \"%s\", got \"%s\"",
	      spec, want_in_err, p ? "(parsed)" : err);
	wt_mb_profile_free(p);
}

int main(void)
{
	wt_log_setup(false, "t_modbus_map", WT_LOG_ERROR);
	/* integers, word order, byte order */
	dec("{\"metric\":\"voltage\",\"addr\":0}", (uint16_t[]){2301}, true, 2301);
	dec("{\"metric\":\"voltage\",\"addr\":0,\"div\":10}", (uint16_t[]){2301}, true, 230.1);
	dec("{\"metric\":\"power_active\",\"addr\":0,\"type\":\"int16\"}", (uint16_t[]){0xFFFE},
	    true, -2);
	dec("{\"metric\":\"power_active\",\"addr\":0,\"type\":\"uint32\"}",
	    (uint16_t[]){0x0001, 0x0002}, true, 65538);
	dec("{\"metric\":\"power_active\",\"addr\":0,\"type\":\"uint32\",\"words\":\"le\"}",
	    (uint16_t[]){0x0002, 0x0001}, true, 65538);
	dec("{\"metric\":\"power_active\",\"addr\":0,\"type\":\"int32\"}",
	    (uint16_t[]){0xFFFF, 0xFFF6}, true, -10);
	dec("{\"metric\":\"power_active\",\"addr\":0,\"type\":\"uint16\",\"bytes\":\"swap\"}",
	    (uint16_t[]){0x3412}, true, 0x1234);
	/* floats: 230.5 = 0x43668000; float64 1234.5 = 0x40934A0000000000 */
	dec("{\"metric\":\"voltage\",\"addr\":0,\"type\":\"float32\"}",
	    (uint16_t[]){0x4366, 0x8000}, true, 230.5);
	dec("{\"metric\":\"voltage\",\"addr\":0,\"type\":\"float32\",\"words\":\"le\"}",
	    (uint16_t[]){0x8000, 0x4366}, true, 230.5);
	dec("{\"metric\":\"voltage\",\"addr\":0,\"type\":\"float32\",\"bytes\":\"swap\"}",
	    (uint16_t[]){0x6643, 0x0080}, true, 230.5);
	dec("{\"metric\":\"energy_active\",\"addr\":0,\"type\":\"float64\"}",
	    (uint16_t[]){0x4093, 0x4A00, 0, 0}, true, 1234.5);
	dec("{\"metric\":\"energy_active\",\"addr\":0,\"type\":\"float64\",\"words\":\"le\"}",
	    (uint16_t[]){0, 0, 0x4A00, 0x4093}, true, 1234.5);
	dec("{\"metric\":\"voltage\",\"addr\":0,\"type\":\"float32\"}", (uint16_t[]){0x7FC0, 0},
	    false, 0);
	dec("{\"metric\":\"voltage\",\"addr\":0,\"type\":\"float32\"}", (uint16_t[]){0x7F80, 0},
	    false, 0);
	/* scales: binary point, mul/add */
	dec("{\"metric\":\"battery_charge\",\"addr\":0,\"pow2\":9}", (uint16_t[]){44800}, true,
	    87.5);
	dec("{\"metric\":\"temperature\",\"addr\":0,\"type\":\"int16\",\"pow2\":7}",
	    (uint16_t[]){0xFF00}, true, -2);
	dec("{\"metric\":\"battery_runtime\",\"addr\":0,\"mul\":60}", (uint16_t[]){17}, true, 1020);
	dec("{\"metric\":\"temperature\",\"addr\":0,\"div\":10,\"add\":-40}", (uint16_t[]){650},
	    true, 25);
	/* "not available" markers and lists */
	dec("{\"metric\":\"voltage\",\"addr\":0}", (uint16_t[]){0xFFFF}, false, 0);
	dec("{\"metric\":\"voltage\",\"addr\":0,\"na\":false}", (uint16_t[]){0xFFFF}, true, 65535);
	dec("{\"metric\":\"voltage\",\"addr\":0,\"type\":\"int16\"}", (uint16_t[]){0x8000}, false,
	    0);
	dec("{\"metric\":\"voltage\",\"addr\":0,\"type\":\"uint32\"}", (uint16_t[]){0xFFFF, 0xFFFF},
	    false, 0);
	dec("{\"metric\":\"voltage\",\"addr\":0,\"type\":\"int32\"}", (uint16_t[]){0x8000, 0},
	    false, 0);
	dec("{\"metric\":\"voltage\",\"addr\":0,\"invalid\":[32767]}", (uint16_t[]){32767}, false,
	    0);
	/* bits (a status word of all ones is not a "not available" marker) */
	dec("{\"metric\":\"on_battery\",\"addr\":0,\"type\":\"uint32\",\"bit\":21}",
	    (uint16_t[]){0x0020, 0}, true, 1);
	dec("{\"metric\":\"on_battery\",\"addr\":0,\"bit\":3}", (uint16_t[]){0xFFF7}, true, 0);
	dec("{\"metric\":\"on_battery\",\"addr\":0,\"bit\":3}", (uint16_t[]){0xFFFF}, true, 1);
	dec("{\"metric\":\"on_battery\",\"addr\":0,\"bit\":0,\"invert\":true}", (uint16_t[]){1},
	    true, 0);
	/* enum maps */
	dec("{\"metric\":\"outlet_state\",\"addr\":0,\"map\":{\"1\":0,\"2\":1}}", (uint16_t[]){2},
	    true, 1);
	dec("{\"metric\":\"outlet_state\",\"addr\":0,\"map\":{\"1\":0,\"2\":1}}", (uint16_t[]){3},
	    false, 0);
	dec("{\"metric\":\"outlet_state\",\"addr\":0,\"map\":{\"0x10\":1}}", (uint16_t[]){16}, true,
	    1);

	/* strings: NUL/space trimmed, low byte first with swap */
	{
		char err[256], s[64];
		static const char txt[] =
			"{\"format\":1,\"protocol\":\"modbus\",\"name\":\"s\",\"device_type\":\"ups\","
			"\"identity\":{\"serial\":{\"addr\":0,\"type\":\"string\",\"len\":3,\"bytes\":\"swap\"},"
			"\"model\":{\"addr\":0,\"type\":\"string\",\"len\":3}},"
			"\"entities\":[{\"kind\":\"total\",\"index\":0,\"metrics\":[{\"metric\":\"load_percent\",\"addr\":9}]}]}";
		struct wt_mb_profile *p = wt_mb_profile_parse(txt, strlen(txt), "s.json", err,
							      sizeof err);
		CHECK(p != NULL, "string profile: %s", err);
		if (p) {
			wt_mb_decode_str(&p->ident[WT_ID_SERIAL], (uint16_t[]){0x4241, 0x0043, 0},
					 s, sizeof s);
			CHECK(strcmp(s, "ABC") == 0, "low byte first: \"%s\"", s);
			wt_mb_decode_str(&p->ident[WT_ID_MODEL],
					 (uint16_t[]){0x4142, 0x4320, 0x2020}, s, sizeof s);
			CHECK(strcmp(s, "ABC") == 0, "spaces trimmed: \"%s\"", s);
			wt_mb_decode_str(&p->ident[WT_ID_MODEL], (uint16_t[]){0x41FF, 0x0A42, 0}, s,
					 sizeof s);
			CHECK(strcmp(s, "AB") == 0, "non-printables dropped: \"%s\"", s);
			wt_mb_profile_free(p);
		}
	}

	/* errors name what is wrong */
	bad("{\"metric\":\"voltag\",\"addr\":0}", "unknown metric");
	bad("{\"metric\":\"voltage\",\"addr\":0,\"typo\":1}", "unknown key \"typo\"");
	bad("{\"metric\":\"voltage\",\"addr\":70000}", "addr");
	bad("{\"metric\":\"voltage\"}", "exactly one of \"addr\" or \"offset\"");
	bad("{\"metric\":\"voltage\",\"offset\":3}", "\"offset\" only inside an entity");
	bad("{\"metric\":\"voltage\",\"addr\":0,\"div\":0}", "must not be 0");
	bad("{\"metric\":\"voltage\",\"addr\":0,\"pow2\":3,\"div\":2}", "exclude");
	bad("{\"metric\":\"voltage\",\"addr\":0,\"type\":\"float32\",\"bit\":1}", "integer type");
	bad("{\"metric\":\"voltage\",\"addr\":0,\"fc\":5}", "fc");
	bad("{\"metric\":\"voltage\",\"addr\":0,\"type\":\"string\",\"len\":2}",
	    "cannot be a string");

	/* span planning */
	{
		struct wt_mb_need n[] = {{4, 1000, 1}, {4, 1001, 2}, {3, 0, 1}, {4, 1010, 1},
					 {4, 1119, 2}, {4, 1130, 1}, {3, 5, 8}};
		struct wt_mb_span s[8];
		size_t k = wt_mb_plan(n, 7, 120, 8, s);
		/* FC3 0..12 in one read; FC4 1000..1010 in one (gap 8 swallowed) */
		CHECK(k == 4, "spans: %zu", k);
		CHECK(s[0].fc == 3 && s[0].addr == 0 && s[0].count == 13, "fc3 span %d+%d",
		      s[0].addr, s[0].count);
		CHECK(s[1].fc == 4 && s[1].addr == 1000 && s[1].count == 11, "fc4 span 1 %d+%d",
		      s[1].addr, s[1].count);
		CHECK(s[2].addr == 1119 && s[2].count == 2, "a gap of 108 is not swallowed: %d+%d",
		      s[2].addr, s[2].count);
		CHECK(s[3].addr == 1130 && s[3].count == 1, "gap of 9 > max_gap 8: %d+%d",
		      s[3].addr, s[3].count);
		struct wt_mb_need m[130];
		for (int i = 0; i < 130; i++)
			m[i] = (struct wt_mb_need){4, i * 2, 2};
		struct wt_mb_span big[130];
		k = wt_mb_plan(m, 130, 125, 8, big);
		CHECK(k == 3 && big[0].count <= 125 && big[2].addr + big[2].count == 260,
		      "260 registers in spans of at most 125: %zu", k);
		k = wt_mb_plan(m, 130, 16, 0, big);
		bool within = true;
		for (size_t i = 0; i < k; i++)
			within = within && big[i].count <= 16;
		CHECK(k == 17 && within, "max_registers 16: %zu spans", k);
	}
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
