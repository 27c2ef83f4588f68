/*
 * fuzz_suite.c: libFuzzer target for suite YAML. Covers
 * wl_suite_parse (workloads/suite.c): the whole suite
 * language -- datasets (names and paths resolved against workloads/datasets),
 * overrides, axes, zip groups, exclude rules, suite settings, every value
 * checked by the parameter table -- and the expansion into cells with their
 * canonical JSON and hashes; each cell's parameters must rebuild the same
 * cell and its hash must pass --filter. Hostile shapes (deep nesting, many
 * anchors, aliases repeated) are in the corpus and must be refused fast.
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
    fz_fuzz_one(&ctx, fz_suite, "suite", data, size);
    return 0;
}
