/*
 * fuzz.h: what every libFuzzer harness in tests/fuzz/ shares.
 *
 * A harness is tests/fuzz/fuzz_NAME.c with LLVMFuzzerTestOneInput() (and
 * optionally LLVMFuzzerInitialize()); the Makefile builds it as
 * build/fuzz/fuzz_NAME against the library's objects built with
 * -fsanitize=fuzzer-no-link,address,undefined. Its seed corpus is
 * tests/fuzz/corpus/NAME/. Besides the sanitizers, a harness states its
 * oracle with FUZZ_CHECK(): a false condition prints what failed and aborts,
 * which libFuzzer reports as a crash with the input saved.
 */
#ifndef OPS_FUZZ_H
#define OPS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: oracle failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} \
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
