/*
 * fuzz_casa_log.c: libFuzzer target for CASA logs. Covers
 * rep_casa_parse_buf (reports/casa_log.c): line splitting,
 * timestamps, task banners, tclean( ... ) calls over several lines,
 * complete lines, SEVERE failures, partition notes, mpicasa lines.
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
    fz_fuzz_one(&ctx, fz_casa_log, "casa_log", data, size);
    return 0;
}
