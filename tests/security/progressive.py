#!/usr/bin/env python3
"""progressive.py - writes a grey progressive JPEG with many scans (issue 19, point 2).

usage: progressive.py OUT WIDTH HEIGHT AC_SCANS

A DC scan, then AC_SCANS one-coefficient AC scans (spectral selection k..k, k cycling 1..63).
Every coefficient is zero, so each AC scan is a few end-of-band runs (EOBn codes covering up
to 32767 blocks each): an 8192x6144 image with 500 scans is about 140 KB, yet a decoder must
walk all 786,432 blocks once per scan. Standard library only.
"""
import struct
import sys


def segment(marker, payload):
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


class Bits:
    def __init__(self):
        self.bits = []

    def put(self, value, n):
        self.bits.extend((value >> (n - 1 - i)) & 1 for i in range(n))

    def bytes(self):
        bits = self.bits + [1] * (-len(self.bits) % 8)  # pad with ones
        out = bytearray()
        for i in range(0, len(bits), 8):
            b = int("".join(map(str, bits[i : i + 8])), 2)
            out += bytes([b, 0]) if b == 0xFF else bytes([b])  # byte stuffing
        return bytes(out)


def main():
    out, w, h, scans = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    blocks = ((w + 7) // 8) * ((h + 7) // 8)
    jpg = bytearray(b"\xff\xd8")
    jpg += segment(0xDB, bytes([0]) + bytes([1] * 64))
    jpg += segment(0xC2, struct.pack(">BHHB", 8, h, w, 1) + bytes([1, 0x11, 0]))
    # DC: category 0 only, code "0". AC: EOB0..EOB14 (symbols 0x00..0xE0), 4-bit codes 0..14.
    jpg += segment(0xC4, bytes([0x00, 1] + [0] * 15 + [0]))
    jpg += segment(0xC4, bytes([0x10, 0, 0, 0, 15] + [0] * 12) + bytes(n << 4 for n in range(15)))
    jpg += segment(0xDA, bytes([1, 1, 0x00, 0, 0, 0]))
    dc = bytes(blocks // 8)  # a "0" per block
    if blocks % 8:
        dc += bytes([(1 << (8 - blocks % 8)) - 1])
    jpg += dc
    for i in range(scans):
        k = 1 + i % 63
        jpg += segment(0xDA, bytes([1, 1, 0x00, k, k, 0]))
        bits, left = Bits(), blocks
        while left:
            run = min(left, 32767)
            n = run.bit_length() - 1
            bits.put(n, 4)
            if n:
                bits.put(run - (1 << n), n)
            left -= run
        jpg += bits.bytes()
    jpg += b"\xff\xd9"
    open(out, "wb").write(jpg)


main()
