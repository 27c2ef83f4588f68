/*
 * fuzz_stats_ingest.c: libFuzzer target for the imager's stats JSON. Covers
 * res_attempt_record (results/store.c) after jansson has
 * parsed the text, as `harness ingest` does: phases, metrics, counters,
 * rusage, check_dft, comm and the tasks CSV (the part of the input after a
 * "--tasks.csv--" line, written beside the stats file), recorded into a
 * results database in a private temporary directory.
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
    fz_fuzz_one(&ctx, fz_stats_ingest, "stats_ingest", data, size);
    return 0;
}
