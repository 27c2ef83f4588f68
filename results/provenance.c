/*
 * provenance.c: what a run records about where and with what it ran —
 * git commit and dirty flag, compiler and build flags, host, CPU, cores,
 * memory, kernel, library versions (from their version APIs), the
 * environment variables that change how the imager runs, and the machine
 * settings that move timings (res_tuning_collect).
 */
#define _GNU_SOURCE
#include "results/results.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fftw3.h>
#include <fitsio.h>
#include <hdf5.h>
#include <papi.h>
#include <yaml.h>

extern char **environ;

/*
 * Run argv (searched in PATH) with stdin and stderr on /dev/null and its
 * stdout captured into out (first line only when first_line). 0 when the
 * program exited 0.
 */
static int capture(char *const argv[], char *out, size_t n, int first_line)
{
    out[0] = '\0';
    int fd[2];
    if (pipe(fd) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        return -1;
    }
    size_t len = 0;
    char buf[4096];
    ssize_t k;
    while ((k = read(fd[0], buf, sizeof buf)) > 0) {
        size_t take = (size_t)k;
        if (len + take >= n) take = n - 1 - len;
        memcpy(out + len, buf, take);
        len += take;
    }
    out[len] = '\0';
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0) {
    }
    if (first_line) out[strcspn(out, "\n")] = '\0';
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' ')) out[--len] = '\0';
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void cpu_model(char *out, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t') c++;
                c[strcspn(c, "\n")] = '\0';
                snprintf(out, n, "%.255s", c);
                break;
            }
        }
    }
    fclose(f);
}

/* Append "key":"value" to a JSON object under construction. */
static void json_add(json_t *o, const char *key, const char *value)
{
    if (value && *value) json_object_set_new(o, key, json_string(value));
}

static void libs(char *out, size_t n)
{
    json_t *o = json_object();
    if (!o) return;
    char buf[256];
    json_add(o, "sqlite", sqlite3_libversion());
    unsigned maj, min, rel;
    if (H5get_libversion(&maj, &min, &rel) >= 0) {
        snprintf(buf, sizeof buf, "%u.%u.%u", maj, min, rel);
        json_add(o, "hdf5", buf);
    }
    json_add(o, "fftw", fftw_version);
    snprintf(buf, sizeof buf, "%d.%d.%d", CFITSIO_MAJOR, CFITSIO_MINOR, CFITSIO_MICRO);
    json_add(o, "cfitsio", buf);
    json_add(o, "libyaml", yaml_get_version_string());
    json_add(o, "jansson", jansson_version_str());
    snprintf(buf, sizeof buf, "%d.%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION),
             PAPI_VERSION_MINOR(PAPI_VERSION), PAPI_VERSION_REVISION(PAPI_VERSION),
             PAPI_VERSION_INCREMENT(PAPI_VERSION));
    json_add(o, "papi", buf);
    char *const mpi[] = {"mpirun", "--version", NULL};
    if (capture(mpi, buf, sizeof buf, 1) == 0) json_add(o, "openmpi", buf);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (s) snprintf(out, n, "%s", s);
    free(s);
    json_decref(o);
}

/* Variables that change how the imager and MPI run. */
static int relevant_env(const char *kv)
{
    static const char *const prefixes[] = {"OMP_",   "OMPI_",  "IMBENCH_", "PAPI_", "SLURM_JOB",
                                           "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                           "HDF5_",  NULL};
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(kv, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

static void env(char *out, size_t n)
{
    json_t *o = json_object();
    if (!o) return;
    for (char **p = environ; p && *p; p++) {
        if (!relevant_env(*p)) continue;
        const char *eq = strchr(*p, '=');
        if (!eq) continue;
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - *p), *p);
        json_object_set_new(o, key, json_string(eq + 1));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (s && strlen(s) < n) snprintf(out, n, "%s", s);
    else snprintf(out, n, "{\"_truncated\":true}");
    free(s);
    json_decref(o);
}

/* The first line of root/rel into out; 0 when the file could be read. */
static int sys_line(const char *root, const char *rel, char *out, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fgets(out, (int)n, f) != NULL;
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
    return ok ? 0 : -1;
}

/* The [selected] word of a sysfs choice file ("always [madvise] never"). */
static void sys_choice(json_t *o, const char *key, const char *root, const char *rel)
{
    char buf[256];
    if (sys_line(root, rel, buf, sizeof buf) != 0) return;
    char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
    if (a && b) {
        *b = '\0';
        json_add(o, key, a + 1);
    } else {
        json_add(o, key, buf);
    }
}

/*
 * Does a virtio memory balloon with free page reporting run here? Its
 * device id is 5; feature bit 5 (VIRTIO_BALLOON_F_REPORTING) is character
 * 5 of the device's features string. 1 yes, 0 no, -1 no virtio bus.
 */
static int balloon_reporting(const char *root)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bus/virtio/devices", root);
    DIR *d = opendir(dir);
    if (!d) return -1;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char rel[512], buf[512];
        snprintf(rel, sizeof rel, "bus/virtio/devices/%.200s/device", de->d_name);
        if (sys_line(root, rel, buf, sizeof buf) != 0 || strtol(buf, NULL, 16) != 5) continue;
        snprintf(rel, sizeof rel, "bus/virtio/devices/%.200s/features", de->d_name);
        found = sys_line(root, rel, buf, sizeof buf) == 0 && strlen(buf) > 5 && buf[5] == '1';
    }
    closedir(d);
    return found;
}

