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
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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
    out[0] = '\0';
    if (ib_path_fmt(NULL, path, sizeof path, "%s/%s", root, rel)) return -1;
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
    if (ib_path_fmt(NULL, dir, sizeof dir, "%s/bus/virtio/devices", root)) return -1;
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

/* Write text to path created exclusively (O_EXCL: never over a file)
 * through a temporary name and link(2): the name appears whole or not at
 * all. IB_EIO "already exists" when path exists. */
static int write_exclusive(ib_err *e, const char *path, const char *text)
{
    char tmp[4200];
    int r = ib_path_fmt(e, tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    if (r) return r;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return ib_error(e, IB_EIO, "cannot create '%s': %s", path, strerror(errno));
    size_t len = strlen(text), done = 0;
    int err = 0;
    while (!err && done < len) {
        ssize_t k = write(fd, text + done, len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) err = k < 0 ? errno : EIO;
        else done += (size_t)k;
    }
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && link(tmp, path) != 0) err = errno;
    unlink(tmp);
    if (err == EEXIST) return ib_error(e, IB_EIO, "'%s' already exists", path);
    if (err)
        return ib_error(e, err == ENOSPC ? IB_ENOSPACE : IB_EIO, "cannot write '%s': %s", path,
                        strerror(err));
    return 0;
}

/* ---- provenance.json ------------------------------------------------- */

/* Set key to a JSON object parsed from text (libs, env, tuning); text that
 * is empty or not an object is left out. */
static int set_object_text(json_t *o, const char *key, const char *text)
{
    if (!text[0]) return 0;
    json_t *v = json_loads(text, 0, NULL);
    if (!json_is_object(v)) {
        json_decref(v);
        return 0;
    }
    return json_object_set_new(o, key, v);
}

json_t *res_provenance_json(const res_provenance *p)
{
    json_t *o = json_object();
    if (!o) return NULL;
    char ts[40];
    res_timestamp(ts, sizeof ts);
    int bad = json_object_set_new(o, "schema", json_string("imbench-provenance/1"));
    bad |= json_object_set_new(o, "recorded_at", json_string(ts));
    const struct {
        const char *key, *value;
    } strs[] = {{"git_commit", p->git_commit}, {"compiler", p->compiler},
                {"cflags", p->cflags},         {"host", p->host},
                {"cpu_model", p->cpu_model},   {"kernel", p->kernel},
                {"command", p->command}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i].value[0]) bad |= json_object_set_new(o, strs[i].key, json_string(strs[i].value));
    if (p->git_dirty >= 0) bad |= json_object_set_new(o, "git_dirty", json_boolean(p->git_dirty));
    if (p->cores > 0) bad |= json_object_set_new(o, "cores", json_integer(p->cores));
    if (p->mem_bytes > 0) bad |= json_object_set_new(o, "mem_bytes", json_integer(p->mem_bytes));
    bad |= set_object_text(o, "libs", p->libs);
    bad |= set_object_text(o, "env", p->env);
    bad |= set_object_text(o, "tuning", p->tuning);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int res_provenance_write_json(ib_err *e, const char *path, const char *command)
{
    res_provenance *p = ib_calloc(1, sizeof *p);
    if (!p) return ib_error(e, IB_ENOMEM, "out of memory collecting provenance");
    res_provenance_collect(p);
    int r = 0;
    if (command && ib_path_fmt(NULL, p->command, sizeof p->command, "%s", command))
        r = ib_error(e, IB_EOVERFLOW, "provenance '%s': the command line is over %zu bytes",
                     path, sizeof p->command - 1);
    if (!r) r = res_provenance_write_file(e, path, p);
    ib_free(p);
    return r;
}

int res_provenance_write_file(ib_err *e, const char *path, const res_provenance *p)
{
    int r;
    json_t *o = res_provenance_json(p);
    if (!o) return ib_error(e, IB_ENOMEM, "out of memory encoding provenance");
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    char *withnl = text ? ib_malloc(strlen(text) + 2) : NULL;
    if (!withnl) {
        free(text);
        return ib_error(e, IB_ENOMEM, "out of memory encoding provenance");
    }
    size_t n = strlen(text);
    memcpy(withnl, text, n);
    memcpy(withnl + n, "\n", 2);
    free(text);
    r = write_exclusive(e, path, withnl);
    ib_free(withnl);
    if (r && access(path, F_OK) == 0 && strstr(e->msg, "already exists"))
        return ib_error(e, IB_EIO, "provenance '%s' already exists", path);
    return r;
}

