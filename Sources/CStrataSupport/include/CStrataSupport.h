#ifndef STRATA_SUPPORT_H
#define STRATA_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// CRC32C (Castagnoli) of `n` bytes continuing from `crc` (0 to start).
/// Uses SSE4.2 when the CPU has it, slicing-by-8 tables otherwise.
uint32_t strata_crc32c_extend(uint32_t crc, const void *data, size_t n);

/// The portable slicing-by-8 path, exported so tests can check both agree.
uint32_t strata_crc32c_extend_portable(uint32_t crc, const void *data, size_t n);

/// 1 when the hardware path is in use.
int strata_crc32c_is_hardware(void);

/// Acquire/release loads and stores of pointers stored in raw memory.
/// The memtable's skip list keeps its links in arena memory that Swift's
/// atomics cannot address, and readers walk it without locks.
static inline void *strata_load_acquire_ptr(void *const *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void *strata_load_relaxed_ptr(void *const *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void strata_store_release_ptr(void **p, void *v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline void strata_store_relaxed_ptr(void **p, void *v) {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/// Relaxed loads and stores of 64-bit words in raw memory: the memtable's
/// key filter has one writer and lock-free readers.
static inline uint64_t strata_load_relaxed_u64(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void strata_store_relaxed_u64(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

#endif
