#!/usr/bin/python3
"""Write a small MeasurementSet with python-casacore, independently of
imbench's exporter, for tests/test_msio.c.

Layout: 4 antennas (6 baselines), 6 times; two spectral windows
(SPW 0: 8 channels from 100 GHz in 1 MHz steps; SPW 1: 4 channels from
230 GHz in 2 MHz steps), one data description each; two fields (times 0-2
observe field 0, times 3-5 field 1). Rows are time-major and, within a
time, SPW 0's 6 baselines then SPW 1's, so a window's rows come in runs.

Values (all exact in float32), for main-table row r, channel c,
correlation p:
  DATA             = (r + c/8) + i (p - c/4)
  CORRECTED_DATA   = 2 * DATA      (only with --corrected)
  FLAG             = (r + c + p) % 7 == 0
  FLAG_ROW         = r % 11 == 5
  WEIGHT           = 1 + (r % 5) / 4 + p / 8     (per correlation)
  SIGMA            = 1 / sqrt(WEIGHT)
  WEIGHT_SPECTRUM  = WEIGHT + c / 16               (only with --weight-spectrum)
  UVW              = (100 (a2 - a1) + t, 50 a1 - 10 t, 1 + r / 4) metres
  TIME             = 4.9e9 + 10 t
  DISH_DIAMETER    = 7 + a

Options: --corr XX,YY (CORR_TYPE names; default XX,YY), --drop COLUMN
(remove a main-table column afterwards), --weight-spectrum, --corrected,
--one-spw (SPW 0 only).
"""
import argparse
import sys

import numpy as np
import casacore.tables as ct

STOKES = {"I": 1, "Q": 2, "U": 3, "V": 4, "RR": 5, "RL": 6, "LR": 7, "LL": 8,
          "XX": 9, "XY": 10, "YX": 11, "YY": 12}
PRODUCT = {"RR": (0, 0), "RL": (0, 1), "LR": (1, 0), "LL": (1, 1),
           "XX": (0, 0), "XY": (0, 1), "YX": (1, 0), "YY": (1, 1)}