/* Copy string member key of o into out (n bytes); 1 when it did not fit. */
static int take_str(json_t *o, const char *key, char *out, size_t n)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (!v) return 0;
    return ib_path_fmt(NULL, out, n, "%s", v) != 0;
}

/* Object member key of o as compact JSON text into out; 1 when too long. */
static int take_object(json_t *o, const char *key, char *out, size_t n)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_object(v)) return 0;
    char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    int over = !t || ib_path_fmt(NULL, out, n, "%s", t) != 0;
    free(t);
    return over;
}

int res_provenance_from_json(ib_err *e, json_t *o, const char *source, res_provenance *p)
{
    memset(p, 0, sizeof *p);
    p->git_dirty = -1;
    p->cores = -1;
    p->mem_bytes = -1;
    const char *schema = json_string_value(json_object_get(o, "schema"));
    if (!json_is_object(o))
        return ib_error(e, IB_EPARSE, "provenance '%s': not a JSON object", source);
    /* no schema: a file of the first `harness provenance`, the same fields */
    if (schema && strcmp(schema, "imbench-provenance/1") != 0)
        return ib_error(e, IB_EPARSE, "provenance '%s': schema is '%s', expected "
                                      "'imbench-provenance/1'", source, schema);
    const struct {
        const char *key;
        char *out;
        size_t n;
        int object;
    } fields[] = {
        {"git_commit", p->git_commit, sizeof p->git_commit, 0},
        {"compiler", p->compiler, sizeof p->compiler, 0},
        {"cflags", p->cflags, sizeof p->cflags, 0},
        {"host", p->host, sizeof p->host, 0},
        {"cpu_model", p->cpu_model, sizeof p->cpu_model, 0},
        {"kernel", p->kernel, sizeof p->kernel, 0},
        {"command", p->command, sizeof p->command, 0},
        {"libs", p->libs, sizeof p->libs, 1},
        {"env", p->env, sizeof p->env, 1},
        {"tuning", p->tuning, sizeof p->tuning, 1},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        int over = fields[i].object ? take_object(o, fields[i].key, fields[i].out, fields[i].n)
                                    : take_str(o, fields[i].key, fields[i].out, fields[i].n);
        if (over)
            return ib_error(e, IB_EPARSE, "provenance '%s': '%s' is longer than %zu bytes",
                            source, fields[i].key, fields[i].n - 1);
    }
    json_t *dirty = json_object_get(o, "git_dirty");
    if (json_is_boolean(dirty)) p->git_dirty = json_is_true(dirty);
    else if (json_is_integer(dirty) && (json_integer_value(dirty) == 0 ||
                                        json_integer_value(dirty) == 1))
        p->git_dirty = (int)json_integer_value(dirty);
    json_t *cores = json_object_get(o, "cores");
    if (json_is_integer(cores) && json_integer_value(cores) > 0 &&
        json_integer_value(cores) <= 1 << 24)
        p->cores = (int)json_integer_value(cores);
    json_t *mem = json_object_get(o, "mem_bytes");
    if (json_is_integer(mem) && json_integer_value(mem) > 0) p->mem_bytes = json_integer_value(mem);
    return 0;
}

/* ---- emit.json ------------------------------------------------------- */

int res_emit_write(ib_err *e, const char *dir, const char *suite, const char *suite_hash)
{
    char path[4200];
    int r = ib_path_fmt(e, path, sizeof path, "%s/emit.json", dir);
    if (r) return r;
    if (access(path, F_OK) == 0) return 0;
    unsigned char rnd[16];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t k = getrandom(rnd + got, sizeof rnd - got, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return ib_error(e, IB_EIO, "'%s': no random numbers for its id: %s", path,
                                    strerror(errno));
        got += (size_t)k;
    }
    char id[40], ts[40];
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    res_timestamp(ts, sizeof ts);
    json_t *o = json_pack("{s:s, s:s, s:s*, s:s*, s:s}", "schema", "imbench-emit/1", "id", id,
                          "suite", suite, "suite_hash", suite_hash, "created_at", ts);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) return ib_error(e, IB_ENOMEM, "out of memory writing '%s'", path);
    size_t n = strlen(text);
    char *withnl = ib_malloc(n + 2);
    if (!withnl) {
        free(text);
        return ib_error(e, IB_ENOMEM, "out of memory writing '%s'", path);
    }
    memcpy(withnl, text, n);
    memcpy(withnl + n, "\n", 2);
    free(text);
    r = write_exclusive(e, path, withnl);
    ib_free(withnl);
    /* two writers at once: the first one's id stands */
    if (r == IB_EIO && access(path, F_OK) == 0) return 0;
    return r;
}
