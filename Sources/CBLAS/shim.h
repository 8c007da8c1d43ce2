// The CBLAS interface of OpenBLAS. Debian installs cblas.h under the multiarch include folder
// (/usr/include/x86_64-linux-gnu/openblas-pthread/), which pkg-config's `openblas` adds to the
// include path. Only CocoonMath imports this module.
#ifndef COCOON_CBLAS_SHIM_H
#define COCOON_CBLAS_SHIM_H
#include <cblas.h>
#endif
