#!/usr/bin/env python3
"""Regenerates tests/fixtures/geo/redis.txt: what redis-server answers to GEO
commands over a seeded set of points, for the unit tests of src/cmd/geo/.

Usage: scripts/gen_geo_fixtures.py [port]   (default 6390; the script starts
redis-server on that port, without persistence, and shuts it down at the end).

The points (uniform over the globe, clusters of every spread from metres to
hundreds of kilometres, the coordinate limits, cell boundaries, duplicated
positions) go into one sorted set; the file then records, one fact a line,
tab-separated:

  P name lon lat zscore geopos_lon geopos_lat geohash     one per point
  D a b unit reply                                       GEODIST
  E lon lat error                                        GEOADD of a bad pair
  S id FROMLONLAT lon lat | FROMMEMBER m, BYRADIUS r unit | BYBOX w h unit
  U id member dist hash lon lat                          unsorted results, in order
  A id member ...                                        ASC order
  Z id member ...                                        DESC order

Nothing here depends on ringkv: rerun it against another Redis 7.0 to check
that the fixture still holds.
"""

import os
import random
import socket
import subprocess
import sys
import time

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 6390
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "geo", "redis.txt")
LAT_MAX = 85.05112878
KEY = "pts"


class Conn:
    """A minimal RESP2 client: sends commands, reads replies as Python values
    (bulk strings stay bytes, errors come back as ('ERR', text))."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _fill(self):
        data = self.s.recv(1 << 16)
        if not data:
            raise ConnectionError("redis-server closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return ("ERR", rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ValueError(line)

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self._reply()


def points(rng):
    """(lon, lat) pairs as the argument strings GEOADD is sent."""
    pts = []
    # The limits and the origin.
    for lon in (-180, 0, 180):
        for lat in (-LAT_MAX, 0, LAT_MAX):
            pts.append((lon, lat))
    pts += [(179.9999999, 85.0511), (-179.9999999, -85.0511), (1e-9, -1e-9), (-0.0, 0.0)]
    # Cell boundaries of several steps, and just either side of them.
    for step in (1, 2, 3, 5, 8, 13, 20, 26):
        for _ in range(3):
            k = rng.randrange(1 << step)
            lon = k * 360.0 / (1 << step) - 180
            lat = k * 2 * LAT_MAX / (1 << step) - LAT_MAX
            for d in (0.0, 1e-7, -1e-7):
                pts.append((min(180, max(-180, lon + d)), min(LAT_MAX, max(-LAT_MAX, lat + d))))
    # Uniform over the globe.
    for _ in range(400):
        pts.append((rng.uniform(-180, 180), rng.uniform(-LAT_MAX, LAT_MAX)))
    # Clusters: spreads from a metre to a few hundred kilometres (in degrees).
    for cx, cy in CLUSTERS:
        for spread in (1e-5, 1e-3, 1e-1, 2.0):
            for _ in range(30):
                lon = min(180, max(-180, cx + rng.gauss(0, spread)))
                lat = min(LAT_MAX, max(-LAT_MAX, cy + rng.gauss(0, spread)))
                pts.append((lon, lat))
    # Rings round both poles, where the searches' bounding boxes are least exact.
    for _ in range(60):
        pts.append((rng.uniform(-180, 180), rng.uniform(84, LAT_MAX)))
        pts.append((rng.uniform(-180, 180), rng.uniform(-LAT_MAX, -84)))
    # Duplicated positions (ties in distance).
    for i in range(0, 40, 4):
        pts.append(pts[i * 7 % len(pts)])
    return pts


CLUSTERS = [(13.361389, 38.115556), (-122.4194, 37.7749), (0.0, 0.0), (179.5, -10.0),
            (-179.9, 60.0), (30.0, 84.9), (-60.0, -84.5), (2.3522, 48.8566)]
UNITS = ["m", "km", "mi", "ft"]
FACTOR = {"m": 1.0, "km": 1000.0, "mi": 1609.34, "ft": 0.3048}


def searches(rng, names):
    """GEOSEARCH argument lists (after the key, before WITH*/order)."""
    out = []
    centers = list(CLUSTERS) + [(180, 0), (-180, LAT_MAX), (0, -LAT_MAX), (90, 45)]
    for i in range(300):
        if i % 10 == 0:
            origin = ["FROMMEMBER", rng.choice(names)]
        else:
            if rng.random() < 0.7:
                cx, cy = rng.choice(centers)
                cx = min(180, max(-180, cx + rng.gauss(0, 0.5 * rng.random())))
                cy = min(LAT_MAX, max(-LAT_MAX, cy + rng.gauss(0, 0.5 * rng.random())))
            else:
                cx, cy = rng.uniform(-180, 180), rng.uniform(-LAT_MAX, LAT_MAX)
            origin = ["FROMLONLAT", repr(cx), repr(cy)]
        unit = rng.choice(UNITS)
        # Radii from a metre to the whole planet, log-uniform, most of them small
        # enough to keep the fixture short.
        metres = 10 ** rng.uniform(0, 5.5) if rng.random() < 0.85 else 10 ** rng.uniform(5.5, 7.4)
        r = metres / FACTOR[unit]
        if i % 2 == 0:
            out.append(origin + ["BYRADIUS", "%.6g" % r, unit])
        else:
            w = r * rng.uniform(0.2, 2.5)
            h = r * rng.uniform(0.2, 2.5)
            out.append(origin + ["BYBOX", "%.6g" % w, "%.6g" % h, unit])
    # Near the poles, with radii that reach round them.
    for i in range(30):
        lat = rng.uniform(82, LAT_MAX) * (1 if i % 2 else -1)
        origin = ["FROMLONLAT", repr(rng.uniform(-180, 180)), repr(lat)]
        r = "%.6g" % rng.uniform(100, 1500)
        if i % 3 == 0:
            out.append(origin + ["BYBOX", r, "%.6g" % rng.uniform(100, 1500), "km"])
        else:
            out.append(origin + ["BYRADIUS", r, "km"])
    out.append(["FROMLONLAT", "0", "0", "BYRADIUS", "0", "m"])
    out.append(["FROMLONLAT", "0", "0", "BYBOX", "0", "0", "km"])
    out.append(["FROMLONLAT", "13.361389", "38.115556", "BYRADIUS", "inf", "km"])
    out.append(["FROMLONLAT", "-179.99", "0.5", "BYBOX", "500", "300", "km"])
    return out


def main():
    subprocess.run(["redis-server", "--port", str(PORT), "--save", "", "--appendonly", "no",
                    "--daemonize", "yes"], check=True)
    for _ in range(100):
        try:
            c = Conn(PORT)
            c.call("PING")
            break
        except OSError:
            time.sleep(0.05)
    rng = random.Random(20240607)
    c.call("FLUSHALL")
    lines = []
    pts = points(rng)
    names = []
    for i, (lon, lat) in enumerate(pts):
        name = "p%d" % i
        names.append(name)
        lon_s, lat_s = repr(float(lon)), repr(float(lat))
        assert c.call("GEOADD", KEY, lon_s, lat_s, name) == 1
        score = c.call("ZSCORE", KEY, name).decode()
        pos = c.call("GEOPOS", KEY, name)[0]
        gh = c.call("GEOHASH", KEY, name)[0].decode()
        lines.append("\t".join(["P", name, lon_s, lat_s, score, pos[0].decode(), pos[1].decode(), gh]))
    for _ in range(400):
        a, b = rng.choice(names), rng.choice(names)
        unit = rng.choice(UNITS + ["M", "Km"])
        d = c.call("GEODIST", KEY, a, b, unit).decode()
        lines.append("\t".join(["D", a, b, unit, d]))
    bad = [("180.0000001", "0"), ("-180.5", "10"), ("0", "85.05112879"), ("0", "-85.0511288"),
           ("200", "0.0078125"), ("inf", "1"), ("-inf", "-inf"), ("1e300", "0"), ("0", "-1e-300"),
           ("-0.0", "100"), ("123.4567895", "91"), ("0.0000005", "-90")]
    for lon, lat in bad:
        err = c.call("GEOADD", "badkey", lon, lat, "x")
        if isinstance(err, tuple) and err[1].startswith("ERR invalid"):
            lines.append("\t".join(["E", lon, lat, err[1]]))
    for sid, args in enumerate(searches(rng, names)):
        res = c.call("GEOSEARCH", KEY, *args, "WITHDIST", "WITHHASH", "WITHCOORD")
        asc = c.call("GEOSEARCH", KEY, *args, "ASC")
        desc = c.call("GEOSEARCH", KEY, *args, "DESC")
        lines.append("\t".join(["S", str(sid)] + args))
        for m, dist, h, (lon, lat) in res:
            lines.append("\t".join(["U", str(sid), m.decode(), dist.decode(), str(h),
                                    lon.decode(), lat.decode()]))
        lines.append("\t".join(["A", str(sid)] + [m.decode() for m in asc]))
        lines.append("\t".join(["Z", str(sid)] + [m.decode() for m in desc]))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    # SHUTDOWN closes the connection without a reply.
    c.s.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
    print("wrote %d lines to %s" % (len(lines), os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
