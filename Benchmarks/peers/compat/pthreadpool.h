/* Minimal stand-in for <pthreadpool.h>, used only when the real header
 * (Debian: libpthreadpool-dev) is not installed but the library is (it comes
 * with libxnnpack0).  Declares just what xnnpack.h and peers-bench use; the
 * declarations match pthreadpool's public API. */
#ifndef PEERS_COMPAT_PTHREADPOOL_H
#define PEERS_COMPAT_PTHREADPOOL_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct pthreadpool *pthreadpool_t;
pthreadpool_t pthreadpool_create(size_t threads_count);
size_t pthreadpool_get_threads_count(pthreadpool_t threadpool);
void pthreadpool_destroy(pthreadpool_t threadpool);
#ifdef __cplusplus
}
#endif
#endif
