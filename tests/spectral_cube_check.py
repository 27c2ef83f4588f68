#!/usr/bin/env python3
"""spectral_cube_check.py OUT_I OUT_XXYY: the imager's cubes as spectral-cube
(Debian's python3-spectral-cube) reads them. OUT_I holds a Stokes I run
(--stokes I, the default), OUT_XXYY a --stokes XX,YY run, each with --psf.
Checks that every cube opens with its beams (CASA BEAMS table) and in Jy/beam,
that .beam of a channel matches the header's BMAJ/BMIN/BPA scaled to it, that
conversion to K works, and that the Stokes axis is I, or XX and YY. Prints
'ok' and exits 0; a failed check raises (non-zero exit). Run by
tests/test_outputs.c, which skips it where spectral-cube is not installed."""
import sys
import warnings

import astropy.units as u
from astropy.io import fits
from astropy.wcs import WCS
from spectral_cube import SpectralCube, StokesSpectralCube

warnings.simplefilter("ignore")
out_i, out_xxyy = sys.argv[1], sys.argv[2]

for name in ("dirty.fits", "psf.fits"):
    path = f"{out_i}/{name}"
    hdr = fits.getheader(path)
    assert hdr["CASAMBM"] and hdr["BMAJ"] > 0, path
    sc = StokesSpectralCube.read(path)
    assert list(sc.components) == ["I"], (path, sc.components)
    cube = SpectralCube.read(path)  # a Stokes I cube reads as a spectral cube
    beams = cube.beams
    assert len(beams) == hdr["NAXIS3"], (path, len(beams))
    mid = beams[hdr["NAXIS3"] // 2]
    assert abs(mid.major.to(u.deg).value / hdr["BMAJ"] - 1) < 1e-5, (mid, hdr["BMAJ"])
    assert abs(mid.minor.to(u.deg).value / hdr["BMIN"] - 1) < 1e-5, (mid, hdr["BMIN"])
    if name == "dirty.fits":
        assert cube.unit == u.Jy / u.beam, cube.unit
        k = cube.to(u.K)
        assert k.unit == u.K
    print(f"{path}: Stokes {list(sc.components)}, {len(beams)} beams, "
          f"middle {mid.major.to(u.arcsec):.4f} x {mid.minor.to(u.arcsec):.4f} "
          f"PA {mid.pa.to(u.deg):.2f}")

# XX,YY: the STOKES axis holds -5, -6 (FITS codes of XX, YY), as astropy's
# WCS reads it. spectral-cube 0.6.0 (Debian 12) names the planes of any
# STOKES axis I, Q, U, V in order whatever their codes
# (cube_utils._split_stokes), so it labels these I and Q: its limitation,
# and why Stokes I is the imager's default. It still reads both planes,
# each with the channels' beams.
path = f"{out_xxyy}/dirty.fits"
w = WCS(fits.getheader(path))
codes = [round(float(w.sub([4]).pixel_to_world_values(k))) for k in range(2)]
assert codes == [-5, -6], codes
sc = StokesSpectralCube.read(path)
assert len(sc.components) == 2, sc.components
for comp in sc.components:
    assert len(getattr(sc, comp).beams) == fits.getheader(path)["NAXIS3"]
print(f"{path}: STOKES codes {codes} (XX, YY); spectral-cube names them "
      f"{list(sc.components)}, {len(getattr(sc, sc.components[0]).beams)} beams each")
print("ok")
