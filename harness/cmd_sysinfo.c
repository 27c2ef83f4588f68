/*
 * cmd_sysinfo.c: `harness sysinfo [--json] [--dir DIR]` — what this machine
 * offers for benchmarking (cores, memory, disk, MPI, PAPI counters and
 * software-defined events, library versions, the settings that move
 * timings). The facts come from prof_sysinfo_json() and, for the settings,
 * res_tuning_collect() (what every run records); this file only prints them,
 * as text or JSON.
 */
#include "harness/harness.h"
#include "profiles/profiles.h"
#include "results/results.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Human-readable bytes ("7.6 GiB") of JSON integer v, or "unknown". */
static const char *bytes(char *buf, size_t n, const json_t *v)
{
    if (!json_is_integer(v)) return "unknown";
    double b = (double)json_integer_value(v);
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (b >= 1024.0 && u < 5) {
        b /= 1024.0;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
    return buf;
}

static const char *str(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

/* "12" for an integer member, "?" for null/missing. */
static const char *num(char *buf, size_t n, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return "?";
    snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    return buf;
}

static void print_papi(FILE *f, const json_t *papi)
{
    char b[32];
    int avail = json_is_true(json_object_get(papi, "available"));
    fprintf(f, "%-16s %s; hardware counters: %s%s%s%s\n", "papi", str(papi, "version", "?"),
            num(b, sizeof b, papi, "num_hw_counters"), avail ? "" : " (unavailable: ",
            avail ? "" : str(papi, "reason", "?"), avail ? "" : ")");
    const json_t *comps = json_object_get(papi, "components"), *c;
    size_t i;
    json_array_foreach(comps, i, c) {
        if (json_is_true(json_object_get(c, "enabled")))
            fprintf(f, "  %-14s %s: enabled, %s counters\n", i ? "" : "components",
                    str(c, "name", "?"), num(b, sizeof b, c, "num_counters"));
        else
            fprintf(f, "  %-14s %s: disabled (%s)\n", i ? "" : "components", str(c, "name", "?"),
                    str(c, "disabled_reason", ""));
    }
    const json_t *pre = json_object_get(papi, "presets_available");
    fprintf(f, "  %-14s", "presets");
    if (json_array_size(pre) == 0) fprintf(f, " none available");
    json_array_foreach(pre, i, c) fprintf(f, " %s", json_string_value(c));
    fprintf(f, "\n  %-14s", "default events");
    json_array_foreach(json_object_get(papi, "default_events"), i, c)
        fprintf(f, " %s:%s", str(c, "name", "?"),
                json_is_true(json_object_get(c, "available")) ? "yes" : "no");
    const json_t *sde = json_object_get(papi, "sde");
    if (json_is_true(json_object_get(sde, "available")))
        fprintf(f, "\n  %-14s available (imager counters readable as sde:::imbench::<name>)\n",
                "sde");
    else
        fprintf(f, "\n  %-14s unavailable (%s)\n", "sde", str(sde, "reason", "?"));
}

static void print_text(FILE *f, const json_t *j)
{
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    fprintf(f, "%-16s %s\n", "host", str(j, "host", "?"));
    fprintf(f, "%-16s %s %s (%s)\n", "os", str(j, "os", "?"), str(j, "kernel", "?"),
            str(j, "machine", "?"));
    const json_t *cpu = json_object_get(j, "cpu");
    fprintf(f, "%-16s %s%s\n", "cpu", str(cpu, "model", "unknown"),
            json_is_true(json_object_get(cpu, "hypervisor")) ? " (virtual machine)" : "");
    fprintf(f, "%-16s %.0f GFLOP/s single precision, one core (multiply-adds, measured now)\n",
            "fma peak", json_real_value(json_object_get(j, "fma_peak_gflops")));
    const json_t *c = json_object_get(j, "cores");
    fprintf(f, "%-16s %s online, %s configured, %s usable, %s physical, %s socket(s)\n", "cores",
            num(b1, sizeof b1, c, "online"), num(b2, sizeof b2, c, "configured"),
            num(b3, sizeof b3, c, "usable"), num(b4, sizeof b4, c, "physical"),
            num(b5, sizeof b5, c, "sockets"));
    const json_t *m = json_object_get(j, "memory_bytes");
    fprintf(f, "%-16s %s total, %s available", "memory",
            bytes(b1, sizeof b1, json_object_get(m, "total")),
            bytes(b2, sizeof b2, json_object_get(m, "available")));
    if (json_is_integer(json_object_get(m, "cgroup_limit")))
        fprintf(f, ", container limit %s", bytes(b3, sizeof b3, json_object_get(m, "cgroup_limit")));
    fprintf(f, "\n");
    char text[512];
    res_tuning_describe(json_object_get(j, "tuning"), text, sizeof text);
    fprintf(f, "%-16s %s\n", "settings", text);
    const json_t *d = json_object_get(j, "disk");
    fprintf(f, "%-16s %s free of %s under %s\n", "disk",
            bytes(b1, sizeof b1, json_object_get(d, "free_bytes")),
            bytes(b2, sizeof b2, json_object_get(d, "total_bytes")), str(d, "path", "?"));
    if (json_is_number(json_object_get(d, "seq_read_mb_s")))
        fprintf(f, "%-16s %.0f MB/s sequential read (%lld MiB file, page cache dropped)\n",
                "disk read", json_number_value(json_object_get(d, "seq_read_mb_s")),
                (long long)json_integer_value(json_object_get(d, "seq_read_test_mib")));
    const json_t *mpi = json_object_get(j, "mpi");
    if (json_is_true(json_object_get(mpi, "found")))
        fprintf(f, "%-16s %s %s (%s)%s\n", "mpi", str(mpi, "implementation", "unknown MPI"),
                str(mpi, "version", ""), str(mpi, "launcher", "?"),
                json_is_true(json_object_get(mpi, "needs_allow_run_as_root"))
                    ? "; running as root: mpirun needs --allow-run-as-root"
                    : "");
    else
        fprintf(f, "%-16s no mpirun on PATH\n", "mpi");
    if (json_is_string(json_object_get(mpi, "library_version")))
        fprintf(f, "  %-14s %s (MPI %s)\n", "library", str(mpi, "library_version", "?"),
                str(mpi, "standard", "?"));
    print_papi(f, json_object_get(j, "papi"));
    const json_t *libs = json_object_get(j, "libraries"), *v;
    const char *k;
    fprintf(f, "%-16s", "libraries");
    json_object_foreach((json_t *)libs, k, v)
        fprintf(f, " %s %s;", k, json_is_string(v) ? json_string_value(v) : "none");
    const json_t *bld = json_object_get(j, "build");
    fprintf(f, "\n%-16s %s, C %s\n", "build", str(bld, "compiler", "?"),
            num(b1, sizeof b1, bld, "c_standard"));
}

/*
 * The disk's sequential read rate under dir: write mb MiB to a temporary
 * file, flush it and drop it from the page cache (posix_fadvise), read it
 * back in 4 MiB requests, remove it. Returns MB/s (1e6 bytes) or -1 with e.
 */
static double seq_read_mb_s(ib_err *e, const char *dir, int mb)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.imbench-readtest.XXXXXX", dir) >= (int)sizeof path) {
        ib_error(e, IB_EOVERFLOW, "option '--read-speed': directory name too long");
        return -1;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        ib_error(e, IB_EIO, "option '--read-speed': cannot create a file under '%s': %s", dir,
                 strerror(errno));
        return -1;
    }
    const size_t blk = (size_t)4 << 20;
    char *buf = ib_malloc(blk);
    double rate = -1;
    int ok = buf != NULL;
    if (buf)
        for (size_t i = 0; i < blk; i++) buf[i] = (char)(i * 131u + 7u);
    for (int k = 0; ok && k < mb; k += 4) ok = write(fd, buf, blk) == (ssize_t)blk;
    ok = ok && fdatasync(fd) == 0;
    if (!ok) {
        ib_error(e, IB_EIO, "option '--read-speed': cannot write %d MiB under '%s': %s", mb, dir,
                 strerror(errno));
    } else {
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        double t0 = ib_now();
        off_t off = 0;
        ssize_t r;
        while ((r = pread(fd, buf, blk, off)) > 0) off += r;
        double dt = ib_now() - t0;
        if (r < 0)
            ib_error(e, IB_EIO, "option '--read-speed': cannot read back '%s': %s", path,
                     strerror(errno));
        else
            rate = dt > 0 ? (double)off / 1e6 / dt : 0;
    }
    free(buf);
    close(fd);
    unlink(path);
    return rate;
}

