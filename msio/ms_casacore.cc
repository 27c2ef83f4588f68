/*
 * ms_casacore.cc: msio's casacore adapter, the only C++ in imbench. It
 * reads a MeasurementSet's main table in row blocks (selected rows are
 * kept as runs of consecutive row numbers, never as data) and writes a
 * complete MS from store-layout buffers. The C side (msio.c) sees only
 * ms_internal.h; every casacore exception stops here and becomes an
 * error code with a message naming the MS and the table or column.
 */
#include "msio/ms_internal.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <strings.h>
#include <filesystem>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <vector>

#include <casacore/casa/Arrays/Array.h>
#include <casacore/casa/Arrays/ArrayMath.h>
#include <casacore/casa/Arrays/Matrix.h>
#include <casacore/casa/Arrays/Slicer.h>
#include <casacore/casa/Arrays/Vector.h>
#include <casacore/casa/Containers/Record.h>
#include <casacore/casa/Exceptions/Error.h>
#include <casacore/measures/Measures/MFrequency.h>
#include <casacore/measures/Measures/Muvw.h>
#include <casacore/measures/Measures/Stokes.h>
#include <casacore/ms/MeasurementSets/MSAntennaColumns.h>
#include <casacore/ms/MeasurementSets/MSDataDescColumns.h>
#include <casacore/ms/MeasurementSets/MSFeedColumns.h>
#include <casacore/ms/MeasurementSets/MSFieldColumns.h>
#include <casacore/ms/MeasurementSets/MSMainColumns.h>
#include <casacore/ms/MeasurementSets/MSObsColumns.h>
#include <casacore/ms/MeasurementSets/MSPolColumns.h>
#include <casacore/ms/MeasurementSets/MSProcessorColumns.h>
#include <casacore/ms/MeasurementSets/MSSpWindowColumns.h>
#include <casacore/ms/MeasurementSets/MeasurementSet.h>
#include <casacore/tables/DataMan/StandardStMan.h>
#include <casacore/tables/DataMan/TiledColumnStMan.h>
#include <casacore/tables/Tables/ArrayColumn.h>
#include <casacore/tables/Tables/ScalarColumn.h>
#include <casacore/tables/Tables/SetupNewTab.h>
#include <casacore/tables/Tables/Table.h>
#include <casacore/tables/Tables/TableDesc.h>
#include <casacore/tables/Tables/TableRecord.h>
#include <casacore/tables/Tables/TableUtil.h>

namespace cc = casacore;
namespace fs = std::filesystem;