NANT, NTIME = 4, 6
SPWS = [(8, 100e9, 1e6), (4, 230e9, 2e6)]
FIELDS = [(1.0, -0.5), (1.0 + 2e-4, -0.5 + 1e-4)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--corr", default="XX,YY")
    ap.add_argument("--drop", action="append", default=[])
    ap.add_argument("--weight-spectrum", action="store_true")
    ap.add_argument("--corrected", action="store_true")
    ap.add_argument("--one-spw", action="store_true")
    a = ap.parse_args()
    corr = a.corr.split(",")
    ncorr = len(corr)
    spws = SPWS[:1] if a.one_spw else SPWS

    cols = [ct.makearrcoldesc("DATA", 0j, ndim=2, valuetype="complex")]
    if a.corrected:
        cols.append(ct.makearrcoldesc("CORRECTED_DATA", 0j, ndim=2, valuetype="complex"))
    if a.weight_spectrum:
        cols.append(ct.makearrcoldesc("WEIGHT_SPECTRUM", 0.0, ndim=2, valuetype="float"))
    ms = ct.default_ms(a.out, ct.maketabdesc(cols))

    bl = [(i, j) for i in range(NANT) for j in range(i + 1, NANT)]
    rows = []
    for t in range(NTIME):
        for s in range(len(spws)):
            for (i, j) in bl:
                rows.append((t, s, i, j))
    ms.addrows(len(rows))
    for r, (t, s, i, j) in enumerate(rows):
        nch = spws[s][0]
        c = np.arange(nch)[:, None]
        p = np.arange(ncorr)[None, :]
        data = (r + c / 8.0) + 1j * (p - c / 4.0)
        ms.putcell("DATA", r, data.astype(np.complex64))
        if a.corrected:
            ms.putcell("CORRECTED_DATA", r, (2 * data).astype(np.complex64))
        ms.putcell("FLAG", r, ((r + c + p) % 7 == 0))
        w = (1.0 + (r % 5) / 4.0 + np.arange(ncorr) / 8.0).astype(np.float32)
        ms.putcell("WEIGHT", r, w)
        ms.putcell("SIGMA", r, (1.0 / np.sqrt(w)).astype(np.float32))
        if a.weight_spectrum:
            ms.putcell("WEIGHT_SPECTRUM", r,
                       (w[None, :] + np.arange(nch)[:, None] / 16.0).astype(np.float32))
        ms.putcell("FLAG_ROW", r, r % 11 == 5)
        ms.putcell("UVW", r, np.array([100.0 * (j - i) + t, 50.0 * i - 10.0 * t, 1 + r / 4.0]))
        ms.putcell("TIME", r, 4.9e9 + 10.0 * t)
        ms.putcell("TIME_CENTROID", r, 4.9e9 + 10.0 * t)
        ms.putcell("INTERVAL", r, 10.0)
        ms.putcell("EXPOSURE", r, 10.0)
        ms.putcell("ANTENNA1", r, i)
        ms.putcell("ANTENNA2", r, j)
        ms.putcell("DATA_DESC_ID", r, s)
        ms.putcell("FIELD_ID", r, 0 if t < NTIME // 2 else 1)
        ms.putcell("SCAN_NUMBER", r, 1 if t < NTIME // 2 else 2)

    ant = ct.table(a.out + "/ANTENNA", readonly=False, ack=False)
    ant.addrows(NANT)
    for k in range(NANT):
        ant.putcell("NAME", k, "ANT%d" % k)
        ant.putcell("STATION", k, "PAD%d" % k)
        ant.putcell("DISH_DIAMETER", k, 7.0 + k)
        ant.putcell("POSITION", k, np.array([2225142.18 + k, -5440307.37, -2481029.85]))
    spw = ct.table(a.out + "/SPECTRAL_WINDOW", readonly=False, ack=False)
    spw.addrows(len(spws))
    for k, (nch, f0, df) in enumerate(spws):
        f = f0 + df * np.arange(nch)
        spw.putcell("NUM_CHAN", k, nch)
        spw.putcell("CHAN_FREQ", k, f)
        spw.putcell("CHAN_WIDTH", k, np.full(nch, df))
        spw.putcell("EFFECTIVE_BW", k, np.full(nch, df))
        spw.putcell("RESOLUTION", k, np.full(nch, df))
        spw.putcell("REF_FREQUENCY", k, f0)
        spw.putcell("TOTAL_BANDWIDTH", k, nch * df)
        spw.putcell("NAME", k, "SPW%d" % k)
    pol = ct.table(a.out + "/POLARIZATION", readonly=False, ack=False)
    pol.addrows(1)
    pol.putcell("NUM_CORR", 0, ncorr)
    pol.putcell("CORR_TYPE", 0, np.array([STOKES[x] for x in corr], dtype=np.int32))
    pol.putcell("CORR_PRODUCT", 0, np.array([PRODUCT.get(x, (0, 0)) for x in corr],
                                            dtype=np.int32))
    dd = ct.table(a.out + "/DATA_DESCRIPTION", readonly=False, ack=False)
    dd.addrows(len(spws))
    for k in range(len(spws)):
        dd.putcell("SPECTRAL_WINDOW_ID", k, k)
        dd.putcell("POLARIZATION_ID", k, 0)
    fld = ct.table(a.out + "/FIELD", readonly=False, ack=False)
    fld.addrows(len(FIELDS))
    for k, (ra, dec) in enumerate(FIELDS):
        d = np.array([[ra, dec]])
        fld.putcell("NAME", k, "SRC%d" % k)
        fld.putcell("PHASE_DIR", k, d)
        fld.putcell("DELAY_DIR", k, d)
        fld.putcell("REFERENCE_DIR", k, d)
    obs = ct.table(a.out + "/OBSERVATION", readonly=False, ack=False)
    obs.addrows(1)
    obs.putcell("TELESCOPE_NAME", 0, "ALMA")
    for t in (ant, spw, pol, dd, fld, obs):
        t.close()
    if a.drop:
        ms.removecols(a.drop)
    ms.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
