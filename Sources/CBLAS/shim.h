// The CBLAS interface of OpenBLAS. Debian installs cblas.h under the multiarch include folder
// (/usr/include/x86_64-linux-gnu/openblas-pthread/), which pkg-config's `openblas` adds to the
// include path. Only CocoonMath imports this module.
//
// It also carries glibc's allocator tuning (mallopt, in <malloc.h>, which Swift's Glibc module
// does not export): the one other C interface CocoonMath needs (MemoryRuntime.swift).
#ifndef COCOON_CBLAS_SHIM_H
#define COCOON_CBLAS_SHIM_H
#include <cblas.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
#endif
