"""Benchmark: facility matching at national scale (pure, no database).

20,000 affected patients (東京・神奈川 of the synthetic 50,000) matched to the nearest of 2,000
facilities that can receive a ventilated patient — grid prefilter + geodesic on a few candidates
(``outages.matching.Matcher``) against the naive all-pairs geodesic baseline, in the same process.

The naive baseline needs ~2,000 geodesics per patient (≈0.2 s each), i.e. over an hour for 20,000,
so it is timed on a random sample and reported per patient; the ratio is per-patient median time.
Results are written to ``benchmarks/results/outages.md`` (section "matching").

    .venv/bin/python benchmarks/outages_matching.py [--sample 40] [--repeat 3]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import generate  # noqa: E402

from bcp_service.geo.nearest import Located, nearest_naive  # noqa: E402
from bcp_service.outages.matching import FacilityInfo, Matcher  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "outages.md"


def facilities(world) -> list[FacilityInfo]:
    return [FacilityInfo(id=i, name=f["name"], lat=f["lat"], lon=f["lon"], has_generator=f["has_generator"],
                         power_supply_point=f["power_supply_point"], accepts_ventilator=f["accepts_ventilator"],
                         ventilator_beds=10_000 if f["accepts_ventilator"] else 0)   # beds never run out here:
            for i, f in enumerate(world.facilities)]                                   # pure nearest search


def run_grid(patients, facs) -> tuple[float, list]:
    t0 = time.perf_counter()
    m = Matcher(facs)
    out = [m.transport_target(p["lat"], p["lon"]) for p in patients]
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    world = generate()
    codes, _ = world.codes_for(20_000)
    codes = set(codes)
    affected = [p for p in world.patients if p["municipality_code"] in codes]
    facs = facilities(world)
    lines = [f"## Facility matching — {len(affected):,} patients × {len(facs):,} facilities", ""]

    # Linear growth: grid cost at 5k / 10k / 20k patients.
    sizes = [5_000, 10_000, len(affected)]
    per_size = {}
    for n in sizes:
        times = [run_grid(affected[:n], facs)[0] for _ in range(args.repeat)]
        per_size[n] = statistics.median(times)
    grid_total, grid_out = run_grid(affected, facs)
    grid_per_patient = per_size[len(affected)] / len(affected)

    rng = random.Random(3)
    sample = rng.sample(range(len(affected)), args.sample)
    located = [Located(f.lat, f.lon, f) for f in facs]
    naive_times, agree = [], 0
    for i in sample:
        p = affected[i]
        t0 = time.perf_counter()
        hits = nearest_naive(p["lat"], p["lon"], located, k=1, accept=lambda f: f.can_receive)
        naive_times.append(time.perf_counter() - t0)
        agree += hits[0].item.id == grid_out[i].facility_id
    naive_per_patient = statistics.median(naive_times)
    ratio = naive_per_patient / grid_per_patient

    lines += ["| patients | grid + geodesic (median of %d) | per patient |" % args.repeat, "|---:|---:|---:|"]
    for n in sizes:
        lines.append(f"| {n:,} | {per_size[n]:.3f} s | {per_size[n] / n * 1e6:.0f} µs |")
    lines += [
        "",
        f"- naive all-pairs geodesic: median **{naive_per_patient * 1000:.0f} ms per patient** "
        f"(sample of {args.sample}); for {len(affected):,} patients ≈ {naive_per_patient * len(affected) / 60:.0f} min",
        f"- grid prefilter + geodesic: **{grid_per_patient * 1e6:.0f} µs per patient**; "
        f"{len(affected):,} patients in {per_size[len(affected)]:.2f} s",
        f"- ratio naive / grid: **{ratio:,.0f}×** (goal ≥ 50×)",
        f"- same facility chosen as the naive search: {agree}/{args.sample}",
        f"- linearity: time per patient at 5k / 10k / 20k = "
        + " / ".join(f"{per_size[n] / n * 1e6:.0f} µs" for n in sizes),
        "",
    ]
    text = "\n".join(lines)
    write_section(RESULTS, "matching", text)
    print(text)


def write_section(path: Path, name: str, text: str) -> None:
    """Replace one benchmark's section in the shared results file, keeping the others."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{start}\n{text.strip()}\n{end}\n"
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end) + 1:]
    else:
        new = (old + "\n" if old else "") + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
