// Fused CUDA kernels of the convolution (im2col, col2im) and max-pool (forward, backward) layers.
//
// Every kernel is a grid-stride loop over the elements it writes, templated over the float type
// T (__half, float, double) and the index type I (int, or long long where a buffer holds 2^31
// elements or more); the max pool also over the winner-index type A (unsigned char or int).
// Loaded by xplayers/kernels/__init__.py with cupy.RawModule(name_expressions=...), and compiled
// on the CPU by the test-suite (tests/cuda_emulation.h), which runs them against NumPy.
//
// Gathers instead of scatters: col2im and the max-pool backward give each input pixel the sum
// of the entries that saw it, in the order the NumPy path adds them (kernel offsets in
// row-major order), so overlapping windows need no atomics and results are bit-exact.

#ifdef __CUDACC__
#include <cuda_fp16.h>
#endif

namespace xplayers {

// Arithmetic and comparisons happen in Acc<T>::type: float for __half, T itself otherwise.
template <typename T> struct Acc { typedef T type; };
template <> struct Acc<__half> { typedef float type; };

template <typename T>
__device__ __forceinline__ typename Acc<T>::type widen(T v) {
    return static_cast<typename Acc<T>::type>(v);
}

template <typename T>
__device__ __forceinline__ T narrow(typename Acc<T>::type v) {
    return static_cast<T>(v);
}

}  // namespace xplayers

// cols (C, KH, KW, N, Ho, Wo) from img (N, C, H, W), zero outside the image (padding).
template <typename T, typename I>
__global__ void xplayers_im2col(
    const T* __restrict__ img, T* __restrict__ col, const I total, const I batch,
    const I channels, const I h, const I w, const I out_h, const I out_w, const I kh,
    const I kw, const I stride, const I pad) {
    for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
         i < total; i += static_cast<I>(blockDim.x) * static_cast<I>(gridDim.x)) {
        I rest = i;
        const I ox = rest % out_w; rest /= out_w;
        const I oy = rest % out_h; rest /= out_h;
        const I nb = rest % batch; rest /= batch;
        const I kx = rest % kw; rest /= kw;
        const I ky = rest % kh; rest /= kh;
        const I c = rest;
        const I y = oy * stride + ky - pad;
        const I x = ox * stride + kx - pad;
        if (0 <= y && y < h && 0 <= x && x < w) {
            col[i] = img[((nb * channels + c) * h + y) * w + x];
        } else {
            col[i] = xplayers::narrow<T>(0);
        }
    }
}

// img (N, C, H, W) = sum of the cols entries (C, KH, KW, N, Ho, Wo) that read each pixel:
// output positions with 0 <= y - oy * stride < kh (likewise for x), y in padded coordinates,
// visited by increasing kernel offset (ky, kx), i.e. decreasing (oy, ox).
template <typename T, typename I>
__global__ void xplayers_col2im(
    const T* __restrict__ col, T* __restrict__ img, const I total, const I batch,
    const I channels, const I h, const I w, const I out_h, const I out_w, const I kh,
    const I kw, const I stride, const I pad) {
    for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
         i < total; i += static_cast<I>(blockDim.x) * static_cast<I>(gridDim.x)) {
        I rest = i;
        const I x = rest % w + pad; rest /= w;
        const I y = rest % h + pad; rest /= h;
        const I c = rest % channels; rest /= channels;
        const I nb = rest;
        const I oy0 = y < kh ? 0 : (y - kh) / stride + 1;  // first oy with y - oy*stride < kh
        const I oy1 = y / stride < out_h - 1 ? y / stride : out_h - 1;
        const I ox0 = x < kw ? 0 : (x - kw) / stride + 1;
        const I ox1 = x / stride < out_w - 1 ? x / stride : out_w - 1;
        typename xplayers::Acc<T>::type val = 0;
        for (I oy = oy1; oy >= oy0; --oy) {
            const I ky = y - oy * stride;
            for (I ox = ox1; ox >= ox0; --ox) {
                const I kx = x - ox * stride;
                const I at = ((((c * kh + ky) * kw + kx) * batch + nb) * out_h + oy) * out_w + ox;
                // Rounded to T after every addition, as the NumPy path's T-typed additions.
                val = xplayers::widen(xplayers::narrow<T>(val + xplayers::widen(col[at])));
            }
        }
        img[i] = xplayers::narrow<T>(val);
    }
}

