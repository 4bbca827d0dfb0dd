// Just enough of CUDA for the package's .cu kernels to compile and run on the CPU with g++:
// the qualifiers become plain C++, __half is _Float16 (IEEE binary16, g++ >= 12 on x86-64),
// and launch() runs every (block, thread) of a 1-d grid one after the other.
#pragma once

#include <cstdint>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

typedef _Float16 __half;

struct EmulatedDim3 {
    unsigned int x, y, z;
};

inline EmulatedDim3 threadIdx, blockIdx, blockDim, gridDim;

// Run kernel<<<grid, block>>>(args...) sequentially. Grid-stride kernels may be given fewer
// threads than elements, which is how the tests exercise their loops.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), unsigned int grid, unsigned int block, Args... args) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (unsigned int b = 0; b < grid; ++b) {
        for (unsigned int t = 0; t < block; ++t) {
            blockIdx = {b, 0, 0};
            threadIdx = {t, 0, 0};
            kernel(static_cast<Params>(args)...);
        }
    }
}

// ---- CuPy's kernel types, for the code cupy.ElementwiseKernel generates (tests/cupy_build.py).
// Same interface as cupy/_core/include/cupy/carray.cuh for C-contiguous 1-d arrays (the only
// layout the library launches: CuPy reduces contiguous operands to one dimension), and
// CuPy's float16, whose arithmetic converts to float and rounds only on assignment.
#include <cmath>
#include <cstddef>
using std::sqrt;
using std::exp;
using std::log;
using std::fmax;
using std::fmin;

#define CUPY_FOR(i, n)                                                         \
    for (ptrdiff_t i = static_cast<ptrdiff_t>(blockIdx.x) * blockDim.x + threadIdx.x; \
         i < (n); i += static_cast<ptrdiff_t>(blockDim.x) * gridDim.x)

class float16 {
    _Float16 data_;

public:
    float16() = default;
    float16(float v) : data_(static_cast<_Float16>(v)) {}
    explicit float16(double v) : data_(static_cast<_Float16>(v)) {}
    explicit float16(int v) : data_(static_cast<_Float16>(static_cast<float>(v))) {}
    explicit float16(long long v) : data_(static_cast<_Float16>(static_cast<float>(v))) {}
    operator float() const { return static_cast<float>(data_); }
    float16& operator=(const float16&) = default;
    template <typename T>
    float16& operator=(const T& rhs) {
        *this = static_cast<float16>(rhs);
        return *this;
    }
    template <typename T> float16& operator+=(const T& rhs) { return *this = *this + rhs; }
    template <typename T> float16& operator-=(const T& rhs) { return *this = *this - rhs; }
    template <typename T> float16& operator*=(const T& rhs) { return *this = *this * rhs; }
    template <typename T> float16& operator/=(const T& rhs) { return *this = *this / rhs; }
};

template <typename T, int _ndim, bool _c_contiguous = false, bool _use_32bit_indexing = false>
class CArray {
    static_assert(_ndim == 1 && _c_contiguous, "emulated for contiguous 1-d arrays only");
    T* data_;
    ptrdiff_t size_;

public:
    CArray(T* data, ptrdiff_t size) : data_(data), size_(size) {}
    ptrdiff_t size() const { return size_; }
    T& operator[](ptrdiff_t i) const { return data_[i]; }
    T& operator[](const ptrdiff_t (&idx)[1]) const { return data_[idx[0]]; }
};

template <int _ndim, bool _use_32bit_indexing = false>
class CIndexer {
    static_assert(_ndim == 1, "emulated for 1-d index spaces only");
    ptrdiff_t size_;
    ptrdiff_t index_[1];

public:
    explicit CIndexer(ptrdiff_t size) : size_(size), index_{0} {}
    ptrdiff_t size() const { return size_; }
    const ptrdiff_t (&get() const)[1] { return index_; }
    void set(ptrdiff_t i) { index_[0] = i; }
};