int hx_cmd_sysinfo(int argc, char **argv)
{
    int json = 0, help = 0;
    int read_mb = 0;
    const char *dir = ".";
    const ib_opt opts[] = {
        {"json", IB_OPT_FLAG, &json, NULL, "print JSON (the form stored as run provenance)"},
        {"dir", IB_OPT_STR, &dir, "DIR", "measure free disk space under DIR (default .)"},
        {"read-speed", IB_OPT_INT, &read_mb, "MB",
         "also measure the disk's sequential read under DIR with a file of MB MiB (0: no)"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, ps = hx_parse("sysinfo", opts, argc, argv, &npos, 0, 0);
    if (ps >= 0) return ps;
    ib_err e;
    ib_err_init(&e);
    if (read_mb < 0 || read_mb > 65536)
        return hx_usage_error("sysinfo", "option '--read-speed' must be 0..65536 MiB, got %d",
                              read_mb);
    json_t *j = prof_sysinfo_json(&e, dir);
    if (!j) return hx_fail("sysinfo", &e);
    if (read_mb > 0) {
        double r = seq_read_mb_s(&e, dir, read_mb);
        if (r < 0) {
            json_decref(j);
            return hx_fail("sysinfo", &e);
        }
        json_t *d = json_object_get(j, "disk");
        if (json_is_object(d)) {
            json_object_set_new(d, "seq_read_mb_s", json_real(r));
            json_object_set_new(d, "seq_read_test_mib", json_integer(read_mb));
        }
    }
    json_t *libs = json_object_get(j, "libraries");
    if (json_is_object(libs))
        json_object_set_new(libs, "sqlite", json_string(res_sqlite_version()));
    char tuning[1024];
    res_tuning_collect(NULL, tuning, sizeof tuning);
    json_t *t = json_loads(tuning, 0, NULL);
    if (!t || json_object_set_new(j, "tuning", t) != 0) {
        json_decref(j);
        return hx_fail("sysinfo", &(ib_err){IB_ENOMEM, "out of memory describing the system"});
    }
    int rc = 0;
    if (json) {
        if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) rc = 1;
        fputc('\n', stdout);
    } else {
        print_text(stdout, j);
    }
    json_decref(j);
    if (fflush(stdout) != 0) rc = 1;
    return rc;
}
