#!/usr/bin/env python3
"""Write a seeded CSV for the profiling benchmark: mixed numeric, text,
dates and lat/long columns, some values missing.

Usage: gen_profile_csv.py OUT BYTES [SEED]
"""
import random
import sys

out, target = sys.argv[1], int(sys.argv[2])
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
cities = ["city%03d" % i for i in range(400)]
words = ("the of and to in is was for on are with as his they be at one have this from or had by "
         "word but what some we can out other were all there when up use your how said an each she").split()
header = "id,category,city,amount,quantity,day,ts,latitude,longitude,comment,flag\n"
with open(out, "w", newline="") as f:
    f.write(header)
    written = len(header)
    row = 0
    block = []
    while written < target:
        row += 1
        day = 1 + rng.randrange(28)
        month = 1 + rng.randrange(12)
        amount = "" if rng.random() < 0.02 else "%.2f" % rng.uniform(-500, 5000)
        line = "%d,%s,%s,%s,%d,2021-%02d-%02d,2021-%02d-%02d %02d:%02d:%02d,%.5f,%.5f,%s,%s\n" % (
            row, rng.choice(names), rng.choice(cities), amount, rng.randrange(1000),
            month, day, month, day, rng.randrange(24), rng.randrange(60), rng.randrange(60),
            rng.uniform(40.5, 41.0), rng.uniform(-74.3, -73.7),
            " ".join(rng.choice(words) for _ in range(rng.randrange(2, 9))),
            "true" if rng.random() < 0.5 else "false")
        block.append(line)
        written += len(line)
        if len(block) == 10000:
            f.write("".join(block))
            block = []
    f.write("".join(block))
