"""The course's ``cs231n.fast_layers``: every name is xplayers' one conv or max-pool layer.

xplayers has a single implementation per layer, already fast (blocked im2col on NumPy, CUDA
kernels on CuPy) and valid for any stride, padding and window, so the course's variants
(im2col, strides, reshape) are all the same function and their caches are interchangeable.
Not provided: the Cython helpers ``im2col_cython``, ``col2im_cython`` and ``col2im_6d_cython``
(internal column layouts of the course's extension, not layers).
"""

from ..layers import conv_backward, conv_forward, max_pool_backward, max_pool_forward

conv_forward_fast = conv_forward
conv_backward_fast = conv_backward
conv_forward_im2col = conv_forward
conv_backward_im2col = conv_backward
conv_forward_strides = conv_forward
conv_backward_strides = conv_backward
max_pool_forward_fast = max_pool_forward
max_pool_backward_fast = max_pool_backward
max_pool_forward_reshape = max_pool_forward
max_pool_backward_reshape = max_pool_backward
max_pool_forward_im2col = max_pool_forward
max_pool_backward_im2col = max_pool_backward

__all__ = [
    "conv_backward_fast",
    "conv_backward_im2col",
    "conv_backward_strides",
    "conv_forward_fast",
    "conv_forward_im2col",
    "conv_forward_strides",
    "max_pool_backward_fast",
    "max_pool_backward_im2col",
    "max_pool_backward_reshape",
    "max_pool_forward_fast",
    "max_pool_forward_im2col",
    "max_pool_forward_reshape",
]
