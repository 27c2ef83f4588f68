/*
 * fuzz_vis_store.c: libFuzzer target for visibility stores. Covers
 * img_vis_open (imaging/vis_store.c) on the bytes as
 * TMP/vis.h5: attributes, shapes and size checks; then what the imager reads
 * first, row metadata and the first and last channel slabs. HDF5 itself is
 * not instrumented (a system library) and known to crash on some malformed
 * files: scripts/fuzz.sh runs this target in fork mode and says whose code
 * each finding is in.
 * Built by scripts/fuzz.sh (make fuzz); the same entry point replays the
 * corpus and found crashes in tests/test_fuzz_regress.c.
 */
#include "tests/fuzz/targets.c"

/* The fuzzer's state: this file plays the part of main. */
static fz_ctx ctx;

static void cleanup(void) { fz_release(&ctx); }

/* LeakSanitizer: libhdf5 1.10 loses blocks on the error paths of some
 * malformed files (direct leaks allocated inside libhdf5). Ours are still
 * reported: their stacks start in our code; identifiers we leave open are
 * caught by fz_vis_store. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5\n"; }

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (fz_init(&ctx, NULL)) abort();
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_fuzz_one(&ctx, fz_vis_store, "vis_store", data, size);
    return 0;
}
