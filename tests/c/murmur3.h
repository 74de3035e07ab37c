/*
 * murmur3.h: MurmurHash3 x86 32-bit, after the reference implementation
 * (Austin Appleby, public domain), for the C tests that recompute the
 * library's documented bucketing independently of it. Header-only; every
 * function is `static inline`, so a program that uses a part only compiles
 * cleanly under -Wall -Werror.
 */
#ifndef CHA_TEST_MURMUR3_H
#define CHA_TEST_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t murmur3_rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

/* MurmurHash3_x86_32 of `len` bytes at `data` with `seed`. */
static inline uint32_t murmur3_32(const unsigned char *data, size_t len, uint32_t seed) {
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h = seed;
    size_t blocks = len / 4;
    for (size_t i = 0; i < blocks; i++) {
        uint32_t k = (uint32_t)data[4 * i] | (uint32_t)data[4 * i + 1] << 8 |
                     (uint32_t)data[4 * i + 2] << 16 | (uint32_t)data[4 * i + 3] << 24;
        k *= c1;
        k = murmur3_rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = murmur3_rotl32(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    const unsigned char *tail = data + blocks * 4;
    uint32_t k = 0;
    switch (len & 3) {
    case 3:
        k ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k ^= tail[0];
        k *= c1;
        k = murmur3_rotl32(k, 15);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

#endif /* CHA_TEST_MURMUR3_H */
