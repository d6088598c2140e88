"""Assessment-site draws: 200 sites from a frame of 100,000 candidates in 20 strata.

The frame is generated, not read from the database, so the figures do not depend on the demo
city's POIs: a 40 × 30 km city split into 20 districts (the Voronoi cells of 20 random
centres); 100,000 candidate sites, 70 % clumped around 400 centres (markets, schools and
stops gather in neighbourhoods) and 30 % spread uniformly; each in the district of its
nearest centre. 10 sites per district (200 in all), 2 reserves each.

* Time: the whole draw (every stratum, base + reserves) by GRTS and by BAS, median of 7.
* Balance: spsurvey's ``sp_balance`` (Pielou form; 0 is perfect) of each stratum's base
  sites, averaged over strata weighted by their size as the draw stores it, for GRTS and BAS,
  beside the mean over 100 simple random draws of the same size from the same strata. The
  ratio is SRS / design: above 1, the design is better balanced.
* Continuous area: 50 points (+10 reserves) inside one district polygon by ``grts_area``:
  time, and its balance against simple random draws from the same realized frame.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import shapely
from scipy.spatial import Voronoi, cKDTree

from gis_core.sampling import area_sample, bas, grts, sp_balance, srs

N_FRAME = 100_000
N_STRATA = 20
PER_STRATUM = 10
RESERVES = 2
SRS_REPLICATES = 100
REPEATS = 7
WIDTH, HEIGHT = 40_000.0, 30_000.0


def frame(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points, stratum of each point, district centres)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform((0, 0), (WIDTH, HEIGHT), (N_STRATA, 2))
    n_clumped = int(N_FRAME * 0.7)
    hubs = rng.uniform((0, 0), (WIDTH, HEIGHT), (400, 2))
    clumped = hubs[rng.integers(0, len(hubs), n_clumped)] + rng.normal(0, 600, (n_clumped, 2))
    spread = rng.uniform((0, 0), (WIDTH, HEIGHT), (N_FRAME - n_clumped, 2))
    xy = np.clip(np.vstack([clumped, spread]), (0, 0), (WIDTH, HEIGHT))
    _, stratum = cKDTree(centres).query(xy)
    return xy, stratum, centres


def _draw(design, strata: list[np.ndarray], xy: np.ndarray, seed: int) -> list:
    return [
        design(xy[idx], PER_STRATUM, seed=seed * 1000 + k, n_over=RESERVES) for k, idx in enumerate(strata)
    ]


def _balance(strata: list[np.ndarray], xy: np.ndarray, samples) -> float:
    values = [sp_balance(xy[idx], s.base) for idx, s in zip(strata, samples, strict=True)]
    return float(np.average(values, weights=[len(s.base) for s in samples]))


def _district(centres: np.ndarray, k: int) -> shapely.Polygon:
    far = np.array([[-1e6, -1e6], [1e6, -1e6], [1e6, 1e6], [-1e6, 1e6]])
    vor = Voronoi(np.vstack([centres, far]))
    cell = shapely.Polygon(vor.vertices[vor.regions[vor.point_region[k]]])
    return cell.intersection(shapely.box(0, 0, WIDTH, HEIGHT))


def run() -> dict:
    xy, stratum, centres = frame()
    strata = [np.flatnonzero(stratum == k) for k in range(N_STRATA)]
    sizes = [len(s) for s in strata]
    print(
        f"frame: {N_FRAME:,} candidates in {N_STRATA} strata ({min(sizes):,}–{max(sizes):,} each), generated"
    )
    out: dict = {"frame": N_FRAME, "strata": N_STRATA, "sites": N_STRATA * PER_STRATUM, "reserves": RESERVES}
    srs_values = [_balance(strata, xy, _draw(srs, strata, xy, 10_000 + r)) for r in range(SRS_REPLICATES)]
    srs_mean = float(np.mean(srs_values))
    out["srs_balance_mean"] = round(srs_mean, 4)
    out["srs_balance_sd"] = round(float(np.std(srs_values)), 4)
    for name, design in (("grts", grts), ("bas", bas)):
        times = []
        for r in range(REPEATS):
            t = time.perf_counter()
            samples = _draw(design, strata, xy, r)
            times.append(time.perf_counter() - t)
        value = _balance(strata, xy, _draw(design, strata, xy, 1))
        balances = [_balance(strata, xy, _draw(design, strata, xy, 100 + r)) for r in range(20)]
        out[name] = {
            "draw_s_median": round(statistics.median(times), 4),
            "balance_seed1": round(value, 4),
            "balance_mean_20_seeds": round(float(np.mean(balances)), 4),
            "srs_over_design": round(srs_mean / float(np.mean(balances)), 2),
        }
        print(
            f"{name}: draw of {N_STRATA * PER_STRATUM} sites (+{N_STRATA * RESERVES} reserves) "
            f"median {statistics.median(times) * 1000:.0f} ms; balance {np.mean(balances):.4f} "
            f"(mean of 20 seeds) vs SRS {srs_mean:.4f} (mean of {SRS_REPLICATES}): "
            f"SRS/{name} = {srs_mean / np.mean(balances):.2f}"
        )
        del samples
    district = _district(centres, 0)
    times, area_b, area_srs = [], [], []
    for r in range(REPEATS):
        t = time.perf_counter()
        s = area_sample(district, 50, seed=r, n_over=10)
        times.append(time.perf_counter() - t)
        area_b.append(sp_balance(s.frame, s.sample.base))
        area_srs.append(
            np.mean([sp_balance(s.frame, srs(s.frame, 50, seed=1000 * r + k).base) for k in range(20)])
        )
    out["area"] = {
        "km2": round(district.area / 1e6, 1),
        "frame_points": int(s.frame.shape[0]),
        "draw_s_median": round(statistics.median(times), 4),
        "balance_mean": round(float(np.mean(area_b)), 4),
        "srs_balance_mean": round(float(np.mean(area_srs)), 4),
    }
    print(
        f"area: 50 points (+10) in a {district.area / 1e6:.0f} km² district from a frame of "
        f"{s.frame.shape[0]:,} lattice points: median {statistics.median(times) * 1000:.0f} ms; "
        f"balance {np.mean(area_b):.4f} vs SRS {np.mean(area_srs):.4f}"
    )
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
