/*
 * version.c: the version the programs print with --version. IB_VERSION
 * comes from the Makefile (git describe); this file is rebuilt when it
 * changes.
 */
#include "common.h"

#ifndef IB_VERSION
#define IB_VERSION "unknown"
#endif

const char *ib_version(void)
{
    return IB_VERSION;
}
