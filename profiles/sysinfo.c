/*
 * sysinfo.c: what this machine offers — host, kernel, CPU, cores, memory,
 * disk, MPI, PAPI counters and SDE, library versions — as one JSON object,
 * for `harness sysinfo` and for the provenance of recorded runs.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "profiles.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fftw3.h>
#include <fitsio.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <papi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <yaml.h>

/* Trim leading/trailing white space of s in place; returns s. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* The value after "key<spaces>:" on the first line of file path starting
 * with key, into out; 0 if found. */
static int file_field(const char *path, const char *key, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[8192]; /* x86 "flags" lines pass 1 KB */
    size_t klen = strlen(key);
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0) continue;
        char *p = line + klen;
        while (*p == ' ' || *p == '\t') p++;
        if (*p != ':') continue;
        snprintf(out, n, "%s", trim(p + 1));
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

/* A whole small file (first line), trimmed, into out; 0 if read. */
static int file_line(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[256];
    int rc = fgets(line, sizeof line, f) ? 0 : -1;
    fclose(f);
    if (rc == 0) snprintf(out, n, "%s", trim(line));
    return rc;
}

static json_t *cpu_json(void)
{
    json_t *o = json_object();
    if (!o) return NULL;
    char model[256] = "", flags[8192] = "";
    static const char *const keys[] = {"model name", "Model", "cpu model", "Processor", "cpu"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !model[0]; i++)
        if (file_field("/proc/cpuinfo", keys[i], model, sizeof model) != 0) model[0] = '\0';
    int hyper = 0;
    if (file_field("/proc/cpuinfo", "flags", flags, sizeof flags) == 0) {
        char *save = NULL;
        for (char *tok = strtok_r(flags, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
            if (strcmp(tok, "hypervisor") == 0) hyper = 1;
    }
    int bad = prof__set(o, "model", model[0] ? prof__json_str(model) : json_null());
    bad |= prof__set(o, "hypervisor", json_boolean(hyper));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Physical cores and sockets from sysfs topology: distinct (package,
 * core) pairs among the online CPUs; -1 when the system does not say. */
static void topology(int configured, int *physical, int *sockets)
{
    enum { MAXCPU = 4096 };
    *physical = *sockets = -1;
    if (configured <= 0) return;
    if (configured > MAXCPU) configured = MAXCPU;
    long *pkg = ib_malloc(sizeof *pkg * (size_t)configured);
    long *core = ib_malloc(sizeof *core * (size_t)configured);
    int n = 0;
    if (pkg && core) {
        for (int i = 0; i < configured; i++) {
            char path[128], a[32], b[32];
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", i);
            if (file_line(path, a, sizeof a) != 0) continue;
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", i);
            if (file_line(path, b, sizeof b) != 0) continue;
            pkg[n] = strtol(a, NULL, 10);
            core[n] = strtol(b, NULL, 10);
            n++;
        }
    }
    if (n > 0) {
        int np = 0, ns = 0;
        for (int i = 0; i < n; i++) {
            int seen_pair = 0, seen_pkg = 0;
            for (int j = 0; j < i; j++) {
                if (pkg[j] == pkg[i]) {
                    seen_pkg = 1;
                    if (core[j] == core[i]) seen_pair = 1;
                }
            }
            np += !seen_pair;
            ns += !seen_pkg;
        }
        *physical = np;
        *sockets = ns;
    }
    ib_free(pkg);
    ib_free(core);
}

static json_t *int_or_null(long long v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

static json_t *cores_json(void)
{
    json_t *o = json_object();
    if (!o) return NULL;
    long online = sysconf(_SC_NPROCESSORS_ONLN), conf = sysconf(_SC_NPROCESSORS_CONF);
    long usable = -1;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) usable = CPU_COUNT(&set);
    int physical, sockets;
    topology((int)conf, &physical, &sockets);
    int bad = prof__set(o, "online", int_or_null(online));
    bad |= prof__set(o, "configured", int_or_null(conf));
    bad |= prof__set(o, "usable", int_or_null(usable));
    bad |= prof__set(o, "physical", int_or_null(physical));
    bad |= prof__set(o, "sockets", int_or_null(sockets));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *memory_json(void)
{
    json_t *o = json_object();
    if (!o) return NULL;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    long long total = (pages > 0 && psize > 0) ? (long long)pages * psize : -1;
    long long avail = -1, cg = -1;
    char buf[128];
    if (file_field("/proc/meminfo", "MemAvailable", buf, sizeof buf) == 0)
        avail = strtoll(buf, NULL, 10) * 1024; /* "123456 kB" */
    /* A container's limit matters more than the host's memory. */
    if (file_line("/sys/fs/cgroup/memory.max", buf, sizeof buf) == 0 && isdigit((unsigned char)buf[0]))
        cg = strtoll(buf, NULL, 10);
    int bad = prof__set(o, "total", int_or_null(total));
    bad |= prof__set(o, "available", int_or_null(avail));
    bad |= prof__set(o, "cgroup_limit", int_or_null(cg));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *disk_json(const char *dir)
{
    json_t *o = json_object();
    if (!o) return NULL;
    char real[PATH_MAX];
    const char *path = realpath(dir, real) ? real : dir;
    struct statvfs sv;
    long long fre = -1, tot = -1;
    if (statvfs(dir, &sv) == 0) {
        fre = (long long)sv.f_bavail * (long long)sv.f_frsize;
        tot = (long long)sv.f_blocks * (long long)sv.f_frsize;
    }
    int bad = prof__set(o, "path", prof__json_str(path));
    bad |= prof__set(o, "free_bytes", int_or_null(fre));
    bad |= prof__set(o, "total_bytes", int_or_null(tot));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Full path of program name found on $PATH, into out; 0 if found. */
static int find_in_path(const char *name, char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        if (len > 0 && (size_t)snprintf(out, n, "%.*s/%s", (int)len, path, name) < n &&
            access(out, X_OK) == 0)
            return 0;
        path += len;
        if (*path == ':') path++;
    }
    return -1;
}

static int env_is(const char *name, const char *value)
{
    const char *v = getenv(name);
    return v && strcmp(v, value) == 0;
}

/*
 * MPI as the linked library reports it (MPI_Get_library_version and
 * MPI_Get_version may be called before MPI_Init) and as the launcher does
 * (`mpirun --version`: the MPI that starts the ranks). Open MPI refuses to
 * run as root without --allow-run-as-root (or both OMPI_ALLOW_RUN_AS_ROOT
 * variables), which the harness has to know before it launches.
 */
static json_t *mpi_json(char *summary, size_t nsum)
{
    json_t *o = json_object();
    if (!o) return NULL;
    char launcher[PATH_MAX] = "", out[4096] = "", first[256] = "";
    char impl[64] = "", version[64] = "";
    int found = find_in_path("mpirun", launcher, sizeof launcher) == 0 && !strchr(launcher, '\'');
    if (found) {
        char cmd[PATH_MAX + 64];
        snprintf(cmd, sizeof cmd, "'%s' --version 2>/dev/null </dev/null", launcher);
        FILE *p = popen(cmd, "r");
        size_t len = 0;
        if (p) {
            size_t r;
            while ((r = fread(out + len, 1, sizeof out - 1 - len, p)) > 0) len += r;
            out[len] = '\0';
            if (pclose(p) != 0 && len == 0) found = 0;
        } else {
            found = 0;
        }
    }
    if (found) {
        char *save = NULL;
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char *t = trim(l);
            if (!first[0] && *t) snprintf(first, sizeof first, "%.255s", t);
            if (strncmp(t, "Version:", 8) == 0 && !version[0])
                snprintf(version, sizeof version, "%.63s", trim(t + 8));
        }
        if (strstr(first, "Open MPI") || strstr(first, "OpenRTE")) {
            snprintf(impl, sizeof impl, "Open MPI");
            const char *sp = strrchr(first, ' ');
            snprintf(version, sizeof version, "%.63s", sp ? sp + 1 : first);
        } else if (strstr(first, "HYDRA")) {
            snprintf(impl, sizeof impl, "MPICH");
        } else if (strstr(first, "Intel")) {
            snprintf(impl, sizeof impl, "Intel MPI");
        }
    }
    char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int liblen = 0, std_major = 0, std_minor = 0;
    if (MPI_Get_library_version(lib, &liblen) != MPI_SUCCESS) lib[0] = '\0';
    lib[strcspn(lib, "\n")] = '\0'; /* MPICH's string runs over lines */
    char standard[32] = "";
    if (MPI_Get_version(&std_major, &std_minor) == MPI_SUCCESS)
        snprintf(standard, sizeof standard, "%d.%d", std_major, std_minor);
    int root = geteuid() == 0;
    int ompi = strcmp(impl, "Open MPI") == 0;
    int allowed = env_is("OMPI_ALLOW_RUN_AS_ROOT", "1") && env_is("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    int needs = found && ompi && root && !allowed;
    /* The library the programs link, else what the launcher says. */
    if (nsum && lib[0])
        snprintf(summary, nsum, "%.*s", (int)strcspn(lib, ","), lib);
    else if (nsum)
        snprintf(summary, nsum, "%s%s%s", impl[0] ? impl : (found ? "unknown MPI" : ""),
                 version[0] ? " " : "", version);
    int bad = prof__set(o, "found", json_boolean(found));
    bad |= prof__set(o, "implementation", impl[0] ? prof__json_str(impl) : json_null());
    bad |= prof__set(o, "version", version[0] ? prof__json_str(version) : json_null());
    bad |= prof__set(o, "launcher", found ? prof__json_str(launcher) : json_null());
    bad |= prof__set(o, "version_line", first[0] ? prof__json_str(first) : json_null());
    bad |= prof__set(o, "library_version", lib[0] ? prof__json_str(lib) : json_null());
    bad |= prof__set(o, "standard", standard[0] ? prof__json_str(standard) : json_null());
    bad |= prof__set(o, "running_as_root", json_boolean(root));
    bad |= prof__set(o, "needs_allow_run_as_root", json_boolean(needs));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *components_json(void)
{
    json_t *a = json_array();
    int bad = !a;
    int n = PAPI_num_components();
    for (int i = 0; i < n && !bad; i++) {
        const PAPI_component_info_t *ci = PAPI_get_component_info(i);
        if (!ci) continue;
        json_t *c = json_object();
        bad |= !c;
        if (bad) break;
        bad |= prof__set(c, "name", prof__json_str(ci->name));
        bad |= prof__set(c, "description", prof__json_str(ci->description));
        bad |= prof__set(c, "enabled", json_boolean(!ci->disabled));
        bad |= prof__set(c, "disabled_reason",
                         ci->disabled ? prof__json_str(ci->disabled_reason) : json_null());
        bad |= prof__set(c, "num_counters", json_integer(ci->num_cntrs > 0 ? ci->num_cntrs : 0));
        bad |= prof__append(a, c);
    }
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *presets_json(void)
{
    json_t *a = json_array();
    if (!a) return NULL;
    int bad = 0, code = PAPI_PRESET_MASK;
    int r = PAPI_enum_event(&code, PAPI_ENUM_FIRST);
    while (r == PAPI_OK && !bad) {
        char name[PAPI_MAX_STR_LEN];
        if (PAPI_query_event(code) == PAPI_OK && PAPI_event_code_to_name(code, name) == PAPI_OK)
            bad |= prof__append(a, prof__json_str(name));
        r = PAPI_enum_event(&code, PAPI_ENUM_EVENTS);
    }
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* PAPI as the imager will see it: the default events through prof_papi,
 * the components with their reasons, available presets, SDE round trip. */
static json_t *papi_json(ib_err *e)
{
    prof_papi p;
    if (prof_papi_init(e, &p, NULL, 0) != 0) return NULL;
    json_t *o = json_object(), *evs = json_array();
    int bad = !o || !evs;
    for (int i = 0; i < p.nevents && !bad; i++) {
        json_t *ev = json_object();
        bad |= !ev;
        if (bad) break;
        bad |= prof__set(ev, "name", prof__json_str(p.ev[i].name));
        bad |= prof__set(ev, "available", json_boolean(p.ev[i].available));
        bad |= prof__append(evs, ev);
    }
    int inited = PAPI_is_initialized() != PAPI_NOT_INITED;
    char why[512] = "";
    int sde_ok = inited ? prof_sde_probe(why, sizeof why) : 0;
    if (!inited) snprintf(why, sizeof why, "%s", p.reason);
    json_t *sde = json_object();
    bad |= !sde;
    if (sde) {
        bad |= prof__set(sde, "available", json_boolean(sde_ok));
        bad |= prof__set(sde, "reason", prof__json_str(sde_ok ? "" : why));
    }
    if (o) {
        bad |= prof__set(o, "version", prof__json_str(p.version));
        bad |= prof__set(o, "available", json_boolean(p.available));
        bad |= prof__set(o, "reason", prof__json_str(p.available ? "" : p.reason));
        bad |= prof__set(o, "num_hw_counters", json_integer(p.num_hw_counters));
        bad |= prof__set(o, "components", inited ? components_json() : json_array());
        bad |= prof__set(o, "presets_available", inited ? presets_json() : json_array());
        bad |= prof__set(o, "default_events", evs);
        evs = NULL;
        bad |= prof__set(o, "sde", sde);
        sde = NULL;
    }
    json_decref(evs);
    json_decref(sde);
    prof_papi_release(&p);
    if (bad) {
        json_decref(o);
        ib_error(e, IB_ENOMEM, "out of memory describing the system");
        return NULL;
    }
    return o;
}

static json_t *libraries_json(const char *mpi, const char *papi_version)
{
    json_t *o = json_object();
    if (!o) return NULL;
    char buf[64];
    unsigned maj = 0, min = 0, rel = 0;
    int bad = 0;
    if (H5get_libversion(&maj, &min, &rel) >= 0) {
        snprintf(buf, sizeof buf, "%u.%u.%u", maj, min, rel);
        bad |= prof__set(o, "hdf5", prof__json_str(buf));
    } else {
        bad |= prof__set(o, "hdf5", json_null());
    }
    bad |= prof__set(o, "fftw", prof__json_str(fftwf_version));
    /* ffvers encodes major + minor/100 + micro/10000. */
    float fv = 0;
    fits_get_version(&fv);
    long cv = lround((double)fv * 10000.0);
    snprintf(buf, sizeof buf, "%ld.%ld.%ld", cv / 10000, cv / 100 % 100, cv % 100);
    bad |= prof__set(o, "cfitsio", prof__json_str(buf));
    bad |= prof__set(o, "libyaml", prof__json_str(yaml_get_version_string()));
    bad |= prof__set(o, "jansson", prof__json_str(jansson_version_str()));
    bad |= prof__set(o, "papi", prof__json_str(papi_version));
    bad |= prof__set(o, "mpi", mpi && *mpi ? prof__json_str(mpi) : json_null());
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *build_json(void)
{
    json_t *o = json_object();
    if (!o) return NULL;
#if defined(__clang__)
    const char *cc = "clang " __clang_version__;
#elif defined(__GNUC__)
    const char *cc = "gcc " __VERSION__;
#else
    const char *cc = "unknown";
#endif
    int bad = prof__set(o, "compiler", prof__json_str(cc));
    bad |= prof__set(o, "c_standard", json_integer(__STDC_VERSION__));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *prof_sysinfo_json(ib_err *e, const char *disk_dir)
{
    json_t *o = json_object();
    if (!o) {
        ib_error(e, IB_ENOMEM, "out of memory describing the system");
        return NULL;
    }
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    struct utsname u;
    int have_uname = uname(&u) == 0;
    char mpi[128] = "";

    int bad = prof__set(o, "schema", json_string("imbench-sysinfo/1"));
    bad |= prof__set(o, "host", host[0] ? prof__json_str(host) : json_null());
    bad |= prof__set(o, "os", have_uname ? prof__json_str(u.sysname) : json_null());
    bad |= prof__set(o, "kernel", have_uname ? prof__json_str(u.release) : json_null());
    bad |= prof__set(o, "kernel_version", have_uname ? prof__json_str(u.version) : json_null());
    bad |= prof__set(o, "machine", have_uname ? prof__json_str(u.machine) : json_null());
    bad |= prof__set(o, "cpu", cpu_json());
    bad |= prof__set(o, "cores", cores_json());
    bad |= prof__set(o, "memory_bytes", memory_json());
    bad |= prof__set(o, "disk", disk_json(disk_dir ? disk_dir : "."));
    bad |= prof__set(o, "mpi", mpi_json(mpi, sizeof mpi));
    bad |= prof__set(o, "fma_peak_gflops", json_real(prof_fma_peak_gflops(0.05)));
    if (bad) {
        json_decref(o);
        ib_error(e, IB_ENOMEM, "out of memory describing the system");
        return NULL;
    }
    json_t *papi = papi_json(e);
    if (!papi) {
        json_decref(o);
        return NULL;
    }
    json_t *ver = json_object_get(papi, "version");
    bad |= prof__set(o, "libraries", libraries_json(mpi, json_string_value(ver)));
    bad |= prof__set(o, "papi", papi);
    bad |= prof__set(o, "build", build_json());
    if (bad) {
        json_decref(o);
        ib_error(e, IB_ENOMEM, "out of memory describing the system");
        return NULL;
    }
    return o;
}

double prof_fma_peak_gflops(double seconds)
{
    enum { N = 256, REPS = 500 }; /* 16 AVX-512 vectors of independent chains */
    float acc[N];
    for (int i = 0; i < N; i++) acc[i] = 1.0f + (float)i * 1e-6f;
    const float a = 0.9999999f, b = 1e-7f;
    /* the best of slices of REPS rounds: what a core does when the
     * machine's other work leaves it alone for a moment */
    double best = 0, start = ib_now(), t0 = start, t1;
    do {
        for (int r = 0; r < REPS; r++)
            for (int i = 0; i < N; i++) acc[i] = fmaf(acc[i], a, b);
        t1 = ib_now();
        double rate = t1 > t0 ? 2.0 * N * REPS / (t1 - t0) / 1e9 : 0;
        best = rate > best ? rate : best;
        t0 = t1;
    } while (t1 - start < seconds);
    volatile float sink = 0;
    for (int i = 0; i < N; i++) sink += acc[i];
    (void)sink;
    return best;
}
