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
