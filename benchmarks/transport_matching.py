"""Benchmark (issue 19 item 5): nearest-facility matching for 20,000 patients × 2,000 facilities,
today's grid prefilter (``baseline/grid_matching.py``, a frozen copy of the code before the change)
against the KD-tree (``outages.matching.Matcher``: per patient, and the vectorised ``assign_many`` the
proposer uses), in the same process and run. Pure: no database.

Two scenarios: beds never run out (pure nearest search), and the synthetic beds (0–5 per hospital),
where each assignment takes a bed so later patients go further. Answers are compared patient by
patient (facility and km) between the old and new code, and on a sample against the brute force
(geodesic to every facility). The machine's load average is recorded with the figures.

    .venv/bin/python benchmarks/transport_matching.py [--patients 20000] [--repeat 1]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from baseline.grid_matching import FacilityInfo as OldInfo, Matcher as OldMatcher  # noqa: E402
from outages_matching import write_section  # noqa: E402
from synthetic import generate  # noqa: E402

from bcp_service.geo.nearest import Located, nearest_naive  # noqa: E402
from bcp_service.outages.matching import FacilityInfo, Matcher, Person  # noqa: E402

RESULTS = HERE / "results" / "outages.md"


def facilities(world, cls, *, endless: bool):
    return [cls(id=i, name=f["name"], lat=f["lat"], lon=f["lon"], has_generator=f["has_generator"],
                power_supply_point=f["power_supply_point"], accepts_ventilator=f["accepts_ventilator"],
                ventilator_beds=(10_000 if f["accepts_ventilator"] else 0) if endless else f["ventilator_beds"])
            for i, f in enumerate(world.facilities)]


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def ids(matches):
    return [(m.facility_id, m.km) if m else None for m in matches]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--sample", type=int, default=30)
    args = ap.parse_args()
    load = os.getloadavg()
    world = generate()
    codes, _ = world.codes_for(args.patients)
    affected = [p for p in world.patients if p["municipality_code"] in set(codes)][:args.patients]
    people = [Person(p["lat"], p["lon"]) for p in affected]
    lines = [f"## Transport matching (issue 19) — {len(affected):,} patients × {len(world.facilities):,} facilities",
             "", f"- load average at start: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min; "
             f"2 cores shared); median of {args.repeat} run(s)", "",
             "| scenario | today: grid, per patient | KD-tree, per patient | KD-tree, `assign_many` | same answers |",
             "|---|---:|---:|---:|---|"]
    for label, endless in (("nearest only (beds never run out)", True), ("synthetic beds (assign, beds fill)", False)):
        t_old, old = timed(lambda: _old_run(world, people, endless), args.repeat)
        t_one, one = timed(lambda: _new_one_by_one(world, people, endless), args.repeat)
        t_many, many = timed(lambda: Matcher(facilities(world, FacilityInfo, endless=endless)).assign_many(people),
                             args.repeat)
        same = ids(old) == ids(one) == ids(many)
        lines.append(f"| {label} | {t_old:.3f} s ({t_old / len(people) * 1e6:.0f} µs) | {t_one:.3f} s "
                     f"({t_one / len(people) * 1e6:.0f} µs) | **{t_many:.3f} s** ({t_many / len(people) * 1e6:.0f} µs) "
                     f"| {'yes' if same else 'NO'} ({len(people):,} compared) |")
    facs = facilities(world, FacilityInfo, endless=True)
    located = [Located(f.lat, f.lon, f) for f in facs]
    rng = random.Random(3)
    sample = rng.sample(range(len(people)), min(args.sample, len(people)))
    matcher = Matcher(facs)
    agree = sum(nearest_naive(people[i].lat, people[i].lon, located, k=1, accept=lambda f: f.can_receive)[0].item.id
                == matcher.transport_target(people[i].lat, people[i].lon).facility_id for i in sample)
    lines += ["", f"- brute force (geodesic to every facility) agrees on {agree}/{len(sample)} sampled patients",
              "- old and new are compared facility and km for every patient, in both scenarios", ""]
    text = "\n".join(lines)
    write_section(RESULTS, "transport-matching", text)
    print(text)


def _old_run(world, people, endless):
    m = OldMatcher(facilities(world, OldInfo, endless=endless))
    return [m.assign(p.lat, p.lon) for p in people]


def _new_one_by_one(world, people, endless):
    m = Matcher(facilities(world, FacilityInfo, endless=endless))
    return [m.assign(p.lat, p.lon) for p in people]


if __name__ == "__main__":
    main()
