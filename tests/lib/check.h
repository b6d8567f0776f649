/* The CHECK of the C unit tests: counts every check, and for one that fails
 * prints "FAIL file:line: message" on stdout and counts it, without stopping,
 * so one run reports every failure. Include it once, in the test's .c file
 * ("../lib/check.h" from a tests/<layer>/ folder); main() prints the counts
 * and returns failures != 0. */
#ifndef WT_TESTS_CHECK_H
#define WT_TESTS_CHECK_H

#include <stdio.h>

static int checks __attribute__((unused));   /* CHECKs evaluated */
static int failures __attribute__((unused)); /* CHECKs that failed */

#define CHECK(cond, ...)                                            \
	do {                                                        \
		checks++;                                           \
		if (!(cond)) {                                      \
			failures++;                                 \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__);                        \
			printf("\n");                               \
		}                                                   \
	} while (0)

#endif
