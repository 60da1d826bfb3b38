/* unit.h - minimal assertion counting for the core unit tests. */
#ifndef UNIT_H
#define UNIT_H
#include <stdio.h>

extern int unit_passed, unit_failed;

#define CHECK(cond, ...) do { \
	if (cond) unit_passed++; \
	else { unit_failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } \
} while (0)

#endif