namespace {

/* ---------- errors ---------- */

int fail(ms__msg m, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int fail(ms__msg m, int code, const char *fmt, ...)
{
    if (m.msg && m.n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m.msg, m.n, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* A failure already described, thrown from deep inside to the boundary. */
struct failure {
    int code;
    std::string text;
};

[[noreturn]] void raise(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
[[noreturn]] void raise(int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    throw failure{code, buf};
}

/* casacore's messages can run over several lines; keep the first. */
std::string first_line(const std::string &s)
{
    std::string t = s.substr(0, s.find('\n'));
    return t.size() > 400 ? t.substr(0, 400) + "..." : t;
}

/* Run f, turning every exception into a code and a message; what names
 * the operation for casacore's own messages ("ms 'x': column 'DATA'"). */
template <class F> int guarded(ms__msg m, const std::string &what, F f)
{
    try {
        return f();
    } catch (const failure &x) {
        return fail(m, x.code, "%s", x.text.c_str());
    } catch (const std::bad_alloc &) {
        return fail(m, MS__ENOMEM, "%s: out of memory", what.c_str());
    } catch (const cc::AipsError &x) {
        return fail(m, MS__ECORRUPT, "%s: %s", what.c_str(), first_line(x.getMesg()).c_str());
    } catch (const std::exception &x) {
        return fail(m, MS__EIO, "%s: %s", what.c_str(), first_line(x.what()).c_str());
    }
}

/* Run f; casacore exceptions become a failure naming the column. */
template <class F> void on_column(const std::string &ms, const char *table, const char *col, F f)
{
    try {
        f();
    } catch (const failure &) {
        throw;
    } catch (const std::bad_alloc &) {
        throw;
    } catch (const cc::AipsError &x) {
        raise(MS__ECORRUPT, "ms '%s': %s column '%s' cannot be read: %s", ms.c_str(), table, col,
              first_line(x.getMesg()).c_str());
    }
}

/* ---------- Stokes codes ---------- */

/* casacore Stokes::StokesTypes -> AIPS/FITS code (0: no AIPS code). */
int aips_of_casa(int s)
{
    switch (s) {
    case cc::Stokes::I: return 1;
    case cc::Stokes::Q: return 2;
    case cc::Stokes::U: return 3;
    case cc::Stokes::V: return 4;
    case cc::Stokes::RR: return -1;
    case cc::Stokes::LL: return -2;
    case cc::Stokes::RL: return -3;
    case cc::Stokes::LR: return -4;
    case cc::Stokes::XX: return -5;
    case cc::Stokes::YY: return -6;
    case cc::Stokes::XY: return -7;
    case cc::Stokes::YX: return -8;
    default: return 0;
    }
}

int casa_of_aips(int a)
{
    for (int s = cc::Stokes::I; s <= cc::Stokes::YY; s++)
        if (aips_of_casa(s) == a) return s;
    return cc::Stokes::Undefined;
}

/* Receptor pair of a correlation (CORR_PRODUCT). */
void receptors(int s, int *r0, int *r1)
{
    switch (s) {
    case cc::Stokes::RL: case cc::Stokes::XY: *r0 = 0; *r1 = 1; return;
    case cc::Stokes::LR: case cc::Stokes::YX: *r0 = 1; *r1 = 0; return;
    case cc::Stokes::LL: case cc::Stokes::YY: *r0 = 1; *r1 = 1; return;
    default: *r0 = 0; *r1 = 0; return;
    }
}

std::string corr_names(const cc::Vector<cc::Int> &ct)
{
    std::string s;
    for (size_t i = 0; i < ct.size(); i++) {
        if (i) s += ' ';
        s += cc::Stokes::name(cc::Stokes::type(ct[i]));
    }
    return s;
}

cc::Slicer rows(int64_t start, int64_t n)
{
    return cc::Slicer(cc::IPosition(1, start), cc::IPosition(1, n), cc::Slicer::endIsLength);
}

} // namespace

/* ------------------------------------------------------------------ */
/* Reader                                                              */
/* ------------------------------------------------------------------ */

enum weight_mode { W_SPECTRUM, W_WEIGHT, W_SIGMA };

struct ms__reader {
    std::string path;
    cc::Table main;
    ms__sel sel;
    std::vector<int> field_ids;
    std::vector<double> field_dir, dish, freq;
    std::vector<std::pair<int64_t, int64_t>> runs; /* (first row, length) */
    std::vector<int64_t> run_first;                /* selected index of each run's start */
    std::map<int, int> field_index;                /* MS FIELD id -> store index */
    std::string column;
    int ncorr = 0;
    int keep[4] = {0, 0, 0, 0}; /* MS correlation index of each kept pol */
    int wmode = W_WEIGHT;
    bool has_flag_row = false, has_wspec = false, has_weight = false, has_sigma = false;
    bool wspec_fallback = false;
};

namespace {

cc::Table subtable(const ms__reader *r, const char *name)
{
    const cc::TableRecord &kw = r->main.keywordSet();
    if (!kw.isDefined(name))
        raise(MS__ECORRUPT, "ms '%s': subtable '%s' is missing (no keyword '%s' in the main "
              "table)", r->path.c_str(), name, name);
    try {
        cc::Table t = kw.asTable(name);
        return t;
    } catch (const cc::AipsError &x) {
        raise(MS__ECORRUPT, "ms '%s': subtable '%s' cannot be opened: %s", r->path.c_str(),
              name, first_line(x.getMesg()).c_str());
    }
}

void need_column(const ms__reader *r, const cc::Table &t, const char *table, const char *col)
{
    if (!t.tableDesc().isColumn(col))
        raise(MS__ECORRUPT, "ms '%s': column '%s' is missing from the %s table", r->path.c_str(),
              col, table);
}

bool is_parallel(int s)
{
    return s == cc::Stokes::XX || s == cc::Stokes::YY || s == cc::Stokes::RR ||
           s == cc::Stokes::LL;
}

bool is_linear(int s)
{
    return s >= cc::Stokes::XX && s <= cc::Stokes::YY;
}

/* Which correlations to keep: XX/YY or RR/LL (one or both), or the two
 * parallel hands of a full-polarisation set. */
void choose_corr(ms__reader *r, const cc::Vector<cc::Int> &ct, int polid)
{
    int n = (int)ct.size();
    bool ok = n >= 1 && n <= 4;
    std::set<int> seen;
    int npar = 0;
    for (int i = 0; ok && i < n; i++) {
        int s = ct[i];
        if (!seen.insert(s).second) ok = false;
        if (s < cc::Stokes::RR || s > cc::Stokes::YY) ok = false;
        else if (is_linear(s) != is_linear(ct[0])) ok = false;
        if (is_parallel(s)) npar++;
    }
    bool full = ok && n == 4 && npar == 2;
    if (ok && !full && npar != n) ok = false;   /* cross hands only in a full set */
    if (ok && n == 3) ok = false;
    if (!ok)
        raise(MS__EUNSUPPORTED,
              "ms '%s': POLARIZATION row %d has %d correlation%s (%s); imbench imports XX/YY "
              "or RR/LL, or a full-polarisation set reduced to its parallel hands",
              r->path.c_str(), polid, n, n == 1 ? "" : "s", corr_names(ct).c_str());
    r->ncorr = n;
    r->sel.npol = 0;
    for (int i = 0; i < n; i++)
        if (is_parallel(ct[i])) {
            r->keep[r->sel.npol] = i;
            r->sel.corr[r->sel.npol++] = aips_of_casa(ct[i]);
        }
    r->sel.ncorr = n;
    r->sel.reduced = full ? 1 : 0;
}

std::string spw_summary(const cc::Table &spwt, const std::set<int> &spws)
{
    cc::ArrayColumn<cc::Double> cf(spwt, "CHAN_FREQ");
    std::string s;
    for (int id : spws) {
        char buf[160];
        if (id < 0 || (cc::rownr_t)id >= spwt.nrow()) {
            snprintf(buf, sizeof buf, "%s%d (no such row)", s.empty() ? "" : ", ", id);
        } else {
            cc::Vector<cc::Double> f = cf(id);
            double lo = f.size() ? cc::min(f) : 0, hi = f.size() ? cc::max(f) : 0;
            snprintf(buf, sizeof buf, "%s%d: %zu channel%s %.6f-%.6f GHz", s.empty() ? "" : ", ",
                     id, (size_t)f.size(), f.size() == 1 ? "" : "s", lo / 1e9, hi / 1e9);
        }
        s += buf;
    }
    return s;
}

/* Parse "0,2,4~6,NAME" against the FIELD table; ids in the order given. */
std::vector<int> parse_fields(const ms__reader *r, const cc::Table &ft, const char *list)
{
    cc::ScalarColumn<cc::String> names;
    bool has_names = ft.tableDesc().isColumn("NAME");
    if (has_names) names.attach(ft, "NAME");
    int nf = (int)ft.nrow();
    std::vector<int> out;
    std::set<int> seen;
    auto add = [&](long id) {
        if (id < 0 || id >= nf)
            raise(MS__EINVAL, "ms '%s': field %ld in '--field %s' is not in the FIELD table "
                  "(ids 0~%d)", r->path.c_str(), id, list, nf - 1);
        if (seen.insert((int)id).second) out.push_back((int)id);
    };
    std::string s(list);
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t comma = s.find(',', pos);
        std::string tok = s.substr(pos, comma == std::string::npos ? std::string::npos
                                                                    : comma - pos);
        pos = comma == std::string::npos ? s.size() + 1 : comma + 1;
        if (tok.empty())
            raise(MS__EINVAL, "option '--field': empty item in '%s'", list);
        char *end = nullptr;
        long a = strtol(tok.c_str(), &end, 10);
        if (end != tok.c_str() && *end == '\0') {
            add(a);
            continue;
        }
        if (end != tok.c_str() && *end == '~') {
            char *end2 = nullptr;
            long b = strtol(end + 1, &end2, 10);
            if (end2 != end + 1 && *end2 == '\0' && b >= a) {
                for (long i = a; i <= b; i++) add(i);
                continue;
            }
            raise(MS__EINVAL, "option '--field': bad range '%s' (expected A~B with A <= B)",
                  tok.c_str());
        }
        bool found = false;
        for (int i = 0; has_names && i < nf; i++)
            if (std::string(names(i)) == tok) {
                add(i);
                found = true;
            }
        if (!found) {
            std::string known;
            for (int i = 0; has_names && i < nf && i < 20; i++)
                known += (i ? ", " : "") + std::to_string(i) + " '" + std::string(names(i)) + "'";
            raise(MS__EINVAL, "ms '%s': no field named '%s' (fields: %s%s)", r->path.c_str(),
                  tok.c_str(), known.c_str(), nf > 20 ? ", ..." : "");
        }
    }
    return out;
}

void read_keywords(ms__reader *r)
{
    const cc::TableRecord &kw = r->main.keywordSet();
    if (!kw.isDefined("IMBENCH") || kw.dataType("IMBENCH") != cc::TpRecord) return;
    try {
        const cc::TableRecord &k = kw.subRecord("IMBENCH");
        cc::String ds = k.asString("dataset");
        cc::Vector<cc::Double> pc = k.asArrayDouble("phase_centre");
        if (pc.size() != 2) return;
        snprintf(r->sel.dataset, sizeof r->sel.dataset, "%s", ds.c_str());
        r->sel.phase_centre[0] = pc[0];
        r->sel.phase_centre[1] = pc[1];
        r->sel.image_nx = k.asInt("image_nx");
        r->sel.image_ny = k.asInt("image_ny");
        r->sel.cell_arcsec = k.asDouble("cell_arcsec");
        r->sel.has_keys = 1;
    } catch (const cc::AipsError &) {
        r->sel.has_keys = 0; /* not ours after all: ignore */
    }
}

int select_rows(ms__reader *r, const char *column, int spw, const char *fields,
                int64_t chan_first, int64_t chan_last)
{
    const std::string &P = r->path;
    const char *ms = P.c_str();
    r->column = column ? column : "DATA";
    const cc::Table &mt = r->main;
    const cc::TableDesc &td = mt.tableDesc();

    /* Columns first: the message names the first one missing. */
    if (!td.isColumn(r->column)) {
        std::string have;
        for (const char *c : {"DATA", "CORRECTED_DATA", "MODEL_DATA", "FLOAT_DATA"})
            if (td.isColumn(c)) have += std::string(have.empty() ? "" : ", ") + c;
        raise(MS__ENOTFOUND, "ms '%s': column '%s' is missing from the main table "
              "(data columns present: %s)", ms, r->column.c_str(),
              have.empty() ? "none" : have.c_str());
    }
    for (const char *c : {"UVW", "FLAG", "ANTENNA1", "ANTENNA2", "TIME", "FIELD_ID",
                          "DATA_DESC_ID"})
        need_column(r, mt, "main", c);
    if (td.columnDesc(r->column).dataType() != cc::TpComplex)
        raise(MS__EUNSUPPORTED, "ms '%s': column '%s' is not complex (type %s)", ms,
              r->column.c_str(), cc::ValType::getTypeStr(td.columnDesc(r->column).dataType()).c_str());
    r->has_flag_row = td.isColumn("FLAG_ROW");
    r->has_wspec = td.isColumn("WEIGHT_SPECTRUM");
    r->has_weight = td.isColumn("WEIGHT");
    r->has_sigma = td.isColumn("SIGMA");
    if (!r->has_wspec && !r->has_weight && !r->has_sigma)
        raise(MS__ENOTFOUND, "ms '%s': column 'WEIGHT' is missing from the main table (and "
              "neither 'WEIGHT_SPECTRUM' nor 'SIGMA' is there)", ms);

    /* Subtables. */
    cc::Table ddt = subtable(r, "DATA_DESCRIPTION");
    cc::Table spwt = subtable(r, "SPECTRAL_WINDOW");
    cc::Table polt = subtable(r, "POLARIZATION");
    cc::Table fldt = subtable(r, "FIELD");
    cc::Table antt = subtable(r, "ANTENNA");
    need_column(r, ddt, "DATA_DESCRIPTION", "SPECTRAL_WINDOW_ID");
    need_column(r, ddt, "DATA_DESCRIPTION", "POLARIZATION_ID");
    need_column(r, spwt, "SPECTRAL_WINDOW", "CHAN_FREQ");
    need_column(r, polt, "POLARIZATION", "CORR_TYPE");
    need_column(r, fldt, "FIELD", "PHASE_DIR");
    need_column(r, antt, "ANTENNA", "DISH_DIAMETER");

    std::vector<int> dd_spw, dd_pol;
    on_column(P, "DATA_DESCRIPTION", "SPECTRAL_WINDOW_ID", [&] {
        cc::ScalarColumn<cc::Int> s(ddt, "SPECTRAL_WINDOW_ID"), p(ddt, "POLARIZATION_ID");
        for (cc::rownr_t i = 0; i < ddt.nrow(); i++) {
            dd_spw.push_back(s(i));
            dd_pol.push_back(p(i));
        }
    });

    /* Pass 1: which data descriptions (so which SPWs) the main table uses. */
    const int64_t nrow_ms = (int64_t)mt.nrow();
    r->sel.nrow_ms = nrow_ms;
    if (nrow_ms == 0) raise(MS__ECORRUPT, "ms '%s': the main table has no rows", ms);
    const int64_t B = 1 << 20;
    cc::ScalarColumn<cc::Int> ddcol(mt, "DATA_DESC_ID"), fcol(mt, "FIELD_ID");
    std::set<int> dd_used;
    cc::Vector<cc::Int> dv, fv;
    for (int64_t i0 = 0; i0 < nrow_ms; i0 += B) {
        int64_t n = std::min(B, nrow_ms - i0);
        on_column(P, "main", "DATA_DESC_ID", [&] { ddcol.getColumnRange(rows(i0, n), dv, true); });
        for (int64_t k = 0; k < n; k++) dd_used.insert(dv[k]);
    }
    std::set<int> spw_used;
    for (int d : dd_used) {
        if (d < 0 || d >= (int)dd_spw.size())
            raise(MS__ECORRUPT, "ms '%s': DATA_DESC_ID %d is not a row of the DATA_DESCRIPTION "
                  "table (%zu rows)", ms, d, dd_spw.size());
        spw_used.insert(dd_spw[d]);
    }
    if (spw < 0) {
        if (spw_used.size() > 1)
            raise(MS__EINVAL, "ms '%s' has %zu spectral windows in use (%s): choose one with "
                  "--spw N", ms, spw_used.size(), spw_summary(spwt, spw_used).c_str());
        spw = *spw_used.begin();
    } else if (!spw_used.count(spw)) {
        raise(MS__EINVAL, "ms '%s': spectral window %d has no rows (in use: %s)", ms, spw,
              spw_summary(spwt, spw_used).c_str());
    }
    if (spw < 0 || (cc::rownr_t)spw >= spwt.nrow())
        raise(MS__ECORRUPT, "ms '%s': spectral window %d is not a row of the SPECTRAL_WINDOW "
              "table", ms, spw);
    r->sel.spw = spw;
    std::set<int> dd_sel, pols;
    for (int d : dd_used)
        if (dd_spw[d] == spw) {
            dd_sel.insert(d);
            pols.insert(dd_pol[d]);
        }
    if (pols.size() != 1)
        raise(MS__EUNSUPPORTED, "ms '%s': spectral window %d is used with %zu polarisation "
              "setups; imbench imports one", ms, spw, pols.size());
    int polid = *pols.begin();
    if (polid < 0 || (cc::rownr_t)polid >= polt.nrow())
        raise(MS__ECORRUPT, "ms '%s': POLARIZATION_ID %d is not a row of the POLARIZATION table",
              ms, polid);
    cc::Vector<cc::Int> ct;
    on_column(P, "POLARIZATION", "CORR_TYPE", [&] {
        ct = cc::ArrayColumn<cc::Int>(polt, "CORR_TYPE")(polid);
    });
    choose_corr(r, ct, polid);

    /* Channels. */
    on_column(P, "SPECTRAL_WINDOW", "CHAN_FREQ", [&] {
        cc::Vector<cc::Double> f = cc::ArrayColumn<cc::Double>(spwt, "CHAN_FREQ")(spw);
        r->freq.assign(f.begin(), f.end());
    });
    int64_t nch = (int64_t)r->freq.size();
    if (nch < 1) raise(MS__ECORRUPT, "ms '%s': spectral window %d has no channels", ms, spw);
    int64_t c0 = chan_first < 0 ? 0 : chan_first;
    int64_t c1 = chan_last < 0 ? nch - 1 : chan_last;
    if (c0 > c1 || c1 >= nch)
        raise(MS__EINVAL, "option '--chans': %lld~%lld is outside spectral window %d of ms '%s' "
              "(channels 0~%lld)", (long long)c0, (long long)c1, spw, ms, (long long)(nch - 1));
    r->sel.nchan_spw = nch;
    r->sel.chan0 = c0;
    r->sel.nchan = c1 - c0 + 1;
    r->freq = std::vector<double>(r->freq.begin() + c0, r->freq.begin() + c1 + 1);
    for (double f : r->freq)
        if (!(f > 0 && f < 1e15))
            raise(MS__ECORRUPT, "ms '%s': SPECTRAL_WINDOW row %d has a channel at %g Hz", ms, spw,
                  f);

    /* Fields. */
    std::vector<int> want;
    if (fields) want = parse_fields(r, fldt, fields);
    std::set<int> want_set(want.begin(), want.end());

    /* Pass 2: the selected rows as runs; fields in use; u_max. */
    cc::ScalarColumn<cc::Int> ddc2(mt, "DATA_DESC_ID");
    cc::ArrayColumn<cc::Double> uvwcol(mt, "UVW");
    std::set<int> fields_used;
    double umax2 = 0;
    int64_t nsel = 0;
    cc::Array<cc::Double> uvw;
    for (int64_t i0 = 0; i0 < nrow_ms; i0 += B) {
        int64_t n = std::min(B, nrow_ms - i0);
        on_column(P, "main", "DATA_DESC_ID", [&] { ddc2.getColumnRange(rows(i0, n), dv, true); });
        on_column(P, "main", "FIELD_ID", [&] { fcol.getColumnRange(rows(i0, n), fv, true); });
        on_column(P, "main", "UVW", [&] { uvwcol.getColumnRange(rows(i0, n), uvw, true); });
        if (uvw.shape().size() != 2 || uvw.shape()[0] != 3)
            raise(MS__ECORRUPT, "ms '%s': column 'UVW' does not hold 3 values per row", ms);
        bool contig;
        const double *u = uvw.getStorage(contig);
        for (int64_t k = 0; k < n; k++) {
            if (!dd_sel.count(dv[k])) continue;
            if (fields && !want_set.count(fv[k])) continue;
            if (fv[k] < 0 || (cc::rownr_t)fv[k] >= fldt.nrow()) {
                uvw.freeStorage(u, contig);
                raise(MS__ECORRUPT, "ms '%s': row %lld has FIELD_ID %d, not a row of the FIELD "
                      "table", ms, (long long)(i0 + k), fv[k]);
            }
            fields_used.insert(fv[k]);
            double r2 = u[3 * k] * u[3 * k] + u[3 * k + 1] * u[3 * k + 1];
            if (r2 > umax2) umax2 = r2;
            int64_t row = i0 + k;
            if (!r->runs.empty() && r->runs.back().first + r->runs.back().second == row)
                r->runs.back().second++;
            else {
                r->run_first.push_back(nsel);
                r->runs.emplace_back(row, 1);
            }
            nsel++;
        }
        uvw.freeStorage(u, contig);
    }
    if (nsel == 0)
        raise(MS__EINVAL, "ms '%s': no rows in spectral window %d%s%s", ms, spw,
              fields ? " for fields " : "", fields ? fields : "");
    r->sel.nrow = nsel;
    r->sel.umax_m = std::sqrt(umax2);
    if (fields) {
        /* Keep the order given, but only fields that have rows. */
        for (int f : want)
            if (fields_used.count(f)) r->field_ids.push_back(f);
    } else {
        r->field_ids.assign(fields_used.begin(), fields_used.end());
    }
    for (size_t i = 0; i < r->field_ids.size(); i++) r->field_index[r->field_ids[i]] = (int)i;
    on_column(P, "FIELD", "PHASE_DIR", [&] {
        cc::ArrayColumn<cc::Double> pd(fldt, "PHASE_DIR");
        for (int f : r->field_ids) {
            cc::Array<cc::Double> a = pd(f);
            if (a.nelements() < 2)
                raise(MS__ECORRUPT, "ms '%s': FIELD row %d has no PHASE_DIR", ms, f);
            bool contig;
            const double *p = a.getStorage(contig);
            r->field_dir.push_back(p[0]);
            r->field_dir.push_back(p[1]);
            a.freeStorage(p, contig);
        }
    });

    /* Antennas. */
    on_column(P, "ANTENNA", "DISH_DIAMETER", [&] {
        cc::ScalarColumn<cc::Double> d(antt, "DISH_DIAMETER");
        for (cc::rownr_t i = 0; i < antt.nrow(); i++) r->dish.push_back(d(i));
    });
    if (r->dish.empty()) raise(MS__ECORRUPT, "ms '%s': the ANTENNA table has no rows", ms);

    /* Telescope (optional). */
    snprintf(r->sel.telescope, sizeof r->sel.telescope, "unknown");
    if (mt.keywordSet().isDefined("OBSERVATION")) {
        try {
            cc::Table ot = subtable(r, "OBSERVATION");
            if (ot.nrow() > 0 && ot.tableDesc().isColumn("TELESCOPE_NAME")) {
                cc::String t = cc::ScalarColumn<cc::String>(ot, "TELESCOPE_NAME")(0);
                if (!t.empty()) snprintf(r->sel.telescope, sizeof r->sel.telescope, "%s", t.c_str());
            }
        } catch (const failure &) {
            /* the telescope name is decoration: keep "unknown" */
        }
    }

    /* Weights: WEIGHT_SPECTRUM where its cells are filled, else WEIGHT,
     * else 1/SIGMA^2. */
    int64_t first = r->runs[0].first;
    if (r->has_wspec) {
        cc::ArrayColumn<cc::Float> ws(mt, "WEIGHT_SPECTRUM");
        on_column(P, "main", "WEIGHT_SPECTRUM", [&] {
            if (ws.isDefined(first) && ws.shape(first) == cc::IPosition(2, r->ncorr, nch))
                r->wmode = W_SPECTRUM;
        });
    }
    if (r->wmode != W_SPECTRUM) r->wmode = r->has_weight ? W_WEIGHT : W_SIGMA;
    if (r->wmode == W_SIGMA && !r->has_sigma)
        raise(MS__ENOTFOUND, "ms '%s': column 'WEIGHT' is missing from the main table (and "
              "'WEIGHT_SPECTRUM' is empty, 'SIGMA' absent)", ms);
    snprintf(r->sel.weight_source, sizeof r->sel.weight_source, "%s",
             r->wmode == W_SPECTRUM ? "WEIGHT_SPECTRUM" : r->wmode == W_WEIGHT ? "WEIGHT"
                                                                               : "SIGMA");
    read_keywords(r);

    r->sel.nfield = (int)r->field_ids.size();
    r->sel.field_ids = r->field_ids.data();
    r->sel.field_dir = r->field_dir.data();
    r->sel.nant = (int)r->dish.size();
    r->sel.dish = r->dish.data();
    r->sel.freq = r->freq.data();
    return 0;
}

/* Weights of one piece of consecutive rows into w (len x nchan x npol). */
void read_weights(ms__reader *r, int64_t start, int64_t len, float *w, uint64_t *bytes)
{
    const std::string &P = r->path;
    const ms__sel &s = r->sel;
    const int64_t nc = s.nchan, np = s.npol;
    if (r->wmode == W_SPECTRUM) {
        cc::ArrayColumn<cc::Float> ws(r->main, "WEIGHT_SPECTRUM");
        bool defined = false;
        on_column(P, "main", "WEIGHT_SPECTRUM", [&] { defined = ws.isDefined(start); });
        if (defined) {
            cc::Array<cc::Float> a;
            cc::Slicer sec(cc::IPosition(2, 0, s.chan0), cc::IPosition(2, r->ncorr, nc),
                           cc::Slicer::endIsLength);
            on_column(P, "main", "WEIGHT_SPECTRUM",
                      [&] { ws.getColumnRange(rows(start, len), sec, a, true); });
            bool contig;
            const float *p = a.getStorage(contig);
            for (int64_t k = 0; k < len; k++)
                for (int64_t c = 0; c < nc; c++)
                    for (int64_t q = 0; q < np; q++)
                        w[(k * nc + c) * np + q] = p[(k * nc + c) * r->ncorr + r->keep[q]];
            a.freeStorage(p, contig);
            *bytes += (uint64_t)a.nelements() * sizeof(float);
            return;
        }
        r->wspec_fallback = true;
    }
    bool use_sigma = r->wmode == W_SIGMA || (!r->has_weight);
    const char *col = use_sigma ? "SIGMA" : "WEIGHT";
    cc::ArrayColumn<cc::Float> wc(r->main, col);
    cc::Array<cc::Float> a;
    on_column(P, "main", col, [&] { wc.getColumnRange(rows(start, len), a, true); });
    if (a.shape().size() != 2 || a.shape()[0] != r->ncorr)
        raise(MS__ECORRUPT, "ms '%s': column '%s' does not hold %d values per row", P.c_str(),
              col, r->ncorr);
    bool contig;
    const float *p = a.getStorage(contig);
    for (int64_t k = 0; k < len; k++)
        for (int64_t q = 0; q < np; q++) {
            float v = p[k * r->ncorr + r->keep[q]];
            if (use_sigma) v = v > 0 ? 1.0f / (v * v) : 0.0f;
            for (int64_t c = 0; c < nc; c++) w[(k * nc + c) * np + q] = v;
        }
    a.freeStorage(p, contig);
    *bytes += (uint64_t)a.nelements() * sizeof(float);
}

/* One piece of consecutive rows [start, start+len) into the outputs at
 * offset o (in rows). */
void read_piece(ms__reader *r, int64_t start, int64_t len, int64_t o, double *uvw, float *vis,
                float *weight, uint8_t *flag, int32_t *field, int32_t *ant1, int32_t *ant2,
                double *time, uint64_t *bytes)
{
    const std::string &P = r->path;
    const ms__sel &s = r->sel;
    const int64_t nc = s.nchan, np = s.npol, ncorr = r->ncorr;
    const cc::Table &mt = r->main;
    cc::Slicer rr = rows(start, len);
    cc::Slicer sec(cc::IPosition(2, 0, s.chan0), cc::IPosition(2, ncorr, nc),
                   cc::Slicer::endIsLength);
    bool contig;

    {
        cc::Array<cc::Double> a;
        on_column(P, "main", "UVW",
                  [&] { cc::ArrayColumn<cc::Double>(mt, "UVW").getColumnRange(rr, a, true); });
        const double *p = a.getStorage(contig);
        std::memcpy(uvw + 3 * o, p, sizeof(double) * 3 * (size_t)len);
        a.freeStorage(p, contig);
        *bytes += sizeof(double) * 3 * (uint64_t)len;
    }
    {
        cc::Vector<cc::Int> a1, a2, f;
        cc::Vector<cc::Double> t;
        on_column(P, "main", "ANTENNA1",
                  [&] { cc::ScalarColumn<cc::Int>(mt, "ANTENNA1").getColumnRange(rr, a1, true); });
        on_column(P, "main", "ANTENNA2",
                  [&] { cc::ScalarColumn<cc::Int>(mt, "ANTENNA2").getColumnRange(rr, a2, true); });
        on_column(P, "main", "FIELD_ID",
                  [&] { cc::ScalarColumn<cc::Int>(mt, "FIELD_ID").getColumnRange(rr, f, true); });
        on_column(P, "main", "TIME",
                  [&] { cc::ScalarColumn<cc::Double>(mt, "TIME").getColumnRange(rr, t, true); });
        for (int64_t k = 0; k < len; k++) {
            if (a1[k] < 0 || a1[k] >= s.nant || a2[k] < 0 || a2[k] >= s.nant)
                raise(MS__ECORRUPT, "ms '%s': row %lld has antennas %d-%d, outside the ANTENNA "
                      "table (%d rows)", P.c_str(), (long long)(start + k), a1[k], a2[k], s.nant);
            ant1[o + k] = a1[k];
            ant2[o + k] = a2[k];
            field[o + k] = r->field_index.at(f[k]);
            time[o + k] = t[k];
        }
        *bytes += 20 * (uint64_t)len;
    }
    {
        cc::Array<cc::Complex> a;
        on_column(P, "main", r->column.c_str(), [&] {
            cc::ArrayColumn<cc::Complex>(mt, r->column).getColumnRange(rr, sec, a, true);
        });
        const cc::Complex *p = a.getStorage(contig);
        for (int64_t k = 0; k < len; k++)
            for (int64_t c = 0; c < nc; c++)
                for (int64_t q = 0; q < np; q++) {
                    const cc::Complex &v = p[(k * nc + c) * ncorr + r->keep[q]];
                    float *d = vis + 2 * (((o + k) * nc + c) * np + q);
                    d[0] = v.real();
                    d[1] = -v.imag(); /* CASA's phase sign -> the store's */
                }
        a.freeStorage(p, contig);
        *bytes += (uint64_t)a.nelements() * sizeof(cc::Complex);
    }
    {
        cc::Array<cc::Bool> a;
        cc::Vector<cc::Bool> fr;
        on_column(P, "main", "FLAG", [&] {
            cc::ArrayColumn<cc::Bool>(mt, "FLAG").getColumnRange(rr, sec, a, true);
        });
        if (r->has_flag_row)
            on_column(P, "main", "FLAG_ROW", [&] {
                cc::ScalarColumn<cc::Bool>(mt, "FLAG_ROW").getColumnRange(rr, fr, true);
            });
        const cc::Bool *p = a.getStorage(contig);
        for (int64_t k = 0; k < len; k++) {
            bool rowf = r->has_flag_row && fr[k];
            for (int64_t c = 0; c < nc; c++)
                for (int64_t q = 0; q < np; q++)
                    flag[((o + k) * nc + c) * np + q] =
                        (rowf || p[(k * nc + c) * ncorr + r->keep[q]]) ? 1 : 0;
        }
        a.freeStorage(p, contig);
        *bytes += (uint64_t)a.nelements() + (uint64_t)len;
    }
    read_weights(r, start, len, weight + o * nc * np, bytes);
}

} // namespace

extern "C" int ms__reader_open(ms__msg m, const char *path, ms__reader **out)
{
    *out = nullptr;
    return guarded(m, std::string("ms '") + path + "'", [&]() -> int {
        std::error_code ec;
        if (!fs::exists(path, ec))
            return fail(m, MS__ENOTFOUND, "ms '%s': no such file or directory", path);
        if (!fs::is_directory(path, ec) || !fs::exists(fs::path(path) / "table.dat", ec))
            return fail(m, MS__ECORRUPT, "ms '%s': not a casacore table (no '%s/table.dat')", path,
                        path);
        auto r = std::make_unique<ms__reader>();
        std::memset(&r->sel, 0, sizeof r->sel);
        r->path = path;
        try {
            r->main = cc::Table(path, cc::TableLock(cc::TableLock::AutoNoReadLocking),
                                cc::Table::Old);
        } catch (const cc::AipsError &x) {
            return fail(m, MS__ECORRUPT, "ms '%s': cannot open the main table: %s", path,
                        first_line(x.getMesg()).c_str());
        }
        *out = r.release();
        return 0;
    });
}

extern "C" int ms__reader_select(ms__msg m, ms__reader *r, const char *column, int spw,
                                 const char *fields, int64_t chan_first, int64_t chan_last,
                                 const ms__sel **out)
{
    *out = nullptr;
    int rc = guarded(m, "ms '" + r->path + "'", [&] {
        return select_rows(r, column, spw, fields, chan_first, chan_last);
    });
    if (!rc) *out = &r->sel;
    return rc;
}

extern "C" int ms__reader_read(ms__msg m, ms__reader *r, int64_t i0, int64_t n, double *uvw,
                               float *vis, float *weight, uint8_t *flag, int32_t *field,
                               int32_t *ant1, int32_t *ant2, double *time, uint64_t *bytes)
{
    return guarded(m, "ms '" + r->path + "'", [&]() -> int {
        if (i0 < 0 || n < 0 || i0 + n > r->sel.nrow)
            return fail(m, MS__EINVAL, "ms '%s': selected rows %lld+%lld outside 0..%lld",
                        r->path.c_str(), (long long)i0, (long long)n, (long long)r->sel.nrow);
        uint64_t nb = 0;
        /* The run holding selected row i0, then consecutive pieces. */
        size_t k = (size_t)(std::upper_bound(r->run_first.begin(), r->run_first.end(), i0) -
                            r->run_first.begin()) - 1;
        int64_t done = 0;
        while (done < n) {
            int64_t off = i0 + done - r->run_first[k];
            int64_t len = std::min(r->runs[k].second - off, n - done);
            read_piece(r, r->runs[k].first + off, len, done, uvw, vis, weight, flag, field, ant1,
                       ant2, time, &nb);
            done += len;
            k++;
        }
        if (r->wspec_fallback)
            snprintf(r->sel.weight_source, sizeof r->sel.weight_source,
                     "WEIGHT_SPECTRUM (WEIGHT where empty)");
        if (bytes) *bytes += nb;
        return 0;
    });
}

extern "C" void ms__reader_close(ms__reader *r)
{
    try {
        delete r;
    } catch (...) {
        /* a destructor that throws while unlocking: nothing to report */
    }
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

struct ms__writer {
    std::string path, tmp;
    bool replace = false;
    std::unique_ptr<cc::MeasurementSet> ms;
    std::unique_ptr<cc::MSMainColumns> cols;
    int64_t nrow = 0, nchan = 0;
    int npol = 0, nfield = 0;
    double interval = 1;
    int last_field = -1, scan = 0;
};

namespace {

/* ITRF position (metres) of a telescope's array centre; every antenna is
 * put there (the store keeps uvw, not antenna positions). */
void site_of(const char *tel, double xyz[3])
{
    static const struct {
        const char *name;
        double x, y, z;
    } sites[] = {
        {"ALMA", 2225142.18, -5440307.37, -2481029.85},
        {"ACA", 2225142.18, -5440307.37, -2481029.85},
        {"VLA", -1601185.4, -5041977.5, 3554875.9},
        {"EVLA", -1601185.4, -5041977.5, 3554875.9},
        {"MeerKAT", 5109360.13, 2006852.59, -3238948.13},
    };
    for (const auto &s : sites)
        if (strcasecmp(s.name, tel) == 0) {
            xyz[0] = s.x, xyz[1] = s.y, xyz[2] = s.z;
            return;
        }
    xyz[0] = sites[0].x, xyz[1] = sites[0].y, xyz[2] = sites[0].z;
}

/* Tile of about 128 Ki elements: every correlation, up to all channels,
 * as many rows as fit. */
cc::IPosition tile_shape(int npol, int64_t nchan)
{
    int64_t target = 131072;
    int64_t tc = std::min<int64_t>(nchan, std::max<int64_t>(1, target / npol));
    int64_t tr = std::max<int64_t>(1, target / (npol * tc));
    return cc::IPosition(3, npol, tc, tr);
}

void fill_subtables(ms__writer *w, const ms__wdesc *d)
{
    cc::MeasurementSet &ms = *w->ms;
    double site[3];
    site_of(d->telescope, site);
    const double t_mid = 0.5 * (d->time_first + d->time_last);
    const double t_span = d->time_last - d->time_first + d->interval;

    /* ANTENNA */
    {
        cc::MSAntennaColumns c(ms.antenna());
        ms.antenna().addRow(d->nant);
        cc::Vector<cc::Double> pos(3), off(3, 0.0);
        pos[0] = site[0], pos[1] = site[1], pos[2] = site[2];
        for (int a = 0; a < d->nant; a++) {
            char name[32];
            snprintf(name, sizeof name, "A%02d", a);
            c.name().put(a, name);
            c.station().put(a, std::string("P") + (name + 1));
            c.type().put(a, "GROUND-BASED");
            c.mount().put(a, "ALT-AZ");
            c.position().put(a, pos);
            c.offset().put(a, off);
            c.dishDiameter().put(a, d->dish[a]);
            c.flagRow().put(a, false);
        }
    }
    /* FEED: one per antenna, two receptors of the feed type in use. */
    {
        bool circ = false;
        for (int p = 0; p < d->npol; p++) {
            int s = casa_of_aips(d->corr[p]);
            if (s >= cc::Stokes::RR && s <= cc::Stokes::LL) circ = true;
        }
        cc::MSFeedColumns c(ms.feed());
        ms.feed().addRow(d->nant);
        cc::Vector<cc::String> pt(2);
        pt[0] = circ ? "R" : "X";
        pt[1] = circ ? "L" : "Y";
        cc::Matrix<cc::Double> boff(2, 2, 0.0);
        cc::Matrix<cc::Complex> resp(2, 2, cc::Complex(0, 0));
        resp(0, 0) = resp(1, 1) = cc::Complex(1, 0);
        cc::Vector<cc::Double> angle(2), fpos(3, 0.0);
        angle[0] = 0;
        angle[1] = M_PI / 2;
        for (int a = 0; a < d->nant; a++) {
            c.antennaId().put(a, a);
            c.feedId().put(a, 0);
            c.spectralWindowId().put(a, -1);
            c.time().put(a, t_mid);
            c.interval().put(a, t_span);
            c.numReceptors().put(a, 2);
            c.beamId().put(a, -1);
            c.beamOffset().put(a, boff);
            c.polarizationType().put(a, pt);
            c.polResponse().put(a, resp);
            c.position().put(a, fpos);
            c.receptorAngle().put(a, angle);
        }
    }
    /* SPECTRAL_WINDOW */
    {
        cc::MSSpWindowColumns c(ms.spectralWindow());
        ms.spectralWindow().addRow(1);
        const int64_t nc = d->nchan;
        cc::Vector<cc::Double> f(nc), wd(nc);
        for (int64_t i = 0; i < nc; i++) f[i] = d->freq[i];
        for (int64_t i = 0; i < nc; i++) {
            double df = nc < 2 ? 1e6 : i + 1 < nc ? d->freq[i + 1] - d->freq[i]
                                                  : d->freq[i] - d->freq[i - 1];
            wd[i] = df;
        }
        double lo = cc::min(f), hi = cc::max(f);
        double bw = std::fabs(hi - lo) + std::fabs(wd[0]);
        cc::Vector<cc::Double> aw(nc);
        for (int64_t i = 0; i < nc; i++) aw[i] = std::fabs(wd[i]);
        c.name().put(0, "SPW0");
        c.numChan().put(0, (int)nc);
        c.chanFreq().put(0, f);
        c.chanWidth().put(0, wd);
        c.effectiveBW().put(0, aw);
        c.resolution().put(0, aw);
        c.refFrequency().put(0, d->freq[0]);
        c.totalBandwidth().put(0, bw);
        c.measFreqRef().put(0, cc::MFrequency::TOPO);
        c.netSideband().put(0, 1);
        c.ifConvChain().put(0, 0);
        c.freqGroup().put(0, 0);
        c.freqGroupName().put(0, "");
        c.flagRow().put(0, false);
    }
    /* POLARIZATION */
    {
        cc::MSPolarizationColumns c(ms.polarization());
        ms.polarization().addRow(1);
        cc::Vector<cc::Int> ct(d->npol);
        cc::Matrix<cc::Int> cp(2, d->npol);
        for (int p = 0; p < d->npol; p++) {
            int s = casa_of_aips(d->corr[p]);
            if (s == cc::Stokes::Undefined)
                raise(MS__EINVAL, "correlation code %d is not an AIPS Stokes code", d->corr[p]);
            ct[p] = s;
            receptors(s, &cp(0, p), &cp(1, p));
        }
        c.numCorr().put(0, d->npol);
        c.corrType().put(0, ct);
        c.corrProduct().put(0, cp);
        c.flagRow().put(0, false);
    }
    /* DATA_DESCRIPTION */
    {
        cc::MSDataDescColumns c(ms.dataDescription());
        ms.dataDescription().addRow(1);
        c.spectralWindowId().put(0, 0);
        c.polarizationId().put(0, 0);
        c.flagRow().put(0, false);
    }
    /* FIELD */
    {
        cc::MSFieldColumns c(ms.field());
        ms.field().addRow(d->nfield);
        for (int f = 0; f < d->nfield; f++) {
            cc::Matrix<cc::Double> dir(2, 1);
            dir(0, 0) = d->field_dir[2 * f];
            dir(1, 0) = d->field_dir[2 * f + 1];
            char name[96];
            if (d->nfield == 1) snprintf(name, sizeof name, "%s", d->dataset);
            else snprintf(name, sizeof name, "%s-%d", d->dataset, f);
            c.name().put(f, name);
            c.code().put(f, "");
            c.time().put(f, d->time_first);
            c.numPoly().put(f, 0);
            c.delayDir().put(f, dir);
            c.phaseDir().put(f, dir);
            c.referenceDir().put(f, dir);
            c.sourceId().put(f, -1);
            c.flagRow().put(f, false);
        }
    }
    /* OBSERVATION */
    {
        cc::MSObservationColumns c(ms.observation());
        ms.observation().addRow(1);
        cc::Vector<cc::Double> tr(2);
        tr[0] = d->time_first - 0.5 * d->interval;
        tr[1] = d->time_last + 0.5 * d->interval;
        c.telescopeName().put(0, d->telescope);
        c.timeRange().put(0, tr);
        c.observer().put(0, "imbench");
        c.project().put(0, d->dataset);
        c.scheduleType().put(0, "");
        c.log().put(0, cc::Vector<cc::String>(1, "written by imbench export-ms"));
        c.schedule().put(0, cc::Vector<cc::String>(1, ""));
        c.releaseDate().put(0, 0.0);
        c.flagRow().put(0, false);
    }
    /* PROCESSOR */
    {
        cc::MSProcessorColumns c(ms.processor());
        ms.processor().addRow(1);
        c.type().put(0, "CORRELATOR");
        c.subType().put(0, "");
        c.typeId().put(0, -1);
        c.modeId().put(0, -1);
        c.flagRow().put(0, false);
    }
    /* What our store holds beyond the MS: read back by our importer. */
    cc::TableRecord k;
    k.define("format", 1);
    k.define("dataset", d->dataset);
    cc::Vector<cc::Double> pc(2);
    pc[0] = d->phase_centre[0];
    pc[1] = d->phase_centre[1];
    k.define("phase_centre", pc);
    k.define("image_nx", d->image_nx);
    k.define("image_ny", d->image_ny);
    k.define("cell_arcsec", d->cell_arcsec);
    ms.rwKeywordSet().defineRecord("IMBENCH", k);
}

int create_ms(ms__writer *w, const ms__wdesc *d)
{
    const int npol = d->npol;
    const int64_t nc = d->nchan;
    cc::TableDesc td = cc::MS::requiredTableDesc();
    cc::MS::addColumnToDesc(td, cc::MS::DATA, 2);
    cc::MS::addColumnToDesc(td, cc::MS::WEIGHT_SPECTRUM, 2);
    cc::IPosition cell(2, npol, nc);
    for (const char *c : {"DATA", "FLAG", "WEIGHT_SPECTRUM"}) {
        td.rwColumnDesc(c).setShape(cell);
        td.rwColumnDesc(c).setOptions(cc::ColumnDesc::FixedShape);
    }
    for (const char *c : {"WEIGHT", "SIGMA"}) {
        td.rwColumnDesc(c).setShape(cc::IPosition(1, npol));
        td.rwColumnDesc(c).setOptions(cc::ColumnDesc::FixedShape);
    }
    cc::SetupNewTable setup(w->tmp, td, cc::Table::New);
    cc::StandardStMan ssm("StandardStMan", 32768);
    setup.bindAll(ssm);
    cc::IPosition tile = tile_shape(npol, nc);
    cc::TiledColumnStMan tdata("TiledDATA", tile), tflag("TiledFLAG", tile),
        twspec("TiledWEIGHT_SPECTRUM", tile);
    setup.bindColumn("DATA", tdata);
    setup.bindColumn("FLAG", tflag);
    setup.bindColumn("WEIGHT_SPECTRUM", twspec);
    w->ms = std::make_unique<cc::MeasurementSet>(setup, (cc::rownr_t)d->nrow);
    w->ms->createDefaultSubtables(cc::Table::New);
    w->cols = std::make_unique<cc::MSMainColumns>(*w->ms);
    w->cols->uvwMeas().setDescRefCode(cc::Muvw::J2000, false);
    fill_subtables(w, d);
    return 0;
}

} // namespace

extern "C" int ms__writer_create(ms__msg m, const char *path, const ms__wdesc *d,
                                 ms__writer **out)
{
    *out = nullptr;
    auto w = std::make_unique<ms__writer>();
    w->path = path;
    w->tmp = std::string(path) + ".imbench-tmp";
    int rc = guarded(m, std::string("ms '") + path + "'", [&]() -> int {
        std::error_code ec;
        if (fs::exists(path, ec)) {
            if (!cc::Table::isReadable(path))
                return fail(m, MS__EINVAL, "ms '%s' exists and is not a casacore table: not "
                            "replaced", path);
            if (!d->overwrite)
                return fail(m, MS__EINVAL, "ms '%s' exists (--overwrite replaces it)", path);
            w->replace = true;
        }
        if (d->nrow < 1 || d->nchan < 1 || d->npol < 1 || d->npol > 4 || d->nfield < 1 ||
            d->nant < 1)
            return fail(m, MS__EINVAL, "ms '%s': nothing to write (%lld rows, %lld channels, %d "
                        "pols, %d fields, %d antennas)", path, (long long)d->nrow,
                        (long long)d->nchan, d->npol, d->nfield, d->nant);
        /* A temporary table left by an interrupted export is ours to drop. */
        if (fs::exists(w->tmp, ec)) fs::remove_all(w->tmp, ec);
        w->nrow = d->nrow;
        w->nchan = d->nchan;
        w->npol = d->npol;
        w->nfield = d->nfield;
        w->interval = d->interval;
        return create_ms(w.get(), d);
    });
    if (rc) {
        ms__writer_abort(w.release());
        return rc;
    }
    *out = w.release();
    return 0;
}

extern "C" int ms__writer_write(ms__msg m, ms__writer *w, int64_t row0, int64_t n,
                                const double *uvw, const float *vis, const float *weight,
                                const uint8_t *flag, const int32_t *field, const int32_t *ant1,
                                const int32_t *ant2, const double *time)
{
    return guarded(m, "ms '" + w->path + "'", [&]() -> int {
        if (row0 < 0 || n < 0 || row0 + n > w->nrow)
            return fail(m, MS__EINVAL, "ms '%s': rows %lld+%lld outside 0..%lld", w->path.c_str(),
                        (long long)row0, (long long)n, (long long)w->nrow);
        if (n == 0) return 0;
        const int np = w->npol;
        const int64_t nc = w->nchan;
        cc::MSMainColumns &c = *w->cols;
        cc::Slicer rr = rows(row0, n);
        cc::IPosition cube(3, np, nc, n);
        /* casacore arrays over the caller's buffers where the values go
         * unchanged: the layouts agree (row-major [row][chan][pol] =
         * casacore's [pol, chan, row]). DATA is the conjugate: the MS
         * follows CASA's phase sign, exp(+2 pi i (ul + vm + w(n-1))), the
         * store the Fourier sign (msio.h). */
        c.uvw().putColumnRange(rr, cc::Array<cc::Double>(cc::IPosition(2, 3, n),
                                                         const_cast<double *>(uvw), cc::SHARE));
        cc::Array<cc::Complex> dv(cube);
        bool dcontig;
        cc::Complex *dp = dv.getStorage(dcontig);
        for (int64_t i = 0; i < n * nc * np; i++) dp[i] = cc::Complex(vis[2 * i], -vis[2 * i + 1]);
        dv.putStorage(dp, dcontig);
        c.data().putColumnRange(rr, dv);
        c.weightSpectrum().putColumnRange(
            rr, cc::Array<cc::Float>(cube, const_cast<float *>(weight), cc::SHARE));
        cc::Array<cc::Bool> fl(cube);
        cc::Matrix<cc::Float> wt(np, n), sg(np, n);
        cc::Vector<cc::Bool> frow(n);
        cc::Vector<cc::Int> scan(n), fid(n), a1(n), a2(n), zero(n, 0), minus(n, -1);
        cc::Vector<cc::Double> t(n), ivl(n, w->interval);
        bool contig;
        cc::Bool *fp = fl.getStorage(contig);
        for (int64_t k = 0; k < n; k++) {
            bool all = true;
            for (int64_t i = 0; i < nc * np; i++) {
                bool f = flag[k * nc * np + i] != 0;
                fp[k * nc * np + i] = f;
                all = all && f;
            }
            frow[k] = all;
            for (int p = 0; p < np; p++) {
                double s = 0;
                for (int64_t ch = 0; ch < nc; ch++) s += weight[(k * nc + ch) * np + p];
                float mean = (float)(s / (double)nc);
                wt(p, k) = mean;
                sg(p, k) = mean > 0 ? 1.0f / std::sqrt(mean) : 0.0f;
            }
            if (field[k] < 0 || field[k] >= w->nfield)
                return fail(m, MS__ECORRUPT, "ms '%s': row %lld has field %d outside 0..%d",
                            w->path.c_str(), (long long)(row0 + k), field[k], w->nfield - 1);
            if (field[k] != w->last_field) {
                w->scan++;
                w->last_field = field[k];
            }
            scan[k] = w->scan;
            fid[k] = field[k];
            a1[k] = ant1[k];
            a2[k] = ant2[k];
            t[k] = time[k];
        }
        fl.putStorage(fp, contig);
        c.flag().putColumnRange(rr, fl);
        c.flagRow().putColumnRange(rr, frow);
        c.weight().putColumnRange(rr, wt);
        c.sigma().putColumnRange(rr, sg);
        c.time().putColumnRange(rr, t);
        c.timeCentroid().putColumnRange(rr, t);
        c.interval().putColumnRange(rr, ivl);
        c.exposure().putColumnRange(rr, ivl);
        c.antenna1().putColumnRange(rr, a1);
        c.antenna2().putColumnRange(rr, a2);
        c.fieldId().putColumnRange(rr, fid);
        c.scanNumber().putColumnRange(rr, scan);
        c.feed1().putColumnRange(rr, zero);
        c.feed2().putColumnRange(rr, zero);
        c.dataDescId().putColumnRange(rr, zero);
        c.arrayId().putColumnRange(rr, zero);
        c.observationId().putColumnRange(rr, zero);
        c.processorId().putColumnRange(rr, zero);
        c.stateId().putColumnRange(rr, minus);
        return 0;
    });
}

extern "C" int ms__writer_close(ms__msg m, ms__writer *w, int *nscan)
{
    if (!w) return 0;
    int rc = guarded(m, "ms '" + w->path + "'", [&]() -> int {
        w->cols.reset();
        w->ms->flush(true);
        w->ms.reset();
        if (w->replace) {
            /* Checked to be a table at create; the new one is complete. */
            cc::TableUtil::deleteTable(w->path, true);
        }
        std::error_code ec;
        fs::rename(w->tmp, w->path, ec);
        if (ec)
            return fail(m, MS__EIO, "ms '%s': cannot rename '%s' into place: %s",
                        w->path.c_str(), w->tmp.c_str(), ec.message().c_str());
        return 0;
    });
    if (nscan) *nscan = w->scan;
    if (rc) ms__writer_abort(w);
    else delete w;
    return rc;
}

extern "C" void ms__writer_abort(ms__writer *w)
{
    if (!w) return;
    try {
        w->cols.reset();
        w->ms.reset();
    } catch (...) {
        /* closing a half-written table may throw: it is removed below */
    }
    std::error_code ec;
    fs::remove_all(w->tmp, ec);
    delete w;
}
