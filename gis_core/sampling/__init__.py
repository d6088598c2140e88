"""Spatially balanced random sampling of sites from a finite frame of points (测评地点随机抽选):
GRTS (Stevens & Olsen 2004, as spsurvey), BAS (Robertson et al. 2013), simple random sampling
for comparison, inclusion probabilities, spsurvey's Voronoi spatial-balance statistic, and
the same designs over continuous frames: points inside polygons or along lines (:mod:`.area`).

Pure numpy/scipy/shapely, no Django. Coordinates are projected metres (the caller projects
lon/lat to a local metric CRS). Every draw takes an integer ``seed`` and uses its own
``numpy.random.Generator(PCG64(seed))``: same inputs and seed, same sample, on any machine.
"""

from gis_core.sampling.area import AreaSample, area_sample, grts_area, grts_lines
from gis_core.sampling.balance import sp_balance
from gis_core.sampling.bas import bas
from gis_core.sampling.design import Sample
from gis_core.sampling.errors import SamplingError
from gis_core.sampling.grts import grts
from gis_core.sampling.probs import inclusion_probabilities
from gis_core.sampling.srs import srs

__all__ = [
    "AreaSample",
    "Sample",
    "SamplingError",
    "area_sample",
    "bas",
    "grts",
    "grts_area",
    "grts_lines",
    "inclusion_probabilities",
    "sp_balance",
    "srs",
]
