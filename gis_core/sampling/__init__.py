"""Spatially balanced random sampling of sites from a finite frame of points (测评地点随机抽选):
GRTS (Stevens & Olsen 2004, as spsurvey), BAS (Robertson et al. 2013), simple random sampling
for comparison, inclusion probabilities, and spsurvey's Voronoi spatial-balance statistic.

Pure numpy/scipy/shapely, no Django. Coordinates are projected metres (the caller projects
lon/lat to a local metric CRS). Every draw takes an integer ``seed`` and uses its own
``numpy.random.Generator(PCG64(seed))``: same inputs and seed, same sample, on any machine.
"""

from gis_core.sampling.balance import sp_balance
from gis_core.sampling.bas import bas
from gis_core.sampling.design import Sample
from gis_core.sampling.errors import SamplingError
from gis_core.sampling.grts import grts
from gis_core.sampling.probs import inclusion_probabilities
from gis_core.sampling.srs import srs

__all__ = ["Sample", "SamplingError", "bas", "grts", "inclusion_probabilities", "sp_balance", "srs"]
