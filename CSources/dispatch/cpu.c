/* CPU feature detection and the dispatched ISA, detected once (pthread_once).
 * CONVKIT_MAX_ISA=scalar|avx2|neon caps the ISA so every path can be tested on
 * one machine.  AVX-512 is detected and reported but never dispatched: no
 * AVX-512 kernel is tested here. */
#include "internal.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static ck_cpu_info g_info;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) || defined(__i386__)
static unsigned long long ck_xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

static int64_t ck_sysfs_cache(int index) {
    char path[128], buf[64];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int64_t v = 0;
    if (fgets(buf, sizeof buf, f)) {
        char *end;
        v = strtoll(buf, &end, 10);
        if (*end == 'K') v *= 1024; else if (*end == 'M') v *= 1024 * 1024;
    }
    fclose(f);
    return v;
}

static int64_t ck_sysfs_level_size(int level, int want_data) {
    for (int i = 0; i < 8; i++) {
        char path[128], buf[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) break;
        int lv = 0;
        if (fgets(buf, sizeof buf, f)) lv = atoi(buf);
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        f = fopen(path, "r");
        char type[32] = "";
        if (f) { if (!fgets(type, sizeof type, f)) type[0] = 0; fclose(f); }
        if (lv == level && (!want_data || strncmp(type, "Instruction", 11) != 0)) return ck_sysfs_cache(i);
    }
    return 0;
}

static void ck_detect(void) {
    memset(&g_info, 0, sizeof g_info);
#if defined(__x86_64__)
    strcpy(g_info.arch, "x86_64");
    unsigned a, b, c, d;
    if (__get_cpuid_max(0x80000000, NULL) >= 0x80000004) {
        unsigned regs[12];
        for (unsigned i = 0; i < 3; i++) __get_cpuid(0x80000002 + i, &regs[i * 4], &regs[i * 4 + 1], &regs[i * 4 + 2], &regs[i * 4 + 3]);
        char brand[49];
        memcpy(brand, regs, 48);
        brand[48] = 0;
        char *s = brand;
        while (*s == ' ') s++;
        size_t len = strlen(s);
        while (len && s[len - 1] == ' ') s[--len] = 0;
        snprintf(g_info.model, sizeof g_info.model, "%s", s);
    }
    int os_avx = 0, os_avx512 = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        g_info.has_sse42 = (c >> 20) & 1;
        int osxsave = (c >> 27) & 1;
        if (osxsave) {
            unsigned long long xcr0 = ck_xgetbv0();
            os_avx = (xcr0 & 6) == 6;
            os_avx512 = (xcr0 & 0xe6) == 0xe6;
        }
        g_info.has_avx = os_avx && ((c >> 28) & 1);
        g_info.has_fma = os_avx && ((c >> 12) & 1);
    }
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        g_info.has_avx2 = os_avx && ((b >> 5) & 1);
        g_info.has_avx512f = os_avx512 && ((b >> 16) & 1);
    }
#elif defined(__aarch64__)
    strcpy(g_info.arch, "aarch64");
    g_info.has_neon = 1;
#else
    strcpy(g_info.arch, "unknown");
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    g_info.logical_cores = n > 0 ? (int)n : 1;
    g_info.l1d_bytes = ck_sysfs_level_size(1, 1);
    g_info.l2_bytes = ck_sysfs_level_size(2, 1);
    g_info.l3_bytes = ck_sysfs_level_size(3, 1);
    if (!g_info.model[0]) {
        FILE *f = fopen("/proc/cpuinfo", "r");
        if (f) {
            char line[256];
            while (fgets(line, sizeof line, f)) {
                char *colon = strchr(line, ':');
                if (colon && (strncmp(line, "model name", 10) == 0 || strncmp(line, "CPU part", 8) == 0)) {
                    char *v = colon + 1;
                    while (*v == ' ') v++;
                    v[strcspn(v, "\n")] = 0;
                    snprintf(g_info.model, sizeof g_info.model, "%s", v);
                    break;
                }
            }
            fclose(f);
        }
    }

    /* Best tested ISA, then the cap. */
    ck_isa best = CK_ISA_SCALAR;
#if defined(__x86_64__)
    if (g_info.has_avx2 && g_info.has_fma) best = CK_ISA_AVX2_FMA;
#elif defined(__aarch64__)
    best = CK_ISA_NEON;
#endif
    const char *cap = getenv("CONVKIT_MAX_ISA");
    if (cap && *cap) {
        if (strcmp(cap, "scalar") == 0) best = CK_ISA_SCALAR;
        else if (strcmp(cap, "avx2") == 0 && best == CK_ISA_AVX2_FMA) best = CK_ISA_AVX2_FMA;
        else if (strcmp(cap, "neon") == 0 && best == CK_ISA_NEON) best = CK_ISA_NEON;
        else if (strcmp(cap, "avx2") != 0 && strcmp(cap, "neon") != 0 && strcmp(cap, "avx512") != 0)
            fprintf(stderr, "convkit: warning: CONVKIT_MAX_ISA='%s' is not one of scalar, avx2, avx512, neon; ignored\n", cap);
    }
    g_info.dispatched_isa = best;
}

ck_status ck_get_cpu_info(ck_cpu_info *info) {
    ck_clear_error();
    CK_CHECK_PTR(info, "info");
    pthread_once(&g_once, ck_detect);
    *info = g_info;
    return CK_OK;
}

ck_isa ck_dispatch_isa(void) {
    pthread_once(&g_once, ck_detect);
    return g_info.dispatched_isa;
}

const char *ck_isa_name(ck_isa isa) {
    switch (isa) {
    case CK_ISA_SCALAR: return "scalar";
    case CK_ISA_AVX2_FMA: return "avx2";
    case CK_ISA_AVX512: return "avx512";
    case CK_ISA_NEON: return "neon";
    }
    return "unknown";
}