void res_tuning_collect(const char *sysroot, char *out, size_t n)
{
    out[0] = '\0';
    json_t *o = json_object();
    if (!o) return;
    const char *root = sysroot ? sysroot : "/sys";
    sys_choice(o, "thp_enabled", root, "kernel/mm/transparent_hugepage/enabled");
    sys_choice(o, "thp_defrag", root, "kernel/mm/transparent_hugepage/defrag");
    sys_choice(o, "cpufreq_governor", root, "devices/system/cpu/cpu0/cpufreq/scaling_governor");
    int rep = balloon_reporting(root);
    if (rep >= 0) json_object_set_new(o, "free_page_reporting", json_boolean(rep));
    char buf[64];
    if (rep > 0 &&
        sys_line(root, "module/page_reporting/parameters/page_reporting_order", buf,
                 sizeof buf) == 0)
        json_object_set_new(o, "page_reporting_order", json_integer(strtol(buf, NULL, 10)));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (s && strlen(s) < n) snprintf(out, n, "%s", s);
    free(s);
    json_decref(o);
}

void res_tuning_describe(const json_t *t, char *buf, size_t n)
{
    const char *thp = json_string_value(json_object_get(t, "thp_enabled"));
    const char *defrag = json_string_value(json_object_get(t, "thp_defrag"));
    const char *gov = json_string_value(json_object_get(t, "cpufreq_governor"));
    const json_t *rep = json_object_get(t, "free_page_reporting");
    const json_t *order = json_object_get(t, "page_reporting_order");
    char ord[32] = "";
    if (json_is_integer(order))
        snprintf(ord, sizeof ord, " (order %lld)", (long long)json_integer_value(order));
    snprintf(buf, n, "huge pages %s (defrag %s), CPU governor %s, free page reporting %s%s",
             thp ? thp : "?", defrag ? defrag : "?", gov ? gov : "none",
             json_is_true(rep) ? "on" : json_is_false(rep) ? "off" : "n/a", ord);
}

void res_provenance_collect(res_provenance *p)
{
    memset(p, 0, sizeof *p);
    p->git_dirty = -1;
    char buf[4096];
    char *const rev[] = {"git", "rev-parse", "HEAD", NULL};
    if (capture(rev, buf, sizeof buf, 1) == 0) {
        snprintf(p->git_commit, sizeof p->git_commit, "%.63s", buf);
        char *const status[] = {"git", "status", "--porcelain", "--untracked-files=no", NULL};
        if (capture(status, buf, sizeof buf, 0) == 0) p->git_dirty = buf[0] != '\0';
    }
#if defined(__clang__)
    snprintf(p->compiler, sizeof p->compiler, "clang %s", __clang_version__);
#elif defined(__GNUC__)
    snprintf(p->compiler, sizeof p->compiler, "gcc %s", __VERSION__);
#else
    snprintf(p->compiler, sizeof p->compiler, "unknown");
#endif
#ifdef IB_BUILD_FLAGS
    snprintf(p->cflags, sizeof p->cflags, "%s", IB_BUILD_FLAGS);
#else
    /* The build did not pass its flags; say what the compiler tells. */
    snprintf(p->cflags, sizeof p->cflags, "%s%s%s",
#ifdef __OPTIMIZE__
             "optimized",
#else
             "not optimized",
#endif
#ifdef __SANITIZE_ADDRESS__
             " asan",
#else
             "",
#endif
#ifdef __AVX2__
             " avx2"
#else
             ""
#endif
    );
#endif
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(p->host, sizeof p->host, "%s", u.nodename);
        snprintf(p->kernel, sizeof p->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    }
    cpu_model(p->cpu_model, sizeof p->cpu_model);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    p->cores = cores > 0 ? (int)cores : -1;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    p->mem_bytes = pages > 0 && page > 0 ? (int64_t)pages * page : -1;
    libs(p->libs, sizeof p->libs);
    env(p->env, sizeof p->env);
    res_tuning_collect(NULL, p->tuning, sizeof p->tuning);
}
