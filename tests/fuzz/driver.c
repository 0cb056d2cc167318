/* Stand-in for libFuzzer when the compiler is not clang: replays every file of a seed
 * corpus directory, then a fixed number of deterministic mutations of those seeds (bit
 * flips, truncations, byte insertions, splices). Run under ASan/UBSan by the test suite, it
 * catches the crashes and overreads a fuzzer would find first. Usage: fuzz_X CORPUS_DIR [N]. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEDS 256
#define DRIVER_MAX_INPUT 65536

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
	/* xorshift64*: deterministic, so a failure reproduces with the same arguments. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
	int rounds = 1 + (int)(rng_next() % 4);
	for (int i = 0; i < rounds; i++) {
		switch (rng_next() % 6) {
		case 0: /* flip a bit */
			if (len)
				buf[rng_next() % len] ^= (uint8_t)(1u << (rng_next() % 8));
			break;
		case 1: /* random byte */
			if (len)
				buf[rng_next() % len] = (uint8_t)rng_next();
			break;
		case 2: /* truncate */
			if (len)
				len = rng_next() % len;
			break;
		case 3: /* insert a byte */
			if (len < cap) {
				size_t at = len ? rng_next() % (len + 1) : 0;
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = (uint8_t)rng_next();
				len++;
			}
			break;
		case 4: /* interesting values at a random place */
			if (len >= 2) {
				static const uint8_t vals[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe};
				size_t at = rng_next() % (len - 1);
				buf[at] = vals[rng_next() % sizeof vals];
				buf[at + 1] = vals[rng_next() % sizeof vals];
			}
			break;
		default: /* duplicate a chunk */
			if (len && len < cap) {
				size_t from = rng_next() % len;
				size_t n = 1 + rng_next() % (len - from);
				if (n > cap - len)
					n = cap - len;
				memmove(buf + len, buf + from, n);
				len += n;
			}
			break;
		}
	}
	return len;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS]\n", argv[0]);
		return 2;
	}
	long mutations = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
	static uint8_t seeds[MAX_SEEDS][DRIVER_MAX_INPUT];
	static size_t seed_len[MAX_SEEDS];
	int n = 0;
	DIR *dir = opendir(argv[1]);
	if (!dir) {
		perror(argv[1]);
		return 2;
	}
	struct dirent *e;
	while ((e = readdir(dir)) && n < MAX_SEEDS) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		seed_len[n] = fread(seeds[n], 1, DRIVER_MAX_INPUT, f);
		fclose(f);
		LLVMFuzzerTestOneInput(seeds[n], seed_len[n]);
		n++;
	}
	closedir(dir);
	if (n == 0) {
		fprintf(stderr, "no seeds in %s\n", argv[1]);
		return 2;
	}
	static uint8_t buf[DRIVER_MAX_INPUT];
	for (long i = 0; i < mutations; i++) {
		int s = (int)(rng_next() % (uint64_t)n);
		size_t len = seed_len[s];
		memcpy(buf, seeds[s], len);
		len = mutate(buf, len, sizeof buf);
		/* Copy to an exact-size heap block so ASan sees reads past the end. */
		uint8_t *exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	printf("fuzz: %d seeds, %ld mutations, no crash\n", n, mutations);
	return 0;
}
