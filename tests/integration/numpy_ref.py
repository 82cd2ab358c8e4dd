"""Pure-Python reference of numpy.random.default_rng(seed).random(n) for a u32
seed (SeedSequence -> PCG64 XSL-RR -> 53-bit doubles), written from NumPy's
algorithm description, used to check the server's mock vectors bit for bit
without NumPy on the machine. Its own correctness is pinned by the golden
values of DESIGN.md (checked in test_quickstart)."""
import struct

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1
M128 = (1 << 128) - 1
MULT = 0x2360ED051FC65DA44385DF649FCCF645


def _seed_state(seed):
    hc = [0x43B0D7E5]

    def hashmix(v):
        v ^= hc[0]
        hc[0] = (hc[0] * 0x931E8875) & M32
        v = (v * hc[0]) & M32
        return v ^ (v >> 16)

    def mix(x, y):
        r = (0xCA01F9DD * x - 0x4973F715 * y) & M32
        return r ^ (r >> 16)

    pool = [hashmix(seed if i == 0 else 0) for i in range(4)]
    for s in range(4):
        for d in range(4):
            if s != d:
                pool[d] = mix(pool[d], hashmix(pool[s]))
    hb = 0x8B51F9DD
    words = []
    for i in range(8):
        v = pool[i % 4] ^ hb
        hb = (hb * 0x58F38DED) & M32
        v = (v * hb) & M32
        words.append(v ^ (v >> 16))
    return [words[2 * k] | (words[2 * k + 1] << 32) for k in range(4)]


def random_f32(seed, n):
    u = _seed_state(seed)
    inc = ((((u[2] << 64) | u[3]) << 1) | 1) & M128
    state = 0
    state = (state * MULT + inc) & M128
    state = (state + ((u[0] << 64) | u[1])) & M128
    state = (state * MULT + inc) & M128
    out = []
    for _ in range(n):
        state = (state * MULT + inc) & M128
        hi, lo = state >> 64, state & M64
        rot = state >> 122
        x = hi ^ lo
        r = ((x >> rot) | (x << ((64 - rot) & 63))) & M64
        d = (r >> 11) * (1.0 / 9007199254740992.0)
        out.append(struct.unpack("<f", struct.pack("<f", d))[0])
    return out


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def normalized_f32(v):
    """v / |v| in double, rounded to float32: what a Cosine collection stores."""
    n = sum(x * x for x in v) ** 0.5
    return [struct.unpack("<f", struct.pack("<f", x / n))[0] for x in v]


def close_f32(got, want, tol=2e-7):
    return len(got) == len(want) and all(abs(a - b) <= tol for a, b in zip(got, want))
