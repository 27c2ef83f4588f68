/*
 * fuzz_dataset.c: libFuzzer target for dataset specs. Covers
 * wl_dataset_load (workloads/dataset.c): the bytes are
 * written to a spec file in a private temporary directory and loaded with
 * the strict schema: keys, types, ranges, sizes, correlations, the
 * cross-field checks.
 * Built by scripts/fuzz.sh (make fuzz); the same entry point replays the
 * corpus and found crashes in tests/test_fuzz_regress.c.
 */
#include "tests/fuzz/targets.c"

/* The fuzzer's state: this file plays the part of main. */
static fz_ctx ctx;

static void cleanup(void) { fz_release(&ctx); }

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
    fz_fuzz_one(&ctx, fz_dataset, "dataset", data, size);
    return 0;
}