// out (N, C, Ho, Wo): the value of the FIRST maximal element of each window in row-major
// window order (its exact bits: the sign of a zero, a NaN's payload), or of the first NaN;
// argmax: that element's offset ky * pw + kx.
template <typename T, typename I, typename A>
__global__ void xplayers_max_pool_forward(
    const T* __restrict__ x, T* __restrict__ out, A* __restrict__ argmax, const I total,
    const I h, const I w, const I out_h, const I out_w, const I ph, const I pw,
    const I stride) {
    for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
         i < total; i += static_cast<I>(blockDim.x) * static_cast<I>(gridDim.x)) {
        I rest = i;
        const I ox = rest % out_w; rest /= out_w;
        const I oy = rest % out_h; rest /= out_h;
        const I corner = (rest * h + oy * stride) * w + ox * stride;
        typename xplayers::Acc<T>::type best = xplayers::widen(x[corner]);
        I arg = 0;
        for (I ky = 0; ky < ph; ++ky) {
            for (I kx = 0; kx < pw; ++kx) {
                const typename xplayers::Acc<T>::type v = xplayers::widen(x[corner + ky * w + kx]);
                // Strictly greater keeps the first of tied maxima; the first NaN wins for good.
                if (v > best || (v != v && best == best)) {
                    best = v;
                    arg = ky * pw + kx;
                }
            }
        }
        out[i] = x[corner + (arg / pw) * w + arg % pw];
        argmax[i] = static_cast<A>(arg);
    }
}

// dx (N, C, H, W): the sum of dout over the windows that cover each pixel and chose it,
// visited by increasing window offset (decreasing oy, ox) as the NumPy path adds them. With
// disjoint windows (overlapping == 0) the winner's gradient is copied, bits and all (-0.0);
// with overlapping windows it is added to +0.0, as the NumPy path does.
template <typename T, typename I, typename A>
__global__ void xplayers_max_pool_backward(
    const T* __restrict__ dout, const A* __restrict__ argmax, T* __restrict__ dx,
    const I total, const I h, const I w, const I out_h, const I out_w, const I ph,
    const I pw, const I stride, const I overlapping) {
    for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
         i < total; i += static_cast<I>(blockDim.x) * static_cast<I>(gridDim.x)) {
        I rest = i;
        const I px = rest % w; rest /= w;
        const I py = rest % h; rest /= h;
        const I plane = rest;
        const I oy0 = py < ph ? 0 : (py - ph) / stride + 1;
        const I oy1 = py / stride < out_h - 1 ? py / stride : out_h - 1;
        const I ox0 = px < pw ? 0 : (px - pw) / stride + 1;
        const I ox1 = px / stride < out_w - 1 ? px / stride : out_w - 1;
        typename xplayers::Acc<T>::type sum = 0;
        T result = xplayers::narrow<T>(0);
        for (I oy = oy1; oy >= oy0; --oy) {
            const I ky = py - oy * stride;
            for (I ox = ox1; ox >= ox0; --ox) {
                const I kx = px - ox * stride;
                const I o = (plane * out_h + oy) * out_w + ox;
                if (static_cast<I>(argmax[o]) != ky * pw + kx) {
                    continue;
                }
                if (overlapping) {
                    sum = xplayers::widen(xplayers::narrow<T>(sum + xplayers::widen(dout[o])));
                    result = xplayers::narrow<T>(sum);
                } else {
                    result = dout[o];
                }
            }
        }
        dx[i] = result;
    }
}
