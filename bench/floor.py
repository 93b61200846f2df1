#!/usr/bin/env python3
"""How small any lossless store of `obsq generate`'s skill lines can be, per shape.

A skill line shows in full the outcome of the random draws that made it (`Chunk::skill`,
`params_value`, `spread` and `run` in src/generate.rs): the skill (Zipf, 40 skills, s = 1.1), the
agent, the result, the duration, ids, numbers, words, paths and 128-bit hex ids. Their entropy
summed is a lower bound on the bits per line any lossless encoding needs on average (Shannon's
source coding theorem). Error texts are left out, so the bound is low, never high.

Prints, per shape, that floor in bytes per line beside the size `bench/compare.py --only ingest`
allows (1/12 of the line) and the best stored ratio the floor permits. The line lengths are the
generator's (measured on `skill-only-<shape>` of `bench/compare.py`, seed 42). Update this file
with src/generate.rs when the generator's draws change.

Usage: python3 bench/floor.py
"""
import math

L2 = math.log2


def H(*ps):
    """Entropy in bits of a distribution."""
    return -sum(p * L2(p) for p in ps if p > 0)


def present(p_absent, bits):
    """A field left out with probability `p_absent` (`--absent`): its presence and its value."""
    return (1 - p_absent) * bits + H(p_absent, 1 - p_absent)


SKILLS = 40
zipf = [k ** -1.1 for k in range(1, SKILLS + 1)]
zipf = [x / sum(zipf) for x in zipf]
p_fail = [0.05 + (k % 5) * 0.02 for k in range(SKILLS)]
FAIL = sum(z * p for z, p in zip(zipf, p_fail))
WORD = L2(24)
PATH = L2(5) + 2 * WORD + L2(5000) + L2(6)  # dir, two words, a number, an extension


def duration(decimals):
    """Log-normal (sigma 0.9, median 80 + 40 * (k % 7) ms) rounded to `decimals`; 1 % of values
    ten times larger (the mixture's entropy is at least the mean of its parts')."""
    bits = 0.0
    for k in range(SKILLS):
        mu = math.log(80 + 40 * (k % 7))
        h = L2(0.9 * math.exp(mu + 0.5) * math.sqrt(2 * math.pi))  # differential entropy
        bits += zipf[k] * (h + decimals * L2(10) + 0.01 * L2(10))
    return bits


# params of high cardinality: one of four kinds, each of its own draws.
KINDS = [
    PATH + L2(3999),  # path, line
    L2(5) + 4 * WORD + L2(19) + L2(3) + L2(364),  # query of 2-6 words, limit, lang, since_days
    L2(6) + 3.5 * PATH + 1,  # 1-6 files, recursive
    128 + L2(8) + WORD + L2(4) + L2(150),  # 128-bit id, depth, exclude word, retries, temperature
]
PARAMS_KIND = L2(4) + sum(KINDS) / 4
PARAMS_HIGH = H(0.4, 0.6) + 0.6 * PARAMS_KIND  # 40 % empty
PARAMS_UNIQUE = PARAMS_KIND + 128  # never empty, and a 128-bit request id (`seq` is the line no.)
# metadata of high cardinality: memory (2 decimals of 0-64), cpu ms, host, 128-bit trace id,
# 0-3 tags of 24 words.
METADATA = L2(6400) + L2(1999) + L2(500) + 128 + L2(4) + 1.5 * WORD


def line_bits(params, metadata, decimals, absent=0.0):
    skill = H(*zipf)
    fail = sum(z * H(p, 1 - p) for z, p in zip(zipf, p_fail))
    cache = (1 - FAIL) * H(0.3, 0.7)
    cuj = H(0.7, 0.3) + 0.7 * L2(60)
    jitter = L2(200)  # timestamps: an even spread plus 0-199 ms
    fields = [params, duration(decimals), cache, L2(3), L2(50_000), cuj]  # agent: 3 per skill
    bits = skill + fail + jitter + sum(present(absent, f) for f in fields)
    bits += (1 - FAIL) * H(absent, 1 - absent)  # `"error":null` or left out
    return bits + (present(absent, metadata) if metadata else 0.0)


SHAPES = [
    # shape, bytes per line (with its newline), bits
    ("objects", 449.28, line_bits(PARAMS_HIGH, METADATA, 2)),
    ("unique", 563.82, line_bits(PARAMS_UNIQUE, METADATA, 2)),
    ("foreign", 272.09, line_bits(PARAMS_HIGH, None, 3, absent=0.1)),
]

if __name__ == "__main__":
    print("shape     line B  floor B/line  1/12 allows  best ratio possible")
    for name, size, bits in SHAPES:
        floor = bits / 8
        verdict = "" if floor <= size / 12 else "  (1/12 is below the floor: out of reach)"
        print(f"{name:8s} {size:7.1f} {floor:13.1f} {size / 12:12.1f}  1/{size / floor:.1f}{verdict}")
